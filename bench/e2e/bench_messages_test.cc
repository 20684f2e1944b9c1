// The benchmark's messages must stay what Reverb accepts: if a schema
// changes, the throughput figures would otherwise silently measure
// rejections.
#include "bench/e2e/bench_messages.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/contract.h"

namespace backbeat::bench {
namespace {

TEST(BenchMessagesTest, ClaimsAreValidAndAbout250Bytes) {
  std::string json;
  for (int64_t agent : {0, 1, 99'999, 123'456, 9'999'999}) {
    for (int64_t beat : {int64_t{0}, int64_t{7}, int64_t{3'400'000'000}}) {
      SCOPED_TRACE(json);
      StatusClaimJson(agent, beat, static_cast<uint64_t>(beat), &json);
      absl::StatusOr<StatusClaim> claim =
          Contract::Builtin().ParseStatusClaim(json);
      ASSERT_TRUE(claim.ok()) << claim.status();
      EXPECT_EQ(claim->beat_index, beat);
      EXPECT_GE(json.size(), 240u);
      EXPECT_LE(json.size(), 260u);
    }
  }
}

TEST(BenchMessagesTest, StateMixIsMostlyWorkWithSomeTrouble) {
  std::map<ClaimState, int> counts;
  std::string json;
  constexpr int kAgents = 10'000;
  for (int agent = 0; agent < kAgents; ++agent) {
    StatusClaimJson(agent, 4, 1, &json);
    counts[Contract::Builtin().ParseStatusClaim(json)->state]++;
  }
  EXPECT_GT(counts[ClaimState::kExecuting] + counts[ClaimState::kPlanning],
            kAgents / 2);
  for (ClaimState state :
       {ClaimState::kReviewing, ClaimState::kCompleted, ClaimState::kFailed,
        ClaimState::kBlocked, ClaimState::kHelping}) {
    EXPECT_GT(counts[state], kAgents / 100) << ClaimStateName(state);
    EXPECT_LT(counts[state], kAgents / 5) << ClaimStateName(state);
  }
}

TEST(BenchMessagesTest, FramesAreValidAndMarkDownbeats) {
  for (int64_t beat = 0; beat < 9; ++beat) {
    absl::StatusOr<BeatFrame> frame = Contract::Builtin().ParseBeatFrame(
        BeatFrameJson("local", beat, 4, 120));
    ASSERT_TRUE(frame.ok()) << frame.status();
    EXPECT_EQ(frame->downbeat, beat % 4 == 0);
    EXPECT_EQ(frame->window_id, WindowId(beat - beat % 4));
  }
  EXPECT_NE(WindowId(0), WindowId(4));
  EXPECT_EQ(WindowId(8).size(), 32u);
}

}  // namespace
}  // namespace backbeat::bench
