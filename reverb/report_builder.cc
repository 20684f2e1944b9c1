#include "reverb/report_builder.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace backbeat::reverb {
namespace {

Issue MakeIssue(const char* kind, Severity severity, int64_t count,
                std::string detail, std::vector<std::string> agents = {}) {
  Issue issue;
  issue.kind = kind;
  issue.severity = severity;
  issue.count = count;
  issue.detail = std::move(detail);
  issue.agents = std::move(agents);
  return issue;
}

const char* Plural(int64_t n, const char* one, const char* many) {
  return n == 1 ? one : many;
}

void AddAgentIssues(const AgentTally& tally, int64_t reporting,
                    std::vector<Issue>* issues) {
  issues->push_back(MakeIssue(
      "agents_failed", Severity::kWarning, tally.failed,
      absl::StrCat(tally.failed, Plural(tally.failed, " agent", " agents"),
                   " ended the bar in state failed"),
      tally.failed_ids.ids()));
  issues->push_back(MakeIssue(
      "agents_blocked", Severity::kWarning, tally.blocked,
      absl::StrCat(tally.blocked, Plural(tally.blocked, " agent", " agents"),
                   " ended the bar in state blocked"),
      tally.blocked_ids.ids()));
  const int64_t missed = reporting - tally.on_time;
  issues->push_back(MakeIssue(
      "missed_reviews", Severity::kInfo, missed,
      absl::StrCat(missed, " of ", reporting,
                   " reporting agents sent no review by the boundary"),
      tally.missed_ids.ids()));
}

void AddSilentIssue(const AgentTally& tally, std::vector<Issue>* issues) {
  if (!tally.silent_checked) {
    return;
  }
  const int64_t silent = tally.silent;
  issues->push_back(MakeIssue(
      "agents_silent", Severity::kWarning, silent,
      absl::StrCat(silent, Plural(silent, " agent", " agents"),
                   " reported in the previous bar but not in this one"),
      tally.silent_ids.ids()));
}

void AddTempoIssue(double drift_ms, double nominal_ms,
                   const ReportOptions& options, std::vector<Issue>* issues) {
  const double threshold = options.tempo_drift_share * nominal_ms;
  if (!(std::fabs(drift_ms) > threshold)) {
    return;
  }
  const Severity severity = std::fabs(drift_ms) > 4 * threshold
                                ? Severity::kCritical
                                : Severity::kWarning;
  issues->push_back(MakeIssue(
      "tempo_drift", severity, 1,
      absl::StrFormat("bar took %.3f ms against %.3f ms nominal (%+.3f ms)",
                      nominal_ms + drift_ms, nominal_ms, drift_ms)));
}

void AddTransportIssues(const BarFacts& facts, const BarAggregate& bar,
                        std::vector<Issue>* issues) {
  issues->push_back(
      MakeIssue("late_claims", Severity::kInfo, bar.late_claims(),
                absl::StrCat(bar.late_claims(),
                             Plural(bar.late_claims(), " claim", " claims"),
                             " arrived for a bar already reported"),
                bar.late_agents().ids()));
  issues->push_back(
      MakeIssue("invalid_claims", Severity::kWarning, facts.invalid_claims,
                absl::StrCat(facts.invalid_claims,
                             Plural(facts.invalid_claims, " claim", " claims"),
                             " failed parsing or validation")));
  issues->push_back(
      MakeIssue("ingest_dropped", Severity::kCritical, facts.dropped,
                absl::StrCat("the NATS client dropped ", facts.dropped,
                             Plural(facts.dropped, " message", " messages"),
                             " as a slow consumer")));
  issues->push_back(
      MakeIssue("ingest_interrupted", Severity::kCritical, facts.disconnects,
                absl::StrCat("the NATS connection was lost ", facts.disconnects,
                             Plural(facts.disconnects, " time", " times"),
                             " while the bar was open")));
}

}  // namespace

void AgentTally::Merge(const AgentTally& other) {
  reporting += other.reporting;
  on_time += other.on_time;
  failed += other.failed;
  blocked += other.blocked;
  silent_checked = silent_checked || other.silent_checked;
  silent += other.silent;
  failed_ids.Merge(other.failed_ids);
  blocked_ids.Merge(other.blocked_ids);
  missed_ids.Merge(other.missed_ids);
  silent_ids.Merge(other.silent_ids);
}

void TallyPartition(std::span<const AgentMap* const> maps, size_t p,
                    Nanos boundary, const AgentRoll* previous,
                    AgentTally* tally) {
  const auto count = [&](std::string_view agent, uint64_t /*hash*/,
                         const AgentState& state) {
    ++tally->reporting;
    if (state.first_review_arrival <= boundary) {
      ++tally->on_time;
    } else {
      tally->missed_ids.Offer(agent);
    }
    if (state.latest_state == ClaimState::kFailed) {
      ++tally->failed;
      tally->failed_ids.Offer(agent);
    } else if (state.latest_state == ClaimState::kBlocked) {
      ++tally->blocked;
      tally->blocked_ids.Offer(agent);
    }
  };
  for (const AgentMap* agents : maps) {
    agents->ForEachIn(p, count);
  }
  if (previous != nullptr) {
    tally->silent_checked = true;
    tally->silent += previous->CountMissingIn(p, maps, &tally->silent_ids);
  }
}

double NominalBarMs(const BarFacts& facts) {
  double nominal = 0;
  auto it = facts.tempos.lower_bound(facts.from_beat);
  auto end = facts.tempos.upper_bound(facts.to_beat);
  for (; it != end; ++it) {
    auto next = std::next(it);
    const int64_t until = next == end
                              ? facts.to_beat + 1
                              : std::min(next->first, facts.to_beat + 1);
    nominal += static_cast<double>(until - it->first) * 60000.0 / it->second;
  }
  return nominal;
}

std::vector<std::pair<int64_t, int64_t>> MissingBeatRanges(
    const BarFacts& facts) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  int64_t expected = facts.from_beat;
  auto it = facts.tempos.lower_bound(facts.from_beat);
  auto end = facts.tempos.upper_bound(facts.to_beat);
  for (; it != end; ++it) {
    if (it->first > expected) {
      ranges.emplace_back(expected, it->first - 1);
    }
    expected = it->first + 1;
  }
  if (expected <= facts.to_beat) {
    ranges.emplace_back(expected, facts.to_beat);
  }
  return ranges;
}

std::string DescribeBeatRanges(
    const std::vector<std::pair<int64_t, int64_t>>& ranges, size_t max_ranges) {
  std::string out;
  int64_t rest = 0;
  for (size_t i = 0; i < ranges.size(); ++i) {
    const auto& [first, last] = ranges[i];
    if (i >= max_ranges) {
      rest += last - first + 1;
      continue;
    }
    absl::StrAppend(&out, i == 0 ? "" : ", ", first);
    if (last != first) {
      absl::StrAppend(&out, "-", last);
    }
  }
  if (rest > 0) {
    absl::StrAppend(&out, " and ", rest, " more");
  }
  return out;
}

void FinishIssues(std::vector<Issue>* issues) {
  std::erase_if(*issues, [](const Issue& issue) { return issue.count <= 0; });
  std::stable_sort(
      issues->begin(), issues->end(),
      [](const Issue& a, const Issue& b) { return a.severity > b.severity; });
  if (issues->size() > kMaxIssues) {
    issues->resize(kMaxIssues);
  }
}

BarReport BuildReport(const BarFacts& facts, const BarAggregate& bar,
                      const AgentRoll* previous, const ReportOptions& options) {
  AgentTally tally;
  const std::array<const AgentMap*, 1> maps = {&bar.agents()};
  for (size_t p = 0; p < AgentMap::kPartitions; ++p) {
    TallyPartition(maps, p, facts.boundary, previous, &tally);
  }
  return AssembleReport(facts, bar, tally, bar.HelpPromisesFulfilled(),
                        options);
}

BarReport AssembleReport(const BarFacts& facts, const BarAggregate& bar,
                         const AgentTally& tally, int64_t help_fulfilled,
                         const ReportOptions& options) {
  BarReport report;
  report.window_id = facts.window_id;
  report.from_beat = facts.from_beat;
  report.to_beat = facts.to_beat;

  // Figures from the agents.
  report.agents_reporting = tally.reporting;
  report.on_time_reviews = tally.on_time;
  report.help_promises_fulfilled = help_fulfilled;
  // TODO(reverb): verify claim signatures; until then nothing can fail.
  report.secret_rotations_ok = true;

  // Timing: measured minus nominal.
  const double nominal_ms = NominalBarMs(facts);
  const double measured_ms =
      static_cast<double>(facts.boundary - facts.downbeat_arrival) / 1e6;
  report.tempo_drift_ms = measured_ms - nominal_ms;

  // Issues, most severe first.
  AddAgentIssues(tally, report.agents_reporting, &report.issues);
  AddSilentIssue(tally, &report.issues);
  AddTransportIssues(facts, bar, &report.issues);
  const auto missing = MissingBeatRanges(facts);
  int64_t missing_count = 0;
  for (const auto& [first, last] : missing) {
    missing_count += last - first + 1;
  }
  report.issues.push_back(MakeIssue(
      "missing_beats", Severity::kWarning, missing_count,
      absl::StrCat("no frame for ", Plural(missing_count, "beat ", "beats "),
                   DescribeBeatRanges(missing))));
  AddTempoIssue(report.tempo_drift_ms, nominal_ms, options, &report.issues);
  FinishIssues(&report.issues);
  return report;
}

}  // namespace backbeat::reverb
