// Per-StatusClaim cost of reading a message, side by side: RapidJSON parse
// alone, RapidJSON parse plus its generic SchemaValidator, and the contract
// library's ParseStatusClaim (parse, checks and typed value).
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/contract.h"
#include "rapidjson/document.h"
#include "rapidjson/schema.h"

namespace backbeat {
namespace {

// A few distinct claims of about 250 bytes, so branch predictors and
// caches see some variety.
std::vector<std::string> Claims() {
  std::vector<std::string> claims;
  const char* states[] = {"executing", "reviewing", "completed", "helping"};
  for (int i = 0; i < 64; ++i) {
    claims.push_back(
        std::string(
            R"({"type":"backbeat.statusclaim.v1","agent_id":"search-indexer:worker-)") +
        std::to_string(i) + R"(","task_id":"index-batch:20250905-)" +
        std::to_string(100 + i) + R"(","beat_index":)" +
        std::to_string(1337 + i) + R"(,"state":")" + states[i % 4] +
        R"(","beats_left":3,"progress":0.65,)"
        R"("notes":"processing batch 120/200","hlc":"7ffd:0001:beef"})");
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
    if (!valid) state.SkipWithError("a claim failed validation");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RapidJsonParseAndSchemaValidator);

void BM_ContractParseStatusClaim(benchmark::State& state) {
  std::vector<std::string> claims = Claims();
  const Contract& contract = Contract::Builtin();
  size_t i = 0;
  for (auto _ : state) {
    auto claim = contract.ParseStatusClaim(claims[i++ % claims.size()]);
    if (!claim.ok()) state.SkipWithError("a claim failed validation");
    benchmark::DoNotOptimize(claim);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContractParseStatusClaim);

}  // namespace
}  // namespace backbeat

BENCHMARK_MAIN();
