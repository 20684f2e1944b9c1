// The three BACKBEAT messages as typed values.
//
// These are plain values: they are produced by the parser in contract.h
// (which guarantees every schema rule holds) or built by code that then
// serializes them. They carry no behaviour of their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace backbeat {

inline constexpr char kBeatFrameType[] = "backbeat.beatframe.v1";
inline constexpr char kStatusClaimType[] = "backbeat.statusclaim.v1";
inline constexpr char kBarReportType[] = "backbeat.barreport.v1";

enum class Phase : uint8_t { kPlan, kExecute, kReview };

enum class ClaimState : uint8_t {
  kIdle,
  kPlanning,
  kExecuting,
  kReviewing,
  kCompleted,
  kFailed,
  kBlocked,
  kHelping,
};

enum class Severity : uint8_t { kInfo, kWarning, kCritical };

// INT-A: Pulse -> everyone, once per beat.
struct BeatFrame {
  std::string cluster_id;
  int64_t beat_index = 0;
  bool downbeat = false;
  Phase phase = Phase::kPlan;
  std::string hlc;
  std::string deadline_at;  // RFC 3339 date-time, kept as sent.
  double tempo_bpm = 0;
  std::string window_id;  // 32 hex characters.

  bool operator==(const BeatFrame&) const = default;
};

// INT-B: agent -> Reverb.
struct StatusClaim {
  std::string agent_id;
  std::optional<std::string> task_id;
  int64_t beat_index = 0;
  ClaimState state = ClaimState::kIdle;
  std::optional<int64_t> beats_left;
  std::optional<double> progress;
  std::optional<std::string> notes;
  std::string hlc;

  bool operator==(const StatusClaim&) const = default;
};

// One entry of BarReport::issues.
struct Issue {
  std::string kind;  // e.g. "agents_failed"; see docs/reverb.md.
  Severity severity = Severity::kInfo;
  int64_t count = 0;
  std::string detail;
  std::vector<std::string> agents;  // At most 10, sorted.

  bool operator==(const Issue&) const = default;
};

// INT-C: Reverb -> everyone, once per bar.
struct BarReport {
  std::string window_id;
  int64_t from_beat = 0;
  int64_t to_beat = 0;
  int64_t agents_reporting = 0;
  int64_t on_time_reviews = 0;
  int64_t help_promises_fulfilled = 0;
  bool secret_rotations_ok = true;
  double tempo_drift_ms = 0;
  std::vector<Issue> issues;  // At most 32.

  bool operator==(const BarReport&) const = default;
};

using Message = std::variant<BeatFrame, StatusClaim, BarReport>;

enum class MessageType : uint8_t { kBeatFrame, kStatusClaim, kBarReport };

// Names as they appear on the wire ("executing", "review", "warning").
const char* PhaseName(Phase phase);
const char* ClaimStateName(ClaimState state);
const char* SeverityName(Severity severity);
const char* MessageTypeName(MessageType type);  // "beatframe", ...
MessageType TypeOf(const Message& message);

}  // namespace backbeat
