// The reverb binary as an operator runs it: flags, signals, exit codes.
#include <signal.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/nats_server.h"
#include "tests/support/ports.h"
#include "tests/support/subprocess.h"

namespace backbeat::reverb {
namespace {

using test_support::NatsServer;
using test_support::Subprocess;
using test_support::SubprocessOptions;

std::unique_ptr<Subprocess> StartReverb(std::vector<std::string> args) {
  SubprocessOptions options;
  options.argv = {REVERB_BINARY};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  auto process = Subprocess::Start(options);
  EXPECT_TRUE(process.ok()) << process.status();
  return process.ok() ? *std::move(process) : nullptr;
}

// Waits until the log shows `text`; false after `timeout`.
bool WaitForLog(Subprocess& process, const std::string& text,
                absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (process.ReadStderr().find(text) != std::string::npos) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

TEST(LifecycleTest, SigtermDrainsAndExitsZero) {
  auto nats = NatsServer::Start();
  ASSERT_TRUE(nats.ok()) << nats.status();
  auto reverb = StartReverb(
      {"--nats_url=" + (*nats)->url(), "--metrics_address=127.0.0.1:0"});
  ASSERT_NE(reverb, nullptr);
  ASSERT_TRUE(WaitForLog(*reverb, "nats: subscribed", absl::Seconds(10)))
      << reverb->ReadStderr();

  ASSERT_TRUE(reverb->Terminate(SIGTERM).ok());
  auto exit = reverb->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->Success()) << exit->ToString() << reverb->ReadStderr();
  EXPECT_NE(reverb->ReadStderr().find("shutdown: done"), std::string::npos);
}

TEST(LifecycleTest, StartsBeforeNatsAndConnectsWhenItAppears) {
  auto nats = NatsServer::Start();
  ASSERT_TRUE(nats.ok()) << nats.status();
  ASSERT_TRUE((*nats)->Stop().ok());
  auto reverb = StartReverb(
      {"--nats_url=" + (*nats)->url(), "--metrics_address=127.0.0.1:0"});
  ASSERT_NE(reverb, nullptr);
  ASSERT_TRUE(WaitForLog(*reverb, "retrying", absl::Seconds(10)))
      << reverb->ReadStderr();

  ASSERT_TRUE((*nats)->Restart().ok());
  EXPECT_TRUE(WaitForLog(*reverb, "nats: connected", absl::Seconds(20)))
      << reverb->ReadStderr();
  ASSERT_TRUE(reverb->Terminate(SIGINT).ok());
  auto exit = reverb->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->Success()) << exit->ToString();
}

TEST(LifecycleTest, BadFlagsAreUsageErrors) {
  struct Case {
    std::string flag;
    std::string error;
  };
  const Case cases[] = {
      {"--grace=soon", "grace: not a duration"},
      {"--ingest_threads=0", "ingest_threads must be 1-64"},
      {"--max_message_bytes=10", "max_message_bytes must be between"},
      {"--tempo_drift_share=0", "tempo_drift_share must be positive"},
      {"--log_level=loud", "log_level must be"},
      {"--cluster_id=a.b", "cluster_id must be 1-64 characters"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flag);
    auto reverb = StartReverb({c.flag});
    ASSERT_NE(reverb, nullptr);
    auto exit = reverb->Wait(absl::Seconds(30));
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_TRUE(exit->exited);
    EXPECT_EQ(exit->code, 2);
    EXPECT_NE(reverb->ReadStderr().find(c.error), std::string::npos)
        << reverb->ReadStderr();
  }
}

TEST(LifecycleTest, BusyMetricsPortIsAClearError) {
  auto nats = NatsServer::Start();
  ASSERT_TRUE(nats.ok()) << nats.status();
  auto first = StartReverb(
      {"--nats_url=" + (*nats)->url(), "--metrics_address=127.0.0.1:0"});
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(WaitForLog(*first, "metrics: serving on", absl::Seconds(10)));
  std::string log = first->ReadStderr();
  size_t at = log.find("metrics: serving on 127.0.0.1:");
  ASSERT_NE(at, std::string::npos);
  std::string port = log.substr(at + 30, log.find('\n', at) - at - 30);

  auto second = StartReverb(
      {"--nats_url=" + (*nats)->url(), "--metrics_address=127.0.0.1:" + port});
  ASSERT_NE(second, nullptr);
  auto exit = second->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 1) << second->ReadStderr();
  EXPECT_NE(second->ReadStderr().find("start:"), std::string::npos);
}

}  // namespace
}  // namespace backbeat::reverb
