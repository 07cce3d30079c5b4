// policies/prefetch_schedule.cpp: schedule-driven prefetch.
//
// Follows a future access order: one the application registered (set_schedule), or, as
// ZeRO-3 does, one learned from the first iteration: accesses are recorded as steps (runs of
// consecutive pages) until the first steps come round again. Then on entering each step it
// proposes the steps ahead whose time until use is below `lead` times the time to read them
// and everything before them at the measured bandwidth, so reads start just early enough to
// be hidden behind the steps in between. Step durations are measured on the previous pass;
// with no bandwidth known it proposes `depth` steps ahead.
#include <algorithm>
#include <vector>

#include "policies/builtin.hpp"
#include "policies/params.hpp"
#include "policies/schedule_cursor.hpp"

namespace tiermem::policies {

namespace {

class SchedulePrefetch final : public PrefetchPolicy {
 public:
  struct Options {
    double lead = 2.0;
    uint32_t depth = 8;
    uint32_t max_steps = 1u << 20;  // learning gives up beyond this many steps
    double bandwidth = 0;           // bytes/s; 0: as measured by the owner
    std::optional<uint8_t> tier;
    uint64_t page_size = 0;
  };

  explicit SchedulePrefetch(const Options& options) : options_(options) {}

  std::string_view name() const noexcept override { return "schedule"; }

  void set_schedule(std::shared_ptr<const Schedule> schedule) override {
    learning_ = schedule == nullptr;
    recording_.steps.clear();
    follow(std::move(schedule));
  }

  void observe_bandwidth(uint8_t tier, double bytes_per_second) override {
    if (tier < 2) measured_[tier] = bytes_per_second;
  }

  void on_access(const AccessEvent& event, PrefetchSink& sink) override {
    if (learning_ && !learn(event)) return;
    uint32_t previous = cursor_.step();
    uint32_t step = cursor_.follow(event.page);
    if (step == ScheduleCursor::kNoStep || step == previous) return;
    if (previous != ScheduleCursor::kNoStep && step == (previous + 1) % duration_.size()) {
      duration_[previous] = event.time - step_start_;
    }
    step_start_ = event.time;
    propose_ahead(event, sink);
  }

 private:
  void follow(std::shared_ptr<const Schedule> schedule) {
    cursor_.reset(std::move(schedule), options_.depth);
    duration_.assign(cursor_.empty() ? 0 : cursor_.steps().size(), 0);
  }

  // Records the access; returns true once the first iteration is complete: when the first
  // kConfirm recorded steps have come round again, in order (one step recurring alone, like a
  // buffer read and later rewritten, is not yet a new iteration).
  bool learn(const AccessEvent& event) {
    std::vector<ScheduleStep>& steps = recording_.steps;
    if (!steps.empty()) {
      ScheduleStep& last = steps.back();
      if (event.page == last.first + last.count && event.index > 0) {
        ++last.count;
        return false;
      }
      if (event.page >= last.first && event.page < last.first + last.count) return false;
    }
    size_t matched = steps.size() - repeat_;  // steps recorded since the repeat began
    if (repeat_ > 1 && matched < kConfirm && event.page == steps[matched].first) {
      if (matched + 1 == std::min<size_t>(kConfirm, repeat_)) {
        steps.resize(repeat_);
        learning_ = false;
        follow(std::make_shared<const Schedule>(std::move(recording_)));
        return true;
      }
    } else {
      repeat_ = steps.size() > 1 && event.page == steps.front().first ? steps.size() : 0;
      if (repeat_ == 0 && steps.size() >= options_.max_steps) {
        learning_ = false;  // no repetition within reach: stop learning, never prefetch
        steps.clear();
        return false;
      }
    }
    steps.push_back({event.page, 1, event.tier});
    return false;
  }

  void propose_ahead(const AccessEvent& event, PrefetchSink& sink) {
    const std::vector<ScheduleStep>& steps = cursor_.steps();
    uint32_t here = cursor_.step();
    uint64_t until_ns = 0;
    double bytes = 0;
    for (uint32_t k = 1; k <= options_.depth && k < steps.size(); ++k) {
      size_t before = (here + k - 1) % steps.size();
      const ScheduleStep& step = steps[(here + k) % steps.size()];
      uint8_t tier = options_.tier.value_or(step.tier);
      until_ns += duration_[before];
      bytes += static_cast<double>(step.count) * static_cast<double>(options_.page_size);
      double bandwidth = options_.bandwidth > 0 ? options_.bandwidth : measured_[tier];
      if (bandwidth > 0 &&
          static_cast<double>(until_ns) > options_.lead * bytes / bandwidth * 1e9) {
        break;  // not due yet, nor are the steps after it
      }
      sink.propose({step.first, step.count, tier, event.time + until_ns});
    }
  }

  Options options_;
  bool learning_ = true;
  Schedule recording_;  // the first iteration, while learning
  size_t repeat_ = 0;   // where the first step came round again in recording_; 0: not yet
  static constexpr size_t kConfirm = 3;
  ScheduleCursor cursor_;
  std::vector<uint64_t> duration_;  // ns from a step's start to the next step's, last pass
  uint64_t step_start_ = 0;
  double measured_[2] = {0, 0};  // bytes/s of the link filling gpu, dram
};

}  // namespace

std::unique_ptr<PrefetchPolicy> make_schedule(const Params& params, const Context& context) {
  SchedulePrefetch::Options options;
  options.lead = params.get_double("lead", 2.0, 0.0, 1000.0);
  options.depth = static_cast<uint32_t>(params.get_uint("depth", 8, 1, 4096));
  options.bandwidth = params.get_double("gbps", 0.0, 0.0, 1e6) * 1e9;
  options.max_steps = static_cast<uint32_t>(params.get_uint("max_steps", 1u << 20, 2, 1u << 26));
  options.tier = param_tier(params);
  options.page_size = required_page_size(params, context);
  return std::make_unique<SchedulePrefetch>(options);
}

}  // namespace tiermem::policies
