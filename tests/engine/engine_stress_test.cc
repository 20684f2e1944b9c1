// Claims on several shard threads while the beat path opens bars and a
// closer thread seals them. Built under ThreadSanitizer too. Bounded: a fixed
// number of bars and claims; the threads stop on their own.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "reverb/engine.h"
#include "tests/engine/engine_test_util.h"

namespace backbeat::reverb {
namespace {

using testing::BeatTime;
using testing::Claim;
using testing::FindIssue;
using testing::Frame;
using testing::kMs;

constexpr int kShards = 4;
constexpr int kBars = 20;
constexpr int kAgents = 120;     // Shared by every shard, every bar.
constexpr int kStragglers = 30;  // Per shard: claims for the previous bar.

struct Tally {
  // [bar][outcome]: outcomes of the stragglers aimed at `bar`.
  std::array<std::array<int64_t, 5>, kBars> stragglers{};
  int64_t main_unexpected = 0;  // Main claims with the wrong outcome.
};

// Shard `s` claims, for every agent, beat 4k + min(s, 2) of bar k: shard 0
// is accepted at once, the others are held until their frame. The latest
// state comes from shard 3 (highest beat, latest arrival): failed for every
// fifth agent. Shards 0-2 send reviews, all before the boundary.
void SendBar(Engine& engine, int s, int k, Tally& tally) {
  const int64_t downbeat = 4 * k;
  const int64_t beat = downbeat + std::min(s, 2);
  for (int i = 0; i < kAgents; ++i) {
    const ClaimState state = s < 3        ? ClaimState::kReviewing
                             : i % 5 == 0 ? ClaimState::kFailed
                                          : ClaimState::kExecuting;
    const ClaimOutcome got =
        engine.OnClaim(s, Claim(absl::StrCat("agent-", i), beat, state),
                       BeatTime(downbeat) + s * kMs);
    const ClaimOutcome want =
        s == 0 ? ClaimOutcome::kAccepted : ClaimOutcome::kHeld;
    tally.main_unexpected += got == want ? 0 : 1;
  }
  if (k == 0) {
    return;
  }
  // Stragglers race the closer sealing bar k-1.
  for (int i = 0; i < kStragglers; ++i) {
    const ClaimOutcome got = engine.OnClaim(
        s, Claim(absl::StrCat("late-", s, "-", i), 4 * (k - 1) + 1),
        BeatTime(downbeat) + 150 * kMs);
    ++tally.stragglers[k - 1][static_cast<int>(got)];
  }
}

TEST(EngineStressTest, ShardsBeatsAndCloserInParallelGiveExactFigures) {
  Engine engine(testing::Sharded(kShards));
  std::atomic<int> phase{-1};  // Bar whose claims the shards may send.
  std::atomic<int> done{0};    // Shards finished with the phase.
  std::atomic<Nanos> now{0};   // The closer's clock.
  std::atomic<bool> stop{false};
  std::vector<Tally> tallies(kShards);

  std::vector<std::thread> threads;
  for (int s = 0; s < kShards; ++s) {
    threads.emplace_back([&, s] {
      for (int k = 0; k < kBars; ++k) {
        while (phase.load() < k) {
          std::this_thread::yield();
        }
        SendBar(engine, s, k, tallies[s]);
        done.fetch_add(1);
      }
    });
  }
  std::vector<ClosedBar> closed;
  std::thread closer([&] {
    while (!stop.load()) {
      for (ClosedBar& bar : engine.Poll(now.load())) {
        closed.push_back(std::move(bar));
      }
      std::this_thread::yield();
    }
  });

  // The beat path: a downbeat, the bar's claims, then its other beats.
  for (int k = 0; k < kBars; ++k) {
    engine.OnBeat(Frame(4 * k), BeatTime(4 * k));
    now.store(BeatTime(4 * k) + 200 * kMs);  // Bar k-1 is now due.
    phase.store(k);
    while (done.load() < kShards * (k + 1)) {
      std::this_thread::yield();
    }
    for (int b = 1; b < 4; ++b) {
      engine.OnBeat(Frame(4 * k + b), BeatTime(4 * k + b));
    }
  }
  engine.OnBeat(Frame(4 * kBars), BeatTime(4 * kBars));
  for (std::thread& t : threads) {
    t.join();
  }
  stop.store(true);
  closer.join();
  for (ClosedBar& bar : engine.Flush()) {
    closed.push_back(std::move(bar));
  }

  // Every bar once, in order, with figures that add up exactly.
  Tally total;
  for (const Tally& t : tallies) {
    total.main_unexpected += t.main_unexpected;
    for (int k = 0; k < kBars; ++k) {
      for (int o = 0; o < 5; ++o) {
        total.stragglers[k][o] += t.stragglers[k][o];
      }
    }
  }
  EXPECT_EQ(total.main_unexpected, 0);
  ASSERT_EQ(closed.size(), static_cast<size_t>(kBars));
  const int accepted = static_cast<int>(ClaimOutcome::kAccepted);
  const int late = static_cast<int>(ClaimOutcome::kLate);
  for (int k = 0; k < kBars; ++k) {
    SCOPED_TRACE(k);
    const BarReport& report = closed[k].report;
    EXPECT_EQ(report.from_beat, 4 * k);
    const int64_t stragglers_in = total.stragglers[k][accepted];
    EXPECT_EQ(total.stragglers[k][accepted] + total.stragglers[k][late],
              k + 1 < kBars ? kShards * kStragglers : 0);
    EXPECT_EQ(report.agents_reporting, kAgents + stragglers_in);
    EXPECT_EQ(report.on_time_reviews, kAgents);
    const Issue* failed = FindIssue(report, "agents_failed");
    ASSERT_NE(failed, nullptr);
    EXPECT_EQ(failed->count, kAgents / 5);
    const Issue* late_issue = FindIssue(report, "late_claims");
    const int64_t late_in = k > 0 ? total.stragglers[k - 1][late] : 0;
    EXPECT_EQ(late_issue == nullptr ? 0 : late_issue->count, late_in);
  }
  const EngineStats stats = engine.stats();
  EXPECT_EQ(stats.held_released, int64_t{kBars} * (kShards - 1) * kAgents);
  EXPECT_EQ(stats.held_expired, 0);
  EXPECT_EQ(stats.bars_reported, kBars);
}

}  // namespace
}  // namespace backbeat::reverb
