#include <signal.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/nats_client.h"
#include "tests/support/nats_server.h"
#include "tests/support/ports.h"
#include "tests/support/subprocess.h"

namespace backbeat::test_support {
namespace {

bool ProcessExists(pid_t pid) { return kill(pid, 0) == 0; }

TEST(FreePortTest, ReturnsBindablePort) {
  absl::StatusOr<int> port = FreePort();
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_GT(*port, 0);
  EXPECT_LT(*port, 65536);
}

TEST(WaitForPortTest, TimesOutOnClosedPort) {
  absl::StatusOr<int> port = FreePort();
  ASSERT_TRUE(port.ok());
  absl::Status status = WaitForPort(*port, absl::Milliseconds(50));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(SubprocessTest, CapturesOutputAndExitCode) {
  SubprocessOptions options;
  options.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"};
  auto child = Subprocess::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  absl::StatusOr<ExitStatus> status = (*child)->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->exited);
  EXPECT_EQ(status->code, 3);
  EXPECT_FALSE(status->Success());
  EXPECT_EQ((*child)->ReadStdout(), "out\n");
  EXPECT_EQ((*child)->ReadStderr(), "err\n");
}

TEST(SubprocessTest, PassesEnvironmentAndWorkingDir) {
  SubprocessOptions options;
  options.argv = {"sh", "-c", "echo \"$BACKBEAT_PROBE\"; pwd"};
  options.env = {"BACKBEAT_PROBE=hello there"};
  options.working_dir = "/tmp";
  auto child = Subprocess::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->Wait(absl::Seconds(10)).ok());
  EXPECT_EQ((*child)->ReadStdout(), "hello there\n/tmp\n");
}

TEST(SubprocessTest, WritesOutputToFile) {
  std::string path =
      absl::StrCat(::testing::TempDir(), "/subprocess_file_", getpid());
  SubprocessOptions options;
  options.argv = {"echo", "to a file"};
  options.stdout_spec = OutputSpec::File(path);
  auto child = Subprocess::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE((*child)->Wait(absl::Seconds(10)).ok());
  EXPECT_EQ(ReadFileOrEmpty(path), "to a file\n");
  EXPECT_EQ((*child)->ReadStdout(), "");
  unlink(path.c_str());
}

TEST(SubprocessTest, MissingProgramFailsToStart) {
  SubprocessOptions options;
  options.argv = {"/nonexistent/backbeat-no-such-program"};
  auto child = Subprocess::Start(options);
  EXPECT_FALSE(child.ok());
  EXPECT_TRUE(absl::StrContains(child.status().message(), "cannot run"));
}

TEST(SubprocessTest, WaitTimesOutThenTerminateEndsIt) {
  SubprocessOptions options;
  options.argv = {"sleep", "30"};
  auto child = Subprocess::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_TRUE((*child)->Running());
  EXPECT_EQ((*child)->Wait(absl::Milliseconds(20)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE((*child)->Terminate(SIGTERM).ok());
  absl::StatusOr<ExitStatus> status = (*child)->Wait(absl::Seconds(10));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_FALSE(status->exited);
  EXPECT_EQ(status->signal, SIGTERM);
  EXPECT_EQ(status->ToString(), "signal 15");
  EXPECT_FALSE((*child)->Running());
}

TEST(SubprocessTest, DestructorKillsTheWholeGroup) {
  // The shell starts a grandchild and reports its pid.
  SubprocessOptions options;
  options.argv = {"sh", "-c", "sleep 30 & echo $!; wait"};
  auto child = Subprocess::Start(options);
  ASSERT_TRUE(child.ok()) << child.status();
  std::string out;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!absl::StrContains(out, "\n") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
    out = (*child)->ReadStdout();
  }
  pid_t child_pid = (*child)->pid();
  pid_t grandchild = std::stoi(out);
  ASSERT_TRUE(ProcessExists(grandchild));

  child->reset();

  EXPECT_FALSE(ProcessExists(child_pid));
  // The grandchild is reparented and reaped by init; give it a moment.
  deadline = absl::Now() + absl::Seconds(10);
  while (ProcessExists(grandchild) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_FALSE(ProcessExists(grandchild));
}

TEST(NatsServerTest, StartsPublishesAndDelivers) {
  auto server = NatsServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->url(),
            absl::StrCat("nats://127.0.0.1:", (*server)->port()));
  auto client = TestNatsClient::Connect((*server)->url());
  ASSERT_TRUE(client.ok()) << client.status();
  auto inbox = (*client)->Subscribe("probe.>");
  ASSERT_TRUE(inbox.ok()) << inbox.status();

  ASSERT_TRUE((*client)->Publish("probe.one", "first").ok());
  ASSERT_TRUE((*client)->Publish("other", "not for us").ok());
  ASSERT_TRUE((*client)->Publish("probe.two", std::string("a\0b", 3)).ok());
  std::vector<ReceivedMessage> got = (*inbox)->WaitFor(2, absl::Seconds(10));

  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].subject, "probe.one");
  EXPECT_EQ(got[0].data, "first");
  EXPECT_EQ(got[1].subject, "probe.two");
  EXPECT_EQ(got[1].data, std::string("a\0b", 3));
  EXPECT_EQ((*inbox)->Drain(absl::Milliseconds(50)).size(), 2u);
}

TEST(NatsServerTest, WaitForReturnsWhatArrivedOnTimeout) {
  auto server = NatsServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = TestNatsClient::Connect((*server)->url());
  ASSERT_TRUE(client.ok()) << client.status();
  auto inbox = (*client)->Subscribe("quiet");
  ASSERT_TRUE(inbox.ok());
  ASSERT_TRUE((*client)->Publish("quiet", "only one").ok());
  EXPECT_EQ((*inbox)->WaitFor(5, absl::Milliseconds(200)).size(), 1u);
}

TEST(NatsServerTest, StopAndRestartOnTheSamePort) {
  auto server = NatsServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  int port = (*server)->port();
  ASSERT_TRUE((*server)->Running());

  ASSERT_TRUE((*server)->Stop().ok());
  EXPECT_FALSE((*server)->Running());
  EXPECT_FALSE(TestNatsClient::Connect((*server)->url()).ok());

  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_EQ((*server)->port(), port);
  auto client = TestNatsClient::Connect((*server)->url());
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE((*client)->Flush().ok());
}

TEST(NatsServerTest, JetStreamUsesPrivateStore) {
  NatsServerOptions options;
  options.jetstream = true;
  auto server = NatsServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  std::string store = (*server)->store_dir();
  EXPECT_FALSE(store.empty());
  EXPECT_TRUE(absl::StrContains((*server)->Log(), "JetStream"));
  server->reset();
  EXPECT_NE(access(store.c_str(), F_OK), 0);  // Removed with the server.
}

TEST(NatsServerTest, DestructorLeavesNoProcess) {
  pid_t pid = 0;
  {
    auto server = NatsServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    // The server is the leader of its own group; find it through the log.
    std::string log = (*server)->Log();
    size_t open = log.find('[');
    ASSERT_NE(open, std::string::npos);
    pid = std::stoi(log.substr(open + 1));
    ASSERT_TRUE(ProcessExists(pid));
  }
  EXPECT_FALSE(ProcessExists(pid));
}

TEST(TestNatsClientTest, ConnectToClosedPortFails) {
  absl::StatusOr<int> port = FreePort();
  ASSERT_TRUE(port.ok());
  auto client =
      TestNatsClient::Connect(absl::StrCat("nats://127.0.0.1:", *port));
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace backbeat::test_support
