// Conformance: every example gets its expected verdict and message, and the
// typed API behaves as contract.h promises.
#include "common/contract.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/contract/example_set.h"

namespace backbeat {
namespace {

using testing::LoadExamples;

ParseLimits Roomy() {
  ParseLimits limits;
  limits.max_bytes = 1 << 20;
  return limits;
}

void ExpectVerdicts(const Contract& contract) {
  std::vector<testing::Example> examples = LoadExamples();
  ASSERT_GT(examples.size(), 100u);
  for (const auto& e : examples) {
    SCOPED_TRACE(e.file + "#" + std::to_string(e.index) + " " + e.rule);
    auto parsed = contract.Parse(e.text, Roomy());
    EXPECT_EQ(parsed.ok(), e.valid) << parsed.status();
    if (!e.valid && !parsed.ok()) {
      EXPECT_EQ(parsed.status().message(), e.error);
      EXPECT_EQ(RejectReasonName(RejectReasonOf(parsed.status())), e.reason);
    }
  }
}

TEST(ContractTest, BuiltinGivesEveryExampleItsVerdictAndMessage) {
  ExpectVerdicts(Contract::Builtin());
}

TEST(ContractTest, SchemasLoadedFromDirectoryAgreeWithBuiltin) {
  auto contract = Contract::LoadFromDirectory(testing::SchemasDir());
  ASSERT_TRUE(contract.ok()) << contract.status();
  ExpectVerdicts(**contract);
}

TEST(ContractTest, ValidExamplesRoundTripThroughSerialize) {
  for (const auto& e : LoadExamples()) {
    if (!e.valid) {
      continue;
    }
    SCOPED_TRACE(e.file + "#" + std::to_string(e.index));
    auto first = Contract::Builtin().Parse(e.text, Roomy());
    ASSERT_TRUE(first.ok()) << first.status();
    std::string json = Serialize(*first);
    auto second = Contract::Builtin().Parse(json, Roomy());
    ASSERT_TRUE(second.ok()) << second.status() << " in " << json;
    EXPECT_EQ(*first, *second);
    EXPECT_EQ(Serialize(*second), json);
    EXPECT_TRUE(Contract::Builtin().Check(*first).ok());
  }
}

constexpr char kSeedClaim[] =
    R"({"type":"backbeat.statusclaim.v1",)"
    R"("agent_id":"search-indexer:worker-03",)"
    R"("task_id":"index-batch:20250905-120","beat_index":1337,)"
    R"("state":"executing","beats_left":3,"progress":0.65,)"
    R"("notes":"processing batch 120/200","hlc":"7ffd:0001:beef"})";
constexpr char kSeedFrame[] =
    R"({"type":"backbeat.beatframe.v1","cluster_id":"chorus-prod",)"
    R"("beat_index":1337,"downbeat":false,"phase":"execute",)"
    R"("hlc":"7ffd:0001:abcd","deadline_at":"2025-09-05T12:30:00Z",)"
    R"("tempo_bpm":2.0,"window_id":"7e9b0e6c4c9a4e59b7f2d9a3c1b2e4d5"})";

TEST(ContractTest, SeedClaimReadsIntoTypedFields) {
  auto claim = Contract::Builtin().ParseStatusClaim(kSeedClaim);
  ASSERT_TRUE(claim.ok()) << claim.status();
  EXPECT_EQ(claim->agent_id, "search-indexer:worker-03");
  EXPECT_EQ(claim->task_id, "index-batch:20250905-120");
  EXPECT_EQ(claim->beat_index, 1337);
  EXPECT_EQ(claim->state, ClaimState::kExecuting);
  EXPECT_EQ(claim->beats_left, 3);
  EXPECT_EQ(claim->progress, 0.65);
  EXPECT_EQ(claim->notes, "processing batch 120/200");
  EXPECT_EQ(claim->hlc, "7ffd:0001:beef");
}

TEST(ContractTest, SeedFrameReadsIntoTypedFields) {
  auto frame = Contract::Builtin().ParseBeatFrame(kSeedFrame);
  ASSERT_TRUE(frame.ok()) << frame.status();
  EXPECT_EQ(frame->cluster_id, "chorus-prod");
  EXPECT_EQ(frame->phase, Phase::kExecute);
  EXPECT_FALSE(frame->downbeat);
  EXPECT_EQ(frame->tempo_bpm, 2.0);
  EXPECT_EQ(frame->window_id, "7e9b0e6c4c9a4e59b7f2d9a3c1b2e4d5");
}

TEST(ContractTest, ValidMessageOfAnotherTypeIsWrongType) {
  auto claim = Contract::Builtin().ParseStatusClaim(kSeedFrame);
  ASSERT_FALSE(claim.ok());
  EXPECT_EQ(RejectReasonOf(claim.status()), RejectReason::kWrongType);
  auto report = Contract::Builtin().ParseBarReport(kSeedClaim);
  EXPECT_EQ(RejectReasonOf(report.status()), RejectReason::kWrongType);
}

TEST(ContractTest, InvalidMessageOfAnotherTypeIsASchemaError) {
  std::string frame = kSeedFrame;
  frame.replace(frame.find("execute"), 7, "nothing");
  auto claim = Contract::Builtin().ParseStatusClaim(frame);
  ASSERT_FALSE(claim.ok());
  EXPECT_EQ(RejectReasonOf(claim.status()), RejectReason::kSchema);
  EXPECT_EQ(claim.status().message(),
            "phase must be one of: plan, execute, review");
}

TEST(ContractTest, CheckAppliesCodeRulesToBuiltReports) {
  BarReport report;
  report.window_id = "7e9b0e6c4c9a4e59b7f2d9a3c1b2e4d5";
  report.from_beat = 8;
  report.to_beat = 15;
  EXPECT_TRUE(Contract::Builtin().Check(report).ok());
  report.tempo_drift_ms = std::nan("");
  EXPECT_EQ(Contract::Builtin().Check(report).message(),
            "tempo_drift_ms must be finite");
  report.tempo_drift_ms = 0;
  report.to_beat = 7;
  EXPECT_EQ(Contract::Builtin().Check(report).message(),
            "to_beat must be at least from_beat");
  report.to_beat = 15;
  report.issues.push_back({"Bad Kind", Severity::kInfo, 1, "", {}});
  EXPECT_EQ(Contract::Builtin().Check(report).message(),
            "issues[0].kind must be 1-64 characters of a-z, 0-9 or _, "
            "starting with a letter");
}

TEST(ContractTest, CheckRejectsNonFiniteTempo) {
  BeatFrame frame;
  frame.cluster_id = "c";
  frame.hlc = "0000:0000:0000";
  frame.deadline_at = "2025-09-05T12:30:00Z";
  frame.window_id = "7e9b0e6c4c9a4e59b7f2d9a3c1b2e4d5";
  frame.tempo_bpm = INFINITY;
  EXPECT_EQ(Contract::Builtin().Check(frame).message(),
            "tempo_bpm must be finite");
  frame.tempo_bpm = 2;
  EXPECT_TRUE(Contract::Builtin().Check(frame).ok());
}

TEST(ContractTest, SerializeKeepsDoublesAndEscapesExactly) {
  StatusClaim claim;
  claim.agent_id = std::string("a\0b\"\n", 5);
  claim.hlc = "0000:0000:0000";
  claim.progress = 0.1 + 0.2;
  claim.notes = "\xc3\xa9";
  auto back = Contract::Builtin().ParseStatusClaim(Serialize(claim));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, claim);
  BarReport report;
  report.window_id = std::string(32, 'a');
  report.tempo_drift_ms = 123456789012345678901.0;
  auto report_back = Contract::Builtin().ParseBarReport(Serialize(report));
  ASSERT_TRUE(report_back.ok()) << report_back.status();
  EXPECT_EQ(report_back->tempo_drift_ms, report.tempo_drift_ms);
}

TEST(ContractTest, LoadingFailsOnUnimplementedKeyword) {
  std::string dir =
      ::testing::TempDir() + "/schemas_with_oneof_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  for (const char* name :
       {"beatframe-v1.schema.json", "statusclaim-v1.schema.json",
        "barreport-v1.schema.json"}) {
    std::string text =
        testing::ReadFileOrDie(testing::SchemasDir() + "/" + name);
    if (std::string(name).rfind("statusclaim", 0) == 0) {
      text.replace(text.find("\"minLength\": 1"), 14,
                   "\"minLength\": 1, \"uniqueItems\": true");
    }
    std::ofstream(dir + "/" + name) << text;
  }
  auto contract = Contract::LoadFromDirectory(dir);
  ASSERT_FALSE(contract.ok());
  EXPECT_NE(contract.status().message().find("uniqueItems"),
            absl::string_view::npos)
      << contract.status();
}

TEST(ContractTest, LoadingFailsOnMissingDirectory) {
  auto contract = Contract::LoadFromDirectory("/nonexistent/schemas");
  EXPECT_FALSE(contract.ok());
}

}  // namespace
}  // namespace backbeat
