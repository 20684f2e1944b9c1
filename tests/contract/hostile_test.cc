// Hostile input: every case is rejected with a clear error, never a crash.
#include <gtest/gtest.h>

#include <string>

#include "common/contract.h"

namespace backbeat {
namespace {

constexpr char kClaim[] =
    R"({"type":"backbeat.statusclaim.v1","agent_id":"a","beat_index":1,)"
    R"("state":"idle","hlc":"0000:0000:0000"})";

struct HostileCase {
  const char* name;
  std::string bytes;
  RejectReason reason;
  const char* message_part;
};

std::string Nested(size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

std::string ClaimWith(const std::string& from, const std::string& to) {
  std::string claim = kClaim;
  claim.replace(claim.find(from), from.size(), to);
  return claim;
}

TEST(HostileInputTest, EachCaseIsRejectedWithAClearReason) {
  std::string ten_mb(10 << 20, ' ');
  ten_mb.front() = '{';
  ten_mb.back() = '}';
  const HostileCase cases[] = {
      {"empty", "", RejectReason::kMalformed, "empty"},
      {"whitespace", "  \n ", RejectReason::kMalformed, "empty"},
      {"truncated", std::string(kClaim).substr(0, 40), RejectReason::kMalformed,
       "malformed JSON at byte"},
      {"10 MB", ten_mb, RejectReason::kTooLarge, "over the limit of 4096"},
      {"100k-deep arrays", Nested(100000), RejectReason::kTooLarge, "limit"},
      {"deep object",
       ClaimWith("\"a\"", std::string(40, '[') + "1" + std::string(40, ']')),
       RejectReason::kMalformed, "nesting is too deep"},
      {"invalid UTF-8", ClaimWith("\"a\"", "\"\xff\xfe\""),
       RejectReason::kMalformed, "Invalid encoding"},
      {"lone low surrogate escape", ClaimWith("\"a\"", "\"x\\udead\""),
       RejectReason::kMalformed, "lone UTF-16 surrogate"},
      {"lone high surrogate in a key", ClaimWith("}", ",\"\\ud800\":1}"),
       RejectReason::kMalformed, "surrogate"},
      {"raw UTF-8 surrogate", ClaimWith("\"a\"", "\"\xed\xa0\x80\""),
       RejectReason::kMalformed, "Invalid encoding"},
      {"overlong UTF-8", ClaimWith("\"a\"", "\"\xc0\xaf\""),
       RejectReason::kMalformed, "Invalid encoding"},
      {"NUL after object", std::string(kClaim) + std::string(1, '\0') + "x",
       RejectReason::kMalformed, "NUL byte"},
      {"NUL inside object", ClaimWith(",\"beat", std::string(1, '\0')),
       RejectReason::kMalformed, "malformed JSON"},
      {"raw NUL in string", ClaimWith("\"a\"", std::string("\"a\0b\"", 5)),
       RejectReason::kMalformed, "malformed JSON"},
      {"int beyond int64", ClaimWith(":1,", ":9223372036854775808,"),
       RejectReason::kMalformed, "64 bits"},
      {"negative beyond int64", ClaimWith(":1,", ":-9223372036854775809,"),
       RejectReason::kMalformed, "64 bits"},
      {"huge double", ClaimWith(":1,", ":1e999,"), RejectReason::kMalformed,
       "malformed JSON"},
      {"duplicate key",
       ClaimWith("\"state\"", "\"state\":\"failed\",\"state\""),
       RejectReason::kMalformed, "duplicate key \"state\""},
      {"nested duplicate key", ClaimWith("}", ",\"x\":{\"k\":1,\"k\":2}}"),
       RejectReason::kMalformed, "duplicate key \"k\""},
      {"array root", "[1,2]", RejectReason::kMalformed, "JSON object"},
      {"string root", "\"hello\"", RejectReason::kMalformed, "JSON object"},
      {"number root", "42", RejectReason::kMalformed, "JSON object"},
      {"two objects", std::string(kClaim) + kClaim, RejectReason::kMalformed,
       "malformed JSON"},
      {"NaN literal", ClaimWith(":1,", ":NaN,"), RejectReason::kMalformed,
       "malformed JSON"},
      {"escaped NUL in hlc",
       ClaimWith("0000:0000:0000", "0000:0000:0000\\u0000"),
       RejectReason::kSchema, "hlc must match pattern XXXX:XXXX:XXXX"},
  };
  for (const HostileCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto claim = Contract::Builtin().ParseStatusClaim(c.bytes);
    ASSERT_FALSE(claim.ok());
    EXPECT_EQ(RejectReasonOf(claim.status()), c.reason) << claim.status();
    EXPECT_NE(claim.status().message().find(c.message_part),
              absl::string_view::npos)
        << claim.status();
  }
}

TEST(HostileInputTest, DeepNestingStopsAtTheDepthLimitWithoutRecursing) {
  ParseLimits limits;
  limits.max_bytes = 1 << 20;
  auto parsed = Contract::Builtin().Parse(Nested(100000), limits);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().message(),
            "malformed JSON at byte 33: nesting is too deep");
  std::string objects;
  for (int i = 0; i < 100000; ++i) {
    objects += "{\"a\":";
  }
  parsed = Contract::Builtin().Parse(objects, limits);
  EXPECT_NE(parsed.status().message().find("nesting is too deep"),
            absl::string_view::npos);
}

TEST(HostileInputTest, MessageAtTheSizeLimitIsStillParsed) {
  std::string claim = ClaimWith("\"a\"", "\"a\"" + std::string(200, ' '));
  ParseLimits limits;
  limits.max_bytes = claim.size();
  EXPECT_TRUE(Contract::Builtin().ParseStatusClaim(claim, limits).ok());
  limits.max_bytes = claim.size() - 1;
  EXPECT_EQ(RejectReasonOf(
                Contract::Builtin().ParseStatusClaim(claim, limits).status()),
            RejectReason::kTooLarge);
}

TEST(HostileInputTest, ManyParsesDoNotShareState) {
  // A bad message between good ones leaves nothing behind.
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(Contract::Builtin().ParseStatusClaim(kClaim).ok());
    ASSERT_FALSE(Contract::Builtin().ParseStatusClaim(Nested(64)).ok());
  }
}

}  // namespace
}  // namespace backbeat
