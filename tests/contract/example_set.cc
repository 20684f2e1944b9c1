#include "tests/contract/example_set.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "rapidjson/document.h"
#include "tools/validate_input.h"

namespace backbeat::testing {

std::string ExamplesDir() { return REVERB_EXAMPLES_DIR; }
std::string SchemasDir() { return REVERB_SCHEMAS_DIR; }

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<Example> LoadExamples() {
  rapidjson::Document manifest;
  std::string manifest_text =
      ReadFileOrDie(ExamplesDir() + "/../contract/examples_manifest.json");
  manifest.Parse(manifest_text.c_str());
  if (manifest.HasParseError()) {
    std::abort();
  }

  std::map<std::string, std::string> files;
  std::vector<Example> out;
  for (const auto& e : manifest["examples"].GetArray()) {
    Example x;
    x.file = e["file"].GetString();
    x.index = e["index"].GetUint();
    x.valid = e["valid"].GetBool();
    x.rule = e["rule"].GetString();
    if (!x.valid) {
      x.reason = e["reason"].GetString();
      x.error = e["error"].GetString();
      x.rapidjson_accepts =
          std::string(e["rapidjson"].GetString()) == "accepts";
      x.draft7_accepts = std::string(e["draft7"].GetString()) == "accepts";
    }
    std::string& text = files[x.file];
    if (text.empty()) {
      text = ReadFileOrDie(ExamplesDir() + "/" + x.file);
    }
    std::vector<absl::string_view> parts = SplitMessages(text);
    if (x.index >= parts.size()) {
      std::abort();
    }
    x.text = std::string(parts[x.index]);
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace backbeat::testing
