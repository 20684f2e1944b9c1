// scripts/demo end to end: real nats-server, reverb, simulator and watcher.
#include <signal.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"

namespace backbeat {
namespace {

using test_support::ExitStatus;
using test_support::ReadFileOrEmpty;
using test_support::Subprocess;
using test_support::SubprocessOptions;

std::unique_ptr<Subprocess> StartDemo(std::vector<std::string> args) {
  SubprocessOptions options;
  options.argv = {std::string(BACKBEAT_SOURCE_DIR) + "/scripts/demo",
                  "--no-setup", "--build-dir",
                  std::filesystem::path(BACKBEAT_BIN_DIR).parent_path()};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  auto demo = Subprocess::Start(options);
  EXPECT_TRUE(demo.ok()) << demo.status();
  return demo.ok() ? *std::move(demo) : nullptr;
}

int CountReports(const std::string& out) {
  int reports = 0;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    reports += absl::StartsWith(line, "window ") ? 1 : 0;
  }
  return reports;
}

// The log directory the demo names on exit ("demo: stopped; logs in D").
std::string LogDir(const std::string& err) {
  const std::string marker = "stopped; logs in ";
  size_t at = err.rfind(marker);
  if (at == std::string::npos) {
    return "";
  }
  size_t end = err.find('\n', at);
  return err.substr(at + marker.size(), end - at - marker.size());
}

// Checks every process the demo recorded is gone, then removes the logs.
void ExpectNothingLeft(const std::string& logs) {
  ASSERT_FALSE(logs.empty());
  std::istringstream pids(ReadFileOrEmpty(logs + "/pids"));
  std::string name;
  pid_t pid = 0;
  int started = 0;
  while (pids >> name >> pid) {
    ++started;
    EXPECT_NE(kill(pid, 0), 0) << name << " (" << pid << ") still runs";
  }
  EXPECT_EQ(started, 4);  // nats-server, reverb, watcher, simulator.
  std::filesystem::remove_all(logs);
}

TEST(DemoTest, ShowsReportsThenStopsEverything) {
  std::unique_ptr<Subprocess> demo =
      StartDemo({"--bars", "2", "--agents", "20", "--tempo_bpm", "240"});
  ASSERT_NE(demo, nullptr);
  absl::StatusOr<ExitStatus> exit = demo->Wait(absl::Seconds(120));
  ASSERT_TRUE(exit.ok()) << exit.status() << demo->ReadStderr();
  EXPECT_TRUE(exit->Success()) << exit->ToString() << demo->ReadStderr();

  std::string out = demo->ReadStdout();
  std::string err = demo->ReadStderr();
  EXPECT_EQ(CountReports(out), 2) << out;
  EXPECT_TRUE(absl::StrContains(out, "agents 20")) << out;
  EXPECT_TRUE(absl::StrContains(err, "metrics at http://127.0.0.1:")) << err;
  std::string logs = LogDir(err);
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(logs + "/reverb.log"),
                                "metrics: serving on"));
  ExpectNothingLeft(logs);
}

TEST(DemoTest, InterruptStopsEverything) {
  std::unique_ptr<Subprocess> demo =
      StartDemo({"--agents", "10", "--tempo_bpm", "600"});
  ASSERT_NE(demo, nullptr);
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (CountReports(demo->ReadStdout()) < 1 && demo->Running() &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(CountReports(demo->ReadStdout()), 1) << demo->ReadStderr();

  // Like Ctrl-C in a terminal: SIGINT to the whole process group.
  ASSERT_TRUE(demo->Terminate(SIGINT).ok());
  absl::StatusOr<ExitStatus> exit = demo->Wait(absl::Seconds(60));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited) << exit->ToString();
  EXPECT_EQ(exit->code, 130) << demo->ReadStderr();
  ExpectNothingLeft(LogDir(demo->ReadStderr()));
}

}  // namespace
}  // namespace backbeat
