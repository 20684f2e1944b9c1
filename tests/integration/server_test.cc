// Reverb's server end to end through a real nats-server: scripted bars with
// exact expected reports, hostile traffic, reconnection.
//
// Timing: each bar's claims are flushed to the server and given time to be
// processed before the next downbeat is published, so that "arrived before
// the boundary" is certain; no test asserts how long anything took.
#include "reverb/server.h"

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/contract.h"
#include "gtest/gtest.h"
#include "tests/engine/engine_test_util.h"
#include "tests/ops/scrape_client.h"
#include "tests/support/nats_client.h"
#include "tests/support/nats_server.h"

namespace backbeat::reverb {
namespace {

using test_support::Inbox;
using test_support::NatsServer;
using test_support::TestNatsClient;

constexpr char kCluster[] = "itest";
constexpr char kBeat[] = "backbeat.itest.beat";
constexpr char kStatus[] = "backbeat.itest.status";
constexpr char kBar[] = "backbeat.itest.bar";
constexpr char kDeadLetter[] = "backbeat.itest.rejected";
constexpr double kTempo = 60;  // One-second beats: the bars are scripted.
const absl::Duration kSettle = absl::Milliseconds(150);
const absl::Duration kProcessWait = absl::Seconds(60);
const absl::Duration kReportWait = absl::Seconds(10);

std::string WindowId(int bar) { return absl::StrFormat("%032x", bar + 1); }

std::string Frame(int64_t beat, int bar, bool downbeat) {
  BeatFrame f;
  f.cluster_id = kCluster;
  f.beat_index = beat;
  f.downbeat = downbeat;
  f.phase = Phase::kExecute;
  f.hlc = "0001:0002:0003";
  f.deadline_at = "2026-12-03T12:00:00Z";
  f.tempo_bpm = kTempo;
  f.window_id = WindowId(bar);
  return Serialize(Message(f));
}

// A claim as an agent would publish it.
std::string Claim(const std::string& agent, int64_t beat, ClaimState state,
                  std::optional<std::string> task = std::nullopt) {
  return Serialize(Message(testing::Claim(agent, beat, state, task)));
}

using testing::FindIssue;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto nats = NatsServer::Start();
    ASSERT_TRUE(nats.ok()) << nats.status();
    nats_ = *std::move(nats);
    StartReverb();
    Reconnect();
  }

  void StartReverb(absl::Duration grace = absl::Milliseconds(400)) {
    ServerOptions options;
    options.nats_url = nats_->url();
    options.engine.cluster_id = kCluster;
    options.engine.grace = grace;
    options.metrics_address = "127.0.0.1:0";
    options.dead_letter_subject = kDeadLetter;
    auto server = Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  // Replaces the fixture's Reverb with one that waits `grace` for late
  // claims; its counters start from zero.
  void RestartReverbWithGrace(absl::Duration grace) {
    server_.reset();
    StartReverb(grace);
    published_claims_ = published_beats_ = 0;
    absl::SleepFor(kSettle);
  }

  void Reconnect() {
    client_.reset();
    auto client = TestNatsClient::Connect(nats_->url());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    auto bars = client_->Subscribe(kBar);
    ASSERT_TRUE(bars.ok()) << bars.status();
    bars_ = *bars;
    auto dead = client_->Subscribe(kDeadLetter);
    ASSERT_TRUE(dead.ok()) << dead.status();
    dead_letters_ = *dead;
    // Reverb subscribes asynchronously; give it a moment before traffic.
    absl::SleepFor(kSettle);
  }

  void Publish(const std::string& subject, absl::string_view data) {
    ASSERT_TRUE(client_->Publish(subject, data).ok());
    ++(subject == kBeat ? published_beats_ : published_claims_);
  }

  // Publishes everything queued and waits until Reverb has handled it all,
  // as its own counters tell.
  void Settle() {
    ASSERT_TRUE(client_->Flush().ok());
    absl::Time deadline = absl::Now() + kProcessWait;
    while (!Processed()) {
      ASSERT_LT(absl::Now(), deadline)
          << "reverb did not handle " << published_claims_ << " claims and "
          << published_beats_ << " frames in time";
      absl::SleepFor(absl::Milliseconds(20));
    }
  }

  // The sum of every sample of `name` on Reverb's /metrics; -1 if the
  // scrape fails.
  double Metric(const std::string& name) {
    ops_test::HttpResponse got =
        ops_test::HttpGet(server_->metrics_port(), "/metrics");
    if (got.status != 200) {
      return -1;
    }
    double sum = 0;
    for (const ops_test::Sample& s : ops_test::ParseExposition(got.body)) {
      sum += s.name == name ? s.value : 0;
    }
    return sum;
  }

  bool Processed() {
    return Metric("reverb_claims_total") +
                   Metric("reverb_claims_rejected_total") ==
               published_claims_ &&
           Metric("reverb_beats_total") +
                   Metric("reverb_beats_rejected_total") ==
               published_beats_;
  }

  // Publishes the frames of beats [from, to] of `bar`, the first a downbeat.
  void PlayBar(int bar, int64_t from, int64_t to) {
    for (int64_t beat = from; beat <= to; ++beat) {
      Publish(kBeat, Frame(beat, bar, beat == from));
    }
    Settle();
  }

  // Waits for the n-th BarReport (1-based) and parses it.
  BarReport Report(size_t n) {
    std::vector<test_support::ReceivedMessage> got =
        bars_->WaitFor(n, kReportWait);
    if (got.size() < n) {
      ADD_FAILURE() << "only " << got.size() << " reports, wanted " << n;
      return {};
    }
    auto report = Contract::Builtin().ParseBarReport(got[n - 1].data);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : BarReport{};
  }

  std::unique_ptr<NatsServer> nats_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<TestNatsClient> client_;
  Inbox* bars_ = nullptr;
  Inbox* dead_letters_ = nullptr;
  int64_t published_claims_ = 0;  // Since Reverb started.
  int64_t published_beats_ = 0;
};

TEST_F(ServerTest, ScriptedBarYieldsExactFigures) {
  PlayBar(0, 100, 103);
  Publish(kStatus, Claim("a1", 101, ClaimState::kReviewing));
  Publish(kStatus, Claim("a1", 101, ClaimState::kReviewing));  // Duplicate.
  Publish(kStatus, Claim("a2", 102, ClaimState::kCompleted, "t1"));
  Publish(kStatus, Claim("a3", 102, ClaimState::kFailed));
  Publish(kStatus, Claim("a4", 103, ClaimState::kBlocked));
  Publish(kStatus, Claim("a5", 100, ClaimState::kHelping, "t1"));
  Publish("backbeat.itest.status.team-b",
          Claim("b1", 100, ClaimState::kExecuting));
  Settle();

  Publish(kBeat, Frame(104, 1, true));  // Boundary of bar 0.
  Settle();
  Publish(kStatus, Claim("a6", 103, ClaimState::kReviewing));  // In grace.

  BarReport report = Report(1);
  EXPECT_EQ(report.window_id, WindowId(0));
  EXPECT_EQ(report.from_beat, 100);
  EXPECT_EQ(report.to_beat, 103);
  EXPECT_EQ(report.agents_reporting, 7);
  EXPECT_EQ(report.on_time_reviews, 2);  // a1, a2; a6 came in grace.
  EXPECT_EQ(report.help_promises_fulfilled, 1);
  EXPECT_TRUE(report.secret_rotations_ok);
  // Four one-second beats took a few hundred milliseconds: Pulse ran ahead.
  EXPECT_LT(report.tempo_drift_ms, 0);

  const Issue* failed = FindIssue(report, "agents_failed");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->count, 1);
  EXPECT_EQ(failed->agents, std::vector<std::string>{"a3"});
  const Issue* blocked = FindIssue(report, "agents_blocked");
  ASSERT_NE(blocked, nullptr);
  EXPECT_EQ(blocked->agents, std::vector<std::string>{"a4"});
  const Issue* missed = FindIssue(report, "missed_reviews");
  ASSERT_NE(missed, nullptr);
  EXPECT_EQ(missed->count, 5);
  EXPECT_EQ(missed->agents,
            (std::vector<std::string>{"a3", "a4", "a5", "a6", "b1"}));
  EXPECT_EQ(FindIssue(report, "missing_beats"), nullptr);
  EXPECT_EQ(FindIssue(report, "invalid_claims"), nullptr);
  EXPECT_NE(FindIssue(report, "tempo_drift"), nullptr);
}

TEST_F(ServerTest, LateAndFutureClaimsAreCountedNotAggregated) {
  PlayBar(0, 0, 3);
  Publish(kStatus, Claim("a1", 1, ClaimState::kReviewing));
  Settle();
  PlayBar(1, 4, 7);
  BarReport first = Report(1);
  EXPECT_EQ(first.agents_reporting, 1);

  // Bar 0 is out: a claim for it is late; one far ahead is future.
  Publish(kStatus, Claim("late-agent", 2, ClaimState::kReviewing));
  Publish(kStatus, Claim("future-agent", 50, ClaimState::kExecuting));
  Publish(kStatus, Claim("a2", 5, ClaimState::kExecuting));
  Settle();
  PlayBar(2, 8, 11);

  BarReport second = Report(2);
  EXPECT_EQ(second.from_beat, 4);
  EXPECT_EQ(second.to_beat, 7);
  EXPECT_EQ(second.agents_reporting, 1);  // a2 only.
  const Issue* late = FindIssue(second, "late_claims");
  ASSERT_NE(late, nullptr);
  EXPECT_EQ(late->count, 1);
  const Issue* silent = FindIssue(second, "agents_silent");
  ASSERT_NE(silent, nullptr);
  EXPECT_EQ(silent->agents, std::vector<std::string>{"a1"});

  // Two ingest threads handle them, so they may come in either order.
  std::vector<test_support::ReceivedMessage> dead =
      dead_letters_->WaitFor(2, kReportWait);
  ASSERT_EQ(dead.size(), 2u);
  std::vector<std::string> rejected = {dead[0].data, dead[1].data};
  std::sort(rejected.begin(), rejected.end());
  EXPECT_EQ(rejected, (std::vector<std::string>{
                          Claim("future-agent", 50, ClaimState::kExecuting),
                          Claim("late-agent", 2, ClaimState::kReviewing)}));
}

TEST_F(ServerTest, HeldClaimJoinsItsBarWhenTheFrameArrives) {
  PlayBar(0, 0, 1);
  // Beat 3 is two beats ahead of Pulse: held, then released by its frame.
  Publish(kStatus, Claim("early", 3, ClaimState::kReviewing));
  Settle();
  Publish(kBeat, Frame(2, 0, false));
  Publish(kBeat, Frame(3, 0, false));
  Settle();
  PlayBar(1, 4, 4);

  BarReport report = Report(1);
  EXPECT_EQ(report.to_beat, 3);
  EXPECT_EQ(report.agents_reporting, 1);
  EXPECT_EQ(report.on_time_reviews, 1);
}

TEST_F(ServerTest, BarWithoutDownbeatIsNotReported) {
  // Reverb starts mid-bar: beats 5-7 of a bar whose downbeat it never saw.
  Publish(kBeat, Frame(5, 0, false));
  Publish(kBeat, Frame(6, 0, false));
  Publish(kStatus, Claim("a1", 6, ClaimState::kExecuting));
  Settle();
  PlayBar(1, 8, 11);
  Publish(kStatus, Claim("a2", 9, ClaimState::kExecuting));
  Settle();
  PlayBar(2, 12, 12);

  BarReport report = Report(1);
  EXPECT_EQ(report.from_beat, 8);
  EXPECT_EQ(report.agents_reporting, 1);
  EXPECT_EQ(bars_->Drain(absl::Milliseconds(600)).size(), 1u);
}

TEST_F(ServerTest, MissingFramesAreReported) {
  Publish(kBeat, Frame(0, 0, true));
  Publish(kBeat, Frame(3, 0, false));  // Beats 1 and 2 never come.
  Settle();
  PlayBar(1, 4, 4);
  BarReport report = Report(1);
  const Issue* missing = FindIssue(report, "missing_beats");
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(missing->count, 2);
}

// Every kind of garbage at once, between valid claims: the valid ones are
// aggregated exactly, the rest counted, and the server keeps going.
TEST_F(ServerTest, FloodOfMalformedMessagesLeavesFiguresIntact) {
  PlayBar(0, 0, 3);
  std::vector<std::string> garbage = {
      "",
      "{",
      "null",
      "[]",
      "\"just a string\"",
      std::string("{\"type\":\"backbeat.statusclaim.v1\"\0}", 34),
      "{\"type\":\"backbeat.statusclaim.v1\",\"agent_id\":\"x\"}",
      std::string(5000, 'x'),
      std::string(20000, '[') + std::string(20000, ']'),
      "{\"type\":\"backbeat.statusclaim.v1\",\"agent_id\":\"\xff\xfe\","
      "\"beat_index\":1,\"state\":\"idle\",\"hlc\":\"0001:0002:0003\"}",
      "{\"type\":\"backbeat.statusclaim.v1\",\"agent_id\":\"x\","
      "\"beat_index\":99999999999999999999999,\"state\":\"idle\","
      "\"hlc\":\"0001:0002:0003\"}",
      Frame(1, 0, false),  // A BeatFrame on the claim subject.
  };
  std::mt19937 random(7);
  const int kRounds = 400;
  int invalid = 0;
  for (int i = 0; i < kRounds; ++i) {
    for (const std::string& g : garbage) {
      Publish(kStatus, g);
      ++invalid;
    }
    std::string noise(1 + random() % 300, '\0');
    for (char& c : noise) {
      c = static_cast<char>(random());
    }
    Publish(kStatus, noise);
    ++invalid;
    Publish(kStatus,
            Claim(absl::StrCat("agent-", i), 1 + i % 3,
                  i % 2 ? ClaimState::kReviewing : ClaimState::kExecuting));
  }
  Settle();
  PlayBar(1, 4, 4);

  BarReport report = Report(1);
  EXPECT_EQ(report.agents_reporting, kRounds);
  EXPECT_EQ(report.on_time_reviews, kRounds / 2);
  const Issue* invalid_issue = FindIssue(report, "invalid_claims");
  ASSERT_NE(invalid_issue, nullptr);
  EXPECT_EQ(invalid_issue->count, invalid);
  EXPECT_EQ(FindIssue(report, "ingest_dropped"), nullptr);

  // Still alive: the next bar is reported too.
  Publish(kStatus, Claim("after", 4, ClaimState::kExecuting));
  Settle();
  PlayBar(2, 5, 5);
  EXPECT_EQ(Report(2).agents_reporting, 1);
}

TEST_F(ServerTest, ReconnectsAfterServerRestartAndFlagsTheBar) {
  PlayBar(0, 0, 1);
  Publish(kStatus, Claim("a1", 1, ClaimState::kExecuting));
  Settle();

  client_.reset();
  ASSERT_TRUE(nats_->Restart().ok());
  // Reverb reconnects within its reconnect wait; then the bar goes on.
  absl::Time deadline = absl::Now() + kProcessWait;
  while (Metric("reverb_nats_reconnects_total") < 1) {
    ASSERT_LT(absl::Now(), deadline) << "reverb did not reconnect";
    absl::SleepFor(absl::Milliseconds(50));
  }
  Reconnect();
  Publish(kStatus, Claim("a2", 1, ClaimState::kExecuting));
  Settle();
  PlayBar(1, 2, 2);

  BarReport report = Report(1);
  EXPECT_EQ(report.agents_reporting, 2);
  const Issue* interrupted = FindIssue(report, "ingest_interrupted");
  ASSERT_NE(interrupted, nullptr);
  EXPECT_EQ(interrupted->severity, Severity::kCritical);
}

// Reverb waits for the server to confirm its reports; a frozen server does
// not, which is counted, and the report still goes out once it wakes.
TEST_F(ServerTest, UnconfirmedReportsAreCountedAndStillDelivered) {
  RestartReverbWithGrace(absl::Seconds(1));
  PlayBar(0, 0, 1);
  Publish(kStatus, Claim("a1", 1, ClaimState::kExecuting));
  Settle();
  PlayBar(1, 2, 2);  // Bar 0 is due a second after Reverb took this frame.

  ASSERT_TRUE(nats_->Pause().ok());
  absl::SleepFor(absl::Seconds(2));  // Past the due time and the flush wait.
  ASSERT_TRUE(nats_->Resume().ok());

  EXPECT_EQ(Report(1).agents_reporting, 1);
  EXPECT_EQ(Metric("reverb_bar_unconfirmed_flushes_total"), 1);
  EXPECT_EQ(Metric("reverb_bar_reports_published_total"), 1);
}

TEST_F(ServerTest, ShutdownPublishesBarsWhoseBoundaryIsKnown) {
  RestartReverbWithGrace(absl::Seconds(30));  // Longer than this test.
  PlayBar(0, 0, 1);
  Publish(kStatus, Claim("a1", 1, ClaimState::kExecuting));
  Settle();
  PlayBar(1, 2, 2);
  EXPECT_TRUE(bars_->Drain(absl::Milliseconds(300)).empty());
  server_->Shutdown();
  BarReport report = Report(1);
  EXPECT_EQ(report.from_beat, 0);
  EXPECT_EQ(report.agents_reporting, 1);
}

}  // namespace
}  // namespace backbeat::reverb
