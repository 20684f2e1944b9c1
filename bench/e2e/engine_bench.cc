// Micro-benchmarks of the window engine without any transport: the cost of
// one claim on the ingest path (Engine::OnClaim, a shard update), of
// merging one bar's shards (AgentMap::Disjoin) and of sealing a bar
// (merging the shards and building the BarReport) at 10k, 100k and 1M
// agents. Parsing a claim is measured beside them for scale.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/e2e/bench_messages.h"
#include "common/contract.h"
#include "reverb/bar_aggregate.h"
#include "reverb/engine.h"

namespace backbeat::reverb {
namespace {

constexpr int kShards = 4;  // What two ingest threads use.
constexpr int kBeatsPerBar = 4;
constexpr Nanos kBeatNanos = 500'000'000;  // 120 bpm.
constexpr Nanos kGraceNanos = 100'000'000;

BeatFrame Frame(int64_t index) {
  BeatFrame frame;
  frame.cluster_id = "local";
  frame.beat_index = index;
  frame.downbeat = index % kBeatsPerBar == 0;
  frame.phase = Phase::kExecute;
  frame.hlc = "0000:0000:0001";
  frame.deadline_at = "2030-01-01T00:00:00Z";
  frame.tempo_bpm = 120;
  frame.window_id = bench::WindowId(index - index % kBeatsPerBar);
  return frame;
}

// Claims from `agents` distinct agents at `beat`, as the flood sends them.
std::vector<StatusClaim> Claims(int64_t agents, int64_t beat) {
  std::vector<StatusClaim> claims;
  claims.reserve(static_cast<size_t>(agents));
  std::string json;
  for (int64_t agent = 0; agent < agents; ++agent) {
    bench::StatusClaimJson(agent, beat, 0, &json);
    claims.push_back(*Contract::Builtin().ParseStatusClaim(json));
  }
  return claims;
}

EngineOptions Options() {
  EngineOptions options;
  options.grace = absl::Nanoseconds(kGraceNanos);
  options.shards = kShards;
  return options;
}

// A bar of `agents` agents receiving further claims: after the first pass
// every claim updates an agent the shard already tracks.
void BM_OnClaim(benchmark::State& state) {
  const int64_t agents = state.range(0);
  Engine engine(Options());
  engine.OnBeat(Frame(0), kBeatNanos);
  const std::vector<StatusClaim> claims = Claims(agents, 0);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(engine.OnClaim(0, claims[i], 2 * kBeatNanos));
    if (++i == claims.size()) {
      i = 0;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OnClaim)->Arg(10'000)->Arg(100'000)->Arg(1'000'000);

// Benchmarks over a whole bar of 10k, 100k and 1M agents: five bars each,
// timed in milliseconds.
void WholeBars(benchmark::internal::Benchmark* b) {
  b->Unit(benchmark::kMillisecond)
      ->Arg(10'000)
      ->Arg(100'000)
      ->Arg(1'000'000)
      ->Iterations(5);
}

// Merging a bar's shards: every agent claimed on two of the four shards
// (its claims were spread over ingest threads), and the maps made disjoint
// partition by partition, as the seal does before it counts. Loading the
// shards is not timed.
void BM_MergeShards(benchmark::State& state) {
  const int64_t agents = state.range(0);
  std::vector<std::string> ids(static_cast<size_t>(agents));
  for (int64_t agent = 0; agent < agents; ++agent) {
    ids[agent] = absl::StrFormat("agent-%07d", agent);
  }
  int64_t kept = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<AgentMap> shards(kShards);
    for (int64_t agent = 0; agent < agents; ++agent) {
      const ClaimState claimed = static_cast<ClaimState>(agent % 8);
      shards[agent % kShards].Add(ids[agent], 0, kBeatNanos, claimed);
      shards[(agent + 1) % kShards].Add(ids[agent], 1, 2 * kBeatNanos,
                                        ClaimState::kExecuting);
    }
    std::vector<AgentMap*> maps;
    for (AgentMap& shard : shards) {
      maps.push_back(&shard);
    }
    state.ResumeTiming();

    for (size_t p = 0; p < AgentMap::kPartitions; ++p) {
      AgentMap::Disjoin(maps, p);
    }

    state.PauseTiming();  // Freeing the shards is not timed either.
    for (const AgentMap& shard : shards) {
      kept += static_cast<int64_t>(shard.size());
    }
    shards.clear();
    state.ResumeTiming();
  }
  state.counters["agents_per_merge"] = benchmark::Counter(
      static_cast<double>(kept) / static_cast<double>(state.iterations()));
  state.SetItemsProcessed(state.iterations() * agents);
}
BENCHMARK(BM_MergeShards)->Apply(WholeBars);

// Sealing: the next downbeat arrives and the bar-closer polls after grace.
// Loading the bar (one claim per agent, spread over the shards) is not
// timed.
void BM_SealBar(benchmark::State& state) {
  const int64_t agents = state.range(0);
  Engine engine(Options());
  int64_t downbeat = 0;
  Nanos now = kBeatNanos;
  engine.OnBeat(Frame(downbeat), now);
  std::vector<StatusClaim> claims = Claims(agents, 0);
  int64_t reported = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (size_t i = 0; i < claims.size(); ++i) {
      claims[i].beat_index = downbeat;
      engine.OnClaim(static_cast<int>(i % kShards), claims[i], now);
    }
    downbeat += kBeatsPerBar;
    now += kBeatsPerBar * kBeatNanos;
    state.ResumeTiming();

    engine.OnBeat(Frame(downbeat), now);
    std::vector<ClosedBar> bars = engine.Poll(now + kGraceNanos);
    for (const ClosedBar& bar : bars) {
      reported += bar.report.agents_reporting;
    }
    benchmark::DoNotOptimize(bars);
  }
  state.counters["agents_per_report"] = benchmark::Counter(
      static_cast<double>(reported) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SealBar)->Apply(WholeBars);

// Parsing and validating one ~250-byte claim, for comparison.
void BM_ParseClaim(benchmark::State& state) {
  std::vector<std::string> texts(1024);
  for (size_t i = 0; i < texts.size(); ++i) {
    bench::StatusClaimJson(static_cast<int64_t>(i), 7, i, &texts[i]);
  }
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Contract::Builtin().ParseStatusClaim(texts[i]));
    i = (i + 1) % texts.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(texts[0].size()));
}
BENCHMARK(BM_ParseClaim);

}  // namespace
}  // namespace backbeat::reverb

BENCHMARK_MAIN();
