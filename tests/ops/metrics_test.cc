#include "reverb/metrics.h"

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/ops/scrape_client.h"

namespace backbeat::reverb {
namespace {

using ops_test::Find;
using ops_test::HttpGet;
using ops_test::ParseExposition;
using ops_test::Sample;
using ::testing::HasSubstr;
using ::testing::Optional;

std::vector<Sample> Scrape(const Metrics& metrics) {
  ops_test::HttpResponse response = HttpGet(metrics.port(), "/metrics");
  EXPECT_EQ(response.status, 200);
  return ParseExposition(response.body);
}

BarReport SampleReport() {
  BarReport report;
  report.window_id = "0123456789abcdef0123456789abcdef";
  report.from_beat = 8;
  report.to_beat = 11;
  report.agents_reporting = 20;
  report.on_time_reviews = 15;
  report.help_promises_fulfilled = 3;
  report.secret_rotations_ok = true;
  report.tempo_drift_ms = -12.5;
  report.issues.push_back({"agents_failed",
                           Severity::kWarning,
                           2,
                           "two",
                           {"agent-secret-a", "agent-secret-b"}});
  report.issues.push_back(
      {"late_claims", Severity::kInfo, 7, "seven late", {}});
  return report;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(metrics_.Serve("127.0.0.1:0").ok());
    ASSERT_GT(metrics_.port(), 0);
  }
  Metrics metrics_{"test-cluster"};
};

TEST_F(MetricsTest, ServesOnPortZeroAndRefusesASecondServe) {
  EXPECT_EQ(metrics_.Serve("127.0.0.1:0").code(),
            absl::StatusCode::kFailedPrecondition);
  Metrics other("other");
  const std::string taken = "127.0.0.1:" + std::to_string(metrics_.port());
  EXPECT_EQ(other.Serve(taken).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(other.port(), 0);
}

TEST_F(MetricsTest, HealthzAnswersOk) {
  ops_test::HttpResponse response = HttpGet(metrics_.port(), "/healthz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok\n");
}

TEST_F(MetricsTest, ReadyzFollowsConnectionAndBeats) {
  auto readyz = [&] { return HttpGet(metrics_.port(), "/readyz"); };
  ops_test::HttpResponse r = readyz();
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("not connected"));

  metrics_.SetConnected(true);
  r = readyz();
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("no BeatFrame seen"));

  // A beat older than the window is not enough.
  metrics_.SetReadinessWindow(absl::Seconds(30));
  metrics_.MarkBeatSeen(absl::Now() - absl::Minutes(10));
  r = readyz();
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("no BeatFrame for"));
  EXPECT_THAT(Find(Scrape(metrics_), "reverb_ready"), Optional(0.0));

  metrics_.MarkBeatSeen(absl::Now());
  r = readyz();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready\n");
  EXPECT_THAT(Find(Scrape(metrics_), "reverb_ready"), Optional(1.0));

  // An older mark does not move the last beat back.
  metrics_.MarkBeatSeen(absl::Now() - absl::Hours(1));
  EXPECT_EQ(readyz().status, 200);

  metrics_.SetConnected(false);
  r = readyz();
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("not connected"));
}

TEST(MetricsReadiness, WindowIsMeasuredFromTheGivenNow) {
  Metrics metrics("c");
  metrics.SetConnected(true);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  metrics.MarkBeatSeen(t0);
  metrics.SetReadinessWindow(absl::Seconds(5));
  EXPECT_TRUE(metrics.Readiness(t0 + absl::Seconds(5)).ok());
  EXPECT_EQ(metrics.Readiness(t0 + absl::Seconds(6)).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(MetricsTest, UnknownPathsAreNotFound) {
  EXPECT_EQ(HttpGet(metrics_.port(), "/nothing").status, 404);
}

TEST_F(MetricsTest, ClaimCountersByResultAndReason) {
  metrics_.CountClaim(ClaimOutcome::kAccepted);
  metrics_.CountClaim(ClaimOutcome::kAccepted);
  metrics_.CountClaim(ClaimOutcome::kLate);
  metrics_.CountClaim(ClaimOutcome::kUnobserved);
  metrics_.CountRejected(RejectReason::kSchema);
  metrics_.CountRejected(RejectReason::kTooLarge);
  metrics_.CountRejected(RejectReason::kTooLarge);

  const std::vector<Sample> s = Scrape(metrics_);
  auto claims = [&](const std::string& result) {
    return Find(s, "reverb_claims_total",
                {{"cluster", "test-cluster"}, {"result", result}});
  };
  EXPECT_THAT(claims("accepted"), Optional(2.0));
  EXPECT_THAT(claims("held"), Optional(0.0));
  EXPECT_THAT(claims("late"), Optional(1.0));
  EXPECT_THAT(claims("future"), Optional(0.0));
  EXPECT_THAT(claims("unobserved"), Optional(1.0));
  auto rejected = [&](const std::string& reason) {
    return Find(s, "reverb_claims_rejected_total", {{"reason", reason}});
  };
  EXPECT_THAT(rejected("too_large"), Optional(2.0));
  EXPECT_THAT(rejected("malformed"), Optional(0.0));
  EXPECT_THAT(rejected("schema"), Optional(1.0));
  EXPECT_THAT(rejected("wrong_type"), Optional(0.0));
}

TEST_F(MetricsTest, ClaimHistogramIsCumulative) {
  metrics_.ObserveClaimSeconds(0.5e-6);  // <= 1us
  metrics_.ObserveClaimSeconds(3e-6);    // <= 5us
  metrics_.ObserveClaimSeconds(2e-3);    // <= 10ms
  metrics_.ObserveClaimSeconds(1.0);     // +Inf only
  metrics_.ObserveClaimSeconds(-1.0);    // clamped to 0

  const std::vector<Sample> s = Scrape(metrics_);
  const std::string b = "reverb_claim_processing_seconds_bucket";
  EXPECT_THAT(Find(s, b, {{"le", "1e-06"}}), Optional(2.0));
  EXPECT_THAT(Find(s, b, {{"le", "2.5e-06"}}), Optional(2.0));
  EXPECT_THAT(Find(s, b, {{"le", "5e-06"}}), Optional(3.0));
  EXPECT_THAT(Find(s, b, {{"le", "0.001"}}), Optional(3.0));
  EXPECT_THAT(Find(s, b, {{"le", "0.01"}}), Optional(4.0));
  EXPECT_THAT(Find(s, b, {{"le", "+Inf"}}), Optional(5.0));
  EXPECT_THAT(Find(s, "reverb_claim_processing_seconds_count"), Optional(5.0));
  std::optional<double> sum = Find(s, "reverb_claim_processing_seconds_sum");
  ASSERT_TRUE(sum.has_value());
  EXPECT_NEAR(*sum, 1.0 + 2e-3 + 3e-6 + 0.5e-6, 1e-6);
}

TEST_F(MetricsTest, ClaimCountsAreExactAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        metrics_.CountClaim(ClaimOutcome::kAccepted);
        metrics_.ObserveClaimSeconds(2e-6);
      }
    });
  }
  // Scrape while counting: must not disturb the totals.
  for (int i = 0; i < 3; ++i) {
    Scrape(metrics_);
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  const std::vector<Sample> s = Scrape(metrics_);
  EXPECT_THAT(Find(s, "reverb_claims_total", {{"result", "accepted"}}),
              Optional(double{kThreads * kPerThread}));
  EXPECT_THAT(Find(s, "reverb_claim_processing_seconds_count"),
              Optional(double{kThreads * kPerThread}));
}

TEST_F(MetricsTest, BarGaugesAppearWithTheFirstReport) {
  std::vector<Sample> s = Scrape(metrics_);
  EXPECT_FALSE(Find(s, "reverb_bar_agents_reporting").has_value());
  EXPECT_THAT(Find(s, "reverb_bar_reports_published_total"), Optional(0.0));

  const double before = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  metrics_.RecordBar(SampleReport(), 0.0003);
  s = Scrape(metrics_);
  EXPECT_THAT(Find(s, "reverb_bar_from_beat"), Optional(8.0));
  EXPECT_THAT(Find(s, "reverb_bar_to_beat"), Optional(11.0));
  EXPECT_THAT(
      Find(s, "reverb_bar_agents_reporting", {{"cluster", "test-cluster"}}),
      Optional(20.0));
  EXPECT_THAT(Find(s, "reverb_bar_on_time_reviews"), Optional(15.0));
  EXPECT_THAT(Find(s, "reverb_bar_on_time_review_ratio"), Optional(0.75));
  EXPECT_THAT(Find(s, "reverb_bar_help_promises_fulfilled"), Optional(3.0));
  EXPECT_THAT(Find(s, "reverb_bar_secret_rotations_ok"), Optional(1.0));
  EXPECT_THAT(Find(s, "reverb_bar_tempo_drift_seconds"), Optional(-0.0125));
  EXPECT_THAT(Find(s, "reverb_bar_issues", {{"kind", "agents_failed"}}),
              Optional(2.0));
  EXPECT_THAT(Find(s, "reverb_bar_issues", {{"kind", "late_claims"}}),
              Optional(7.0));
  EXPECT_THAT(Find(s, "reverb_bar_issues", {{"kind", "tempo_drift"}}),
              Optional(0.0));
  std::optional<double> stamp = Find(s, "reverb_last_report_timestamp_seconds");
  ASSERT_TRUE(stamp.has_value());
  EXPECT_GE(*stamp, before);
  EXPECT_FALSE(Find(s, "reverb_bar_interval_seconds").has_value());
  EXPECT_THAT(Find(s, "reverb_bar_reports_published_total"), Optional(1.0));
  EXPECT_THAT(
      Find(s, "reverb_bar_close_latency_seconds_bucket", {{"le", "0.0001"}}),
      Optional(0.0));
  EXPECT_THAT(
      Find(s, "reverb_bar_close_latency_seconds_bucket", {{"le", "0.0005"}}),
      Optional(1.0));
}

TEST_F(MetricsTest, NextReportReplacesFiguresAndSetsInterval) {
  metrics_.RecordBar(SampleReport(), 0);
  BarReport next = SampleReport();
  next.from_beat = 12;
  next.to_beat = 15;
  next.agents_reporting = 0;
  next.on_time_reviews = 0;
  next.secret_rotations_ok = false;
  next.issues = {{"custom_kind", Severity::kCritical, 4, "", {}}};
  metrics_.RecordBar(next, 0);

  const std::vector<Sample> s = Scrape(metrics_);
  EXPECT_THAT(Find(s, "reverb_bar_from_beat"), Optional(12.0));
  EXPECT_THAT(Find(s, "reverb_bar_secret_rotations_ok"), Optional(0.0));
  std::optional<double> ratio = Find(s, "reverb_bar_on_time_review_ratio");
  ASSERT_TRUE(ratio.has_value());
  EXPECT_TRUE(std::isnan(*ratio));
  EXPECT_THAT(Find(s, "reverb_bar_issues", {{"kind", "agents_failed"}}),
              Optional(0.0));
  EXPECT_THAT(Find(s, "reverb_bar_issues", {{"kind", "custom_kind"}}),
              Optional(4.0));
  std::optional<double> interval = Find(s, "reverb_bar_interval_seconds");
  ASSERT_TRUE(interval.has_value());
  EXPECT_GE(*interval, 0.0);
  EXPECT_THAT(Find(s, "reverb_bar_reports_published_total"), Optional(2.0));
}

TEST_F(MetricsTest, TransportBeatsAndEngineCounters) {
  metrics_.CountBeat(BeatOutcome::kOpened);
  metrics_.CountBeat(BeatOutcome::kBeat);
  metrics_.CountBeat(BeatOutcome::kBeat);
  metrics_.CountBeat(BeatOutcome::kWrongCluster);
  metrics_.CountPublishFailure();
  metrics_.CountUnconfirmedFlush();
  metrics_.SetConnected(true);
  metrics_.SetDroppedTotal(40);
  metrics_.SetDroppedTotal(12);  // A lower total never goes back.
  metrics_.CountReconnect();
  metrics_.CountDeadLetter();
  metrics_.CountDeadLetter();
  metrics_.SetEngineStats({.bars_reported = 5,
                           .bars_unobserved = 1,
                           .bars_forced = 2,
                           .held_released = 9,
                           .held_expired = 3});

  const std::vector<Sample> s = Scrape(metrics_);
  EXPECT_THAT(Find(s, "reverb_beats_total", {{"outcome", "opened"}}),
              Optional(1.0));
  EXPECT_THAT(Find(s, "reverb_beats_total", {{"outcome", "beat"}}),
              Optional(2.0));
  EXPECT_THAT(Find(s, "reverb_beats_total", {{"outcome", "wrong_cluster"}}),
              Optional(1.0));
  EXPECT_THAT(Find(s, "reverb_beats_total", {{"outcome", "duplicate"}}),
              Optional(0.0));
  EXPECT_THAT(Find(s, "reverb_bar_publish_failures_total"), Optional(1.0));
  EXPECT_THAT(Find(s, "reverb_bar_unconfirmed_flushes_total"), Optional(1.0));
  EXPECT_THAT(Find(s, "reverb_nats_connected"), Optional(1.0));
  EXPECT_THAT(Find(s, "reverb_nats_dropped_messages_total"), Optional(40.0));
  EXPECT_THAT(Find(s, "reverb_nats_reconnects_total"), Optional(1.0));
  EXPECT_THAT(Find(s, "reverb_dead_letters_total"), Optional(2.0));
  EXPECT_THAT(Find(s, "reverb_engine_bars_closed_total"), Optional(5.0));
  EXPECT_THAT(Find(s, "reverb_engine_bars_unobserved_total"), Optional(1.0));
  EXPECT_THAT(Find(s, "reverb_engine_bars_forced_total"), Optional(2.0));
  EXPECT_THAT(Find(s, "reverb_engine_held_claims_released_total"),
              Optional(9.0));
  EXPECT_THAT(Find(s, "reverb_engine_held_claims_expired_total"),
              Optional(3.0));
}

TEST_F(MetricsTest, EveryReverbSeriesHasTheClusterLabelAndNoAgentIds) {
  metrics_.RecordBar(SampleReport(), 0.01);
  ops_test::HttpResponse r = HttpGet(metrics_.port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("agent-secret")));
  int reverb_series = 0;
  for (const Sample& sample : ParseExposition(r.body)) {
    if (sample.name.rfind("reverb_", 0) != 0) {
      continue;
    }
    ++reverb_series;
    EXPECT_EQ(sample.labels.count("cluster"), 1u) << sample.name;
    EXPECT_EQ(sample.labels.at("cluster"), "test-cluster") << sample.name;
  }
  EXPECT_GT(reverb_series, 40);
}

TEST_F(MetricsTest, PromtoolFindsTheScrapeClean) {
  metrics_.RecordBar(SampleReport(), 0.002);
  metrics_.RecordBar(SampleReport(), 0.004);
  metrics_.CountClaim(ClaimOutcome::kHeld);
  metrics_.ObserveClaimSeconds(4e-5);
  metrics_.MarkBeatSeen(absl::Now());
  ops_test::HttpResponse r = HttpGet(metrics_.port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  std::string output;
  EXPECT_EQ(ops_test::RunWithInput("promtool check metrics", r.body, &output),
            0)
      << output;
  EXPECT_EQ(output, "");
}

}  // namespace
}  // namespace backbeat::reverb
