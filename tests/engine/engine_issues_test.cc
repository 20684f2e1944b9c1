// Every issue kind of a BarReport, with exact counts and samples.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

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
using testing::Play;

struct Expected {
  const char* kind;
  Severity severity;
  int64_t count;
  std::vector<std::string> agents;
  const char* detail;
};

void ExpectIssues(const BarReport& report,
                  const std::vector<Expected>& expected) {
  ASSERT_EQ(report.issues.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(expected[i].kind);
    const Issue& issue = report.issues[i];
    EXPECT_EQ(issue.kind, expected[i].kind);
    EXPECT_EQ(issue.severity, expected[i].severity);
    EXPECT_EQ(issue.count, expected[i].count);
    EXPECT_EQ(issue.agents, expected[i].agents);
    EXPECT_EQ(issue.detail, expected[i].detail);
  }
}

// One bar with every kind of trouble at once, most severe first.
TEST(EngineIssuesTest, EveryKindWithExactCountsAndSamples) {
  Engine engine(testing::Sharded(2));

  // Bar 0: agents p, q, r, s report; this is the "previous" bar.
  Play(engine, 0, 3);
  for (const char* agent : {"s", "r", "q", "p"}) {
    engine.OnClaim(0, Claim(agent, 1), BeatTime(1));
  }
  engine.SetDroppedTotal(5);  // Before bar 1 opened: not bar 1's.
  engine.OnBeat(Frame(4), BeatTime(4));
  ASSERT_EQ(engine.Poll(BeatTime(5)).size(), 1u);

  // Bar 1 (beats 4..7; frame 6 lost; it runs 500 ms long, critical).
  engine.SetDroppedTotal(7);
  engine.OnBeat(Frame(5), BeatTime(5));
  engine.OnBeat(Frame(7), BeatTime(7));
  engine.OnClaim(1, Claim("zed", 5, ClaimState::kFailed), BeatTime(5));
  engine.OnClaim(0, Claim("amy", 5, ClaimState::kFailed), BeatTime(5));
  engine.OnClaim(1, Claim("bob", 5, ClaimState::kBlocked), BeatTime(5));
  engine.OnClaim(0, Claim("cat", 6, ClaimState::kReviewing), BeatTime(6));
  engine.OnClaim(1, Claim("q", 7, ClaimState::kCompleted), BeatTime(7));
  EXPECT_EQ(engine.OnClaim(0, Claim("old", 2), BeatTime(5)),
            ClaimOutcome::kLate);
  engine.OnTransportEvent(TransportEvent::kInvalidClaim, BeatTime(5));
  engine.OnTransportEvent(TransportEvent::kInvalidClaim, BeatTime(6));
  engine.OnTransportEvent(TransportEvent::kDisconnected, BeatTime(6));
  engine.OnTransportEvent(TransportEvent::kReconnected, BeatTime(6) + 1);
  engine.SetDroppedTotal(10);
  engine.OnBeat(Frame(8), BeatTime(8) + 500 * kMs);
  // After the boundary: counted in bar 2, not bar 1.
  engine.OnTransportEvent(TransportEvent::kInvalidClaim, BeatTime(9));

  auto closed = engine.Flush();
  ASSERT_EQ(closed.size(), 1u);
  const BarReport& report = closed[0].report;
  EXPECT_EQ(report.agents_reporting, 5);
  EXPECT_EQ(report.on_time_reviews, 2);
  EXPECT_DOUBLE_EQ(report.tempo_drift_ms, 500.0);
  ExpectIssues(
      report,
      {
          {"ingest_dropped",
           Severity::kCritical,
           5,
           {},
           "the NATS client dropped 5 messages as a slow consumer"},
          {"ingest_interrupted",
           Severity::kCritical,
           1,
           {},
           "the NATS connection was lost 1 time while the bar was open"},
          {"tempo_drift",
           Severity::kCritical,
           1,
           {},
           "bar took 2500.000 ms against 2000.000 ms nominal (+500.000 ms)"},
          {"agents_failed",
           Severity::kWarning,
           2,
           {"amy", "zed"},
           "2 agents ended the bar in state failed"},
          {"agents_blocked",
           Severity::kWarning,
           1,
           {"bob"},
           "1 agent ended the bar in state blocked"},
          {"agents_silent",
           Severity::kWarning,
           3,
           {"p", "r", "s"},
           "3 agents reported in the previous bar but not in this one"},
          {"invalid_claims",
           Severity::kWarning,
           2,
           {},
           "2 claims failed parsing or validation"},
          {"missing_beats", Severity::kWarning, 1, {}, "no frame for beat 6"},
          {"missed_reviews",
           Severity::kInfo,
           3,
           {"amy", "bob", "zed"},
           "3 of 5 reporting agents sent no review by the boundary"},
          {"late_claims",
           Severity::kInfo,
           1,
           {"old"},
           "1 claim arrived for a bar already reported"},
      });
}

TEST(EngineIssuesTest, DisconnectMarksEveryBarOpenOrInGrace) {
  Engine engine({});
  Play(engine, 0, 4);  // Bar 0 in grace until BeatTime(4) + 125 ms.
  engine.OnTransportEvent(TransportEvent::kDisconnected, BeatTime(4) + kMs);
  Play(engine, 5, 7);  // Bar 1 was open when the connection went.
  engine.OnTransportEvent(TransportEvent::kReconnected, BeatTime(7) + kMs);
  Play(engine, 8, 12);  // Bar 2 opened after the reconnect.
  auto closed = engine.Flush();
  ASSERT_EQ(closed.size(), 3u);
  for (int bar = 0; bar < 2; ++bar) {
    SCOPED_TRACE(bar);
    const Issue* issue = FindIssue(closed[bar].report, "ingest_interrupted");
    ASSERT_NE(issue, nullptr);
    EXPECT_EQ(issue->count, 1);
  }
  EXPECT_EQ(FindIssue(closed[2].report, "ingest_interrupted"), nullptr);
}

TEST(EngineIssuesTest, SamplesAreTheTenSmallestIdsSorted) {
  std::vector<std::string> agents;
  for (int i = 0; i < 25; ++i) {
    agents.push_back(absl::StrCat("agent-", 100 + i));
  }
  std::shuffle(agents.begin(), agents.end(), std::mt19937(7));
  Engine engine(testing::Sharded(3));
  Play(engine, 0, 3);
  for (size_t i = 0; i < agents.size(); ++i) {
    engine.OnClaim(i % 3, Claim(agents[i], 2, ClaimState::kFailed),
                   BeatTime(2));
  }
  Play(engine, 4, 4);
  const BarReport report = engine.Flush().at(0).report;
  const Issue* failed = FindIssue(report, "agents_failed");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->count, 25);
  std::vector<std::string> want;
  for (int i = 0; i < 10; ++i) {
    want.push_back(absl::StrCat("agent-", 100 + i));
  }
  EXPECT_EQ(failed->agents, want);
}

TEST(EngineIssuesTest, QuietBarHasNoIssues) {
  Engine engine({});
  Play(engine, 0, 3);
  engine.OnClaim(0, Claim("a", 0, ClaimState::kReviewing), 0);
  Play(engine, 4, 4);
  EXPECT_TRUE(engine.Flush().at(0).report.issues.empty());
}

}  // namespace
}  // namespace backbeat::reverb
