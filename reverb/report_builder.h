// Turns a sealed bar (its timing facts and its merged aggregate) into a
// BarReport. Pure functions: same input, same report, byte for byte.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/messages.h"
#include "reverb/bar_aggregate.h"

namespace backbeat::reverb {

inline constexpr size_t kMaxIssues = 32;

// What the beat path learned about one bar.
struct BarFacts {
  std::string window_id;
  int64_t from_beat = 0;
  int64_t to_beat = 0;
  Nanos downbeat_arrival = 0;
  Nanos boundary = 0;
  std::map<int64_t, double> tempos;  // Beats whose frame arrived -> bpm.
  int64_t invalid_claims = 0;        // Arrived between downbeat and boundary.
  int64_t disconnects = 0;           // While open or in grace.
  int64_t dropped = 0;               // Slow-consumer drops during the bar.
};

struct ReportOptions {
  double tempo_drift_share = 0.05;
};

// What one pass over (some partitions of) a bar's agents found. Tallies of
// disjoint partitions merge into the tally of their union, in any order.
struct AgentTally {
  int64_t reporting = 0;
  int64_t on_time = 0;
  int64_t failed = 0;
  int64_t blocked = 0;
  bool silent_checked = false;  // A previous bar's roll was compared.
  int64_t silent = 0;
  SmallestIds failed_ids, blocked_ids, missed_ids, silent_ids;

  void Merge(const AgentTally& other);
};

// Adds partition `p` of the disjoint `maps` (the bar's agents, see
// AgentMap::Disjoin) to `tally`, and the agents of `previous` (if not null)
// in that partition missing from all of them. Read-only on the maps and
// `previous`: calls for different partitions, with different tallies, may
// run in parallel.
void TallyPartition(std::span<const AgentMap* const> maps, size_t p,
                    Nanos boundary, const AgentRoll* previous,
                    AgentTally* tally);

// The report of a bar whose agents were tallied over every partition into
// `tally`; `bar` gives the late claims, `help_fulfilled` the helping pairs
// fulfilled (bar.HelpPromisesFulfilled() once every shard is merged in).
BarReport AssembleReport(const BarFacts& facts, const BarAggregate& bar,
                         const AgentTally& tally, int64_t help_fulfilled,
                         const ReportOptions& options);

// `previous` holds the agents of the previous reported bar (null if none).
// One pass over the bar's agents computes every figure and sample.
BarReport BuildReport(const BarFacts& facts, const BarAggregate& bar,
                      const AgentRoll* previous, const ReportOptions& options);

// Sum over from_beat..to_beat of 60000 / tempo; a beat without a frame takes
// the tempo of the nearest earlier frame.
double NominalBarMs(const BarFacts& facts);

// Inclusive ranges of beats in from_beat..to_beat without a frame.
std::vector<std::pair<int64_t, int64_t>> MissingBeatRanges(
    const BarFacts& facts);

// "5, 7-9, 12" (at most `max_ranges` ranges, then "and N more beats").
std::string DescribeBeatRanges(
    const std::vector<std::pair<int64_t, int64_t>>& ranges,
    size_t max_ranges = 8);

// Drops issues whose count is 0, orders the rest by severity (critical
// first, stable otherwise) and keeps at most kMaxIssues.
void FinishIssues(std::vector<Issue>* issues);

}  // namespace backbeat::reverb
