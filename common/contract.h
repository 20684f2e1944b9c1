// Parsing, validation and serialization of BACKBEAT messages.
//
// A Contract holds the three schemas of schemas/, compiled once into a
// checker for the keywords they use. It is immutable after construction:
// thread-safe, and any number of threads may call it concurrently.
//
// Every error is an absl::Status whose message names the field and the rule
// ("hlc must match pattern XXXX:XXXX:XXXX") and whose code tells the
// rejection reason (see RejectReasonOf).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/messages.h"

namespace backbeat {

struct ParseLimits {
  size_t max_bytes = 4096;  // Larger messages are rejected unparsed.
  int max_depth = 32;       // Deeper nesting is rejected while parsing.
};

// Why a message was rejected. Each value is a metric label.
enum class RejectReason : uint8_t {
  kTooLarge,   // over ParseLimits::max_bytes.
  kMalformed,  // not JSON, not one object, invalid UTF-8, too deep,
               // duplicate keys, numbers out of range.
  kSchema,     // a schema rule or a rule checked in code.
  kWrongType,  // valid JSON object of another message type.
};
const char* RejectReasonName(RejectReason reason);  // "too_large", ...

// Maps an error from Contract to its reason. Codes: kResourceExhausted ->
// kTooLarge, kDataLoss -> kMalformed, kFailedPrecondition -> kWrongType,
// anything else -> kSchema.
RejectReason RejectReasonOf(const absl::Status& status);

class Contract {
 public:
  // Loads beatframe-v1, statusclaim-v1 and barreport-v1 .schema.json from
  // `dir`. Fails if a file is missing, is not JSON or uses a keyword the
  // checker does not implement.
  static absl::StatusOr<std::unique_ptr<Contract>> LoadFromDirectory(
      const std::string& dir);

  // The schemas of this source tree, embedded at build time. Never fails:
  // the build checks them. Lives for the whole process.
  static const Contract& Builtin();

  // Parses and validates any of the three messages, dispatching on "type".
  absl::StatusOr<Message> Parse(absl::string_view bytes,
                                const ParseLimits& limits = {}) const;

  // Parses and validates one message that must be of the given kind;
  // another valid type yields kFailedPrecondition. StatusClaim and
  // BeatFrame, the hot messages, are read in one streaming pass when valid.
  absl::StatusOr<StatusClaim> ParseStatusClaim(
      absl::string_view bytes, const ParseLimits& limits = {}) const;
  absl::StatusOr<BeatFrame> ParseBeatFrame(
      absl::string_view bytes, const ParseLimits& limits = {}) const;
  absl::StatusOr<BarReport> ParseBarReport(
      absl::string_view bytes, const ParseLimits& limits = {}) const;

  // The reference parser the two methods above fall back to for anything
  // but a plainly valid message: a bounded document, then the checker.
  // Same results, slower; for tests and benchmarks that compare the paths.
  absl::StatusOr<StatusClaim> ParseStatusClaimViaDom(
      absl::string_view bytes, const ParseLimits& limits = {}) const;
  absl::StatusOr<BeatFrame> ParseBeatFrameViaDom(
      absl::string_view bytes, const ParseLimits& limits = {}) const;

  // Checks a message built in code against its schema and code rules, as
  // the parser would. Reverb calls this before publishing a report.
  absl::Status Check(const Message& message) const;

  ~Contract();

  struct Schemas;  // Opaque: the compiled schemas, defined in contract.cc.

 private:
  explicit Contract(std::unique_ptr<Schemas> schemas);
  std::unique_ptr<Schemas> schemas_;
};

// Compact JSON of a message. Parse(Serialize(m)) == m for every valid m
// (doubles are written in shortest round-trip form).
std::string Serialize(const Message& message);

}  // namespace backbeat
