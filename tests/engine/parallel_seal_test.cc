// The parallel seal against the serial one: random bars with many agents,
// each agent's claims split over shards, held, in-grace and late claims.
// Both engines see the same events and must publish identical reports,
// whose main figures must also match a plain model of the bar.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_format.h"
#include "reverb/engine.h"
#include "tests/engine/engine_test_util.h"

namespace backbeat::reverb {
namespace {

using testing::BeatTime;
using testing::Claim;
using testing::FindIssue;
using testing::Frame;
using testing::kMs;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kAgents = 6'000;
#else
constexpr int kAgents = 40'000;
#endif
constexpr int kShards = 3;
constexpr int kBars = 4;
constexpr Nanos kGrace = 125 * kMs;  // A quarter beat at 120 bpm.

// One agent's claims in one bar, as the report should read them.
struct ModelAgent {
  std::tuple<int64_t, Nanos, int> latest{-1, 0, 0};  // beat, arrival, state
  bool on_time_review = false;
};

// Feeds the same events to several engines and to a model of the bar.
class Twins {
 public:
  explicit Twins(std::vector<Engine*> engines) : engines_(std::move(engines)) {}

  void Beat(int64_t beat, Nanos arrival) {
    for (Engine* engine : engines_) {
      engine->OnBeat(Frame(beat), arrival);
    }
  }
  void Send(int shard, const StatusClaim& claim, Nanos arrival) {
    ClaimOutcome first = ClaimOutcome::kAccepted;
    for (size_t i = 0; i < engines_.size(); ++i) {
      const ClaimOutcome got = engines_[i]->OnClaim(shard, claim, arrival);
      if (i == 0) {
        first = got;
      }
      EXPECT_EQ(got, first);
    }
  }
  std::vector<std::vector<ClosedBar>> Poll(Nanos now) {
    std::vector<std::vector<ClosedBar>> out;
    for (Engine* engine : engines_) {
      out.push_back(engine->Poll(now));
    }
    return out;
  }

 private:
  std::vector<Engine*> engines_;
};

EngineOptions Options(int threads) {
  EngineOptions options = testing::Sharded(kShards);
  options.seal_threads = threads;
  options.parallel_seal_min_agents = 0;  // Always the parallel path.
  return options;
}

TEST(ParallelSealTest, SameReportsAsSerialOnRandomBars) {
  Engine serial(Options(1));
  Engine parallel(Options(4));
  Engine two(Options(2));
  Twins twins({&serial, &parallel, &two});
  std::mt19937_64 rng(20261203);
  std::set<std::string> previous;  // Agents of the previous bar.

  twins.Beat(0, BeatTime(0));
  for (int k = 0; k < kBars; ++k) {
    const int64_t down = 4 * k;
    std::map<std::string, ModelAgent> model;
    std::vector<std::string> helpers;
    const Nanos boundary = BeatTime(down + 4);

    // Claims while beats 0..1 of the bar are out: beats up to 3 are held.
    // Then the rest of the bar, then claims in grace.
    twins.Beat(down + 1, BeatTime(down + 1));
    const int active = kAgents - static_cast<int>(rng() % (kAgents / 5));
    for (int phase = 0; phase < 3; ++phase) {
      if (phase == 1) {
        twins.Beat(down + 2, BeatTime(down + 2));
        twins.Beat(down + 3, BeatTime(down + 3));
      } else if (phase == 2) {
        twins.Beat(down + 4, boundary);
      }
      for (int i = 0; i < active; ++i) {
        if (rng() % 3 != 0) {
          continue;  // About a third claim per phase.
        }
        const std::string agent =
            absl::StrFormat("ag-%06d", (i * 7919) % kAgents);
        const int64_t beat = down + static_cast<int64_t>(rng() % 4);
        const auto state = static_cast<ClaimState>(rng() % 8);
        const Nanos arrival = (phase == 0   ? BeatTime(down + 1)
                               : phase == 1 ? BeatTime(down + 3)
                                            : boundary) +
                              static_cast<Nanos>(rng() % 100) * kMs;
        std::optional<std::string> task;
        if (state == ClaimState::kHelping || state == ClaimState::kCompleted) {
          task = absl::StrFormat("task-%d", static_cast<int>(rng() % 500));
        }
        twins.Send(static_cast<int>(rng() % kShards),
                   Claim(agent, beat, state, task), arrival);
        ModelAgent& m = model[agent];
        m.latest = std::max(
            m.latest, std::make_tuple(beat, arrival, static_cast<int>(state)));
        if ((state == ClaimState::kReviewing ||
             state == ClaimState::kCompleted) &&
            arrival <= boundary) {
          m.on_time_review = true;
        }
      }
    }
    // A few late claims for the bar before, counted in this one's issues
    // only if they arrived before its boundary: these arrive after.
    if (k > 0) {
      for (int i = 0; i < 50; ++i) {
        twins.Send(i % kShards, Claim(absl::StrFormat("late-%d", i), down - 2),
                   boundary + kMs);
      }
    }

    auto closed = twins.Poll(boundary + kGrace);
    ASSERT_EQ(closed[0].size(), 1u) << "bar " << k;
    ASSERT_EQ(closed[1].size(), 1u);
    ASSERT_EQ(closed[2].size(), 1u);
    const BarReport& report = closed[0][0].report;
    EXPECT_EQ(closed[1][0].report, report) << "bar " << k;
    EXPECT_EQ(closed[2][0].report, report) << "bar " << k;

    // The figures against the model.
    int64_t failed = 0, on_time = 0, silent = 0;
    std::vector<std::string> failed_ids, silent_ids;  // Sorted: map order.
    for (const auto& [agent, m] : model) {
      if (std::get<2>(m.latest) == static_cast<int>(ClaimState::kFailed)) {
        ++failed;
        if (failed_ids.size() < 10) {
          failed_ids.push_back(agent);
        }
      }
      on_time += m.on_time_review ? 1 : 0;
    }
    for (const std::string& agent : previous) {
      if (!model.contains(agent)) {
        ++silent;
        if (silent_ids.size() < 10) {
          silent_ids.push_back(agent);
        }
      }
    }
    EXPECT_EQ(report.agents_reporting, static_cast<int64_t>(model.size()));
    EXPECT_EQ(report.on_time_reviews, on_time);
    const Issue* failed_issue = FindIssue(report, "agents_failed");
    ASSERT_NE(failed_issue, nullptr);
    EXPECT_EQ(failed_issue->count, failed);
    EXPECT_EQ(failed_issue->agents, failed_ids);
    const Issue* silent_issue = FindIssue(report, "agents_silent");
    if (silent > 0) {
      ASSERT_NE(silent_issue, nullptr);
      EXPECT_EQ(silent_issue->count, silent);
      EXPECT_EQ(silent_issue->agents, silent_ids);
    } else {
      EXPECT_EQ(silent_issue, nullptr);
    }
    EXPECT_GT(report.help_promises_fulfilled, 0);
    previous.clear();
    for (const auto& [agent, m] : model) {
      previous.insert(agent);
    }
  }
}

// Small bars (under the threshold) and bars with no agents go the serial
// way on a parallel engine, with the same reports.
TEST(ParallelSealTest, SmallAndEmptyBarsMatchSerial) {
  EngineOptions threaded = testing::Sharded(kShards);
  threaded.seal_threads = 4;
  Engine serial(Options(1));
  Engine parallel(threaded);
  Twins twins({&serial, &parallel});
  twins.Beat(0, BeatTime(0));
  for (int k = 0; k < 3; ++k) {
    const int64_t down = 4 * k;
    for (int i = 0; k != 1 && i < 100; ++i) {
      twins.Send(i % kShards, Claim(absl::StrFormat("a-%d", i), down + 1),
                 BeatTime(down));
    }
    for (int64_t beat = down + 1; beat <= down + 4; ++beat) {
      twins.Beat(beat, BeatTime(beat));
    }
    auto closed = twins.Poll(BeatTime(down + 4) + kGrace);
    ASSERT_EQ(closed[0].size(), 1u);
    ASSERT_EQ(closed[1].size(), 1u);
    EXPECT_EQ(closed[1][0].report, closed[0][0].report) << "bar " << k;
    const Issue* silent = FindIssue(closed[0][0].report, "agents_silent");
    if (k == 1) {
      ASSERT_NE(silent, nullptr);
      EXPECT_EQ(silent->count, 100);
    }
  }
}

}  // namespace
}  // namespace backbeat::reverb
