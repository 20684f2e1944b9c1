// SimplePattern against RapidJSON's regex engine, which it stands in for.
#include "common/simple_pattern.h"

#include <iterator>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "rapidjson/internal/regex.h"
#include "rapidjson/memorystream.h"

namespace backbeat {
namespace {

using Regex = rapidjson::internal::GenericRegex<rapidjson::UTF8<>>;

bool RegexMatches(Regex& regex, const std::string& text) {
  rapidjson::MemoryStream stream(text.data(), text.size());
  return regex.Search(stream);
}

// Random edits of `sample`: near misses and matches alike. Subjects stay
// valid UTF-8, as every string the checker sees has been validated.
std::string Mutate(std::string text, std::mt19937& rng) {
  static const char* const kPieces[] = {"0", "9", "a", "f", "x",  "z",
                                        "A", "F", "Z", "_", "-",  ":",
                                        ".", "$", "^", " ", "\n", "\xc3\xa9"};
  std::uniform_int_distribution<int> edits(0, 3);
  for (int n = edits(rng); n > 0; --n) {
    std::string piece = kPieces[rng() % std::size(kPieces)];
    size_t at = text.empty() ? 0 : rng() % (text.size() + 1);
    while (at < text.size() && (text[at] & 0xC0) == 0x80) {
      ++at;
    }
    bool ascii_at =
        at < text.size() && static_cast<unsigned char>(text[at]) < 0x80;
    switch (rng() % 4) {
      case 0:
        text.insert(at, piece);
        break;
      case 1:
        if (ascii_at) {
          text.erase(at, 1);
        }
        break;
      case 2:
        if (ascii_at) {
          text.replace(at, 1, piece);
        }
        break;
      default:
        if (ascii_at) {
          text.insert(at, rng() % 40, text[at]);
        }
    }
  }
  return text;
}

struct Case {
  const char* pattern;
  const char* sample;  // A subject that matches.
};

TEST(SimplePatternTest, AgreesWithTheRegexEngine) {
  const Case cases[] = {
      {"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$", "0a1B:ffff:0000"},
      {"^[a-z][a-z0-9_]{0,63}$", "late_claim"},
      {"^[A-Za-z0-9_-]{1,64}$", "cluster-1"},
      {"^[0-9a-fA-F]{32}$", "0123456789abcdef0123456789ABCDEF"},
      {"^ab?c*d+e{2,}f{1,3}$", "abccddeefff"},
      {"^\\.\\$[x-z]+$", ".$xy"},
      {"^-[-a]:$", "-a:"},
  };
  std::mt19937 rng(7);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pattern);
    std::optional<SimplePattern> simple = SimplePattern::Compile(c.pattern);
    ASSERT_TRUE(simple.has_value());
    Regex regex(c.pattern);
    ASSERT_TRUE(regex.IsValid());
    ASSERT_TRUE(simple->Matches(c.sample));
    int matched = 0;
    for (int i = 0; i < 10000; ++i) {
      std::string text = Mutate(c.sample, rng);
      bool expected = RegexMatches(regex, text);
      ASSERT_EQ(simple->Matches(text), expected) << "subject: " << text;
      matched += expected;
    }
    EXPECT_GT(matched, 100);  // Both verdicts were exercised.
  }
}

TEST(SimplePatternTest, RefusesOtherShapes) {
  const char* refused[] = {
      "abc",       "^abc",       "abc$",     "^a|b$",          "^(ab)$",
      "^a.$",      "^[^a]$",     "^a*a$",    "^[a-z]*[0-9a]$", "^\\d$",
      "^[\\d]$",   "^\xc3\xa9$", "^a{2,1}$", "^a{,3}$",        "^a{x}$",
      "^[a-c-e]$", "^a**$",      "^[]$",     "^[a$",           "^a{+2}$",
      "^a\\$",     "^a\\n$",     "^$",
  };
  for (const char* pattern : refused) {
    EXPECT_FALSE(SimplePattern::Compile(pattern).has_value()) << pattern;
  }
}

}  // namespace
}  // namespace backbeat
