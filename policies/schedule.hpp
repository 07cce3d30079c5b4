// policies/schedule.hpp: an application's future access order, as prefetch policies see it.
//
// A schedule is one iteration of an access order that repeats: e.g. the layers of a model in
// forward order, each token. Steps are ranges of the owner's dense page ids, each within one
// tensor, in the order they will be accessed.
#pragma once

#include <cstdint>
#include <vector>

#include "policies/eviction_policy.hpp"

namespace tiermem::policies {

struct ScheduleStep {
  PageId first = 0;    // first page; first..first+count-1 belong to one tensor
  uint32_t count = 1;  // pages
  uint8_t tier = 1;    // the tier the step accesses (0 gpu, 1 dram)
};

struct Schedule {
  std::vector<ScheduleStep> steps;  // one iteration, in order; the order repeats
};

}  // namespace tiermem::policies
