// backbeat-validate: checks BACKBEAT messages against the v1 contract.
//
// See docs/backbeat-validate.md for flags, output and exit codes.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/contract.h"
#include "common/program.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tools/validate_input.h"

namespace backbeat {
namespace {

constexpr char kUsage[] =
    R"(Usage: backbeat-validate [flags]

Checks BACKBEAT messages (BeatFrame, StatusClaim, BarReport v1) against the
contract. An input holds one message, a JSON array of messages, or one
message per line (NDJSON).

  --schemas DIR   schema directory (default: the schemas built in)
  --file F        validate file F (may repeat)
  --dir D         validate every .json, .ndjson and .jsonl file under D
  --message -     validate messages read from standard input
  --json          print one JSON document instead of lines
  --quiet         print only invalid messages
  --exit-code     exit 1 if any message is invalid
  --help          print this help
  --version       print the version

Exit status: 0 when done (all valid, or --exit-code not given), 1 with
--exit-code when a message is invalid, 2 on a usage error.
)";

// Per message, enough for a JSON array of several big BarReports.
constexpr size_t kMaxMessageBytes = 1 << 20;

struct Options {
  std::string schemas;
  std::vector<std::string> inputs;  // Paths, or "-" for standard input.
  bool json = false;
  bool quiet = false;
  bool exit_code = false;
};

struct Result {
  std::string source;
  size_t index = 0;
  std::string type;
  absl::Status status;
};

int UsageError(const std::string& what) {
  std::fprintf(stderr, "backbeat-validate: %s\n(see --help)\n", what.c_str());
  return 2;
}

// Appends the message files (.json, .ndjson, .jsonl) under `dir`, sorted.
// False if the directory cannot be read.
bool AddMessageFiles(const std::string& dir, std::vector<std::string>* out) {
  std::error_code ec;
  std::vector<std::string> found;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec)) {
    std::string ext = it->path().extension().string();
    if (it->is_regular_file() &&
        (ext == ".json" || ext == ".ndjson" || ext == ".jsonl")) {
      found.push_back(it->path().string());
    }
  }
  std::sort(found.begin(), found.end());
  out->insert(out->end(), found.begin(), found.end());
  return !ec;
}

// Parses argv; returns -1 to go on, otherwise the exit status.
int ParseArgs(int argc, char** argv, Options* options) {
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('=');
        absl::StartsWith(arg, "--") && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto take = [&]() -> bool {
      if (has_value) {
        return true;
      }
      if (i + 1 >= argc) {
        return false;
      }
      value = argv[++i];
      return true;
    };
    bool is_switch = arg == "--json" || arg == "--quiet" ||
                     arg == "--exit-code" || arg == "--help" ||
                     arg == "--version";
    if (is_switch && has_value) {
      return UsageError(arg + " takes no value");
    }
    if (arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--version") {
      std::printf("backbeat-validate %s\n", std::string(Version()).c_str());
      return 0;
    } else if (arg == "--json") {
      options->json = true;
    } else if (arg == "--quiet") {
      options->quiet = true;
    } else if (arg == "--exit-code") {
      options->exit_code = true;
    } else if (arg == "--schemas" || arg == "--file" || arg == "--dir" ||
               arg == "--message") {
      if (!take()) {
        return UsageError(arg + " needs a value");
      }
      if (arg == "--schemas") {
        options->schemas = value;
      }
      if (arg == "--file") {
        options->inputs.push_back(value);
      }
      if (arg == "--dir") {
        dirs.push_back(value);
      }
      if (arg == "--message") {
        if (value != "-") {
          return UsageError("--message takes only -");
        }
        options->inputs.push_back("-");
      }
    } else {
      return UsageError("unknown flag " + arg);
    }
  }

  for (const std::string& dir : dirs) {
    if (!AddMessageFiles(dir, &options->inputs)) {
      return UsageError("cannot read directory " + dir);
    }
  }
  if (options->inputs.empty()) {
    return UsageError("nothing to validate: give --file, --dir or --message -");
  }
  return -1;
}

bool ReadInput(const std::string& source, std::string* text) {
  std::ostringstream out;
  if (source == "-") {
    out << std::cin.rdbuf();
  } else {
    std::ifstream in(source, std::ios::binary);
    if (!in) {
      return false;
    }
    out << in.rdbuf();
  }
  *text = out.str();
  return true;
}

void Validate(const Contract& contract, const std::string& source,
              const std::string& text, std::vector<Result>* results) {
  ParseLimits limits;
  limits.max_bytes = kMaxMessageBytes;
  std::vector<absl::string_view> messages = SplitMessages(text);
  for (size_t i = 0; i < messages.size(); ++i) {
    Result r{source, i, SniffType(messages[i]), absl::OkStatus()};
    auto parsed = contract.Parse(messages[i], limits);
    r.status = parsed.status();
    if (parsed.ok()) {
      r.type = MessageTypeName(TypeOf(*parsed));
    }
    results->push_back(std::move(r));
  }
}

void PrintLines(const std::vector<Result>& results, bool quiet,
                size_t invalid) {
  for (const Result& r : results) {
    if (r.status.ok() && quiet) {
      continue;
    }
    std::string line = absl::StrCat(r.source, "#", r.index, " ", r.type, " ",
                                    r.status.ok() ? "valid" : "invalid");
    if (!r.status.ok()) {
      absl::StrAppend(&line, " (", RejectReasonName(RejectReasonOf(r.status)),
                      "): ", r.status.message());
    }
    std::printf("%s\n", line.c_str());
  }
  if (!quiet) {
    std::printf("%zu messages: %zu valid, %zu invalid\n", results.size(),
                results.size() - invalid, invalid);
  }
}

void PrintJson(const std::vector<Result>& results, bool quiet, size_t invalid) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("valid"), w.Bool(invalid == 0);
  w.Key("total"), w.Uint64(results.size());
  w.Key("invalid"), w.Uint64(invalid);
  w.Key("results"), w.StartArray();
  for (const Result& r : results) {
    if (r.status.ok() && quiet) {
      continue;
    }
    w.StartObject();
    w.Key("source"), w.String(r.source.c_str());
    w.Key("index"), w.Uint64(r.index);
    w.Key("type"), w.String(r.type.c_str());
    w.Key("valid"), w.Bool(r.status.ok());
    if (!r.status.ok()) {
      w.Key("reason"), w.String(RejectReasonName(RejectReasonOf(r.status)));
      std::string error(r.status.message());
      w.Key("error"), w.String(error.c_str(), error.size());
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  std::printf("%s\n", buffer.GetString());
}

int Run(int argc, char** argv) {
  Options options;
  if (int status = ParseArgs(argc, argv, &options); status >= 0) {
    return status;
  }

  // The contract: the builtin schemas unless a directory is given.
  std::unique_ptr<Contract> loaded;
  const Contract* contract = &Contract::Builtin();
  if (!options.schemas.empty()) {
    auto c = Contract::LoadFromDirectory(options.schemas);
    if (!c.ok()) {
      return UsageError(std::string(c.status().message()));
    }
    loaded = *std::move(c);
    contract = loaded.get();
  }

  // Every input, then the report.
  std::vector<Result> results;
  for (const std::string& source : options.inputs) {
    std::string text;
    if (!ReadInput(source, &text)) {
      return UsageError("cannot read " + source);
    }
    Validate(*contract, source, text, &results);
  }
  size_t invalid =
      std::count_if(results.begin(), results.end(),
                    [](const Result& r) { return !r.status.ok(); });
  if (options.json) {
    PrintJson(results, options.quiet, invalid);
  } else {
    PrintLines(results, options.quiet, invalid);
  }
  return options.exit_code && invalid > 0 ? 1 : 0;
}

}  // namespace
}  // namespace backbeat

int main(int argc, char** argv) { return backbeat::Run(argc, argv); }
