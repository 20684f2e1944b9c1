#include "tools/sim_model.h"

#include <map>
#include <set>

#include "common/contract.h"
#include "gtest/gtest.h"

namespace backbeat::sim {
namespace {

// Every claim the agents send over `bars` bars, beat by beat, as the
// simulator drives them; the last downbeat only releases deferred reviews.
std::vector<std::vector<StatusClaim>> PlayBars(const SimConfig& config,
                                               int bars) {
  Agents agents(config);
  std::vector<std::vector<StatusClaim>> beats;
  const int b = config.beats_per_bar;
  for (int64_t k = 0; k <= int64_t{bars} * b; ++k) {
    BeatContext beat{k, k - k % b, k / b, static_cast<int>(k % b)};
    std::vector<StatusClaim> claims;
    if (k < int64_t{bars} * b) {
      claims = agents.OnBeat(beat);
    }
    if (k % b == 0) {
      std::vector<StatusClaim> late = agents.TakeDeferred(beat);
      claims.insert(claims.end(), late.begin(), late.end());
    }
    beats.push_back(claims);
  }
  return beats;
}

// The claims of bar `bar` (by beat_index), wherever they were sent.
std::vector<StatusClaim> ClaimsOfBar(
    const std::vector<std::vector<StatusClaim>>& beats, int bar, int b) {
  std::vector<StatusClaim> out;
  for (const auto& claims : beats) {
    for (const StatusClaim& c : claims) {
      if (c.beat_index / b == bar) {
        out.push_back(c);
      }
    }
  }
  return out;
}

TEST(MixTest, ParsesWeightsInOrder) {
  absl::StatusOr<Mix> mix = ParseMix("late:3,on_time:1");
  ASSERT_TRUE(mix.ok()) << mix.status();
  ASSERT_EQ(mix->size(), 2u);
  EXPECT_EQ((*mix)[0], std::make_pair(Behaviour::kLate, 3));
  EXPECT_EQ((*mix)[1], std::make_pair(Behaviour::kOnTime, 1));
}

TEST(MixTest, RejectsBadMixes) {
  for (const char* bad : {"", "lazy:1", "on_time:-1", "on_time:x", "on_time",
                          "on_time:0,late:0", "late:1,late:2"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseMix(bad).ok());
  }
}

TEST(MixTest, ApportionSumsToAgentsByLargestRemainder) {
  Mix mix = DefaultMix();
  for (int agents : {0, 1, 7, 20, 60, 1001}) {
    SCOPED_TRACE(agents);
    int sum = 0;
    for (const auto& [behaviour, count] : Apportion(mix, agents)) {
      sum += count;
    }
    EXPECT_EQ(sum, agents);
  }
  std::vector<std::pair<Behaviour, int>> twenty = Apportion(mix, 20);
  EXPECT_EQ(twenty[0].second, 12);  // on_time: 60% of 20.
  EXPECT_EQ(twenty[3].second, 1);   // blocked: 5% of 20.
  std::vector<std::pair<Behaviour, int>> three =
      Apportion({{Behaviour::kOnTime, 1}, {Behaviour::kLate, 1}}, 3);
  EXPECT_EQ(three[0].second, 2);  // Ties go to the earlier entry.
  EXPECT_EQ(three[1].second, 1);
}

TEST(WindowIdTest, Is32HexAndDependsOnSeedClusterAndBar) {
  std::string id = WindowId(1, "local", 0);
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(id, WindowId(1, "local", 0));
  EXPECT_NE(id, WindowId(2, "local", 0));
  EXPECT_NE(id, WindowId(1, "other", 0));
  EXPECT_NE(id, WindowId(1, "local", 4));
}

TEST(PhaseTest, PlanExecuteReviewOverTheBar) {
  struct Case {
    int beats;
    std::vector<Phase> phases;
  };
  const Phase p = Phase::kPlan, e = Phase::kExecute, r = Phase::kReview;
  for (const Case& c : std::vector<Case>{{1, {p}},
                                         {2, {p, r}},
                                         {3, {p, e, r}},
                                         {4, {p, e, e, r}},
                                         {8, {p, p, e, e, e, e, r, r}}}) {
    SCOPED_TRACE(c.beats);
    for (int i = 0; i < c.beats; ++i) {
      EXPECT_EQ(PhaseAt(i, c.beats), c.phases[i]) << i;
    }
  }
  EXPECT_EQ(BeatsLeftInPhase(1, 4), 2);
  EXPECT_EQ(BeatsLeftInPhase(2, 4), 1);
  EXPECT_EQ(BeatsLeftInPhase(6, 8), 2);
}

TEST(FormatTest, HlcAndRfc3339) {
  EXPECT_EQ(Hlc(0x12345, 7), "0001:2345:0007");
  EXPECT_EQ(Hlc(0, 0x10001), "0000:0000:0001");
  EXPECT_EQ(Rfc3339(absl::FromUnixMillis(1735689601500)),
            "2025-01-01T00:00:01.500Z");
}

TEST(BeatFrameTest, FramesValidateAndMarkDownbeats) {
  SimConfig config;
  config.beats_per_bar = 4;
  for (int position = 0; position < 4; ++position) {
    BeatFrame frame =
        MakeBeatFrame(config, 8, position, absl::FromUnixSeconds(1));
    EXPECT_TRUE(Contract::Builtin().Check(frame).ok())
        << Contract::Builtin().Check(frame);
    EXPECT_EQ(frame.beat_index, 8 + position);
    EXPECT_EQ(frame.downbeat, position == 0);
    EXPECT_EQ(frame.window_id, WindowId(config.seed, "local", 8));
  }
}

TEST(AgentsTest, SameSeedSameClaimsOtherSeedOtherOrder) {
  SimConfig config;
  config.agents = 40;
  SimConfig other = config;
  other.seed = 2;
  EXPECT_EQ(PlayBars(config, 3), PlayBars(config, 3));
  EXPECT_NE(PlayBars(config, 3), PlayBars(other, 3));
}

TEST(AgentsTest, EveryClaimValidates) {
  for (int beats : {1, 2, 3, 4, 7}) {
    SCOPED_TRACE(beats);
    SimConfig config;
    config.agents = 30;
    config.beats_per_bar = beats;
    for (const auto& claims : PlayBars(config, 3)) {
      for (const StatusClaim& claim : claims) {
        absl::Status status = Contract::Builtin().Check(claim);
        ASSERT_TRUE(status.ok()) << status;
      }
    }
  }
}

// What a Reverb would count for one bar of the default mix.
struct BarFigures {
  std::set<std::string> reporting, reviewed_in_bar, failed, blocked;
  int help_fulfilled = 0;
};

BarFigures Figures(const std::vector<StatusClaim>& claims) {
  BarFigures f;
  std::set<std::string> completed;
  std::set<std::pair<std::string, std::string>> helping;
  for (const StatusClaim& c : claims) {
    f.reporting.insert(c.agent_id);
    if (c.state == ClaimState::kFailed) {
      f.failed.insert(c.agent_id);
    }
    if (c.state == ClaimState::kBlocked) {
      f.blocked.insert(c.agent_id);
    }
    if (c.state == ClaimState::kCompleted) {
      completed.insert(*c.task_id);
    }
    if (c.state == ClaimState::kHelping) {
      helping.insert({c.agent_id, *c.task_id});
    }
  }
  for (const auto& [agent, task] : helping) {
    f.help_fulfilled += completed.count(task) ? 1 : 0;
  }
  return f;
}

TEST(AgentsTest, BehavioursShowInEachBar) {
  SimConfig config;
  config.agents = 20;  // 12 on_time, 2 late, 2 failing, 1 blocked, 2
                       // helping, 1 silent.
  std::vector<std::vector<StatusClaim>> beats = PlayBars(config, 2);

  BarFigures even = Figures(ClaimsOfBar(beats, 0, 4));
  BarFigures odd = Figures(ClaimsOfBar(beats, 1, 4));
  EXPECT_EQ(even.reporting.size(), 20u);
  EXPECT_EQ(odd.reporting.size(), 19u);  // The silent agent skips bar 1.
  EXPECT_EQ(even.failed.size(), 2u);
  EXPECT_EQ(even.blocked.size(), 1u);
  EXPECT_EQ(even.help_fulfilled, 2);
  EXPECT_EQ(odd.help_fulfilled, 2);
}

TEST(AgentsTest, LateReviewsGoOutAfterTheNextDownbeat) {
  SimConfig config;
  config.agents = 4;
  config.mix = {{Behaviour::kLate, 1}, {Behaviour::kOnTime, 1}};
  std::vector<std::vector<StatusClaim>> beats = PlayBars(config, 1);
  ASSERT_EQ(beats.size(), 5u);

  // On the last beat only on-time agents review; the late ones do so
  // first thing at the next downbeat, naming the old bar's last beat.
  auto reviews = [](const std::vector<StatusClaim>& claims) {
    std::map<std::string, int64_t> out;
    for (const StatusClaim& c : claims) {
      if (c.state == ClaimState::kReviewing) {
        out[c.agent_id] = c.beat_index;
      }
    }
    return out;
  };
  std::map<std::string, int64_t> last_beat = reviews(beats[3]);
  std::map<std::string, int64_t> next_downbeat = reviews(beats[4]);
  ASSERT_EQ(last_beat.size(), 2u);
  ASSERT_EQ(next_downbeat.size(), 2u);
  for (const auto& [agent, beat] : last_beat) {
    EXPECT_NE(agent.find("on_time"), std::string::npos) << agent;
  }
  for (const auto& [agent, beat] : next_downbeat) {
    EXPECT_NE(agent.find("late"), std::string::npos) << agent;
    EXPECT_EQ(beat, 3);
  }
}

}  // namespace
}  // namespace backbeat::sim
