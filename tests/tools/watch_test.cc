// backbeat-watch as a program, against a real nats-server.
#include <cstdio>
#include <fstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/contract.h"
#include "gtest/gtest.h"
#include "tests/support/nats_client.h"
#include "tests/support/nats_server.h"
#include "tests/support/subprocess.h"
#include "tools/watch_format.h"

namespace backbeat {
namespace {

using test_support::ExitStatus;
using test_support::NatsServer;
using test_support::Subprocess;
using test_support::SubprocessOptions;
using test_support::TestNatsClient;

const std::string kWatch = std::string(BACKBEAT_BIN_DIR) + "/backbeat-watch";

BarReport SampleReport() {
  BarReport report;
  report.window_id = "7e9b0e6c4c9a4e59b7f2d9a3c1b2e4d5";
  report.from_beat = 240;
  report.to_beat = 243;
  report.agents_reporting = 60;
  report.on_time_reviews = 41;
  report.help_promises_fulfilled = 6;
  report.tempo_drift_ms = 3.14;
  Issue failed;
  failed.kind = "agents_failed";
  failed.severity = Severity::kWarning;
  failed.count = 6;
  failed.detail = "6 agents failed";
  failed.agents = {"a", "b"};
  Issue missed;
  missed.kind = "missed_reviews";
  missed.count = 13;
  missed.detail = "13 reviews after the boundary";
  report.issues = {failed, missed};
  return report;
}

TEST(SummarizeTest, OneLineWithFiguresAndIssues) {
  BarReport report = SampleReport();
  EXPECT_EQ(watch::Summarize(report),
            "window 7e9b0e6c4c9a4e59b7f2d9a3c1b2e4d5 beats 240-243 agents 60 "
            "on-time 41 help 6 drift +3.1ms issues agents_failed:6 "
            "missed_reviews:13");
  report.issues.clear();
  report.secret_rotations_ok = false;
  report.tempo_drift_ms = -12.25;
  EXPECT_TRUE(absl::StrContains(watch::Summarize(report),
                                "drift -12.2ms rotations FAILED issues none"))
      << watch::Summarize(report);
}

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = NatsServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto client = TestNatsClient::Connect(server_->url());
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  // Starts the watcher and waits until it has subscribed.
  std::unique_ptr<Subprocess> StartWatch(std::vector<std::string> args) {
    SubprocessOptions options;
    options.argv = {kWatch, "--nats_url=" + server_->url()};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    auto watch = Subprocess::Start(options);
    EXPECT_TRUE(watch.ok()) << watch.status();
    if (!watch.ok()) {
      return nullptr;
    }
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!absl::StrContains((*watch)->ReadStderr(), "watching") &&
           (*watch)->Running() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_TRUE(absl::StrContains((*watch)->ReadStderr(), "watching"))
        << (*watch)->ReadStderr();
    return *std::move(watch);
  }

  ExitStatus Finish(Subprocess& watch) {
    absl::StatusOr<ExitStatus> exit = watch.Wait(absl::Seconds(30));
    EXPECT_TRUE(exit.ok()) << exit.status();
    return exit.ok() ? *exit : ExitStatus{};
  }

  std::unique_ptr<NatsServer> server_;
  std::unique_ptr<TestNatsClient> client_;
};

TEST_F(WatchTest, PrintsSummaryOfEachReport) {
  std::unique_ptr<Subprocess> watch =
      StartWatch({"--cluster_id=w", "--count=2", "--timeout=20s"});
  ASSERT_NE(watch, nullptr);
  BarReport report = SampleReport();
  ASSERT_TRUE(client_->Publish("backbeat.w.bar", Serialize(report)).ok());
  report.from_beat = 244;
  report.to_beat = 247;
  ASSERT_TRUE(client_->Publish("backbeat.w.bar", Serialize(report)).ok());
  ASSERT_TRUE(client_->Publish("backbeat.other.bar", "ignored").ok());

  ExitStatus exit = Finish(*watch);
  EXPECT_TRUE(exit.Success()) << exit.ToString() << watch->ReadStderr();
  std::string out = watch->ReadStdout();
  EXPECT_TRUE(absl::StrContains(out, "beats 240-243 agents 60 on-time 41"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "beats 244-247")) << out;
  EXPECT_TRUE(absl::StrContains(out, "agents_failed:6 missed_reviews:13"));
}

TEST_F(WatchTest, JsonPrintsTheReportAsReceived) {
  std::unique_ptr<Subprocess> watch = StartWatch(
      {"--subject=custom.reports", "--count=1", "--json", "--timeout=20s"});
  ASSERT_NE(watch, nullptr);
  std::string json = Serialize(SampleReport());
  ASSERT_TRUE(client_->Publish("custom.reports", json).ok());
  EXPECT_TRUE(Finish(*watch).Success()) << watch->ReadStderr();
  EXPECT_EQ(watch->ReadStdout(), json + "\n");
}

TEST_F(WatchTest, InvalidReportIsPrintedWithItsError) {
  std::unique_ptr<Subprocess> watch =
      StartWatch({"--count=2", "--timeout=20s"});
  ASSERT_NE(watch, nullptr);
  BarReport bad = SampleReport();
  std::string json = Serialize(bad);
  std::string wrong_id = json;
  wrong_id.replace(wrong_id.find("7e9b0e6c"), 8, "nothex!!");
  ASSERT_TRUE(client_->Publish("backbeat.local.bar", "not json").ok());
  ASSERT_TRUE(client_->Publish("backbeat.local.bar", wrong_id).ok());

  ExitStatus exit = Finish(*watch);
  EXPECT_TRUE(exit.exited);
  EXPECT_EQ(exit.code, 3);
  std::string out = watch->ReadStdout();
  EXPECT_TRUE(absl::StrContains(out, "invalid report: ")) << out;
  EXPECT_TRUE(absl::StrContains(out, "window_id")) << out;
  EXPECT_TRUE(absl::StrContains(watch->ReadStderr(), "2 reports, 2 invalid"));
}

TEST_F(WatchTest, TimeoutBeforeCountExitsOne) {
  std::unique_ptr<Subprocess> watch =
      StartWatch({"--count=2", "--timeout=300ms"});
  ASSERT_NE(watch, nullptr);
  ASSERT_TRUE(
      client_->Publish("backbeat.local.bar", Serialize(SampleReport())).ok());
  ExitStatus exit = Finish(*watch);
  EXPECT_TRUE(exit.exited);
  EXPECT_EQ(exit.code, 1) << watch->ReadStderr();
  EXPECT_TRUE(absl::StrContains(watch->ReadStderr(), "1 of 2 reports"));
}

// The NATS security flags are shared with Reverb; here they reach a server
// that wants a password. Connected, watch waits for reports until its
// timeout; refused, it says why at start.
TEST(WatchSecurityTest, PasswordComesFromAFile) {
  test_support::NatsServerOptions options;
  options.extra_args = {"--user", "watcher", "--pass", "s3cret"};
  auto server = NatsServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string good = ::testing::TempDir() + "watch-password";
  const std::string bad = ::testing::TempDir() + "watch-wrong";
  std::ofstream(good) << "s3cret\n";
  std::ofstream(bad) << "guess\n";

  auto run = [&](const std::string& file) {
    SubprocessOptions o;
    o.argv = {kWatch,
              "--nats_url=" + (*server)->url(),
              "--count=1",
              "--timeout=300ms",
              "--nats_user=watcher",
              "--nats_password_file=" + file};
    auto watch = Subprocess::Start(o);
    EXPECT_TRUE(watch.ok()) << watch.status();
    auto exit = (*watch)->Wait(absl::Seconds(30));
    EXPECT_TRUE(exit.ok()) << exit.status();
    return std::make_pair(exit.ok() ? exit->code : -1, (*watch)->ReadStderr());
  };
  auto [code, log] = run(good);
  EXPECT_EQ(code, 1) << log;
  EXPECT_TRUE(absl::StrContains(log, "timeout: 0 of 1 reports")) << log;
  std::tie(code, log) = run(bad);
  EXPECT_EQ(code, 1) << log;
  EXPECT_TRUE(absl::StrContains(log, "Authorization Violation")) << log;
  std::remove(good.c_str());
  std::remove(bad.c_str());
}

}  // namespace
}  // namespace backbeat
