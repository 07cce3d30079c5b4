// tests/test_registry.cpp: building policies by name, and the errors for bad specs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policies/registry.hpp"
#include "tiermem/error.hpp"

namespace tiermem::policies {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::config);
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(Registry, BuildsEveryRowByName) {
  for (const auto& entry : eviction_policies()) {
    auto policy = make_eviction_policy(entry.name, {16, 4096});
    EXPECT_EQ(policy->name(), entry.name);
  }
  for (const auto& entry : prefetch_policies()) {
    auto policy = make_prefetch_policy(entry.name, {16, 4096});
    EXPECT_EQ(policy->name(), entry.name);
  }
}

TEST(Registry, OnlyBeladyWantsNextUse) {
  for (const auto& entry : eviction_policies()) {
    EXPECT_EQ(make_eviction_policy(entry.name, {16, 4096})->wants_next_use(),
              entry.name == "belady");
  }
}

TEST(Registry, AcceptsParameters) {
  EXPECT_EQ(make_eviction_policy("s3fifo:small=0.2,ghost=1,move=2", {10, 4096})->name(), "s3fifo");
  EXPECT_EQ(make_eviction_policy("2q:kin=0.5,kout=1", {10, 4096})->name(), "2q");
  EXPECT_EQ(make_prefetch_policy("schedule:lead=2,depth=4,gbps=2.5", {10, 4096})->name(),
            "schedule");
}

TEST(Registry, UnknownNameListsTheKnownOnes) {
  std::string message = error_of([] { make_eviction_policy("mru", {16, 4096}); });
  EXPECT_THAT(message, HasSubstr("unknown eviction policy 'mru'"));
  EXPECT_THAT(message, HasSubstr("s3fifo"));
  EXPECT_THAT(error_of([] {
                make_prefetch_policy("oracle", {16, 4096});
              }),
              HasSubstr("unknown prefetch policy 'oracle'"));
}

TEST(Registry, UnknownParameterIsNamed) {
  EXPECT_THAT(error_of([] {
                make_eviction_policy("lru:size=3", {16, 4096});
              }),
              HasSubstr("policy 'lru' has no parameter 'size' (accepted: none)"));
  EXPECT_THAT(error_of([] {
                make_eviction_policy("arc:p=3", {16, 4096});
              }),
              HasSubstr("no parameter 'p'"));
  EXPECT_THAT(error_of([] {
                make_prefetch_policy("markov:size=3", {16, 4096});
              }),
              HasSubstr("no parameter 'size' (accepted: width, depth, tier)"));
}

TEST(Registry, OutOfRangeParameterNamesTheRange) {
  EXPECT_THAT(error_of([] {
                make_eviction_policy("s3fifo:small=2", {16, 4096});
              }),
              HasSubstr("small=2 is not a number in [0.01, 0.9]"));
  EXPECT_THAT(error_of([] {
                make_prefetch_policy("sequential:depth=0", {16, 4096});
              }),
              HasSubstr("depth=0 is not an integer in [1, 1048576]"));
  EXPECT_THAT(error_of([] {
                make_prefetch_policy("stride:depth=x", {16, 4096});
              }),
              HasSubstr("depth=x"));
  EXPECT_THAT(error_of([] {
                make_prefetch_policy("sequential:tier=nvme", {16, 4096});
              }),
              HasSubstr("tier=nvme is not a tier that can be prefetched into (gpu, dram)"));
}

TEST(Registry, VariantParameterNamesTheChoices) {
  EXPECT_NO_THROW(make_eviction_policy("arc:adapt=insert", {16, 4096}));
  EXPECT_THAT(error_of([] {
                make_eviction_policy("arc:adapt=later", {16, 4096});
              }),
              HasSubstr("policy 'arc': adapt=later is not one of room, insert"));
  EXPECT_NO_THROW(make_eviction_policy("lirs:qhit=stay,stack=3,lir=oldest", {16, 4096}));
  EXPECT_THAT(error_of([] {
                make_eviction_policy("lirs:qhit=maybe", {16, 4096});
              }),
              HasSubstr("policy 'lirs': qhit=maybe is not one of demote, stay"));
  EXPECT_THAT(error_of([] {
                make_eviction_policy("lirs:stack=0.5", {16, 4096});
              }),
              HasSubstr("stack=0.5 is not a number in [1, 16]"));
  EXPECT_NO_THROW(make_eviction_policy("wtinylfu:sketch=cms,sample=10", {16, 4096}));
  EXPECT_THAT(error_of([] {
                make_eviction_policy("wtinylfu:sketch=hll", {16, 4096});
              }),
              HasSubstr("policy 'wtinylfu': sketch=hll is not one of cbf, cms"));
  EXPECT_NO_THROW(make_eviction_policy("wtinylfu:drops=hold", {16, 4096}));
  EXPECT_THAT(error_of([] {
                make_eviction_policy("wtinylfu:drops=never", {16, 4096});
              }),
              HasSubstr("policy 'wtinylfu': drops=never is not one of evict, hold"));
  // The earlier variant has no pages let go on a hit to hold.
  EXPECT_THAT(error_of([] {
                make_eviction_policy("wtinylfu:sketch=cms,drops=hold", {16, 4096});
              }),
              HasSubstr("drops"));
}

TEST(Registry, MalformedSpecNamesThePosition) {
  EXPECT_THAT(error_of([] {
                make_eviction_policy("s3fifo:small", {16, 4096});
              }),
              HasSubstr("expected key=value at position 7"));
  EXPECT_THAT(error_of([] {
                make_eviction_policy(":x=1", {16, 4096});
              }),
              HasSubstr("missing policy name"));
  EXPECT_THAT(error_of([] {
                make_eviction_policy("2q:kin=0.1,kin=0.2", {16, 4096});
              }),
              HasSubstr("parameter 'kin' given twice"));
}

TEST(Registry, CapacityAndPageSizeAreRequiredWhereUsed) {
  for (std::string_view name : {"2q", "arc", "s3fifo"}) {
    EXPECT_THAT(error_of([&] {
                  make_eviction_policy(name, {0, 4096});
                }),
                HasSubstr("needs the tier's capacity in pages"));
  }
  EXPECT_EQ(make_eviction_policy("lru", {0, 0})->name(), "lru");
  EXPECT_THAT(error_of([] {
                make_prefetch_policy("schedule", {0, 0});
              }),
              HasSubstr("needs the page size"));
}

// Issue 9: Config::validate checks specs through these, without building a pool.
TEST(Registry, ValidateChecksSpecsAsTheMakersDo) {
  for (const auto& entry : eviction_policies()) {
    EXPECT_NO_THROW(validate_eviction_spec(entry.name, {16, 4096})) << entry.name;
  }
  for (const auto& entry : prefetch_policies()) {
    EXPECT_NO_THROW(validate_prefetch_spec(entry.name, {16, 4096})) << entry.name;
  }
  EXPECT_NO_THROW(validate_eviction_spec("s3fifo:small=0.2", {1ull << 40, 2 << 20}));
  EXPECT_THAT(error_of([] {
                validate_eviction_spec("nosuch", {16, 4096});
              }),
              HasSubstr("unknown eviction policy 'nosuch' (known: lru"));
  EXPECT_THAT(error_of([] {
                validate_eviction_spec("lru:x=1", {16, 4096});
              }),
              HasSubstr("policy 'lru' has no parameter 'x'"));
  EXPECT_THAT(error_of([] {
                validate_prefetch_spec("sequential:depth=-1", {16, 4096});
              }),
              HasSubstr("depth=-1 is not an integer in [1, 1048576]"));
  EXPECT_THAT(error_of([] {
                validate_prefetch_spec("lru", {16, 4096});
              }),
              HasSubstr("unknown prefetch policy 'lru'"));
  EXPECT_THAT(error_of([] {
                validate_eviction_spec("arc", {0, 4096});
              }),
              HasSubstr("needs the tier's capacity"));
}

}  // namespace
}  // namespace tiermem::policies
