#include "tools/watch_format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace backbeat::watch {

std::string Summarize(const BarReport& report) {
  std::string line = absl::StrFormat(
      "window %s beats %d-%d agents %d on-time %d help %d drift %+.1fms",
      report.window_id, report.from_beat, report.to_beat,
      report.agents_reporting, report.on_time_reviews,
      report.help_promises_fulfilled, report.tempo_drift_ms);
  if (!report.secret_rotations_ok) {
    absl::StrAppend(&line, " rotations FAILED");
  }
  absl::StrAppend(&line, " issues");
  if (report.issues.empty()) {
    absl::StrAppend(&line, " none");
  }
  for (const Issue& issue : report.issues) {
    absl::StrAppend(&line, " ", issue.kind, ":", issue.count);
  }
  return line;
}

}  // namespace backbeat::watch
