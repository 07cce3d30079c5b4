// check/model_check.cpp: the workload's threads, each call checked against the model and the
// call's contract, the final check of every byte, and the pool's close.
#include "check/model_check.hpp"

#include <dirent.h>
#include <fmt/format.h>

#include <boost/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "check/gate.hpp"
#include "check/tensor_model.hpp"
#include "check/watchdog.hpp"
#include "support/json.hpp"
#include "tiermem/tiermem.hpp"

namespace tiermem::check {

namespace {

constexpr std::string_view kCallNames[kCallCount] = {
    "allocate", "release", "pin_read",     "pin_write",  "pin_read_write", "pin_dropped",
    "prefetch", "evict",   "flush_tensor", "flush_pool", "residency",      "stats",
    "schedule", "trace",   "compute",      "stale",      "misuse",         "advance",
    "reopen",   "verify",  "close"};

// How often each call is drawn, in Call order (reopen, verify and close are not drawn; advance
// only on a virtual clock).
constexpr uint32_t kWeights[kCallCount] = {6, 3, 20, 9, 8, 5, 6, 6, 4, 1, 3,
                                           2, 1, 1,  1, 2, 2, 4, 0, 0, 0};

// A persistent pool is reopened once in this many calls, on average: a reopen (a flush, the
// close, the open, every tensor read back) takes as long as some thousand other calls. Thread 0
// also reopens it halfway through a run that has had none yet, so that a slow or busy machine
// still checks one.
constexpr uint64_t kReopenOdds = 2000;

// A flush that fails under io.faults is tried this many times before a reopen or the close.
constexpr int kFlushTries = 20;

constexpr size_t kMaxFailures = 20;

constexpr int at(Tier tier) {
  return static_cast<int>(tier);
}

int count_entries(const char* dir) {
  int n = 0;
  if (DIR* d = opendir(dir)) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

// Quotes text for a POSIX shell: the replay command is pasted by people into theirs.
std::string shell_quote(std::string_view text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-+=.,:/@%") == std::string_view::npos) {
    return std::string(text);
  }
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string replay_command(const Config& config, const ModelOptions& options) {
  std::string command = fmt::format(
      "tiermem stress --seed {} --threads {} --seconds {} --operations {} --total {} "
      "--max-tensors {} --max-pin-pages {}",
      options.seed, options.threads, options.seconds, options.max_operations, options.total_bytes,
      options.max_tensors, options.max_pin_pages);
  if (options.devices) command += " --virtual";
  if (options.persistent) command += " --persistent";
  const Config defaults;
  for (const ConfigKeyInfo& key : Config::keys()) {
    std::string value = config.get(key.name);
    if (value != defaults.get(key.name)) {
      command += " --set " + shell_quote(fmt::format("{}={}", key.name, value));
    }
  }
  return command;
}

// The outcome of one checked call.
enum class Outcome { ok, refused, io, failed };

class Workload {
 public:
  // pool may be replaced (a reopen); config is what it is opened with again.
  Workload(std::unique_ptr<Pool>& pool, const Config& config, const ModelOptions& options,
           Watchdog& watchdog)
      : pool_(pool), config_(config), options_(options), watchdog_(watchdog) {
    const Stats stats = pool->stats();
    page_size_ = config.page_size;
    frames_[0] = stats.tiers[0].frames;
    frames_[1] = stats.tiers[1].frames;
    has_gpu_ = frames_[0] > 0;
    // The emulated gpu's frames, and a virtual one's with data, are host memory.
    gpu_host_visible_ = stats.gpu_backend == "emulated" || stats.gpu_backend == "virtual";
    virtual_clock_ = options.devices.has_value();
    weights_ = std::to_array(kWeights);
    if (!virtual_clock_) weights_[static_cast<size_t>(Call::advance)] = 0;
    faults_ = !config.io.faults.empty();
    persistent_ = options.persistent;
    report_.seed = options.seed;
    report_.threads = options.threads;
  }

  void run_thread(uint32_t index);
  void verify_all();
  // Tells options.on_flush that the pool's destructor is about to flush what the model holds.
  void announce_close();
  void close_with_pins_in_flight(std::unique_ptr<Pool>& pool);
  ModelReport& report() { return report_; }

 private:
  using Rng = std::mt19937_64;

  // Runs fn as call `call`, watched; an Error whose code is in allowed (or io under faults)
  // is counted as refused (io), anything else is a failure.
  template <class Fn>
  Outcome attempt(uint32_t thread, Call call, std::string what, std::initializer_list<Errc> allowed,
                  Fn&& fn);
  void fail(std::string message);
  void count(Call call, Outcome outcome);

  std::shared_ptr<TensorModel> pick(Rng& rng);
  Tier pick_tier(Rng& rng, bool host_visible) const;
  ByteRange pick_range(Rng& rng, const TensorModel& t, Tier tier) const;
  void check_bytes(const Pin& pin, const TensorModel& t, uint64_t offset, std::string_view what);
  // Reads t back through dram pins, a chunk at a time, and compares it with the model: bytes
  // that differ count as lost.
  void read_back(uint32_t thread, const TensorModel& t, Call call, std::string_view when);
  std::string describe(const TensorModel& t, Tier tier, ByteRange range) const;

  // The future's value; on a virtual clock, runs the clock's events until it is ready.
  template <class T>
  T wait(std::future<T>& future);
  // Lets a moment pass for pins of dropped futures to end: a few milliseconds, or on a
  // virtual clock its next event.
  void let_time_pass();
  void do_advance(uint32_t thread, Rng& rng);

  void do_allocate(uint32_t thread, Rng& rng);
  void do_release(uint32_t thread, Rng& rng);
  void do_pin(uint32_t thread, Rng& rng, Call call);
  void do_dropped(uint32_t thread, Rng& rng);
  void do_tensor_call(uint32_t thread, Rng& rng, Call call);
  void do_schedule(uint32_t thread, Rng& rng);
  void do_trace(uint32_t thread);
  void do_stale(uint32_t thread, Rng& rng);
  void do_misuse(uint32_t thread, Rng& rng);
  // Pool::flush(); in a persistent pool, with no write under way, told to options.on_flush.
  Outcome do_flush_pool(uint32_t thread);
  // Tensor::flush() of t; in a persistent pool, told to options.on_flush as do_flush_pool is
  // (the caller holds writes_: no write is under way), and it makes durable t alone.
  void do_flush_tensor(uint32_t thread, const std::shared_ptr<TensorModel>& t);
  // A flush that succeeds, tried kFlushTries times (each try may fail under io.faults).
  bool flush_until_done(uint32_t thread);
  void do_reopen(uint32_t thread);
  // Tells options.on_flush what a flush (of only, or of the pool) is about to make durable,
  // or how it ended; keeps durable_ what the manifest on disk holds.
  void tell_flush(FlushEvent::Stage stage, const std::shared_ptr<TensorModel>& only = nullptr);
  void stop_tracing();

  std::unique_ptr<Pool>& pool_;
  const Config& config_;
  const ModelOptions& options_;
  Watchdog& watchdog_;
  uint64_t page_size_ = 0;
  uint64_t frames_[2] = {};
  bool has_gpu_ = false;
  bool gpu_host_visible_ = false;  // the emulated gpu: its pins can be read and written here
  bool virtual_clock_ = false;     // nothing completes unless this thread runs the clock
  std::array<uint32_t, kCallCount> weights_{};
  bool faults_ = false;
  bool persistent_ = false;
  // persistent: every call holds calls_ shared, a reopen exclusively; writes, allocations and
  // releases hold writes_ shared, Pool::flush() exclusively (taken in that order).
  Gate calls_;
  Gate writes_;
  std::atomic<bool> stopped_ = false;   // the pool could not be opened again: threads stop
  std::atomic<bool> reopened_ = false;  // a reopen was tried (persistent)
  std::atomic<uint64_t> names_made_ = 0;

  std::mutex registry_mutex_;
  std::vector<std::shared_ptr<TensorModel>> live_;
  std::vector<Tensor> stale_;
  std::vector<std::string> released_names_;  // persistent: since the last reopen
  // persistent: each tensor the manifest on disk holds, with the digest of its bytes there, and
  // what the flush under way would make of it (tell_flush).
  std::map<std::shared_ptr<TensorModel>, uint64_t> durable_, publishing_;
  uint64_t live_bytes_ = 0;
  std::mutex trace_mutex_;
  bool tracing_ = false;
  uint64_t traces_ = 0;

  std::mutex report_mutex_;
  ModelReport report_;
};

template <class Fn>
Outcome Workload::attempt(uint32_t thread, Call call, std::string what,
                          std::initializer_list<Errc> allowed, Fn&& fn) {
  Outcome outcome = Outcome::ok;
  {
    WatchedCall watched(watchdog_, thread, what);
    try {
      fn();
    } catch (const Error& e) {
      if (e.code() == Errc::io && faults_) {
        outcome = Outcome::io;
      } else if (std::find(allowed.begin(), allowed.end(), e.code()) != allowed.end()) {
        outcome = Outcome::refused;
      } else {
        outcome = Outcome::failed;
        fail(fmt::format("{}: unexpected Error({}): {}", what, tiermem::to_string(e.code()),
                         e.what()));
      }
    } catch (const std::exception& e) {
      outcome = Outcome::failed;
      fail(fmt::format("{}: an exception that is not a tiermem::Error: {}", what, e.what()));
    }
  }
  count(call, outcome);
  return outcome;
}

void Workload::fail(std::string message) {
  std::lock_guard lock(report_mutex_);
  if (report_.failures.size() < kMaxFailures) report_.failures.push_back(std::move(message));
}

void Workload::count(Call call, Outcome outcome) {
  std::lock_guard lock(report_mutex_);
  CallCounts& c = report_.calls[static_cast<size_t>(call)];
  ++c.made;
  c.succeeded += outcome == Outcome::ok;
  c.refused += outcome == Outcome::refused;
  c.io_errors += outcome == Outcome::io;
}

std::shared_ptr<TensorModel> Workload::pick(Rng& rng) {
  std::lock_guard lock(registry_mutex_);
  if (live_.empty()) return nullptr;
  return live_[rng() % live_.size()];
}

Tier Workload::pick_tier(Rng& rng, bool host_visible) const {
  if (has_gpu_ && (gpu_host_visible_ || !host_visible) && rng() % 2 == 0) return Tier::gpu;
  return Tier::dram;
}

// A byte range of 1 byte to max_pin_pages pages (bounded by the tier's frames), at any
// offset, sometimes the whole tensor.
ByteRange Workload::pick_range(Rng& rng, const TensorModel& t, Tier tier) const {
  const uint64_t max_pages = std::min<uint64_t>(options_.max_pin_pages, frames_[at(tier)]);
  if (t.pages <= max_pages && rng() % 4 == 0) return ByteRange::whole();
  const uint64_t offset = rng() % t.bytes;
  // Up to max_pages pages counted from offset's page, so that the pin fits the tier.
  const uint64_t end_limit = std::min(t.bytes, (offset / page_size_ + max_pages) * page_size_);
  const uint64_t room = end_limit - offset;
  const uint64_t length =
      rng() % 3 == 0 ? 1 + rng() % std::min<uint64_t>(room, 64) : 1 + rng() % room;
  return {offset, length};
}

std::string Workload::describe(const TensorModel& t, Tier tier, ByteRange range) const {
  const uint64_t length = range.length == ByteRange::whole().length ? t.bytes : range.length;
  return fmt::format("tensor '{}' bytes [{}, {}) in {}", t.name, range.offset,
                     range.offset + length, tiermem::to_string(tier));
}

void Workload::check_bytes(const Pin& pin, const TensorModel& t, uint64_t offset,
                           std::string_view what) {
  if (pin.tier() == Tier::gpu && !gpu_host_visible_) return;
  uint64_t first = 0;
  const uint64_t differ = count_differences(static_cast<const uint8_t*>(pin.data()),
                                            t.expected.data() + offset, pin.size(), first);
  {
    std::lock_guard lock(report_mutex_);
    report_.bytes_checked += pin.size();
    report_.mismatches += differ;
  }
  if (differ != 0) {
    fail(
        fmt::format("{}: {} bytes differ from the model, the first at byte {}: expected {:#04x}, "
                    "read {:#04x}",
                    what, differ, offset + first, t.expected[offset + first],
                    static_cast<const uint8_t*>(pin.data())[first]));
  }
}

void Workload::do_allocate(uint32_t thread, Rng& rng) {
  static constexpr DType kDTypes[] = {DType::f64,      DType::f32,      DType::f16, DType::bf16,
                                      DType::fp8_e4m3, DType::fp8_e5m2, DType::i64, DType::i32,
                                      DType::i16,      DType::i8,       DType::u8,  DType::boolean,
                                      DType::u16,      DType::u32,      DType::u64};
  const DType dtype = kDTypes[rng() % std::size(kDTypes)];
  const uint64_t element = dtype_size(dtype);
  const uint64_t pages = 1 + rng() % (2 * options_.max_pin_pages);
  uint64_t bytes = rng() % 8 == 0 ? 1 + rng() % 100 : pages * page_size_ - rng() % page_size_;
  const uint64_t elements = std::max<uint64_t>(1, bytes / element);
  bytes = elements * element;
  std::vector<uint64_t> shape = {elements};
  if (elements % 4 == 0 && rng() % 2 == 0) shape = {4, elements / 4};
  {
    std::lock_guard lock(registry_mutex_);
    if (live_.size() >= options_.max_tensors || live_bytes_ + bytes > options_.total_bytes) return;
    live_bytes_ += bytes;  // reserved; given back below when the allocation fails
  }
  std::shared_lock<Gate> writing(writes_, std::defer_lock);
  if (persistent_) writing.lock();
  auto model = std::make_shared<TensorModel>();
  // Unique in a persistent pool, as its names must be.
  model->name = persistent_ ? fmt::format("t{}.{}", thread, names_made_++)
                            : fmt::format("t{}.{}", thread, rng() % 1000000);
  model->bytes = bytes;
  model->pages = (bytes + page_size_ - 1) / page_size_;
  model->expected.assign(bytes, 0);
  const TensorOptions tensor_options{.write_through = rng() % 5 == 0};
  const Outcome outcome =
      attempt(thread, Call::allocate, fmt::format("allocate('{}', {} bytes)", model->name, bytes),
              {Errc::out_of_space},
              [&] { model->handle = pool_->allocate(shape, dtype, model->name, tensor_options); });
  std::lock_guard lock(registry_mutex_);
  if (outcome == Outcome::ok) {
    live_.push_back(std::move(model));
  } else {
    live_bytes_ -= bytes;
  }
}

void Workload::do_release(uint32_t thread, Rng& rng) {
  std::shared_ptr<TensorModel> t = pick(rng);
  if (!t) return;
  std::shared_lock<Gate> quiet(writes_, std::defer_lock);
  if (persistent_) quiet.lock();
  std::unique_lock writing(t->lock, std::try_to_lock);
  if (!writing.owns_lock() || t->released) return;
  // Busy while a dropped future's pin still holds pages.
  const Outcome outcome = attempt(thread, Call::release, fmt::format("release('{}')", t->name),
                                  {Errc::busy}, [&] { t->handle.release(); });
  if (outcome != Outcome::ok) return;
  t->released = true;
  std::lock_guard lock(registry_mutex_);
  live_.erase(std::find(live_.begin(), live_.end(), t));
  live_bytes_ -= t->bytes;
  stale_.push_back(t->handle);
  if (persistent_) released_names_.push_back(t->name);
}

void Workload::do_pin(uint32_t thread, Rng& rng, Call call) {
  std::shared_ptr<TensorModel> t = pick(rng);
  if (!t) return;
  const bool writes = call != Call::pin_read;
  std::shared_lock<Gate> quiet(writes_, std::defer_lock);
  if (persistent_ && writes) quiet.lock();
  std::shared_lock reading(t->lock, std::defer_lock);
  std::unique_lock writing(t->lock, std::defer_lock);
  if (writes) {
    writing.lock();
  } else {
    reading.lock();
  }
  if (t->released) return;
  const Tier tier = pick_tier(rng, writes);
  const ByteRange range = pick_range(rng, *t, tier);
  const Access access = call == Call::pin_read    ? Access::read
                        : call == Call::pin_write ? Access::write
                                                  : Access::read_write;
  const bool async = rng() % 3 == 0;
  const std::string what = fmt::format("{}pin({}, {})", async ? "async " : "",
                                       describe(*t, tier, range), tiermem::to_string(access));
  Pin pin;
  // busy: a dropped future's pin holds pages in the other tier; tier_full: other threads' pins.
  const Outcome outcome = attempt(thread, call, what, {Errc::busy, Errc::tier_full}, [&] {
    if (async) {
      std::future<Pin> later = t->handle.pin_async(tier, access, range);
      pin = wait(later);
    } else {
      pin = t->handle.pin(tier, access, range);
    }
  });
  if (outcome != Outcome::ok) return;
  const uint64_t offset = range.offset;
  if (access != Access::write) check_bytes(pin, *t, offset, what);
  if (access == Access::read || (pin.tier() == Tier::gpu && !gpu_host_visible_)) return;
  fill_pattern(t->expected.data() + offset, pin.size(), rng());
  std::memcpy(pin.data(), t->expected.data() + offset, pin.size());
}

void Workload::do_dropped(uint32_t thread, Rng& rng) {
  std::shared_ptr<TensorModel> t = pick(rng);
  if (!t) return;
  std::shared_lock reading(t->lock);
  if (t->released) return;
  const Tier tier = pick_tier(rng, false);
  const ByteRange range = pick_range(rng, *t, tier);
  // Never Access::write: a pin nobody writes through would show unspecified bytes to others.
  // Never read_write in a persistent pool: a flush leaves pages pinned for writing dirty, so the
  // manifest would name their old copies while the model holds the same bytes as current.
  const Access access = rng() % 2 == 0 || persistent_ ? Access::read : Access::read_write;
  attempt(thread, Call::pin_dropped,
          fmt::format("pin_async({}, {}), future dropped", describe(*t, tier, range),
                      tiermem::to_string(access)),
          {Errc::busy, Errc::tier_full}, [&] { (void)t->handle.pin_async(tier, access, range); });
}

void Workload::do_tensor_call(uint32_t thread, Rng& rng, Call call) {
  std::shared_ptr<TensorModel> t = pick(rng);
  if (!t) return;
  // A persistent tensor's flush waits for writes to end, as a pool's does (do_flush_tensor);
  // writes_ comes before the tensor's lock, as in every call that takes both.
  std::unique_lock<Gate> quiet(writes_, std::defer_lock);
  if (persistent_ && call == Call::flush_tensor) quiet.lock();
  std::shared_lock reading(t->lock);
  if (t->released) return;
  const Tier tier = pick_tier(rng, false);
  switch (call) {
    case Call::prefetch: {
      const ByteRange range = pick_range(rng, *t, tier);
      attempt(thread, call, fmt::format("prefetch({})", describe(*t, tier, range)), {},
              [&] { t->handle.prefetch(tier, range); });
      return;
    }
    // tier_full: a gpu page goes down through a dram frame, and every one may be pinned.
    case Call::evict:
      attempt(thread, call, fmt::format("evict('{}', {})", t->name, tiermem::to_string(tier)),
              {Errc::tier_full}, [&] { (void)t->handle.evict(tier); });
      return;
    case Call::flush_tensor:
      return do_flush_tensor(thread, t);
    case Call::residency:
      attempt(thread, call, fmt::format("residency('{}')", t->name), {}, [&] {
        const std::vector<PageResidency> pages = t->handle.residency();
        for (size_t i = 0; i < pages.size(); ++i) {
          for (Tier pinned : {Tier::gpu, Tier::dram}) {
            if (pages[i].pins[at(pinned)] != 0 && !pages[i].in(pinned)) {
              fail(fmt::format("residency('{}'): page {} is pinned in {} but not valid there",
                               t->name, i, tiermem::to_string(pinned)));
            }
          }
        }
      });
      return;
    default:
      return;
  }
}

void Workload::do_schedule(uint32_t thread, Rng& rng) {
  std::vector<std::shared_ptr<TensorModel>> tensors;
  std::vector<std::shared_lock<std::shared_mutex>> locks;
  std::vector<ScheduleStep> steps;
  for (int i = 0, n = static_cast<int>(rng() % 4); i < n; ++i) {
    std::shared_ptr<TensorModel> t = pick(rng);
    if (!t) break;
    std::shared_lock reading(t->lock, std::try_to_lock);
    if (!reading.owns_lock() || t->released) continue;
    const Tier tier = pick_tier(rng, false);
    steps.push_back({t->handle, pick_range(rng, *t, tier), tier});
    tensors.push_back(std::move(t));
    locks.push_back(std::move(reading));
  }
  attempt(thread, Call::schedule, fmt::format("set_schedule({} steps)", steps.size()), {},
          [&] { pool_->set_schedule(steps); });
}

void Workload::do_trace(uint32_t thread) {
  if (options_.scratch_dir.empty()) return;
  std::lock_guard lock(trace_mutex_);
  if (tracing_) {
    attempt(thread, Call::trace, "stop_trace()", {}, [&] { pool_->stop_trace(); });
    tracing_ = false;
    return;
  }
  const std::string path = fmt::format("{}/trace-{}.bin", options_.scratch_dir, traces_++);
  tracing_ = attempt(thread, Call::trace, fmt::format("start_trace('{}')", path), {},
                     [&] { pool_->start_trace(path); }) == Outcome::ok;
}

void Workload::do_stale(uint32_t thread, Rng& rng) {
  Tensor stale;
  {
    std::lock_guard lock(registry_mutex_);
    if (stale_.empty()) return;
    stale = stale_[rng() % stale_.size()];
  }
  const Outcome outcome = attempt(thread, Call::stale, "pin(released tensor)", {Errc::released},
                                  [&] { (void)stale.pin(Tier::dram, Access::read); });
  if (outcome == Outcome::ok) fail("a pin of a released tensor succeeded");
}

// Calls that break a contract; each must be refused with Error(invalid_argument).
void Workload::do_misuse(uint32_t thread, Rng& rng) {
  std::shared_ptr<TensorModel> t = pick(rng);
  if (!t) return;
  std::shared_lock reading(t->lock);
  if (t->released) return;
  const Tensor& h = t->handle;
  const uint64_t kind = rng() % 9;
  std::string what;
  std::function<void()> call;
  switch (kind) {
    case 0:
      what = "pin(nvme)";
      call = [&] { (void)h.pin(Tier::nvme, Access::read); };
      break;
    case 1:
      what = "pin(Tier(7))";
      call = [&] { (void)h.pin(static_cast<Tier>(7), Access::read); };
      break;
    case 2:
      what = "pin(dram, Access(9))";
      call = [&] { (void)h.pin(Tier::dram, static_cast<Access>(9)); };
      break;
    case 3:
      what = "pin(offset beyond the end)";
      call = [&] { (void)h.pin(Tier::dram, Access::read, {t->bytes, 1}); };
      break;
    case 4:
      what = "pin(0 bytes)";
      call = [&] { (void)h.pin(Tier::dram, Access::read, {0, 0}); };
      break;
    case 5:
      what = "allocate(DType(200))";
      call = [&] { (void)pool_->allocate({4}, static_cast<DType>(200), "bad"); };
      break;
    case 6:
      what = "allocate(dimension 0)";
      call = [&] { (void)pool_->allocate({4, 0}, DType::u8, "bad"); };
      break;
    case 7:
      what = "residency(page beyond the end)";
      call = [&] { (void)h.residency(t->pages); };
      break;
    default:
      what = has_gpu_ ? "prefetch(Tier(3))" : "pin(gpu) without a gpu tier";
      call = has_gpu_ ? std::function<void()>([&] { h.prefetch(static_cast<Tier>(3)); })
                      : std::function<void()>([&] { (void)h.pin(Tier::gpu, Access::read); });
      break;
  }
  what += fmt::format(" on '{}'", t->name);
  const Outcome outcome = attempt(thread, Call::misuse, what, {Errc::invalid_argument}, call);
  if (outcome == Outcome::ok) fail(what + " was accepted");
}

template <class T>
T Workload::wait(std::future<T>& future) {
  while (virtual_clock_ && future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    const std::optional<uint64_t> next = pool_->next_event_ns();
    // Not an Error: a future that nothing scheduled can make ready is a hang, not a refusal.
    if (!next) throw std::logic_error("virtual clock: a pin waits for nothing scheduled");
    pool_->advance(*next);
  }
  return future.get();
}

void Workload::let_time_pass() {
  if (!virtual_clock_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return;
  }
  if (const std::optional<uint64_t> next = pool_->next_event_ns()) pool_->advance(*next);
}

// The host runs the clock: to its next event, or some microseconds on; and tries to turn it
// back, which must be refused.
void Workload::do_advance(uint32_t thread, Rng& rng) {
  const uint64_t now = pool_->now_ns();
  switch (rng() % 3) {
    case 0:
      attempt(thread, Call::advance, "advance to the next event", {}, [&] {
        if (const std::optional<uint64_t> next = pool_->next_event_ns()) {
          if (*next < now) fail(fmt::format("next event at {} ns, before now ({} ns)", *next, now));
          pool_->advance(*next);
        }
      });
      return;
    case 1:
      attempt(thread, Call::advance, "advance by up to 1 ms", {},
              [&] { pool_->advance(now + rng() % 1'000'000); });
      return;
    default:
      if (now == 0) return;
      attempt(thread, Call::advance, fmt::format("advance back to {} ns from {} ns", now - 1, now),
              {Errc::invalid_argument}, [&] {
                pool_->advance(now - 1);
                fail("the clock was turned back");
              });
      return;
  }
}

void Workload::run_thread(uint32_t index) {
  Rng rng(options_.seed * 0x9E3779B97F4A7C15ull + index);
  uint32_t total_weight = 0;
  for (uint32_t w : weights_) total_weight += w;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(options_.seconds);
  const auto halfway = start + std::chrono::duration<double>(options_.seconds / 2);
  for (uint64_t n = 0; options_.max_operations == 0 || n < options_.max_operations; ++n) {
    const auto now = std::chrono::steady_clock::now();
    if (options_.max_operations == 0 && now >= deadline) break;
    if (stopped_) break;
    uint32_t draw = static_cast<uint32_t>(rng() % total_weight);
    size_t call = 0;
    while (draw >= weights_[call]) draw -= weights_[call++];
    const bool past_half =
        options_.max_operations == 0 ? now >= halfway : n == options_.max_operations / 2;
    const bool due = index == 0 && past_half && !reopened_.load(std::memory_order_relaxed);
    if (persistent_ && (rng() % kReopenOdds == 0 || due)) {
      do_reopen(index);
      continue;
    }
    std::shared_lock<Gate> calling(calls_, std::defer_lock);
    if (persistent_) calling.lock();
    if (stopped_) break;
    {
      std::lock_guard lock(registry_mutex_);
      if (live_.empty()) call = static_cast<size_t>(Call::allocate);
    }
    switch (static_cast<Call>(call)) {
      case Call::allocate:
        do_allocate(index, rng);
        break;
      case Call::release:
        do_release(index, rng);
        break;
      case Call::pin_read:
      case Call::pin_write:
      case Call::pin_read_write:
        do_pin(index, rng, static_cast<Call>(call));
        break;
      case Call::pin_dropped:
        do_dropped(index, rng);
        break;
      case Call::flush_pool:
        do_flush_pool(index);
        break;
      case Call::stats:
        attempt(index, Call::stats, "Pool::stats()", {}, [&] {
          const Stats s = pool_->stats();
          for (int tier = 0; tier < 2; ++tier) {
            if (s.tiers[tier].free_frames > s.tiers[tier].frames) {
              fail(fmt::format("stats: {} free frames of {} in tier {}", s.tiers[tier].free_frames,
                               s.tiers[tier].frames, tier));
            }
          }
        });
        break;
      case Call::schedule:
        do_schedule(index, rng);
        break;
      case Call::trace:
        do_trace(index);
        break;
      case Call::compute:
        attempt(index, Call::compute, "compute_begin/end", {}, [&] {
          pool_->compute_begin();
          pool_->compute_end();
        });
        break;
      case Call::stale:
        do_stale(index, rng);
        break;
      case Call::misuse:
        do_misuse(index, rng);
        break;
      case Call::advance:
        do_advance(index, rng);
        break;
      default:
        do_tensor_call(index, rng, static_cast<Call>(call));
        break;
    }
  }
}

// Pins of dropped futures may still hold frames, and injected faults may fail reads, so each
// chunk is tried again for a while.
void Workload::read_back(uint32_t thread, const TensorModel& t, Call call, std::string_view when) {
  const uint64_t chunk = std::max<uint64_t>(1, frames_[1] / 2) * page_size_;
  for (uint64_t offset = 0; offset < t.bytes; offset += chunk) {
    const ByteRange range{offset, std::min(chunk, t.bytes - offset)};
    const std::string what = fmt::format("{}: read of {}", when, describe(t, Tier::dram, range));
    bool read = false;
    for (int attempt_no = 0; attempt_no < 200 && !read; ++attempt_no) {
      Pin pin;
      const Outcome outcome = attempt(thread, call, what, {Errc::busy, Errc::tier_full},
                                      [&] { pin = t.handle.pin(Tier::dram, Access::read, range); });
      if (outcome == Outcome::failed) break;
      if (outcome != Outcome::ok) {
        let_time_pass();
        continue;
      }
      uint64_t first = 0;
      const uint64_t lost = count_differences(static_cast<const uint8_t*>(pin.data()),
                                              t.expected.data() + offset, pin.size(), first);
      std::lock_guard lock(report_mutex_);
      report_.bytes_checked += pin.size();
      report_.lost_bytes += lost;
      if (lost != 0 && report_.failures.size() < kMaxFailures) {
        report_.failures.push_back(
            fmt::format("{}: {} bytes lost, the first at byte {}", what, lost, offset + first));
      }
      read = true;
    }
    if (!read) {
      std::lock_guard lock(report_mutex_);
      report_.unverified_bytes += range.length;
    }
  }
}

void Workload::stop_tracing() {
  std::lock_guard lock(trace_mutex_);
  if (tracing_) pool_->stop_trace();
  tracing_ = false;
}

void Workload::tell_flush(FlushEvent::Stage stage, const std::shared_ptr<TensorModel>& only) {
  if (!options_.on_flush) return;
  FlushEvent event{.stage = stage, .tensors = {}};
  {
    std::lock_guard lock(registry_mutex_);
    if (stage == FlushEvent::Stage::starting) {
      // A pool's flush makes every live tensor durable; a tensor's flush makes that one durable
      // and keeps the others the manifest holds as they are there. Released ones leave it.
      publishing_.clear();
      for (const std::shared_ptr<TensorModel>& t : live_) {
        if (only == nullptr || t == only) {
          publishing_[t] = digest(t->expected.data(), t->bytes);
        } else if (auto held = durable_.find(t); held != durable_.end()) {
          publishing_[t] = held->second;
        }
      }
      for (const auto& [t, hash] : publishing_) event.tensors.push_back({t->name, hash});
    } else if (stage == FlushEvent::Stage::done) {
      durable_ = std::move(publishing_);
      publishing_.clear();
    }
  }
  options_.on_flush(event);
}

void Workload::do_flush_tensor(uint32_t thread, const std::shared_ptr<TensorModel>& t) {
  if (persistent_) tell_flush(FlushEvent::Stage::starting, t);
  const Outcome outcome = attempt(thread, Call::flush_tensor, fmt::format("flush('{}')", t->name),
                                  {Errc::tier_full}, [&] { t->handle.flush(); });
  if (persistent_) {
    tell_flush(outcome == Outcome::ok ? FlushEvent::Stage::done : FlushEvent::Stage::failed);
  }
}

Outcome Workload::do_flush_pool(uint32_t thread) {
  // The model's bytes are what the flush makes durable only while nothing writes them.
  std::unique_lock<Gate> quiet(writes_, std::defer_lock);
  if (persistent_) quiet.lock();
  tell_flush(FlushEvent::Stage::starting);
  const Outcome outcome = attempt(thread, Call::flush_pool, "Pool::flush()", {Errc::tier_full},
                                  [&] { pool_->flush(); });
  tell_flush(outcome == Outcome::ok ? FlushEvent::Stage::done : FlushEvent::Stage::failed);
  return outcome;
}

bool Workload::flush_until_done(uint32_t thread) {
  for (int i = 0; i < kFlushTries; ++i) {
    if (do_flush_pool(thread) == Outcome::ok) return true;
    let_time_pass();
  }
  return false;
}

// Closes the pool while every other thread waits between calls, opens it again and checks
// every tensor. A flush first makes the model's bytes durable, so that the check is exact
// whatever the destructor's own flush meets (pins of dropped futures, injected faults).
void Workload::do_reopen(uint32_t thread) {
  std::unique_lock<Gate> quiet(calls_);
  if (stopped_) return;
  reopened_.store(true, std::memory_order_relaxed);
  stop_tracing();
  if (!flush_until_done(thread)) {
    count(Call::reopen, Outcome::refused);
    return;
  }
  attempt(thread, Call::reopen, "~Pool(), then Pool(config) again", {}, [&] {
    pool_.reset();
    pool_ = std::make_unique<Pool>(config_);
  });
  if (!pool_) {
    fail("the persistent pool could not be opened again; the run stops");
    stopped_ = true;
    return;
  }
  std::lock_guard lock(registry_mutex_);
  for (const std::string& name : released_names_) {
    if (pool_->find(name)) fail(fmt::format("reopen: released tensor '{}' is back", name));
  }
  released_names_.clear();
  stale_.clear();  // handles of the closed pool, which must not be used
  if (const uint64_t found = pool_->stats().tensors; found != live_.size()) {
    fail(fmt::format("reopen: {} tensors in the pool, the model has {}", found, live_.size()));
  }
  // A tensor that did not come back whole leaves the model, so that no call uses its handle.
  std::erase_if(live_, [&](const std::shared_ptr<TensorModel>& t) {
    t->handle = pool_->find(t->name);
    if (t->handle && t->handle.size_bytes() == t->bytes) return false;
    fail(t->handle ? fmt::format("reopen: tensor '{}' has {} bytes, the model {}", t->name,
                                 t->handle.size_bytes(), t->bytes)
                   : fmt::format("reopen: tensor '{}' is missing", t->name));
    live_bytes_ -= t->bytes;
    return true;
  });
  for (const std::shared_ptr<TensorModel>& t : live_) {
    read_back(thread, *t, Call::reopen, "after reopening");
  }
  attempt(thread, Call::reopen, "Pool::verify() after reopening", {},
          [&] { (void)pool_->verify(); });
}

// Reads every live tensor back and compares it with the model: whatever was reported written
// must be there.
void Workload::verify_all() {
  stop_tracing();
  std::vector<std::shared_ptr<TensorModel>> tensors;
  {
    std::lock_guard lock(registry_mutex_);
    tensors = live_;
  }
  for (const std::shared_ptr<TensorModel>& t : tensors)
    read_back(0, *t, Call::verify, "final check");
  // Every trace the pool recorded reads back.
  for (uint64_t i = 0; i < traces_; ++i) {
    const std::string path = fmt::format("{}/trace-{}.bin", options_.scratch_dir, i);
    attempt(0, Call::trace, fmt::format("read_trace('{}')", path), {},
            [&] { (void)read_trace(path); });
  }
}

void Workload::announce_close() {
  if (persistent_) tell_flush(FlushEvent::Stage::starting);
}

// Starts asynchronous pins, drops some futures and keeps others, and destroys the pool while
// they are in flight: every future must still get its Pin or an Error, and nothing may crash.
void Workload::close_with_pins_in_flight(std::unique_ptr<Pool>& pool) {
  std::vector<std::future<Pin>> kept;
  Rng rng(options_.seed);
  {
    std::lock_guard lock(registry_mutex_);
    for (size_t i = 0; i < std::min<size_t>(live_.size(), 4); ++i) {
      const std::shared_ptr<TensorModel>& t = live_[i];
      try {
        (void)t->handle.pin_async(Tier::dram, Access::read, pick_range(rng, *t, Tier::dram));
        kept.push_back(
            t->handle.pin_async(Tier::dram, Access::read, pick_range(rng, *t, Tier::dram)));
      } catch (const Error&) {
        // Argument errors only, which the ranges cannot have; the close is what is tested.
      }
    }
  }
  for (std::future<Pin>& future : kept) {
    attempt(0, Call::close, "a pin in flight at close", {Errc::tier_full, Errc::busy},
            [&] { (void)wait(future); });
  }
  attempt(0, Call::close, "~Pool() with pins in flight", {}, [&] { pool.reset(); });
}

}  // namespace

uint64_t digest(const uint8_t* bytes, uint64_t size) noexcept {
  return std::hash<std::string_view>{}(
      std::string_view(reinterpret_cast<const char*>(bytes), static_cast<size_t>(size)));
}

std::string_view to_string(Call call) noexcept {
  return kCallNames[static_cast<size_t>(call)];
}

uint64_t ModelReport::operations() const noexcept {
  uint64_t total = 0;
  for (const CallCounts& c : calls) total += c.made;
  return total;
}

std::string ModelReport::to_text() const {
  std::string text =
      fmt::format("{:<15} {:>9} {:>9} {:>9} {:>9}\n", "call", "made", "ok", "refused", "io errors");
  for (size_t i = 0; i < kCallCount; ++i) {
    const CallCounts& c = calls[i];
    if (c.made == 0) continue;
    text += fmt::format("{:<15} {:>9} {:>9} {:>9} {:>9}\n", kCallNames[i], c.made, c.succeeded,
                        c.refused, c.io_errors);
  }
  text += fmt::format(
      "seed {}, {} threads, {:.1f} s, {} calls: {} bytes checked, {} mismatches, {} bytes lost, "
      "{} bytes unreadable at the end, {} fds and {} threads leaked: {}\n",
      seed, threads, seconds, operations(), bytes_checked, mismatches, lost_bytes, unverified_bytes,
      leaked_fds, leaked_threads, ok() ? "ok" : "FAILED");
  for (const std::string& failure : failures) text += "  " + failure + "\n";
  return text;
}

std::string ModelReport::to_json() const {
  boost::json::object json;
  json["seed"] = seed;
  json["threads"] = threads;
  json["seconds"] = seconds;
  json["operations"] = operations();
  boost::json::object per_call;
  for (size_t i = 0; i < kCallCount; ++i) {
    per_call[kCallNames[i]] = {{"made", calls[i].made},
                               {"succeeded", calls[i].succeeded},
                               {"refused", calls[i].refused},
                               {"io_errors", calls[i].io_errors}};
  }
  json["calls"] = std::move(per_call);
  json["bytes_checked"] = bytes_checked;
  json["mismatches"] = mismatches;
  json["lost_bytes"] = lost_bytes;
  json["unverified_bytes"] = unverified_bytes;
  json["leaked_fds"] = leaked_fds;
  json["leaked_threads"] = leaked_threads;
  boost::json::array failure_list;
  for (const std::string& failure : failures) failure_list.emplace_back(failure);
  json["failures"] = std::move(failure_list);
  json["ok"] = ok();
  return json_text(json);
}

Config model_pool_config(const Config& config, const ModelOptions& options) {
  if (!options.persistent) return config;
  if (options.devices || options.scratch_dir.empty()) {
    throw Error(Errc::invalid_argument,
                "the model check of a persistent pool needs a scratch directory and no virtual "
                "clock");
  }
  Config persistent = config;
  persistent.nvme.persistent = true;
  persistent.nvme.dirs = {options.scratch_dir + "/pool"};
  std::filesystem::create_directories(persistent.nvme.dirs[0]);
  return persistent;
}

ModelReport run_model(const Config& config, const ModelOptions& given) {
  ModelOptions options = given;
  if (options.total_bytes == 0) options.total_bytes = 4 * config.dram.capacity;
  options.threads = options.devices ? 1 : std::max<uint32_t>(options.threads, 1);
  const std::string context = fmt::format(
      "seed {}; replay: {}", options.seed,
      options.replay_command.empty() ? replay_command(config, options) : options.replay_command);
  Watchdog watchdog(options.threads, options.watchdog_seconds, context);
  const int fds_before = count_entries("/proc/self/fd");
  const int threads_before = count_entries("/proc/self/task");
  const auto start = std::chrono::steady_clock::now();

  const Config pool_config = model_pool_config(config, options);
  auto pool = options.devices ? std::make_unique<Pool>(pool_config, *options.devices)
                              : std::make_unique<Pool>(pool_config);
  if (const uint64_t tensors = pool->stats().tensors; tensors != 0) {
    throw Error(Errc::invalid_argument,
                fmt::format("the persistent pool in {} holds {} tensors the model does not know",
                            pool_config.nvme.dirs[0], tensors));
  }
  Workload workload(pool, pool_config, options, watchdog);
  {
    std::vector<std::thread> threads;
    for (uint32_t i = 0; i < options.threads; ++i) {
      threads.emplace_back([&workload, i] { workload.run_thread(i); });
    }
    for (std::thread& thread : threads) thread.join();
  }
  workload.verify_all();
  const Stats stats = pool ? pool->stats() : Stats{};
  const int threads_open = count_entries("/proc/self/task") - threads_before;
  if (pool) {
    workload.announce_close();
    workload.close_with_pins_in_flight(pool);
  }

  ModelReport report = std::move(workload.report());
  report.stats = stats;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  report.leaked_fds = count_entries("/proc/self/fd") - fds_before;
  report.leaked_threads = count_entries("/proc/self/task") - threads_before;
  if (report.leaked_fds > 0) {
    report.failures.push_back(fmt::format("{} file descriptors leaked", report.leaked_fds));
  }
  if (report.leaked_threads > 0) {
    report.failures.push_back(fmt::format("{} threads leaked", report.leaked_threads));
  }
  if (options.devices && threads_open != 0) {
    report.failures.push_back(
        fmt::format("the pool on a virtual clock ran {} threads of its own", threads_open));
  }
  if (!report.ok()) std::fprintf(stderr, "model check FAILED; %s\n", context.c_str());
  return report;
}

}  // namespace tiermem::check
