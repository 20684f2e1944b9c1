// The pure pieces of a report: caps, beat ranges, nominal duration, merge.
#include "reverb/report_builder.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/engine/engine_test_util.h"

namespace backbeat::reverb {
namespace {

using testing::Claim;

TEST(ReportBuilderTest, FinishIssuesDropsZerosOrdersAndCaps) {
  std::vector<Issue> issues;
  for (int i = 0; i < 40; ++i) {
    Issue issue;
    issue.kind = absl::StrCat("kind_", i);
    issue.severity = i % 10 == 9 ? Severity::kCritical : Severity::kInfo;
    issue.count = i % 5 == 0 ? 0 : i;
    issues.push_back(issue);
  }
  FinishIssues(&issues);
  ASSERT_EQ(issues.size(), kMaxIssues);  // 40 - 8 zero counts = 32.
  EXPECT_EQ(issues[0].kind, "kind_9");
  EXPECT_EQ(issues[3].kind, "kind_39");
  EXPECT_EQ(issues[4].kind, "kind_1");

  // Past the cap the least severe go first.
  for (int i = 0; i < 5; ++i) {
    Issue extra;
    extra.kind = absl::StrCat("extra_", i);
    extra.severity = Severity::kWarning;
    extra.count = 1;
    issues.push_back(extra);
  }
  FinishIssues(&issues);
  ASSERT_EQ(issues.size(), kMaxIssues);
  EXPECT_EQ(issues[4].kind, "extra_0");
  EXPECT_EQ(issues[8].kind, "extra_4");
  EXPECT_EQ(issues.back().severity, Severity::kInfo);
}

TEST(ReportBuilderTest, DescribeBeatRanges) {
  struct Case {
    std::vector<std::pair<int64_t, int64_t>> ranges;
    size_t max;
    const char* want;
  };
  const Case cases[] = {
      {{{3, 3}}, 8, "3"},
      {{{3, 3}, {5, 7}, {12, 12}}, 8, "3, 5-7, 12"},
      {{{1, 1}, {3, 4}, {9, 9}, {20, 29}}, 2, "1, 3-4 and 11 more"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DescribeBeatRanges(c.ranges, c.max), c.want);
  }
}

TEST(ReportBuilderTest, MissingRangesAndNominalDuration) {
  BarFacts facts;
  facts.from_beat = 10;
  facts.to_beat = 19;
  facts.tempos = {{9, 30}, {10, 120}, {13, 60}, {14, 60}, {20, 1}};
  using Ranges = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(MissingBeatRanges(facts), (Ranges{{11, 12}, {15, 19}}));
  // 10..12 at 120 (500 ms), 13..19 at 60 (1000 ms).
  EXPECT_DOUBLE_EQ(NominalBarMs(facts), 3 * 500.0 + 7 * 1000.0);
}

TEST(ReportBuilderTest, MergeIsOrderIndependentUnion) {
  const std::vector<std::pair<StatusClaim, Nanos>> claims = {
      {Claim("a", 3, ClaimState::kHelping, "t"), 5},
      {Claim("a", 4, ClaimState::kFailed), 9},
      {Claim("b", 4, ClaimState::kCompleted, "t"), 7},
      {Claim("b", 4, ClaimState::kIdle), 7},
      {Claim("c", 2, ClaimState::kReviewing), 3},
      {Claim("c", 2, ClaimState::kReviewing), 1},
  };
  BarAggregate all;
  for (const auto& [claim, arrival] : claims) {
    all.AddClaim(claim, arrival);
  }
  for (size_t split = 0; split <= claims.size(); ++split) {
    SCOPED_TRACE(split);
    BarAggregate left, right;
    for (size_t i = 0; i < claims.size(); ++i) {
      (i < split ? left : right).AddClaim(claims[i].first, claims[i].second);
    }
    right.Merge(std::move(left));
    EXPECT_EQ(right.agents().size(), 3u);
    EXPECT_EQ(right.HelpPromisesFulfilled(), 1);
    all.agents().ForEach(
        [&](std::string_view agent, uint64_t, const AgentState& state) {
          const std::optional<AgentState> found = right.agents().Find(agent);
          ASSERT_TRUE(found.has_value());
          const AgentState got = *found;
          EXPECT_EQ(got.latest_beat, state.latest_beat);
          EXPECT_EQ(got.latest_arrival, state.latest_arrival);
          EXPECT_EQ(got.latest_state, state.latest_state);
          EXPECT_EQ(got.first_review_arrival, state.first_review_arrival);
        });
  }
  const std::optional<AgentState> b = all.agents().Find("b");
  const std::optional<AgentState> c = all.agents().Find("c");
  ASSERT_TRUE(b.has_value() && c.has_value());
  EXPECT_EQ(b->latest_state, ClaimState::kCompleted);
  EXPECT_EQ(c->first_review_arrival, 1);
}

TEST(ReportBuilderTest, SmallestIdsKeepsLimitSortedDistinct) {
  SmallestIds ids(3);
  for (const char* id : {"m", "c", "x", "c", "a", "b", "z"}) {
    ids.Offer(id);
  }
  EXPECT_EQ(ids.ids(), (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace
}  // namespace backbeat::reverb
