// Differential: the compiled checker and RapidJSON's own SchemaValidator
// agree on every example and on thousands of deterministic mutations. Where
// RapidJSON cannot judge (format, rules between fields, NUL bytes, integers
// beyond int64, duplicate keys) the checker is stricter, never laxer.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/contract.h"
#include "rapidjson/document.h"
#include "rapidjson/schema.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tests/contract/example_set.h"

namespace backbeat {
namespace {

using testing::Example;

class RapidJsonValidators {
 public:
  RapidJsonValidators() {
    for (const char* name : {"beatframe", "statusclaim", "barreport"}) {
      rapidjson::Document d;
      d.Parse(testing::ReadFileOrDie(testing::SchemasDir() + "/" + name +
                                     "-v1.schema.json")
                  .c_str());
      schemas_.emplace(name, std::make_unique<rapidjson::SchemaDocument>(d));
    }
  }

  // RapidJSON's verdict on `text` against the schema named `kind`.
  bool Accepts(const std::string& kind, const std::string& text) const {
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    if (d.HasParseError()) return false;
    rapidjson::SchemaValidator validator(*schemas_.at(kind));
    return d.Accept(validator);
  }

 private:
  std::map<std::string, std::unique_ptr<rapidjson::SchemaDocument>> schemas_;
};

std::string KindOfFile(const std::string& file) {
  return file.substr(0, file.find('-'));
}

ParseLimits Roomy() {
  ParseLimits limits;
  limits.max_bytes = 1 << 20;
  return limits;
}

TEST(DifferentialTest, RapidJsonAgreesOnEveryExample) {
  RapidJsonValidators rapidjson;
  for (const Example& e : testing::LoadExamples()) {
    SCOPED_TRACE(e.file + "#" + std::to_string(e.index) + " " + e.rule);
    bool theirs = rapidjson.Accepts(KindOfFile(e.file), e.text);
    EXPECT_EQ(theirs, e.valid || e.rapidjson_accepts);
  }
}

// `body` between double quotes.
std::string Quoted(const std::string& body) {
  std::string out;
  out.reserve(body.size() + 2);
  out.push_back('"');
  out.append(body);
  out.push_back('"');
  return out;
}

// Values every field is replaced with, one at a time.
std::vector<std::string> Candidates() {
  std::vector<std::string> v = {
      "null",
      "true",
      "false",
      "-1",
      "0",
      "1",
      "1.5",
      "2.0",
      "0.1",
      "0.05",
      "6000",
      "6000.5",
      "1e3",
      "-0.0",
      "9223372036854775807",
      "[]",
      "{}",
      "\"\"",
      "\"x\"",
      "\"plan\"",
      "\"review\"",
      "\"idle\"",
      "\"helping\"",
      "\"info\"",
      "\"critical\"",
      "\"agents_failed\"",
      "\"Agents\"",
      "\"7ffd:0001:abcd\"",
      "\"7ffd:0001:abc\"",
      "\"7ffd:0001:abcd\\u0000\"",
      "\"2025-09-05T12:30:00Z\"",
      "\"2025-13-05T12:30:00Z\"",
      "\"chorus_prod-1\"",
      "\"chorus prod\"",
      "[\"a\"]",
      "[\"\"]",
      "[{\"kind\":\"late_claims\",\"severity\":\"info\",\"count\":1,"
      "\"detail\":\"\",\"agents\":[]}]",
  };
  for (size_t n : {31, 32, 33}) v.push_back(Quoted(std::string(n, 'a')));
  v.push_back(Quoted(std::string(32, 'g')));
  for (size_t n : {64, 65, 128, 129, 256, 257, 512, 513}) {
    v.push_back(Quoted(std::string(n, 'k')));
  }
  std::string e128, e129;
  for (int i = 0; i < 128; ++i) e128 += "\xc3\xa9";
  e129 = e128 + "\xc3\xa9";
  v.push_back(Quoted(e128));
  v.push_back(Quoted(e129));
  std::string eleven = "[";
  for (int i = 0; i < 11; ++i) eleven += std::string(i ? "," : "") + "\"a\"";
  v.push_back(eleven + "]");
  return v;
}

std::string Write(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Where the checker may reject what RapidJSON accepts.
bool StricterByDesign(const std::string& error) {
  for (const char* known :
       {"deadline_at must be an RFC 3339", "must be at least from_beat",
        "must be at most agents_reporting"}) {
    if (error.find(known) != std::string::npos) return true;
  }
  return false;
}

TEST(DifferentialTest, RapidJsonAgreesOnThousandsOfMutations) {
  RapidJsonValidators rapidjson;
  std::vector<std::string> candidates = Candidates();
  size_t compared = 0, stricter = 0;
  for (const Example& e : testing::LoadExamples()) {
    if (!e.valid) continue;
    rapidjson::Document base;
    base.Parse(e.text.c_str(), e.text.size());
    std::string kind = KindOfFile(e.file);

    // Each field of the root, and of the first issue if any, gets every
    // candidate value, and is also removed.
    std::vector<rapidjson::Value*> objects = {&base};
    auto issues = base.FindMember("issues");
    if (issues != base.MemberEnd() && !issues->value.Empty()) {
      objects.push_back(&issues->value[0]);
    }
    for (rapidjson::Value* object : objects) {
      for (auto& member : object->GetObject()) {
        rapidjson::Value saved(member.value, base.GetAllocator());
        for (const std::string& c : candidates) {
          rapidjson::Document value(&base.GetAllocator());
          value.Parse(c.c_str(), c.size());
          ASSERT_FALSE(value.HasParseError()) << c;
          member.value.CopyFrom(value, base.GetAllocator());
          std::string text = Write(base);
          auto ours = Contract::Builtin().Parse(text, Roomy());
          bool theirs = rapidjson.Accepts(kind, text);
          ++compared;
          if (ours.ok() == theirs) continue;
          std::string error(ours.status().message());
          bool nul = c.find("\\u0000") != std::string::npos;
          ASSERT_TRUE(!ours.ok() && (StricterByDesign(error) || nul))
              << "disagree on " << text << ": " << ours.status();
          ++stricter;
        }
        member.value.CopyFrom(saved, base.GetAllocator());
      }
    }
  }
  std::printf("compared %zu mutations, checker stricter by design on %zu\n",
              compared, stricter);
  EXPECT_GT(compared, 5000u);
}

}  // namespace
}  // namespace backbeat
