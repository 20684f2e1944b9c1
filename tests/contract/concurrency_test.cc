// Contract is immutable and may be used from many threads at once: the
// fast path's per-call buffers and the checker's per-thread regex state
// must not leak between threads. Run under TSan to see data races.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/contract.h"

namespace backbeat {
namespace {

constexpr int kThreads = 4;
constexpr int kRounds = 500;

// A valid claim for round `i`, with its own clock stamp and agent.
std::string Claim(int thread, int i) {
  char hlc[16];
  std::snprintf(hlc, sizeof(hlc), "%04x:%04x:beef", thread, i & 0xffff);
  return absl::StrCat(R"({"type":"backbeat.statusclaim.v1","agent_id":"a-)",
                      thread, R"(","beat_index":)", i,
                      R"(,"state":"executing","x":{"k":[1]},"hlc":")", hlc,
                      "\"}");
}

std::string Frame(int thread) {
  return absl::StrCat(
      R"({"type":"backbeat.beatframe.v1","cluster_id":"c)", thread,
      R"(","beat_index":1,"downbeat":true,"phase":"plan",)"
      R"("hlc":"0000:0000:0001","deadline_at":"2025-09-05T12:30:00Z",)"
      R"("tempo_bpm":120.0,"window_id":"7e9b0e6c4c9a4e59b7f2d9a3c1b2e4d5"})");
}

// Parses valid and invalid messages in turn; returns the number of results
// that were not as expected.
int Work(const Contract& contract, int thread) {
  int wrong = 0;
  for (int i = 0; i < kRounds; ++i) {
    auto claim = contract.ParseStatusClaim(Claim(thread, i));
    wrong += !claim.ok() || claim->beat_index != i ||
             claim->agent_id != absl::StrCat("a-", thread);
    std::string bad = Claim(thread, i);
    bad.replace(bad.find("beef"), 4, "bee!");
    auto rejected = contract.ParseStatusClaim(bad);
    wrong +=
        rejected.status().message() != "hlc must match pattern XXXX:XXXX:XXXX";
    auto frame = contract.ParseBeatFrame(Frame(thread + i % 2));
    wrong +=
        !frame.ok() || frame->cluster_id != absl::StrCat("c", thread + i % 2);
    wrong += contract.ParseBeatFrame(Claim(thread, i)).status().code() !=
             absl::StatusCode::kFailedPrecondition;
  }
  return wrong;
}

TEST(ConcurrencyTest, ThreadsShareOneContract) {
  const Contract& contract = Contract::Builtin();
  std::vector<int> wrong(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] { wrong[t] = Work(contract, t); });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(wrong[t], 0) << "thread " << t;
  }
}

}  // namespace
}  // namespace backbeat
