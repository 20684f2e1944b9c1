// Differential: the compiled checker and RapidJSON's own SchemaValidator
// agree on every example and on thousands of deterministic mutations. Where
// RapidJSON cannot judge (format, rules between fields, NUL bytes, integers
// beyond int64, duplicate keys) the checker is stricter, never laxer.
//
// The streaming fast path of ParseStatusClaim and ParseBeatFrame and the
// DOM path behind it give the same value, or the same error code and text,
// on all of those and on thousands of byte-level and structural mutations.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/contract.h"
#include "common/fast_reader.h"
#include "common/message_fields.h"
#include "common/schema_checker.h"
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
    if (d.HasParseError()) {
      return false;
    }
    rapidjson::SchemaValidator validator(*schemas_.at(kind));
    return d.Accept(validator);
  }

 private:
  std::map<std::string, std::unique_ptr<rapidjson::SchemaDocument>> schemas_;
};

// Feeds texts to both paths of the hot messages and counts the texts.
class PathComparer {
 public:
  // Returns false (after a test failure) if the paths disagree on `text`.
  bool Compare(const std::string& text, const ParseLimits& limits) {
    ++compared_;
    const Contract& c = Contract::Builtin();
    return Same(c.ParseStatusClaim(text, limits),
                c.ParseStatusClaimViaDom(text, limits), text) &&
           Same(c.ParseBeatFrame(text, limits),
                c.ParseBeatFrameViaDom(text, limits), text);
  }
  size_t compared() const { return compared_; }

 private:
  template <typename T>
  static bool Same(const absl::StatusOr<T>& fast, const absl::StatusOr<T>& dom,
                   const std::string& text) {
    bool same =
        fast.ok() ? dom.ok() && *fast == *dom : fast.status() == dom.status();
    EXPECT_TRUE(same) << "fast: " << fast.status() << ", dom: " << dom.status()
                      << ", on: " << text;
    return same;
  }

  size_t compared_ = 0;
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

TEST(DifferentialTest, FastPathAgreesWithDomPathOnEveryExample) {
  PathComparer paths;
  for (const Example& e : testing::LoadExamples()) {
    SCOPED_TRACE(e.file + "#" + std::to_string(e.index) + " " + e.rule);
    ASSERT_TRUE(paths.Compare(e.text, Roomy()));
    ASSERT_TRUE(paths.Compare(e.text, ParseLimits{}));
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
  for (size_t n : {31, 32, 33}) {
    v.push_back(Quoted(std::string(n, 'a')));
  }
  v.push_back(Quoted(std::string(32, 'g')));
  for (size_t n : {64, 65, 128, 129, 256, 257, 512, 513}) {
    v.push_back(Quoted(std::string(n, 'k')));
  }
  std::string e128, e129;
  for (int i = 0; i < 128; ++i) {
    e128 += "\xc3\xa9";
  }
  e129 = e128 + "\xc3\xa9";
  v.push_back(Quoted(e128));
  v.push_back(Quoted(e129));
  std::string eleven = "[";
  for (int i = 0; i < 11; ++i) {
    eleven += std::string(i ? "," : "") + "\"a\"";
  }
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
    if (error.find(known) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(DifferentialTest, RapidJsonAgreesOnThousandsOfMutations) {
  RapidJsonValidators rapidjson;
  std::vector<std::string> candidates = Candidates();
  PathComparer paths;
  size_t compared = 0, stricter = 0;
  for (const Example& e : testing::LoadExamples()) {
    if (!e.valid) {
      continue;
    }
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
          ASSERT_TRUE(paths.Compare(text, Roomy()));
          if (ours.ok() == theirs) {
            continue;
          }
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
  EXPECT_EQ(paths.compared(), compared);
}

// The valid claims and frames of the examples, where most mutations start.
std::vector<std::string> ValidHotMessages() {
  std::vector<std::string> texts;
  for (const Example& e : testing::LoadExamples()) {
    if (e.valid && e.file.rfind("barreport", 0) != 0) {
      texts.push_back(e.text);
    }
  }
  return texts;
}

TEST(DifferentialTest, FastPathAgreesOnEveryByteMutation) {
  // Each byte is replaced by each of these, deleted and doubled, and the
  // message is cut after it.
  const std::string replacements(
      "\"{}[],:0-.ex\\ \0\x80\xff\x01"
      "A",
      20);
  PathComparer paths;
  for (const std::string& base : ValidHotMessages()) {
    for (size_t i = 0; i < base.size(); ++i) {
      for (char r : replacements) {
        std::string text = base;
        text[i] = r;
        ASSERT_TRUE(paths.Compare(text, Roomy()));
      }
      std::string deleted = base;
      deleted.erase(i, 1);
      ASSERT_TRUE(paths.Compare(deleted, Roomy()));
      std::string doubled = base;
      doubled.insert(i, 1, base[i]);
      ASSERT_TRUE(paths.Compare(doubled, Roomy()));
      ASSERT_TRUE(paths.Compare(base.substr(0, i), Roomy()));
    }
  }
  std::printf("compared both paths on %zu byte mutations\n", paths.compared());
  EXPECT_GT(paths.compared(), 50000u);
}

// Members added to a valid message: the shapes the fast path walks past,
// and those it must leave to the DOM path.
std::vector<std::string> ExtraMembers() {
  std::vector<std::string> v = {
      R"("x":{"a":1,"b":[1,{"c":null}],"d":{"e":"f"}})",
      R"("x":{"a":1,"a":2})",
      R"("x":[{"k":1},{"k":1}])",
      R"("x":{"k":{"k":1}})",
      R"("x":1,"x":2)",
      R"("x":1,"y":2,"z":[])",
      R"("x":"\ud800")",
      R"("x":"\ud83d\ude00 \u00e9")",
      R"("agent\u005fid":"dup")",
      R"("typ\u0065":"backbeat.statusclaim.v1")",
      R"("x":18446744073709551616)",
      R"("x":-9223372036854775808)",
      R"("x":-9223372036854775809)",
      R"("x":1e400)",
      R"("x":1e-400)",
      R"("x":"\u0000")",
      R"("\u0000":1)",
      R"("":1,"":2)",
      R"("x":[[[[]]]])",
      R"("x":{})",
      R"("x":true,"progress":0.5)",
      R"("notes":null)",
      R"("tempo_bpm":120,"x":0)",
      R"("beat_index":1.0)",
      R"("beat_index":-0)",
  };
  std::string many, wide, long_key(2000, 'k');
  for (int i = 0; i < 70; ++i) {
    many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  }
  v.push_back(many);
  v.push_back(many + ",\"k69\":2");
  for (int i = 0; i < 20; ++i) {
    wide += ",\"w" + std::to_string(i) + "\":1";
  }
  v.push_back("\"x\":{\"w\":0" + wide + "}");
  v.push_back("\"x\":{\"w0\":0" + wide + "}");
  v.push_back(Quoted(long_key) + ":1");
  v.push_back(Quoted(long_key) + ":1," + Quoted(long_key) + ":2");
  for (int depth : {30, 31, 32, 33, 40}) {
    v.push_back("\"x\":" + std::string(depth, '[') + std::string(depth, ']'));
    std::string objects;
    for (int i = 0; i < depth; ++i) {
      objects += "{\"o\":";
    }
    v.push_back("\"x\":" + objects + "1" + std::string(depth, '}'));
  }
  return v;
}

TEST(DifferentialTest, FastPathAgreesOnExtraMembersAndLimits) {
  PathComparer paths;
  for (const std::string& base : ValidHotMessages()) {
    for (const std::string& extra : ExtraMembers()) {
      std::string first = base;
      first.insert(1, extra + ",");
      std::string last = base;
      last.insert(last.rfind('}'), "," + extra);
      for (const std::string& text : {first, last}) {
        ASSERT_TRUE(paths.Compare(text, Roomy()));
        ASSERT_TRUE(paths.Compare(text, ParseLimits{}));
        for (int depth : {0, 1, 2, 3, 1000}) {
          ParseLimits tight = Roomy();
          tight.max_depth = depth;
          ASSERT_TRUE(paths.Compare(text, tight));
        }
        ParseLimits small = Roomy();
        small.max_bytes = text.size() - 1;
        ASSERT_TRUE(paths.Compare(text, small));
        ASSERT_TRUE(paths.Compare(text + std::string(1, '\0'), Roomy()));
        ASSERT_TRUE(paths.Compare(" \n" + text + "\t ", Roomy()));
      }
    }
  }
  EXPECT_GT(paths.compared(), 2000u);
}

// The fast path must carry the valid messages itself, not hand them all to
// the DOM path: its reader, bound as the contract binds it, accepts every
// valid claim and frame, also with extra members it only walks past.
template <typename T>
void ExpectFastReaderTakes(const char* schema, const char* const* fields,
                           size_t field_count, const char* file_prefix) {
  rapidjson::Document d;
  d.Parse(testing::ReadFileOrDie(testing::SchemasDir() + "/" + schema).c_str());
  auto checker = SchemaChecker::Compile(d);
  ASSERT_TRUE(checker.ok()) << checker.status();
  FastBinding binding;
  BindFastReader(checker->get(), fields, field_count, &binding);
  ASSERT_TRUE(binding.enabled);
  ASSERT_TRUE(binding.hashed);
  size_t taken = 0;
  for (const Example& e : testing::LoadExamples()) {
    if (e.file.rfind(file_prefix, 0) != 0) {
      continue;
    }
    SCOPED_TRACE(e.file + "#" + std::to_string(e.index) + " " + e.rule);
    std::string extra = e.text;
    extra.insert(1, R"("x":{"a":[1,{"b":null}],"c":"\u00e9"},)");
    for (const std::string& text : {e.text, extra}) {
      T fast;
      bool ok = FastRead(binding, text, 32, &fast);
      if (!e.valid) {
        EXPECT_FALSE(ok);
        continue;
      }
      ASSERT_TRUE(ok);
      auto dom = Contract::Builtin().Parse(text);
      ASSERT_TRUE(dom.ok()) << dom.status();
      EXPECT_TRUE(std::get<T>(*dom) == fast);
      ++taken;
    }
  }
  EXPECT_GT(taken, 10u);
  T fast;
  EXPECT_FALSE(FastRead(binding, R"({"x":{"k":1,"k":2}})", 32, &fast));
}

TEST(DifferentialTest, FastReaderTakesEveryValidClaimAndFrame) {
  ExpectFastReaderTakes<StatusClaim>("statusclaim-v1.schema.json", kClaimFields,
                                     std::size(kClaimFields), "statusclaim");
  ExpectFastReaderTakes<BeatFrame>("beatframe-v1.schema.json", kFrameFields,
                                   std::size(kFrameFields), "beatframe");
}

}  // namespace
}  // namespace backbeat
