// policies/prefetch_schedule.cpp: schedule-driven prefetch.
//
// Follows a future access order: one the application registered (set_schedule), or, as
// ZeRO-3 does, one learned from the first iteration: accesses are recorded as steps (runs of
// consecutive pages) until the first step comes round again. Then on entering each step it
// proposes the steps ahead whose time until use is below `lead` times the time to read them
// and everything before them at the measured bandwidth, so reads start just early enough to
// be hidden behind the steps in between. Step durations are measured on the previous pass;
// with no bandwidth known it proposes `depth` steps ahead.
#include <algorithm>
#include <vector>

#include "policies/builtin.hpp"
#include "policies/params.hpp"

namespace tiermem::policies {

namespace {

constexpr uint32_t kNoStep = UINT32_MAX;

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
    registered_ = std::move(schedule);
    learned_.steps.clear();
    learning_ = registered_ == nullptr;
    index(registered_ ? *registered_ : learned_);
  }

  void observe_bandwidth(uint8_t tier, double bytes_per_second) override {
    if (tier < 2) measured_[tier] = bytes_per_second;
  }

  void on_access(const AccessEvent& event, PrefetchSink& sink) override {
    if (learning_ && !learn(event)) return;
    const std::vector<ScheduleStep>& steps = schedule().steps;
    if (steps.empty()) return;
    uint32_t step = locate(event.page);
    if (step == kNoStep || step == cursor_) return;
    if (cursor_ != kNoStep && step == (cursor_ + 1) % steps.size()) {
      duration_[cursor_] = event.time - step_start_;
    }
    cursor_ = step;
    step_start_ = event.time;
    propose_ahead(event, sink);
  }

 private:
  const Schedule& schedule() const { return registered_ ? *registered_ : learned_; }

  // Records the access; returns true once the first iteration is complete.
  bool learn(const AccessEvent& event) {
    std::vector<ScheduleStep>& steps = learned_.steps;
    if (!steps.empty()) {
      ScheduleStep& last = steps.back();
      if (event.page == last.first + last.count && event.index > 0) {
        ++last.count;
        return false;
      }
      if (event.page >= last.first && event.page < last.first + last.count) return false;
      if (steps.size() > 1 && event.page == steps.front().first) {
        learning_ = false;
        index(learned_);
        return true;
      }
      if (steps.size() >= options_.max_steps) {
        learning_ = false;  // no repetition within reach: stop learning, never prefetch
        steps.clear();
        return false;
      }
    }
    steps.push_back({event.page, 1, event.tier});
    return false;
  }

  void index(const Schedule& schedule) {
    const std::vector<ScheduleStep>& steps = schedule.steps;
    step_of_page_.clear();
    for (uint32_t s = 0; s < steps.size(); ++s) {
      PageId end = steps[s].first + steps[s].count;
      if (end > step_of_page_.size()) step_of_page_.resize(end, kNoStep);
      for (PageId page = steps[s].first; page < end; ++page) {
        if (step_of_page_[page] == kNoStep) step_of_page_[page] = s;
      }
    }
    duration_.assign(steps.size(), 0);
    cursor_ = kNoStep;
  }

  // The step this access belongs to: the current one, one shortly after it, or the first
  // step that holds the page.
  uint32_t locate(PageId page) const {
    const std::vector<ScheduleStep>& steps = schedule().steps;
    auto holds = [&](uint32_t s) {
      return page >= steps[s].first && page < steps[s].first + steps[s].count;
    };
    if (cursor_ != kNoStep) {
      for (uint32_t k = 0; k <= options_.depth; ++k) {
        uint32_t s = static_cast<uint32_t>((cursor_ + k) % steps.size());
        if (holds(s)) return s;
      }
    }
    return page < step_of_page_.size() ? step_of_page_[page] : kNoStep;
  }

  void propose_ahead(const AccessEvent& event, PrefetchSink& sink) {
    const std::vector<ScheduleStep>& steps = schedule().steps;
    uint64_t until_ns = 0;
    double bytes = 0;
    for (uint32_t k = 1; k <= options_.depth && k < steps.size(); ++k) {
      size_t before = (cursor_ + k - 1) % steps.size();
      const ScheduleStep& step = steps[(cursor_ + k) % steps.size()];
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
  std::shared_ptr<const Schedule> registered_;
  Schedule learned_;
  bool learning_ = true;
  std::vector<uint32_t> step_of_page_;  // page -> first step holding it
  std::vector<uint64_t> duration_;      // ns from a step's start to the next step's, last pass
  uint32_t cursor_ = kNoStep;
  uint64_t step_start_ = 0;
  double measured_[2] = {0, 0};  // bytes/s of the link filling gpu, dram
};

}  // namespace

std::unique_ptr<PrefetchPolicy> make_schedule(const PolicySpec& spec,
                                              const PolicyContext& context) {
  check_params(spec, {"lead", "depth", "gbps", "max_steps", "tier"});
  SchedulePrefetch::Options options;
  options.lead = param_double(spec, "lead", 2.0, 0.0, 1000.0);
  options.depth = static_cast<uint32_t>(param_uint(spec, "depth", 8, 1, 4096));
  options.bandwidth = param_double(spec, "gbps", 0.0, 0.0, 1e6) * 1e9;
  options.max_steps = static_cast<uint32_t>(param_uint(spec, "max_steps", 1u << 20, 2, 1u << 26));
  options.tier = param_tier(spec);
  options.page_size = required_page_size(spec, context);
  return std::make_unique<SchedulePrefetch>(options);
}

}  // namespace tiermem::policies
