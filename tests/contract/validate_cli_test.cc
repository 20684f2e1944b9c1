// backbeat-validate end to end: runs the built binary and reads its output.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/program.h"
#include "rapidjson/document.h"
#include "tests/contract/example_set.h"

namespace backbeat {
namespace {

struct CliRun {
  int exit_code = -1;
  std::string out;
};

// Runs the validator with `args` (shell words), feeding `input` on stdin.
CliRun Validate(const std::string& args, const std::string& input = "") {
  // ctest runs each test as its own process, in parallel: one file pair
  // per process.
  std::string base = ::testing::TempDir() + "/cli_" + std::to_string(getpid());
  std::string in_path = base + "_stdin", out_path = base + "_stdout";
  std::ofstream(in_path, std::ios::binary) << input;
  std::string command = std::string(BACKBEAT_VALIDATE) + " " + args + " <" +
                        in_path + " >" + out_path + " 2>&1";
  int status = std::system(command.c_str());
  CliRun run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = testing::ReadFileOrDie(out_path);
  std::remove(in_path.c_str());
  std::remove(out_path.c_str());
  return run;
}

std::string Examples() { return testing::ExamplesDir(); }

TEST(ValidateCliTest, ValidFileExitsZeroAndPrintsOneLinePerMessage) {
  CliRun run =
      Validate("--file " + Examples() + "/statusclaim-valid.json --exit-code");
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_NE(run.out.find("statusclaim-valid.json#0 statusclaim valid\n"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("11 messages: 11 valid, 0 invalid"), std::string::npos)
      << run.out;
}

TEST(ValidateCliTest, InvalidFileExitsOneOnlyWithExitCode) {
  std::string file = "--file " + Examples() + "/beatframe-invalid.json";
  CliRun plain = Validate(file);
  EXPECT_EQ(plain.exit_code, 0);
  CliRun strict = Validate(file + " --exit-code");
  EXPECT_EQ(strict.exit_code, 1);
  EXPECT_NE(strict.out.find("#21 beatframe invalid (schema): hlc must match "
                            "pattern XXXX:XXXX:XXXX"),
            std::string::npos)
      << strict.out;
}

TEST(ValidateCliTest, QuietPrintsOnlyInvalidMessages) {
  CliRun run = Validate("--quiet --dir " + Examples());
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out.find(" valid\n"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(" invalid "), std::string::npos);
}

TEST(ValidateCliTest, JsonOutputListsEveryMessage) {
  CliRun run = Validate("--json --dir " + Examples() + " --schemas " +
                        testing::SchemasDir());
  ASSERT_EQ(run.exit_code, 0) << run.out;
  rapidjson::Document d;
  d.Parse(run.out.c_str());
  ASSERT_FALSE(d.HasParseError()) << run.out;
  EXPECT_FALSE(d["valid"].GetBool());
  EXPECT_EQ(d["total"].GetUint(), testing::LoadExamples().size());
  EXPECT_EQ(d["results"].Size(), d["total"].GetUint());
  const auto& first = d["results"][0];
  EXPECT_EQ(std::string(first["reason"].GetString()), "schema");
  EXPECT_EQ(std::string(first["error"].GetString()), "type field is required");
}

TEST(ValidateCliTest, StdinAcceptsOneMessageOrNdjson) {
  std::string claim =
      R"({"type":"backbeat.statusclaim.v1","agent_id":"a","beat_index":1,)"
      R"("state":"idle","hlc":"0000:0000:0000"})";
  CliRun one = Validate("--message - --exit-code", claim);
  EXPECT_EQ(one.exit_code, 0) << one.out;
  EXPECT_NE(one.out.find("-#0 statusclaim valid"), std::string::npos);
  CliRun lines = Validate("--message - --exit-code",
                          claim + "\n\n" + claim + "\n{\"type\":1}\n");
  EXPECT_EQ(lines.exit_code, 1) << lines.out;
  EXPECT_NE(lines.out.find("3 messages: 2 valid, 1 invalid"), std::string::npos)
      << lines.out;
}

TEST(ValidateCliTest, NdjsonFileIsOneMessagePerLine) {
  std::string path = ::testing::TempDir() + "/claims.ndjson";
  std::ofstream(path) << R"({"type":"backbeat.statusclaim.v1"})"
                      << "\n"
                      << "not json\n";
  CliRun run = Validate("--file " + path);
  EXPECT_NE(run.out.find("claims.ndjson#1 unknown invalid (malformed)"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("2 messages: 0 valid, 2 invalid"), std::string::npos);
}

TEST(ValidateCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Validate("--bogus").exit_code, 2);
  EXPECT_EQ(Validate("--file /nonexistent/x.json").exit_code, 2);
  EXPECT_EQ(Validate("--schemas /nonexistent --file " + Examples() +
                     "/beatframe-valid.json")
                .exit_code,
            2);
  EXPECT_EQ(Validate("").exit_code, 2);
  EXPECT_EQ(Validate("--message file.json").exit_code, 2);
  EXPECT_EQ(Validate("--file").exit_code, 2);
}

TEST(ValidateCliTest, HelpNamesEveryFlag) {
  CliRun run = Validate("--help");
  EXPECT_EQ(run.exit_code, 0);
  for (const char* flag :
       {"--schemas", "--file", "--dir", "--message -", "--json", "--quiet",
        "--exit-code", "--help", "--version"}) {
    EXPECT_NE(run.out.find(flag), std::string::npos) << flag;
  }
}

TEST(ValidateCliTest, VersionNamesTheProgramAndItsVersion) {
  CliRun run = Validate("--version");
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.out, absl::StrCat("backbeat-validate ", Version(), "\n"));
}

}  // namespace
}  // namespace backbeat
