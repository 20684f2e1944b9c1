// backbeat-sim as a program: determinism, validity of everything it sends,
// following a real Pulse, signals.
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/contract.h"
#include "gtest/gtest.h"
#include "tests/support/nats_client.h"
#include "tests/support/nats_server.h"
#include "tests/support/subprocess.h"

namespace backbeat {
namespace {

using test_support::ExitStatus;
using test_support::NatsServer;
using test_support::ReceivedMessage;
using test_support::Subprocess;
using test_support::SubprocessOptions;
using test_support::TestNatsClient;

const std::string kSim = std::string(BACKBEAT_BIN_DIR) + "/backbeat-sim";

std::unique_ptr<Subprocess> StartSim(std::vector<std::string> args) {
  SubprocessOptions options;
  options.argv = {kSim};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  auto sim = Subprocess::Start(options);
  EXPECT_TRUE(sim.ok()) << sim.status();
  return sim.ok() ? *std::move(sim) : nullptr;
}

// Runs the simulator to completion; returns its exit status.
ExitStatus RunSim(Subprocess& sim) {
  absl::StatusOr<ExitStatus> status = sim.Wait(absl::Seconds(60));
  EXPECT_TRUE(status.ok()) << status.status() << sim.ReadStderr();
  return status.ok() ? *status : ExitStatus{};
}

std::vector<ReceivedMessage> DryRun(std::vector<std::string> args) {
  args.push_back("--dry_run");
  std::unique_ptr<Subprocess> sim = StartSim(args);
  if (sim == nullptr) {
    return {};
  }
  EXPECT_TRUE(RunSim(*sim).Success()) << sim->ReadStderr();
  std::vector<ReceivedMessage> out;
  for (absl::string_view line :
       absl::StrSplit(sim->ReadStdout(), '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> parts =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    out.push_back({parts.first, parts.second});
  }
  return out;
}

// Parses every message and checks it matches its subject's type.
std::vector<Message> ParseAll(const std::vector<ReceivedMessage>& messages,
                              const std::string& cluster) {
  std::vector<Message> parsed;
  for (const ReceivedMessage& m : messages) {
    absl::StatusOr<Message> message = Contract::Builtin().Parse(m.data);
    EXPECT_TRUE(message.ok()) << message.status() << ": " << m.data;
    if (!message.ok()) {
      continue;
    }
    MessageType expected = m.subject == "backbeat." + cluster + ".beat"
                               ? MessageType::kBeatFrame
                               : MessageType::kStatusClaim;
    EXPECT_TRUE(m.subject == "backbeat." + cluster + ".beat" ||
                m.subject == "backbeat." + cluster + ".status")
        << m.subject;
    EXPECT_EQ(TypeOf(*message), expected) << m.data;
    parsed.push_back(*std::move(message));
  }
  return parsed;
}

int CountFrames(const std::vector<Message>& messages) {
  int frames = 0;
  for (const Message& m : messages) {
    frames += std::holds_alternative<BeatFrame>(m) ? 1 : 0;
  }
  return frames;
}

TEST(SimTest, DryRunIsDeterministicPerSeed) {
  std::vector<std::string> args = {"--agents=30", "--bars=3", "--seed=7",
                                   "--jitter_ms=20", "--drift_ms=5"};
  std::vector<ReceivedMessage> first = DryRun(args);
  std::vector<ReceivedMessage> second = DryRun(args);
  args[2] = "--seed=8";
  std::vector<ReceivedMessage> other = DryRun(args);

  ASSERT_GT(first.size(), 100u);
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) {
    ASSERT_EQ(first[i].subject, second[i].subject) << i;
    ASSERT_EQ(first[i].data, second[i].data) << i;
  }
  bool differs = first.size() != other.size();
  for (size_t i = 0; !differs && i < first.size(); ++i) {
    differs = first[i].data != other[i].data;
  }
  EXPECT_TRUE(differs);
}

TEST(SimTest, DryRunSendsValidBarsOfFrames) {
  std::vector<ReceivedMessage> messages =
      DryRun({"--agents=25", "--bars=2", "--beats_per_bar=3",
              "--cluster_id=dry", "--start_beat=30"});
  std::vector<Message> parsed = ParseAll(messages, "dry");
  ASSERT_EQ(parsed.size(), messages.size());
  ASSERT_EQ(CountFrames(parsed), 7);  // Two bars and the closing downbeat.

  std::vector<BeatFrame> frames;
  for (const Message& m : parsed) {
    if (const BeatFrame* frame = std::get_if<BeatFrame>(&m)) {
      frames.push_back(*frame);
    }
  }
  for (size_t i = 0; i < frames.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(frames[i].beat_index, 30 + static_cast<int64_t>(i));
    EXPECT_EQ(frames[i].downbeat, i % 3 == 0);
    EXPECT_EQ(frames[i].window_id, frames[i - i % 3].window_id);
    EXPECT_EQ(frames[i].cluster_id, "dry");
  }
  EXPECT_NE(frames[0].window_id, frames[3].window_id);
  EXPECT_NE(frames[3].window_id, frames[6].window_id);
}

TEST(SimTest, PulseOnlySendsNoClaims) {
  std::vector<ReceivedMessage> messages =
      DryRun({"--pulse_only", "--bars=2", "--cluster_id=p"});
  std::vector<Message> parsed = ParseAll(messages, "p");
  EXPECT_EQ(parsed.size(), 9u);
  EXPECT_EQ(CountFrames(parsed), 9);
}

// Blanks what depends on the wall clock, to compare a live run with a dry
// one.
std::vector<Message> WithoutDeadlines(std::vector<Message> messages) {
  for (Message& m : messages) {
    if (BeatFrame* frame = std::get_if<BeatFrame>(&m)) {
      frame->deadline_at.clear();
    }
  }
  return messages;
}

TEST(SimTest, LiveRunSendsValidMessagesAsTheDryRunSays) {
  auto server = NatsServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = TestNatsClient::Connect((*server)->url());
  ASSERT_TRUE(client.ok()) << client.status();
  auto inbox = (*client)->Subscribe("backbeat.live.>");
  ASSERT_TRUE(inbox.ok()) << inbox.status();

  std::vector<std::string> args = {"--cluster_id=live", "--agents=20",
                                   "--bars=2",          "--tempo_bpm=600",
                                   "--jitter_ms=10",    "--seed=3"};
  std::vector<std::string> live_args = args;
  live_args.push_back("--nats_url=" + (*server)->url());
  std::unique_ptr<Subprocess> sim = StartSim(live_args);
  ASSERT_NE(sim, nullptr);
  ExitStatus exit = RunSim(*sim);
  EXPECT_TRUE(exit.Success()) << exit.ToString() << sim->ReadStderr();
  std::vector<ReceivedMessage> expected = DryRun(args);
  std::vector<ReceivedMessage> got =
      (*inbox)->WaitFor(expected.size(), absl::Seconds(10));

  std::vector<Message> live = ParseAll(got, "live");
  ASSERT_EQ(live.size(), got.size());
  EXPECT_EQ(CountFrames(live), 9);
  EXPECT_EQ(WithoutDeadlines(live),
            WithoutDeadlines(ParseAll(expected, "live")));
  EXPECT_TRUE(absl::StrContains(sim->ReadStderr(), "bar 2: window"))
      << sim->ReadStderr();
}

TEST(SimTest, AgentsFollowARealPulse) {
  auto server = NatsServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = TestNatsClient::Connect((*server)->url());
  ASSERT_TRUE(client.ok()) << client.status();
  auto inbox = (*client)->Subscribe("backbeat.follow.status");
  ASSERT_TRUE(inbox.ok()) << inbox.status();
  std::string url = "--nats_url=" + (*server)->url();

  // The agents subscribe first, then a Pulse plays three bars; the agents
  // answer the first two and stop at the downbeat that closes the second.
  std::unique_ptr<Subprocess> agents = StartSim(
      {url, "--cluster_id=follow", "--agents_only", "--agents=10", "--bars=2"});
  ASSERT_NE(agents, nullptr);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!absl::StrContains(agents->ReadStderr(), "follow: waiting") &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(absl::StrContains(agents->ReadStderr(), "follow: waiting"));
  std::unique_ptr<Subprocess> pulse =
      StartSim({url, "--cluster_id=follow", "--pulse_only", "--bars=3",
                "--tempo_bpm=600"});
  ASSERT_NE(pulse, nullptr);
  EXPECT_TRUE(RunSim(*pulse).Success()) << pulse->ReadStderr();
  ExitStatus exit = RunSim(*agents);
  EXPECT_TRUE(exit.Success()) << exit.ToString() << agents->ReadStderr();

  std::vector<ReceivedMessage> got = (*inbox)->Drain(absl::Milliseconds(300));
  std::vector<Message> claims = ParseAll(got, "follow");
  ASSERT_FALSE(claims.empty());
  int64_t lowest = INT64_MAX, highest = -1;
  for (const Message& m : claims) {
    const StatusClaim& claim = std::get<StatusClaim>(m);
    lowest = std::min(lowest, claim.beat_index);
    highest = std::max(highest, claim.beat_index);
  }
  EXPECT_EQ(lowest, 0);   // The pulse's first downbeat.
  EXPECT_EQ(highest, 7);  // The last beat of the second bar.
  EXPECT_TRUE(absl::StrContains(agents->ReadStderr(), "bar 2: window"));
}

TEST(SimTest, SignalStopsItCleanly) {
  auto server = NatsServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<Subprocess> sim =
      StartSim({"--nats_url=" + (*server)->url(), "--tempo_bpm=1200"});
  ASSERT_NE(sim, nullptr);
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!absl::StrContains(sim->ReadStderr(), "bar 1:") &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(absl::StrContains(sim->ReadStderr(), "bar 1:"))
      << sim->ReadStderr();
  ASSERT_TRUE(sim->Terminate(SIGTERM).ok());
  absl::StatusOr<ExitStatus> exit = sim->Wait(absl::Seconds(5));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->Success()) << exit->ToString();
}

TEST(SimTest, BadFlagsExitWithUsageError) {
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"--mix=lazy:1"},
                                             {"--tempo_bpm=0"},
                                             {"--beats_per_bar=0"},
                                             {"--cluster_id=a.b"},
                                             {"--agents_only", "--pulse_only"},
                                             {"--dry_run"}}) {
    SCOPED_TRACE(args[0]);
    std::unique_ptr<Subprocess> sim = StartSim(args);
    ASSERT_NE(sim, nullptr);
    ExitStatus exit = RunSim(*sim);
    EXPECT_TRUE(exit.exited);
    EXPECT_EQ(exit.code, 2) << sim->ReadStderr();
  }
}

TEST(SimTest, UnreachableServerFails) {
  std::unique_ptr<Subprocess> sim =
      StartSim({"--nats_url=nats://127.0.0.1:1", "--bars=1"});
  ASSERT_NE(sim, nullptr);
  ExitStatus exit = RunSim(*sim);
  EXPECT_TRUE(exit.exited);
  EXPECT_EQ(exit.code, 1);
}

}  // namespace
}  // namespace backbeat
