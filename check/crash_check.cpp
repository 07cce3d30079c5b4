// check/crash_check.cpp: the rounds of the crash check: a child running the workload, the
// pipe that carries what its flushes make durable, the kill, and the check of the pool after.
#include "check/crash_check.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "support/json.hpp"
#include "tiermem/tiermem.hpp"

namespace tiermem::check {

namespace {

using Clock = std::chrono::steady_clock;
using State = std::vector<TensorDigest>;

constexpr uint32_t kMaxTensors = 64;

// One event, one write: a pipe write of at most PIPE_BUF bytes is never split, so a kill
// leaves whole events only. "s N" and N lines "name hash" (starting), "d" (done), "f" (failed).
void send(int fd, const FlushEvent& event) {
  std::string text;
  switch (event.stage) {
    case FlushEvent::Stage::starting:
      text = fmt::format("s {}\n", event.tensors.size());
      for (const TensorDigest& t : event.tensors) text += fmt::format("{} {}\n", t.name, t.hash);
      break;
    case FlushEvent::Stage::done:
      text = "d\n";
      break;
    case FlushEvent::Stage::failed:
      text = "f\n";
      break;
  }
  if (text.size() > PIPE_BUF) {
    std::fprintf(stderr, "crash check: a flush event of %zu bytes\n", text.size());
    _exit(4);
  }
  ssize_t n = 0;
  do {
    n = write(fd, text.data(), text.size());
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(text.size())) _exit(4);  // the parent is gone
}

// What the child's events say may be on disk: the last flush done (none: the empty pool the
// child started from), and a flush started after it with no outcome yet.
struct Durable {
  State done;
  std::optional<State> pending;
  uint64_t flushes = 0;
  uint64_t failed = 0;
};

Durable parse(const std::string& events) {
  Durable durable;
  std::istringstream in(events);
  std::string stage;
  while (in >> stage) {
    if (stage == "s") {
      size_t count = 0;
      in >> count;
      State state(count);
      for (TensorDigest& t : state) in >> t.name >> t.hash;
      durable.pending = std::move(state);
    } else if (stage == "d") {
      durable.done = std::move(durable.pending).value_or(State{});
      durable.pending.reset();
      ++durable.flushes;
    } else {
      durable.pending.reset();
      ++durable.failed;
    }
  }
  return durable;
}

// Reads the child's events until the deadline or the pipe's end.
void read_until(int fd, Clock::time_point deadline, std::string& events) {
  char buffer[4096];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return;
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000))) <= 0) continue;
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n == 0) return;
    if (n > 0) events.append(buffer, static_cast<size_t>(n));
  }
}

void read_to_end(int fd, std::string& events) {
  read_until(fd, Clock::time_point::max(), events);
}

// The bytes of a tensor, read through dram pins of at most half the tier.
std::vector<uint8_t> read_tensor(const Tensor& tensor, const Config& config) {
  const uint64_t chunk =
      std::max<uint64_t>(1, config.dram.capacity / config.page_size / 2) * config.page_size;
  std::vector<uint8_t> bytes(tensor.size_bytes());
  for (uint64_t at = 0; at < bytes.size(); at += chunk) {
    Pin pin = tensor.pin(Tier::dram, Access::read, {at, std::min(chunk, bytes.size() - at)});
    std::memcpy(bytes.data() + at, pin.data(), pin.size());
  }
  return bytes;
}

// Why the pool does not hold exactly state; empty when it does. digests caches the hash of
// every tensor read.
std::string mismatch(Pool& pool, const State& state, const Config& config,
                     std::map<std::string, uint64_t>& digests) {
  const uint64_t tensors = pool.stats().tensors;
  if (tensors != state.size()) {
    return fmt::format("{} tensors in the pool, {} in the flush", tensors, state.size());
  }
  for (const TensorDigest& t : state) {
    auto known = digests.find(t.name);
    if (known == digests.end()) {
      Tensor tensor = pool.find(t.name);
      if (!tensor) return fmt::format("'{}' is missing", t.name);
      const std::vector<uint8_t> bytes = read_tensor(tensor, config);
      known = digests.emplace(t.name, digest(bytes.data(), bytes.size())).first;
    }
    if (known->second != t.hash) return fmt::format("'{}' holds other bytes", t.name);
  }
  return {};
}

// Opens the pool a killed child left and checks it against durable; then empties it. Returns
// the failure, or an empty string.
std::string check_pool(const Config& config, const Durable& durable, CrashReport& report) {
  Pool pool(config);
  std::map<std::string, uint64_t> digests;
  std::string why = mismatch(pool, durable.done, config, digests);
  if (!why.empty() && durable.pending) {
    const std::string pending_why = mismatch(pool, *durable.pending, config, digests);
    why = pending_why.empty()
              ? std::string()
              : fmt::format(
                    "not as the last flush done ({}) nor as the one started after it "
                    "({})",
                    why, pending_why);
  } else if (!why.empty()) {
    why = fmt::format("not as the last flush done: {}", why);
  }
  if (!why.empty()) return why;
  report.tensors_checked += digests.size();
  report.pages_verified += pool.verify();
  for (const auto& [name, hash] : digests) pool.find(name).release();
  return {};
}

}  // namespace

std::string CrashReport::to_text() const {
  std::string text = fmt::format(
      "crash check: seed {}, {:.1f} s, {} rounds, {} children killed, {} flushes done and {} "
      "failed, {} tensors and {} pages checked after the kills: {}\n",
      seed, seconds, rounds, killed, flushes, failed_flushes, tensors_checked, pages_verified,
      ok() ? "ok" : "FAILED");
  for (const std::string& failure : failures) text += "  " + failure + "\n";
  return text;
}

std::string CrashReport::to_json() const {
  boost::json::object json;
  json["seed"] = seed;
  json["seconds"] = seconds;
  json["rounds"] = rounds;
  json["killed"] = killed;
  json["flushes"] = flushes;
  json["failed_flushes"] = failed_flushes;
  json["tensors_checked"] = tensors_checked;
  json["pages_verified"] = pages_verified;
  boost::json::array failure_list;
  for (const std::string& failure : failures) failure_list.emplace_back(failure);
  json["failures"] = std::move(failure_list);
  json["ok"] = ok();
  return json_text(json);
}

CrashReport run_crash_check(const Config& config, const ModelOptions& given) {
  if (given.max_tensors > kMaxTensors) {
    throw Error(Errc::invalid_argument,
                fmt::format("the crash check keeps {} tensors at most (max_tensors is {})",
                            kMaxTensors, given.max_tensors));
  }
  ModelOptions options = given;
  options.persistent = true;
  options.devices.reset();
  options.max_operations = 0;
  options.seconds = std::clamp(given.seconds / 8, 0.2, 2.0);
  Config checking = model_pool_config(config, options);
  checking.io.faults.clear();  // the check reads what is on disk, not what faults let through

  CrashReport report;
  report.seed = given.seed;
  std::mt19937_64 rng(given.seed);
  const auto start = Clock::now();
  // The last round starts a round's time before the end: children may outlive their round.
  const auto end = start + std::chrono::duration<double>(given.seconds - options.seconds);
  while (report.failures.empty() && (report.rounds == 0 || Clock::now() < end)) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw Error(Errc::system, "crash check: pipe", errno);
    options.seed = given.seed + report.rounds++;
    options.on_flush = [fd = fds[1]](const FlushEvent& event) { send(fd, event); };
    const pid_t child = fork();
    if (child < 0) throw Error(Errc::system, "crash check: fork", errno);
    if (child == 0) {
      close(fds[0]);
      int code = 3;
      try {
        code = run_model(config, options).ok() ? 0 : 3;
      } catch (const std::exception& e) {
        std::fprintf(stderr, "crash check, child: %s\n", e.what());
      }
      _exit(code);
    }
    close(fds[1]);
    // Up to a quarter past the round's end, so that some children finish and close the pool.
    const auto kill_at =
        Clock::now() +
        std::chrono::microseconds(rng() % static_cast<uint64_t>(options.seconds * 1.25e6));
    std::string events;
    read_until(fds[0], kill_at, events);
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    read_to_end(fds[0], events);
    close(fds[0]);
    const Durable durable = parse(events);
    report.flushes += durable.flushes;
    report.failed_flushes += durable.failed;
    const std::string round = fmt::format("round {} (seed {})", report.rounds, options.seed);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      ++report.killed;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      report.failures.push_back(fmt::format("{}: the child's run failed (status {:#x})", round,
                                            static_cast<unsigned>(status)));
      break;
    }
    try {
      if (std::string why = check_pool(checking, durable, report); !why.empty()) {
        report.failures.push_back(fmt::format("{}: after the kill, the pool is {}", round, why));
      }
    } catch (const Error& e) {
      report.failures.push_back(fmt::format("{}: after the kill: {}", round, e.what()));
    }
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!report.ok()) {
    std::fprintf(stderr, "crash check FAILED; seed %llu\n",
                 static_cast<unsigned long long>(given.seed));
  }
  return report;
}

}  // namespace tiermem::check
