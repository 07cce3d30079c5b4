// policies/schedule_cursor.cpp: ScheduleCursor: a page -> steps index and the cursor over it.
#include "policies/schedule_cursor.hpp"

#include <algorithm>

namespace tiermem::policies {

void ScheduleCursor::reset(std::shared_ptr<const Schedule> schedule, uint32_t search_ahead) {
  schedule_ = std::move(schedule);
  search_ahead_ = search_ahead;
  step_ = kNoStep;
  last_ = 0;
  pass_ = 0;
  begin_.clear();
  steps_of_.clear();
  if (empty()) return;
  const std::vector<ScheduleStep>& steps = schedule_->steps;
  PageId pages = 0;
  for (const ScheduleStep& s : steps) pages = std::max<PageId>(pages, s.first + s.count);
  // Counting sort of (page, step) pairs by page, steps in order within a page.
  begin_.assign(pages + 1, 0);
  for (const ScheduleStep& s : steps) {
    for (PageId page = s.first; page < s.first + s.count; ++page) ++begin_[page + 1];
  }
  for (PageId page = 0; page < pages; ++page) begin_[page + 1] += begin_[page];
  steps_of_.resize(begin_.back());
  std::vector<uint32_t> fill(begin_.begin(), begin_.end() - 1);
  for (uint32_t step = 0; step < steps.size(); ++step) {
    for (PageId page = steps[step].first; page < steps[step].first + steps[step].count; ++page) {
      steps_of_[fill[page]++] = step;
    }
  }
}

uint32_t ScheduleCursor::follow(PageId page) {
  if (empty()) return kNoStep;
  auto n = static_cast<uint32_t>(steps().size());
  uint32_t found = kNoStep;
  bool new_pass = false;
  if (step_ != kNoStep) {
    // A step's pages come in ascending order. A page of the current step at or before the last
    // one followed is used again: by a step shortly after (a page of consecutive steps) if
    // one holds it, else still by this one (or, in a schedule of one step, by its next pass).
    const bool in_step = holds(step_, page);
    const bool again = in_step && page <= last_;
    if (in_step && !again) found = step_;
    for (uint32_t k = 1; found == kNoStep && k <= search_ahead_ && k < n; ++k) {
      if (holds((step_ + k) % n, page)) {
        found = (step_ + k) % n;
        new_pass = step_ + k >= n;
      }
    }
    if (found == kNoStep && in_step) {
      found = step_;
      new_pass = n == 1;
    }
  }
  if (found == kNoStep && page + 1 < begin_.size() && begin_[page] < begin_[page + 1]) {
    found = steps_of_[begin_[page]];
    new_pass = step_ != kNoStep && found <= step_;
  }
  if (found == kNoStep) return kNoStep;
  if (new_pass) ++pass_;
  step_ = found;
  last_ = page;
  return found;
}

uint64_t ScheduleCursor::next_use(PageId page) const {
  if (empty() || page + 1 >= begin_.size() || begin_[page] == begin_[page + 1]) return kNever;
  auto n = static_cast<uint64_t>(steps().size());
  auto first = steps_of_.begin() + begin_[page];
  auto last = steps_of_.begin() + begin_[page + 1];
  // The first step holding page after the current one, in this pass or the next.
  auto later = step_ == kNoStep ? first : std::upper_bound(first, last, step_);
  uint64_t pass = step_ == kNoStep ? 0 : pass_;
  if (later == last) {
    later = first;
    ++pass;
  }
  return pass * n + *later;
}

}  // namespace tiermem::policies
