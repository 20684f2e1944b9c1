// The root fields each typed message reads, by name and number, and the
// wire names of its enums. Shared by the DOM reader (contract.cc) and the
// streaming reader (fast_reader.cc); the field numbers index these tables.
#pragma once

#include <cstddef>
#include <cstring>

#include "absl/strings/string_view.h"

namespace backbeat {

inline constexpr const char* kFrameFields[] = {
    "cluster_id", "beat_index",  "downbeat",  "phase",
    "hlc",        "deadline_at", "tempo_bpm", "window_id"};
enum FrameField {
  kClusterId,
  kFrameBeat,
  kDownbeat,
  kPhase,
  kFrameHlc,
  kDeadlineAt,
  kTempoBpm,
  kFrameWindow
};

inline constexpr const char* kClaimFields[] = {
    "agent_id",   "task_id",  "beat_index", "state",
    "beats_left", "progress", "notes",      "hlc"};
enum ClaimField {
  kAgentId,
  kTaskId,
  kClaimBeat,
  kState,
  kBeatsLeft,
  kProgress,
  kNotes,
  kClaimHlc
};

inline constexpr const char* kReportFields[] = {
    "window_id",           "from_beat",       "to_beat",
    "agents_reporting",    "on_time_reviews", "help_promises_fulfilled",
    "secret_rotations_ok", "tempo_drift_ms",  "issues"};
enum ReportField {
  kReportWindow,
  kFromBeat,
  kToBeat,
  kAgentsReporting,
  kOnTimeReviews,
  kHelpFulfilled,
  kRotationsOk,
  kDriftMs,
  kIssues
};
inline constexpr size_t kMaxFields = 9;

// Wire names in the order of Phase, ClaimState and Severity.
inline constexpr absl::string_view kPhases[] = {"plan", "execute", "review"};
inline constexpr absl::string_view kStates[] = {
    "idle",      "planning", "executing", "reviewing",
    "completed", "failed",   "blocked",   "helping"};
inline constexpr absl::string_view kSeverities[] = {"info", "warning",
                                                    "critical"};

// True if `a` and `b` hold the same bytes. Inline for the short keys and
// names of messages, where a call to memcmp costs more than the compare.
inline bool SameBytes(absl::string_view a, absl::string_view b) {
  size_t n = a.size();
  if (n != b.size()) {
    return false;
  }
  if (n > 16) {
    return std::memcmp(a.data(), b.data(), n) == 0;
  }
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return false;
    }
  }
  return true;
}

// Position of `name` in `names`, or -1.
template <size_t N>
int NameIndex(absl::string_view name, const absl::string_view (&names)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (SameBytes(name, names[i])) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace backbeat
