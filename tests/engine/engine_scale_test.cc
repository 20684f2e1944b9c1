// One bar with a million distinct agents (fewer under sanitizers): the
// figures must be exact; the heap it took per agent and the time to seal
// and build the report are printed for the record, never asserted.
#include <gtest/gtest.h>
#include <malloc.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "reverb/engine.h"
#include "tests/engine/engine_test_util.h"

namespace backbeat::reverb {
namespace {

using testing::BeatTime;
using testing::Claim;
using testing::FindIssue;
using testing::Frame;
using testing::Play;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kAgents = 100'000;
constexpr bool kHeapMeasured = false;  // The sanitizer owns the heap.
#else
constexpr int kAgents = 1'000'000;
constexpr bool kHeapMeasured = true;
#endif
constexpr int kShards = 2;

size_t HeapInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;  // Small blocks plus mmapped ones.
}

TEST(EngineScaleTest, MillionAgentsInOneBar) {
  Engine engine(testing::Sharded(kShards));
  Play(engine, 0, 3);
  const size_t heap_before = HeapInUse();

  // Every agent claims twice, through both shards; every tenth has failed.
  for (int i = 0; i < kAgents; ++i) {
    const std::string agent = absl::StrFormat("agent-%07d", i);
    const ClaimState last =
        i % 10 == 0 ? ClaimState::kFailed : ClaimState::kReviewing;
    engine.OnClaim(0, Claim(agent, 1), BeatTime(1));
    engine.OnClaim(1, Claim(agent, 2, last), BeatTime(2));
  }
  const size_t heap_loaded = HeapInUse();

  engine.OnBeat(Frame(4), BeatTime(4));
  const auto start = std::chrono::steady_clock::now();
  auto closed = engine.Flush();
  const auto elapsed = std::chrono::steady_clock::now() - start;

  ASSERT_EQ(closed.size(), 1u);
  const BarReport& report = closed[0].report;
  EXPECT_EQ(report.agents_reporting, kAgents);
  EXPECT_EQ(report.on_time_reviews, kAgents - kAgents / 10);
  const Issue* failed = FindIssue(report, "agents_failed");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->count, kAgents / 10);
  EXPECT_EQ(failed->agents.front(), "agent-0000000");
  EXPECT_EQ(failed->agents.back(), "agent-0000090");

  const double per_agent =
      static_cast<double>(heap_loaded - heap_before) / kAgents;
  const double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  if (kHeapMeasured) {
    std::printf(
        "scale: %d agents over %d shards: %.1f heap bytes per agent "
        "(all shards' copies)\n",
        kAgents, kShards, per_agent);
  }
  std::printf("scale: %d agents: seal + report %.1f ms\n", kAgents, ms);
  RecordProperty("heap_bytes_per_agent", static_cast<int>(per_agent));
  RecordProperty("seal_ms", static_cast<int>(ms));
}

}  // namespace
}  // namespace backbeat::reverb
