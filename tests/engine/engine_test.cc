// The window rules: attribution, hold, grace, late, future, unobserved
// bars, frames and their tempo, order of reports.
#include "reverb/engine.h"

#include <gtest/gtest.h>

#include "tests/engine/engine_test_util.h"

namespace backbeat::reverb {
namespace {

using testing::BeatTime;
using testing::Claim;
using testing::FindIssue;
using testing::Frame;
using testing::kMs;
using testing::Play;
using testing::WindowId;

constexpr Nanos kGrace = 125 * kMs;  // A quarter beat at 120 bpm.

TEST(EngineTest, ReportsBarBoundedByDownbeats) {
  Engine engine({});
  EXPECT_EQ(engine.OnBeat(Frame(0), BeatTime(0)), BeatOutcome::kOpened);
  EXPECT_EQ(engine.OnBeat(Frame(1), BeatTime(1)), BeatOutcome::kBeat);
  Play(engine, 2, 3);
  EXPECT_FALSE(engine.NextDue().has_value());
  EXPECT_EQ(engine.OnBeat(Frame(4), BeatTime(4)), BeatOutcome::kOpened);

  ASSERT_EQ(engine.NextDue(), BeatTime(4) + kGrace);
  EXPECT_TRUE(engine.Poll(BeatTime(4) + kGrace - 1).empty());
  auto closed = engine.Poll(BeatTime(4) + kGrace);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].report.window_id, WindowId(0));
  EXPECT_EQ(closed[0].report.from_beat, 0);
  EXPECT_EQ(closed[0].report.to_beat, 3);
  EXPECT_EQ(closed[0].boundary, BeatTime(4));
  EXPECT_EQ(closed[0].due, BeatTime(4) + kGrace);
  EXPECT_DOUBLE_EQ(closed[0].report.tempo_drift_ms, 0.0);
  EXPECT_TRUE(closed[0].report.issues.empty());
  EXPECT_TRUE(closed[0].report.secret_rotations_ok);
  EXPECT_TRUE(engine.Poll(BeatTime(100)).empty());
  EXPECT_EQ(engine.stats().bars_reported, 1);
}

TEST(EngineTest, AttributesClaimsByBeatNotArrival) {
  Engine engine({});
  Play(engine, 0, 4);
  // Beat 3 arrives after the boundary (in grace): it still belongs to bar 0.
  EXPECT_EQ(engine.OnClaim(0, Claim("late-arrival", 3), BeatTime(4) + kMs),
            ClaimOutcome::kAccepted);
  // Beat 4 belongs to bar 1 whenever it arrives.
  EXPECT_EQ(engine.OnClaim(0, Claim("next-bar", 4), BeatTime(4) + kMs),
            ClaimOutcome::kAccepted);
  auto closed = engine.Poll(BeatTime(4) + kGrace);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].report.agents_reporting, 1);
  Play(engine, 5, 8);
  closed = engine.Flush();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].report.from_beat, 4);
  EXPECT_EQ(closed[0].report.agents_reporting, 1);
}

TEST(EngineTest, GraceClaimsCountButNotAsOnTimeReviews) {
  Engine engine({});
  Play(engine, 0, 3);
  engine.OnClaim(0, Claim("early", 1, ClaimState::kReviewing), BeatTime(1));
  engine.OnClaim(0, Claim("edge", 2, ClaimState::kCompleted), BeatTime(4));
  Play(engine, 4, 4);
  engine.OnClaim(0, Claim("grace", 3, ClaimState::kReviewing), BeatTime(4) + 1);
  auto closed = engine.Poll(BeatTime(4) + kGrace);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].report.agents_reporting, 3);
  EXPECT_EQ(closed[0].report.on_time_reviews, 2);  // Arrival <= boundary.
  const Issue* missed = FindIssue(closed[0].report, "missed_reviews");
  ASSERT_NE(missed, nullptr);
  EXPECT_EQ(missed->count, 1);
  EXPECT_EQ(missed->agents, std::vector<std::string>{"grace"});
}

TEST(EngineTest, LateClaimChangesNothingAndIsCountedInOpenBar) {
  Engine engine({});
  Play(engine, 0, 4);
  engine.OnClaim(0, Claim("a", 1), BeatTime(1));
  ASSERT_EQ(engine.Poll(BeatTime(4) + kGrace).size(), 1u);
  EXPECT_EQ(engine.OnClaim(0, Claim("b", 2), BeatTime(5)), ClaimOutcome::kLate);
  EXPECT_EQ(engine.OnClaim(0, Claim("b", 3), BeatTime(5)), ClaimOutcome::kLate);
  Play(engine, 5, 8);
  auto closed = engine.Flush();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].report.agents_reporting, 0);
  const Issue* late = FindIssue(closed[0].report, "late_claims");
  ASSERT_NE(late, nullptr);
  EXPECT_EQ(late->count, 2);
  EXPECT_EQ(late->severity, Severity::kInfo);
  EXPECT_EQ(late->agents, std::vector<std::string>{"b"});
}

TEST(EngineTest, ClaimsAheadAreHeldThenFuture) {
  EngineOptions options;
  options.max_held_claims = 2;
  Engine engine(options);
  Play(engine, 0, 1);
  EXPECT_EQ(engine.OnClaim(0, Claim("a", 2), 0), ClaimOutcome::kHeld);
  EXPECT_EQ(engine.OnClaim(0, Claim("b", 3), 0), ClaimOutcome::kHeld);
  EXPECT_EQ(engine.OnClaim(0, Claim("c", 4), 0), ClaimOutcome::kFuture);
  EXPECT_EQ(engine.OnClaim(0, Claim("d", 2), 0), ClaimOutcome::kFuture)
      << "hold buffer is full";

  // Frame 2 releases the claim for beat 2 and frees its place.
  Play(engine, 2, 2);
  EXPECT_EQ(engine.stats().held_released, 1);
  EXPECT_EQ(engine.OnClaim(0, Claim("d", 2), 0), ClaimOutcome::kAccepted);
  EXPECT_EQ(engine.OnClaim(0, Claim("e", 4), 0), ClaimOutcome::kHeld);

  // Beat 3's frame never comes; the downbeat at 4 still places both.
  engine.OnBeat(Frame(4), BeatTime(4));
  EXPECT_EQ(engine.stats().held_released, 3);
  auto closed = engine.Flush();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].report.agents_reporting, 3);  // a, b, d.
  Play(engine, 5, 8);
  closed = engine.Flush();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].report.agents_reporting, 1);  // e.
}

TEST(EngineTest, HeldClaimsReachTheirBarBeforeItCloses) {
  Engine engine(testing::Sharded(2));
  Play(engine, 0, 2);
  EXPECT_EQ(engine.OnClaim(1, Claim("held", 3), BeatTime(2)),
            ClaimOutcome::kHeld);
  engine.OnBeat(Frame(4), BeatTime(4));  // Frame 3 is lost.
  auto closed = engine.Poll(BeatTime(5));
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].report.agents_reporting, 1);
  const Issue* missing = FindIssue(closed[0].report, "missing_beats");
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(missing->count, 1);
  EXPECT_EQ(missing->detail, "no frame for beat 3");
}

TEST(EngineTest, BarBeforeFirstDownbeatIsNotReported) {
  Engine engine({});
  // Before any frame a claim is held; its bar then turns out unobserved.
  EXPECT_EQ(engine.OnClaim(0, Claim("a", 0), 0), ClaimOutcome::kHeld);
  EXPECT_EQ(engine.OnBeat(Frame(2), BeatTime(2)), BeatOutcome::kNoBar);
  EXPECT_EQ(engine.OnBeat(Frame(3), BeatTime(3)), BeatOutcome::kNoBar);
  EXPECT_EQ(engine.OnClaim(0, Claim("a", 3), 0), ClaimOutcome::kUnobserved);
  EXPECT_EQ(engine.OnClaim(0, Claim("b", 4), 0), ClaimOutcome::kHeld);
  EXPECT_EQ(engine.OnBeat(Frame(4), BeatTime(4)), BeatOutcome::kOpened);
  EXPECT_EQ(engine.stats().bars_unobserved, 1);
  EXPECT_EQ(engine.OnClaim(0, Claim("a", 2), 0), ClaimOutcome::kUnobserved);
  Play(engine, 5, 8);
  auto closed = engine.Flush();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].report.from_beat, 4);
  EXPECT_EQ(closed[0].report.agents_reporting, 1);
}

TEST(EngineTest, ClaimOvertakingTheFirstDownbeatIsHeldThenCounted) {
  Engine engine({});
  EXPECT_EQ(engine.OnClaim(0, Claim("early", 0), 0), ClaimOutcome::kHeld);
  Play(engine, 0, 4);
  auto closed = engine.Flush();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].report.agents_reporting, 1);
  EXPECT_EQ(engine.stats().held_released, 1);
}

TEST(EngineTest, LostDownbeatMakesAnUnobservedBar) {
  Engine engine({});
  Play(engine, 0, 3);
  // Beat 4 (a downbeat) is lost; beat 5 carries the new window id.
  EXPECT_EQ(engine.OnBeat(Frame(5), BeatTime(5)), BeatOutcome::kNoBar);
  EXPECT_EQ(engine.stats().bars_unobserved, 1);
  EXPECT_EQ(engine.OnClaim(0, Claim("a", 5), 0), ClaimOutcome::kUnobserved);
  EXPECT_EQ(engine.OnBeat(Frame(6), BeatTime(6)), BeatOutcome::kNoBar);
  Play(engine, 7, 8);
  auto closed = engine.Flush();
  ASSERT_EQ(closed.size(), 1u);  // Bar 4..7 is not reported.
  EXPECT_EQ(closed[0].report.from_beat, 0);
  EXPECT_EQ(closed[0].report.to_beat, 3);
  Play(engine, 9, 12);
  closed = engine.Flush();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].report.from_beat, 8);
}

TEST(EngineTest, FramesDuplicateOutOfOrderWrongCluster) {
  Engine engine({});
  EXPECT_EQ(engine.OnBeat(Frame(0), BeatTime(0)), BeatOutcome::kOpened);
  EXPECT_EQ(engine.OnBeat(Frame(0), BeatTime(0) + 1), BeatOutcome::kDuplicate);
  EXPECT_EQ(engine.OnBeat(Frame(2), BeatTime(2)), BeatOutcome::kBeat);
  EXPECT_EQ(engine.OnBeat(Frame(1), BeatTime(2) + 1), BeatOutcome::kOutOfOrder);
  EXPECT_EQ(engine.OnBeat(Frame(1), BeatTime(2) + 2), BeatOutcome::kDuplicate);
  BeatFrame other = Frame(3);
  other.cluster_id = "elsewhere";
  EXPECT_EQ(engine.OnBeat(other, BeatTime(3)), BeatOutcome::kWrongCluster);
  Play(engine, 4, 4);
  auto closed = engine.Flush();
  ASSERT_EQ(closed.size(), 1u);
  const Issue* missing = FindIssue(closed[0].report, "missing_beats");
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(missing->count, 1);  // Only beat 3.
  EXPECT_EQ(missing->detail, "no frame for beat 3");
}

// Tempo per beat, with missing frames taking the last known tempo.
struct DriftCase {
  const char* name;
  std::vector<std::pair<int64_t, double>> frames;  // beat, bpm (0..3)
  Nanos boundary_ms;                               // Downbeat 4 arrival.
  double drift_ms;
  std::optional<Severity> issue;
};

TEST(EngineTest, TempoDriftTable) {
  const DriftCase cases[] = {
      {"steady", {{0, 120}, {1, 120}, {2, 120}, {3, 120}}, 2000, 0, {}},
      {"slows mid-bar", {{0, 120}, {1, 120}, {2, 60}, {3, 60}}, 3100, 100, {}},
      {"missing frames", {{0, 120}, {2, 60}}, 3000, 0, {}},
      {"behind",
       {{0, 120}, {1, 120}, {2, 120}, {3, 120}},
       2150,
       150,
       Severity::kWarning},
      {"ahead",
       {{0, 120}, {1, 120}, {2, 120}, {3, 120}},
       1850,
       -150,
       Severity::kWarning},
      {"far behind",
       {{0, 120}, {1, 120}, {2, 120}, {3, 120}},
       2500,
       500,
       Severity::kCritical},
  };
  for (const DriftCase& c : cases) {
    SCOPED_TRACE(c.name);
    Engine engine({});
    for (const auto& [beat, bpm] : c.frames) {
      engine.OnBeat(Frame(beat, bpm), BeatTime(beat));
    }
    engine.OnBeat(Frame(4), c.boundary_ms * kMs);
    auto closed = engine.Flush();
    ASSERT_EQ(closed.size(), 1u);
    EXPECT_NEAR(closed[0].report.tempo_drift_ms, c.drift_ms, 1e-9);
    const Issue* drift = FindIssue(closed[0].report, "tempo_drift");
    ASSERT_EQ(drift != nullptr, c.issue.has_value());
    if (drift != nullptr) {
      EXPECT_EQ(drift->severity, *c.issue);
      EXPECT_EQ(drift->count, 1);
    }
  }
}

TEST(EngineTest, GraceDefaultsToQuarterBeatCappedAtTwoSeconds) {
  Engine engine({});
  EXPECT_EQ(engine.grace_for_tempo(120), absl::Milliseconds(125));
  EXPECT_EQ(engine.grace_for_tempo(60), absl::Milliseconds(250));
  EXPECT_EQ(engine.grace_for_tempo(1), absl::Seconds(2));
  EngineOptions options;
  options.grace = absl::Milliseconds(40);
  Engine configured(options);
  EXPECT_EQ(configured.grace_for_tempo(1), absl::Milliseconds(40));

  // The grace of a bar follows the tempo of its boundary frame.
  engine.OnBeat(Frame(0), 0);
  engine.OnBeat(Frame(4, 60), 10 * kMs);
  EXPECT_EQ(engine.NextDue(), 10 * kMs + 250 * kMs);
}

TEST(EngineTest, DuplicateClaimsChangeNothing) {
  const auto play = [](int copies) {
    Engine engine(testing::Sharded(2));
    Play(engine, 0, 3);
    for (int i = 0; i < copies; ++i) {
      engine.OnClaim(i % 2, Claim("a", 1, ClaimState::kHelping, "t"),
                     BeatTime(1));
      engine.OnClaim(i % 2, Claim("b", 2, ClaimState::kCompleted, "t"),
                     BeatTime(2));
      engine.OnClaim(i % 2, Claim("c", 2, ClaimState::kFailed), BeatTime(2));
    }
    Play(engine, 4, 4);
    return engine.Flush().at(0).report;
  };
  const BarReport once = play(1);
  EXPECT_EQ(once.agents_reporting, 3);
  EXPECT_EQ(once.on_time_reviews, 1);
  EXPECT_EQ(once.help_promises_fulfilled, 1);
  EXPECT_EQ(play(3), once);
}

TEST(EngineTest, HelpPromisesAreDistinctAgentTaskPairs) {
  Engine engine({});
  Play(engine, 0, 3);
  engine.OnClaim(0, Claim("h1", 0, ClaimState::kHelping, "t"), 0);
  engine.OnClaim(0, Claim("h1", 1, ClaimState::kHelping, "u"), 0);
  engine.OnClaim(0, Claim("h2", 1, ClaimState::kHelping, "t"), 0);
  engine.OnClaim(0, Claim("h3", 1, ClaimState::kHelping, "v"), 0);
  engine.OnClaim(0, Claim("h4", 1, ClaimState::kHelping), 0);  // No task.
  engine.OnClaim(0, Claim("c", 2, ClaimState::kCompleted, "t"), 0);
  engine.OnClaim(0, Claim("c", 3, ClaimState::kCompleted, "u"), 0);
  engine.OnClaim(0, Claim("d", 3, ClaimState::kReviewing, "v"), 0);
  Play(engine, 4, 4);
  // (h1,t), (h1,u), (h2,t); v was never completed.
  EXPECT_EQ(engine.Flush().at(0).report.help_promises_fulfilled, 3);
}

// The latest state of an agent is its claim with the highest beat, ties
// going to the later arrival, whichever shard each claim went through.
TEST(EngineTest, LatestStateDoesNotDependOnShard) {
  struct Sent {
    const char* agent;
    int64_t beat;
    Nanos arrival;
    ClaimState state;
  };
  const std::vector<Sent> claims = {
      {"a", 1, 10, ClaimState::kFailed},  {"a", 2, 5, ClaimState::kExecuting},
      {"b", 2, 5, ClaimState::kFailed},   {"b", 1, 30, ClaimState::kExecuting},
      {"c", 2, 40, ClaimState::kBlocked}, {"c", 2, 20, ClaimState::kFailed},
  };
  std::optional<BarReport> first;
  for (int assignment = 0; assignment < 27; ++assignment) {
    SCOPED_TRACE(assignment);
    Engine engine(testing::Sharded(3));
    Play(engine, 0, 3);
    int code = assignment;
    for (size_t i = 0; i < claims.size(); ++i) {
      const Sent& s = claims[(i + assignment) % claims.size()];
      engine.OnClaim(code % 3, Claim(s.agent, s.beat, s.state),
                     s.arrival * kMs);
      code = code / 3 + static_cast<int>(i);
    }
    Play(engine, 4, 4);
    const BarReport report = engine.Flush().at(0).report;
    const Issue* failed = FindIssue(report, "agents_failed");
    const Issue* blocked = FindIssue(report, "agents_blocked");
    ASSERT_NE(failed, nullptr);
    ASSERT_NE(blocked, nullptr);
    EXPECT_EQ(failed->agents, std::vector<std::string>{"b"});
    EXPECT_EQ(blocked->agents, std::vector<std::string>{"c"});
    if (first.has_value()) {
      EXPECT_EQ(report, *first);
    } else {
      first = report;
    }
  }
}

TEST(EngineTest, SeveralBarsCloseInOnePollInOrder) {
  Engine engine({});
  Play(engine, 0, 16);
  for (int64_t bar = 0; bar < 4; ++bar) {
    engine.OnClaim(0, Claim("agent", bar * 4 + 1), BeatTime(bar * 4 + 1));
  }
  EXPECT_EQ(engine.NextDue(), BeatTime(4) + kGrace);
  auto closed = engine.Poll(BeatTime(16) + kGrace);
  ASSERT_EQ(closed.size(), 4u);
  for (int64_t bar = 0; bar < 4; ++bar) {
    EXPECT_EQ(closed[bar].report.window_id, WindowId(bar));
    EXPECT_EQ(closed[bar].report.from_beat, bar * 4);
    EXPECT_EQ(closed[bar].report.to_beat, bar * 4 + 3);
    EXPECT_EQ(closed[bar].report.agents_reporting, 1);
  }
  EXPECT_TRUE(engine.Poll(BeatTime(100)).empty());
  EXPECT_FALSE(engine.NextDue().has_value());
}

TEST(EngineTest, FlushIgnoresGraceButNeedsABoundary) {
  EngineOptions options;
  options.grace = absl::Hours(1);
  Engine engine(options);
  Play(engine, 0, 9);
  EXPECT_TRUE(engine.Poll(BeatTime(9)).empty());
  auto closed = engine.Flush();
  ASSERT_EQ(closed.size(), 2u);  // Bar 8.. has no boundary yet.
  EXPECT_EQ(closed[1].report.from_beat, 4);
  EXPECT_TRUE(engine.Flush().empty());
}

TEST(EngineTest, TooManyOpenBarsForceTheOldestOut) {
  EngineOptions options;
  options.grace = absl::Hours(1);
  Engine engine(options);
  Play(engine, 0, 4 * 10);  // Bars 0..9 have boundaries, bar 10 is open.
  EXPECT_EQ(engine.stats().bars_forced, 3);
  auto closed = engine.Poll(BeatTime(41));
  ASSERT_EQ(closed.size(), 3u);
  EXPECT_EQ(closed[0].report.from_beat, 0);
  EXPECT_EQ(closed[2].report.from_beat, 8);
  EXPECT_EQ(engine.Flush().size(), 7u);
}

TEST(EngineTest, OutcomeNames) {
  EXPECT_STREQ(ClaimOutcomeName(ClaimOutcome::kAccepted), "accepted");
  EXPECT_STREQ(ClaimOutcomeName(ClaimOutcome::kUnobserved), "unobserved");
  EXPECT_STREQ(BeatOutcomeName(BeatOutcome::kOutOfOrder), "out_of_order");
  EXPECT_STREQ(BeatOutcomeName(BeatOutcome::kWrongCluster), "wrong_cluster");
}

}  // namespace
}  // namespace backbeat::reverb
