// tiermem/pool_persistence.cpp: opening a persistent pool's directories, restoring its
// manifest, publishing new ones, and verifying every page against its checksum.
#include "tiermem/pool_persistence.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "persist/checksum.hpp"
#include "persist/durable_file.hpp"
#include "tiermem/error.hpp"

namespace tiermem::detail {

namespace {

// verify() reads durable copies that lie back to back in one file up to this much at once, on
// this many threads: one page at a time on one thread, the disk idled between reads (0.7 GB/s
// where fio's reads of the same bytes, 1 MiB at a time 32 deep, made 1.0).
constexpr uint64_t kVerifyReadBytes = 8 << 20;
constexpr uint32_t kVerifyReaders = 4;

void check_geometry(const persist::PoolGeometry& want, const persist::PoolGeometry& found,
                    const std::string& path) {
  auto refuse = [&](std::string_view field, std::string value, std::string stored) {
    throw Error(Errc::invalid_argument,
                fmt::format("{} is {}, but the pool in {} was made with {}; open it with the "
                            "same value",
                            field, value, path, stored));
  };
  if (want.page_size != found.page_size) {
    refuse("page_size", format_size(want.page_size), format_size(found.page_size));
  }
  if (want.capacity != found.capacity) {
    refuse("nvme.capacity", format_size(want.capacity), format_size(found.capacity));
  }
  if (want.file_size != found.file_size) {
    refuse("nvme.file_size", format_size(want.file_size), format_size(found.file_size));
  }
  if (want.stripe != found.stripe) {
    refuse("nvme.stripe", format_size(want.stripe), format_size(found.stripe));
  }
  if (want.dirs != found.dirs) {
    refuse("the count of nvme.dirs", std::to_string(want.dirs), std::to_string(found.dirs));
  }
}

}  // namespace

PoolPersistence::PoolPersistence(const Config& config)
    : manifest_dir_(config.nvme.dirs.at(0)),
      geometry_{.page_size = config.page_size,
                .capacity = config.nvme.capacity,
                .file_size = config.nvme.file_size,
                .stripe = config.nvme.stripe,
                .dirs = static_cast<uint32_t>(config.nvme.dirs.size())},
      slot_count_(NvmeStore::slot_count(config.nvme, config.page_size)) {
  for (const std::string& dir : config.nvme.dirs) {
    locks_.push_back(std::make_unique<persist::DirLock>(dir));
  }
  const std::string path = manifest_dir_ + "/" + persist::kManifestName;
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return;  // a new pool
  persist::Manifest manifest = persist::decode(persist::read_file(path), path, slot_count_);
  check_geometry(geometry_, manifest.geometry, manifest_dir_);
  generation_ = manifest.generation;
  for (const persist::ManifestTensor& tensor : manifest.tensors) {
    if (!tensor_generation_.emplace(tensor.name, tensor.generation).second) {
      throw Error(Errc::corrupt, fmt::format("manifest {} is damaged: it holds two tensors named "
                                             "'{}'",
                                             path, tensor.name));
    }
  }
  restored_ = std::move(manifest.tensors);
}

PoolPersistence::~PoolPersistence() = default;

std::vector<persist::ManifestTensor> PoolPersistence::take_restored() {
  return std::move(restored_);
}

std::vector<DurablePage> PoolPersistence::durable_pages(const persist::ManifestTensor& tensor) {
  std::vector<DurablePage> pages(tensor.pages.size());
  for (size_t i = 0; i < pages.size(); ++i) {
    const persist::ManifestPage& stored = tensor.pages[i];
    pages[i].slot[0] = stored.slot[0];
    pages[i].slot[1] = stored.slot[1];
    pages[i].durable = stored.durable;
    if (stored.durable != persist::kNoSlot) pages[i].checksum[stored.durable] = stored.checksum;
  }
  return pages;
}

void PoolPersistence::publish(MigrationEngine& engine, const NvmeStore& nvme,
                              const TensorRecord* only) {
  // Counted before the sync, so that every copy counted is one the sync covers.
  const uint64_t synced = engine.writebacks_completed();
  nvme.sync();
  persist::Manifest manifest{.generation = generation_ + 1, .geometry = geometry_, .tensors = {}};
  std::unordered_map<std::string, uint64_t> generations;
  engine.begin_publish(synced, only, [&](const TensorRecord& record, const DurablePage* pages) {
    persist::ManifestTensor& tensor = manifest.tensors.emplace_back();
    tensor.name = record.name;
    tensor.dtype = record.dtype;
    tensor.shape = record.shape;
    tensor.bytes = record.bytes;
    tensor.pages.resize(record.page_count);
    bool changed = false;
    for (uint32_t i = 0; i < record.page_count; ++i) {
      const DurablePage& d = pages[i];
      persist::ManifestPage& page = tensor.pages[i];
      page.slot[0] = d.slot[0];
      page.slot[1] = d.slot[1];
      page.durable = d.pending;
      page.checksum = d.pending != DurablePage::kNone ? d.checksum[d.pending] : 0;
      changed |= d.pending != d.durable;
    }
    auto stored = tensor_generation_.find(record.name);
    tensor.generation =
        changed || stored == tensor_generation_.end() ? manifest.generation : stored->second;
    generations.emplace(tensor.name, tensor.generation);
  });
  try {
    const std::vector<char> bytes = persist::encode(manifest);
    persist::write_file_atomically(manifest_dir_ + "/" + persist::kManifestName,
                                   std::string_view(bytes.data(), bytes.size()));
  } catch (...) {
    engine.end_publish(false);
    throw;
  }
  engine.end_publish(true);
  generation_ = manifest.generation;
  tensor_generation_ = std::move(generations);
}

uint64_t PoolPersistence::verify(TensorTable& tensors, PageTable& pages,
                                 const NvmeStore& nvme) const {
  const uint64_t page_size = geometry_.page_size;
  const uint64_t run_pages = std::max<uint64_t>(1, kVerifyReadBytes / page_size);
  // Runs of a tensor's durable copies that lie back to back in one file, each read at once.
  struct Run {
    const TensorRecord* record;
    NvmeStore::Location start;
    size_t first = 0;  // into indexes: the run's page indexes in its tensor
    size_t count = 0;
  };
  std::vector<Run> runs;
  std::vector<uint32_t> indexes;
  tensors.for_each_live([&](uint32_t, const TensorRecord& record) {
    for (uint32_t i = 0; i < record.page_count; ++i) {
      const DurablePage& d = pages.durable(record.first_page + i);
      if (d.durable == DurablePage::kNone) continue;
      const NvmeStore::Location loc = nvme.locate(d.slot[d.durable]);
      Run* last = runs.empty() ? nullptr : &runs.back();
      if (last == nullptr || last->record != &record || last->start.file != loc.file ||
          loc.offset != last->start.offset + last->count * page_size || last->count == run_pages) {
        runs.push_back({.record = &record, .start = loc, .first = indexes.size(), .count = 0});
      }
      indexes.push_back(i);
      ++runs.back().count;
    }
  });

  std::atomic<size_t> next = 0;
  std::mutex mutex;  // guards what follows
  std::exception_ptr error;
  std::vector<std::pair<size_t, std::string>> damaged;  // by the page's place in indexes
  auto read_runs = [&] {
    std::unique_ptr<void, decltype(&std::free)> buffer(
        std::aligned_alloc(4096, run_pages * page_size), &std::free);
    auto* bytes = static_cast<char*>(buffer.get());
    try {
      if (!buffer) throw Error(Errc::system, "cannot allocate a buffer for verify()", ENOMEM);
      for (size_t r; (r = next++) < runs.size();) {
        const Run& run = runs[r];
        const uint64_t length = run.count * page_size;
        for (uint64_t done = 0; done < length;) {
          ssize_t n = pread(run.start.file->fd, bytes + done, length - done,
                            static_cast<off_t>(run.start.offset + done));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) {
            const int err = n < 0 ? errno : EIO;
            throw Error(Errc::io,
                        fmt::format("verify(): reading page {} of tensor '{}' from {} at offset "
                                    "{}: {}",
                                    indexes[run.first + done / page_size], run.record->name,
                                    run.start.file->path, run.start.offset + done,
                                    n < 0 ? std::strerror(err) : "the file ends there"),
                        err);
          }
          done += static_cast<uint64_t>(n);
        }
        for (size_t k = 0; k < run.count; ++k) {
          const uint32_t index = indexes[run.first + k];
          const DurablePage& d = pages.durable(run.record->first_page + index);
          if (persist::checksum(bytes + k * page_size, page_size) == d.checksum[d.durable]) {
            continue;
          }
          std::lock_guard lock(mutex);
          damaged.emplace_back(
              run.first + k,
              fmt::format("; page {} of tensor '{}' ({} at offset {})", index, run.record->name,
                          run.start.file->path, run.start.offset + k * page_size));
        }
      }
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!error) error = std::current_exception();
      next = runs.size();  // the others stop after their current read
    }
  };
  {
    std::vector<std::jthread> readers;
    for (uint32_t i = 1; i < kVerifyReaders; ++i) readers.emplace_back(read_runs);
    read_runs();
  }
  if (error) std::rethrow_exception(error);
  if (!damaged.empty()) {
    std::sort(damaged.begin(), damaged.end());
    std::string report;
    for (size_t i = 0; i < std::min<size_t>(damaged.size(), 16); ++i) report += damaged[i].second;
    throw Error(Errc::corrupt, fmt::format("verify(): {} of {} pages do not match their "
                                           "checksums{}{}",
                                           damaged.size(), indexes.size(), report,
                                           damaged.size() > 16 ? "; ..." : ""));
  }
  return indexes.size();
}

}  // namespace tiermem::detail
