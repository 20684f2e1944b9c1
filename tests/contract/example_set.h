// The examples of tests/examples and their expected verdicts, read from
// tests/contract/examples_manifest.json, for the contract tests.
#pragma once

#include <string>
#include <vector>

namespace backbeat::testing {

struct Example {
  std::string file;  // e.g. "statusclaim-invalid.json".
  size_t index = 0;  // Position in the file's array.
  std::string text;  // The message bytes.
  bool valid = false;
  std::string reason;              // RejectReasonName, for invalid ones.
  std::string error;               // Exact error message, for invalid ones.
  std::string rule;                // What the example exercises.
  bool rapidjson_accepts = false;  // RapidJSON's validator cannot judge.
  bool draft7_accepts = false;     // A draft-07 validator cannot judge.
};

// Loads every example; aborts the test binary if the files are unreadable.
std::vector<Example> LoadExamples();

// Source tree paths, set by CMake.
std::string ExamplesDir();
std::string SchemasDir();
std::string ReadFileOrDie(const std::string& path);

}  // namespace backbeat::testing
