// policies/schedule_cursor.hpp: follows an application's accesses along its schedule.
//
// Says which step of the repeating order the application is at, and when, by the schedule, a
// page will next be used. The schedule prefetch policy uses it to look ahead; an owner that
// has a registered schedule but no trace uses next_use() to fill AccessEvent::next_use, which
// is what Belady's MIN needs in a live pool.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "policies/huge_pages.hpp"
#include "policies/registry.hpp"

namespace tiermem::policies {

class ScheduleCursor {
 public:
  static constexpr uint32_t kNoStep = UINT32_MAX;

  // Follows schedule from its beginning (null: follows nothing). search_ahead bounds how many
  // steps past the current one follow() looks before it looks the page up.
  void reset(std::shared_ptr<const Schedule> schedule, uint32_t search_ahead = 8);

  bool empty() const noexcept { return schedule_ == nullptr || schedule_->steps.empty(); }
  const std::vector<ScheduleStep>& steps() const noexcept { return schedule_->steps; }

  // The application accessed page: moves to the step holding it (the current one, while its
  // pages come in ascending order; one shortly after it, for a page the current step used
  // already; or else the first that holds it). Returns that step, or kNoStep for a page the
  // schedule does not hold (the cursor stays). Coming back to an earlier step starts a new
  // pass.
  uint32_t follow(PageId page);

  uint32_t step() const noexcept { return step_; }

  // When page will next be used by the schedule, after the current step, as a position
  // pass x steps + step that only grows: comparable between pages, as Belady compares next
  // uses. kNever for a page the schedule does not hold.
  uint64_t next_use(PageId page) const;

 private:
  bool holds(uint32_t step, PageId page) const {
    const ScheduleStep& s = schedule_->steps[step];
    return page >= s.first && page < s.first + s.count;
  }

  std::shared_ptr<const Schedule> schedule_;
  uint32_t search_ahead_ = 8;
  // Steps holding each page, in order: steps_of_[begin_[page] .. begin_[page + 1]).
  PageTable<uint32_t> begin_;
  std::vector<uint32_t> steps_of_;
  uint32_t step_ = kNoStep;
  PageId last_ = 0;  // the page followed last, in step_
  uint64_t pass_ = 0;
};

}  // namespace tiermem::policies
