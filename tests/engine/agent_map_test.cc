// The compact agent table: ids in an arena, packed state, exact lookups
// even when two ids share a hash, and the previous bar's roll.
#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "reverb/bar_aggregate.h"

namespace backbeat::reverb {
namespace {

TEST(IdArenaTest, KeepsShortLongAndEmptyIdsAcrossBlocksAndAdoption) {
  IdArena arena;
  const std::string long_id(300, 'x');
  const std::string huge_id(40'000, 'y');  // Gets a block of its own.
  std::vector<std::pair<const char*, std::string>> stored;
  for (int i = 0; i < 20'000; ++i) {
    const std::string id = i % 1000 == 0   ? long_id
                           : i % 4999 == 0 ? huge_id
                           : i % 777 == 0  ? std::string()
                                           : absl::StrCat("agent-", i);
    stored.emplace_back(arena.Store(id), id);
  }
  IdArena other;
  const char* adopted = other.Store("from-other");
  arena.Adopt(std::move(other));
  const char* after = arena.Store("after-adopt");
  for (const auto& [handle, id] : stored) {
    ASSERT_EQ(IdArena::View(handle), id);
  }
  EXPECT_EQ(IdArena::View(adopted), "from-other");
  EXPECT_EQ(IdArena::View(after), "after-adopt");
}

TEST(AgentMapTest, SameHashDifferentIdIsNotFound) {
  AgentMap map;
  map.Add("a", 4, 100, ClaimState::kExecuting);
  EXPECT_TRUE(map.Contains("a", AgentMap::HashOf("a")));
  // What a 64-bit collision would look like: the hash matches, the bytes
  // do not.
  EXPECT_FALSE(map.Contains("b", AgentMap::HashOf("a")));
  EXPECT_FALSE(map.Contains("a", AgentMap::HashOf("a") ^ 1));
}

TEST(AgentMapTest, MergesMapsWithDifferentBasesExactly) {
  // Far-apart bases: offsets are rebased when folding.
  const Nanos t0 = 1'000'000'000'000;
  AgentMap left, right;
  left.Add("a", 100, t0, ClaimState::kReviewing);
  left.Add("b", 101, t0 + 5, ClaimState::kFailed);
  right.Add("c", 130, t0 + 3'600'000'000'000, ClaimState::kCompleted);
  right.Add("a", 103, t0 - 7, ClaimState::kBlocked);
  right.Add("b", 101, t0 + 5, ClaimState::kIdle);
  left.Merge(std::move(right));
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(right.size(), 0u);

  const auto a = left.Find("a");
  const auto b = left.Find("b");
  const auto c = left.Find("c");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->latest_beat, 103);
  EXPECT_EQ(a->latest_arrival, t0 - 7);
  EXPECT_EQ(a->latest_state, ClaimState::kBlocked);
  EXPECT_EQ(a->first_review_arrival, t0);
  // Same beat and arrival: the higher state wins, whatever the order.
  EXPECT_EQ(b->latest_state, ClaimState::kFailed);
  EXPECT_EQ(b->first_review_arrival, kNever);
  EXPECT_EQ(c->latest_beat, 130);
  EXPECT_EQ(c->first_review_arrival, t0 + 3'600'000'000'000);
  EXPECT_FALSE(left.Find("d").has_value());
}

TEST(AgentMapTest, NanosecondArrivalsDecideTies) {
  AgentMap map;
  map.Add("a", 7, 1'000'000'001, ClaimState::kFailed);
  map.Add("a", 7, 1'000'000'000, ClaimState::kBlocked);  // Earlier: loses.
  map.Add("a", 7, 999'999'999, ClaimState::kReviewing);
  const auto a = map.Find("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->latest_state, ClaimState::kFailed);
  EXPECT_EQ(a->latest_arrival, 1'000'000'001);
  EXPECT_EQ(a->first_review_arrival, 999'999'999);
}

TEST(AgentRollTest, CountsMissingAgentsAndNamesTheSmallest) {
  AgentMap previous, current;
  for (int i = 0; i < 5000; ++i) {
    const std::string id = absl::StrCat("agent-", 10'000 + i);
    previous.Add(id, 1, 10, ClaimState::kIdle);
    if (i % 3 != 0) {
      current.Add(id, 5, 20, ClaimState::kIdle);
    }
  }
  current.Add("newcomer", 5, 20, ClaimState::kIdle);
  const AgentRoll roll(previous);
  previous = AgentMap();  // The roll owns copies of the ids.
  EXPECT_EQ(roll.size(), 5000u);

  SmallestIds sample;
  EXPECT_EQ(roll.CountMissing(current, &sample), 1667);
  ASSERT_EQ(sample.ids().size(), kMaxIssueAgents);
  EXPECT_EQ(sample.ids().front(), "agent-10000");
  EXPECT_EQ(sample.ids().back(), "agent-10027");
}

// Three maps with different bases and overlapping agents: after Disjoin in
// every partition each agent sits in exactly one map, the first holding it,
// with the state a single map would have from all their claims.
TEST(AgentMapTest, DisjoinKeepsOneEntryWithTheMergedState) {
  AgentMap a, b, c, all;
  auto add = [&](AgentMap& map, int agent, int64_t beat, Nanos arrival,
                 ClaimState state) {
    const std::string id = absl::StrCat("agent-", agent);
    map.Add(id, beat, arrival, state);
    all.Add(id, beat, arrival, state);
  };
  for (int i = 0; i < 3000; ++i) {
    add(a, i, 10, 1'000 + i, ClaimState::kExecuting);
    if (i % 2 == 0) {
      add(b, i, 12, 5'000'000 + i, ClaimState::kReviewing);
    }
    if (i % 3 == 0) {
      add(c, i, 11, 9'000'000'000 + i, ClaimState::kFailed);
    }
    if (i % 5 == 0) {
      add(c, 10'000 + i, 3, 42, ClaimState::kBlocked);
    }
  }
  std::vector<AgentMap*> maps = {&a, &b, &c};
  for (size_t p = 0; p < AgentMap::kPartitions; ++p) {
    AgentMap::Disjoin(maps, p);
  }
  EXPECT_EQ(a.size(), 3000u);
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(c.size(), 600u);  // Only the agents a and b never held.
  EXPECT_EQ(a.size() + b.size() + c.size(), all.size());
  for (int i = 0; i < 3000; ++i) {
    const std::string id = absl::StrCat("agent-", i);
    const std::optional<AgentState> got = a.Find(id);
    const std::optional<AgentState> want = all.Find(id);
    ASSERT_TRUE(got.has_value() && want.has_value());
    EXPECT_EQ(got->latest_beat, want->latest_beat) << id;
    EXPECT_EQ(got->latest_arrival, want->latest_arrival) << id;
    EXPECT_EQ(got->latest_state, want->latest_state) << id;
    EXPECT_EQ(got->first_review_arrival, want->first_review_arrival) << id;
  }
  const std::array<const AgentMap*, 3> read = {&a, &b, &c};
  const AgentRoll roll(read);
  EXPECT_EQ(roll.size(), all.size());
  SmallestIds none;
  EXPECT_EQ(roll.CountMissing(all, &none), 0);
}

}  // namespace
}  // namespace backbeat::reverb
