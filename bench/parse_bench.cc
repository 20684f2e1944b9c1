// Per-message cost of reading a StatusClaim, side by side: RapidJSON parse
// alone, RapidJSON parse plus its generic SchemaValidator, the contract
// library's DOM path (bounded document, checker, typed value) and its
// ParseStatusClaim (the streaming fast path); then a BeatFrame both ways.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/contract.h"
#include "rapidjson/document.h"
#include "rapidjson/schema.h"

namespace backbeat {
namespace {

// A clock stamp that differs from one message to the next, as real ones do.
std::string Hlc(int i) {
  char text[16];
  std::snprintf(text, sizeof(text), "7ffd:%04x:beef", 0x100 + i);
  return text;
}

// A few distinct claims of about 250 bytes, so branch predictors and
// caches see some variety.
std::vector<std::string> Claims() {
  std::vector<std::string> claims;
  const char* states[] = {"executing", "reviewing", "completed", "helping"};
  for (int i = 0; i < 64; ++i) {
    claims.push_back(
        std::string(R"({"type":"backbeat.statusclaim.v1",)"
                    R"("agent_id":"search-indexer:worker-)") +
        std::to_string(i) + R"(","task_id":"index-batch:20250905-)" +
        std::to_string(100 + i) + R"(","beat_index":)" +
        std::to_string(1337 + i) + R"(,"state":")" + states[i % 4] +
        R"(","beats_left":3,"progress":0.65,)"
        R"("notes":"processing batch 120/200","hlc":")" +
        Hlc(i) + R"("})");
  }
  return claims;
}

std::string SchemaText() {
  std::ifstream in(REVERB_SCHEMAS_DIR "/statusclaim-v1.schema.json");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void BM_RapidJsonParse(benchmark::State& state) {
  std::vector<std::string> claims = Claims();
  size_t i = 0;
  for (auto _ : state) {
    const std::string& c = claims[i++ % claims.size()];
    rapidjson::Document d;
    d.Parse(c.data(), c.size());
    benchmark::DoNotOptimize(d.IsObject());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RapidJsonParse);

void BM_RapidJsonParseAndSchemaValidator(benchmark::State& state) {
  std::vector<std::string> claims = Claims();
  rapidjson::Document schema_json;
  schema_json.Parse(SchemaText().c_str());
  rapidjson::SchemaDocument schema(schema_json);
  size_t i = 0;
  for (auto _ : state) {
    const std::string& c = claims[i++ % claims.size()];
    rapidjson::Document d;
    d.Parse(c.data(), c.size());
    rapidjson::SchemaValidator validator(schema);
    bool valid = d.Accept(validator);
    if (!valid) {
      state.SkipWithError("a claim failed validation");
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RapidJsonParseAndSchemaValidator);

void BM_ContractParseStatusClaimViaDom(benchmark::State& state) {
  std::vector<std::string> claims = Claims();
  const Contract& contract = Contract::Builtin();
  size_t i = 0;
  for (auto _ : state) {
    auto claim = contract.ParseStatusClaimViaDom(claims[i++ % claims.size()]);
    if (!claim.ok()) {
      state.SkipWithError("a claim failed validation");
    }
    benchmark::DoNotOptimize(claim);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContractParseStatusClaimViaDom);

void BM_ContractParseStatusClaim(benchmark::State& state) {
  std::vector<std::string> claims = Claims();
  const Contract& contract = Contract::Builtin();
  size_t i = 0;
  for (auto _ : state) {
    auto claim = contract.ParseStatusClaim(claims[i++ % claims.size()]);
    if (!claim.ok()) {
      state.SkipWithError("a claim failed validation");
    }
    benchmark::DoNotOptimize(claim);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContractParseStatusClaim);

// Frames as Pulse sends them, with varying beats and phases.
std::vector<std::string> Frames() {
  std::vector<std::string> frames;
  const char* phases[] = {"plan", "execute", "review"};
  for (int i = 0; i < 64; ++i) {
    frames.push_back(
        std::string(R"({"type":"backbeat.beatframe.v1","cluster_id":"chorus-)"
                    R"(prod","beat_index":)") +
        std::to_string(1000 + i) + R"(,"downbeat":)" +
        (i % 4 == 0 ? "true" : "false") + R"(,"phase":")" + phases[i % 3] +
        R"(","hlc":")" + Hlc(i) +
        R"(","deadline_at":"2025-09-05T12:30:00Z",)"
        R"("tempo_bpm":120.0,"window_id":"7e9b0e6c4c9a4e59b7f2d9a3c1b2e4d5"})");
  }
  return frames;
}

void BM_ContractParseBeatFrameViaDom(benchmark::State& state) {
  std::vector<std::string> frames = Frames();
  const Contract& contract = Contract::Builtin();
  size_t i = 0;
  for (auto _ : state) {
    auto frame = contract.ParseBeatFrameViaDom(frames[i++ % frames.size()]);
    if (!frame.ok()) {
      state.SkipWithError("a frame failed validation");
    }
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContractParseBeatFrameViaDom);

void BM_ContractParseBeatFrame(benchmark::State& state) {
  std::vector<std::string> frames = Frames();
  const Contract& contract = Contract::Builtin();
  size_t i = 0;
  for (auto _ : state) {
    auto frame = contract.ParseBeatFrame(frames[i++ % frames.size()]);
    if (!frame.ok()) {
      state.SkipWithError("a frame failed validation");
    }
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContractParseBeatFrame);

}  // namespace
}  // namespace backbeat

BENCHMARK_MAIN();
