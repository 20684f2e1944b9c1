// One bar with a million distinct agents (fewer under sanitizers): the
// figures must be exact; the heap it took per agent and the time to seal
// and build the report are printed for the record, never asserted.
#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

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

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
// Live and peak bytes obtained through operator new, to see the peak inside
// a seal.
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};

void CountAlloc(void* p) {
  const int64_t live =
      g_live.fetch_add(static_cast<int64_t>(malloc_usable_size(p))) +
      static_cast<int64_t>(malloc_usable_size(p));
  int64_t peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
}
#endif

// A field of /proc/self/status in bytes ("VmRSS", "VmHWM"), or 0.
[[maybe_unused]] int64_t ProcStatusBytes(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) {
    return 0;
  }
  char line[256];
  int64_t kb = 0;
  const size_t len = std::strlen(field);
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, field, len) == 0 && line[len] == ':') {
      kb = std::atoll(line + len + 1);
    }
  }
  std::fclose(f);
  return kb * 1024;
}

// Restarts VmHWM from the current RSS (Linux's clear_refs).
[[maybe_unused]] void ResetPeakRss() {
  if (std::FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
    std::fputs("5", f);
    std::fclose(f);
  }
}

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

// Bars in a row, each with every agent through both shards: what stays
// resident (the open bar's shards, the previous bar's roll) and the peak
// while sealing, per agent.
TEST(EngineScaleTest, SteadyBarsPeakHeapPerAgent) {
  constexpr int kBars = 4;
  Engine engine(testing::Sharded(kShards));
  Play(engine, 0, 3);
  std::vector<std::string> ids;
  for (int i = 0; i < kAgents; ++i) {
    ids.push_back(absl::StrFormat("agent-%07d", i));
  }
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  const int64_t base = g_live.load();
  g_peak.store(base);
  ResetPeakRss();
  const int64_t rss_base = ProcStatusBytes("VmRSS");
#else
  [[maybe_unused]] const int64_t base = 0;
#endif
  for (int bar = 0; bar < kBars; ++bar) {
    const int64_t beat = 4 * bar;
    for (int i = 0; i < kAgents; ++i) {
      // Every seventh agent sits out odd bars: some are silent.
      if (bar % 2 == 1 && i % 7 == 0) {
        continue;
      }
      engine.OnClaim(0, Claim(ids[i], beat + 1), BeatTime(beat + 1));
      engine.OnClaim(1, Claim(ids[i], beat + 2, ClaimState::kReviewing),
                     BeatTime(beat + 2));
    }
    Play(engine, beat + 4, beat + 7);
    auto closed = engine.Poll(BeatTime(beat + 7));
    ASSERT_EQ(closed.size(), 1u);
    const Issue* silent = FindIssue(closed[0].report, "agents_silent");
    if (bar % 2 == 1) {
      ASSERT_NE(silent, nullptr);
      EXPECT_EQ(silent->count, (kAgents + 6) / 7);
      EXPECT_EQ(silent->agents.front(), "agent-0000000");
      EXPECT_EQ(silent->agents.back(), "agent-0000063");
    } else {
      EXPECT_EQ(silent, nullptr);
    }
  }
  engine.Settle();  // The last bar's roll is built after its report.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  const double resident = static_cast<double>(g_live.load() - base) / kAgents;
  const double peak = static_cast<double>(g_peak.load() - base) / kAgents;
  std::printf(
      "steady: %d agents x %d shards, %d bars: peak %.1f heap bytes per "
      "agent, %.1f still held after the last seal\n",
      kAgents, kShards, kBars, peak, resident);
  std::printf(
      "steady: peak RSS %.1f bytes per agent over the start\n",
      static_cast<double>(ProcStatusBytes("VmHWM") - rss_base) / kAgents);
#endif
}

}  // namespace
}  // namespace backbeat::reverb

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
void* operator new(size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) {
    throw std::bad_alloc();
  }
  backbeat::reverb::CountAlloc(p);
  return p;
}
void operator delete(void* p) noexcept {
  if (p == nullptr) {
    return;
  }
  backbeat::reverb::g_live.fetch_sub(
      static_cast<int64_t>(malloc_usable_size(p)));
  std::free(p);
}
void operator delete(void* p, size_t) noexcept { operator delete(p); }
#endif
