// Message text for the end-to-end benchmarks: BeatFrames and StatusClaims as
// Pulse and a large agent population would send them.
//
// Pure functions of their arguments; thread-safe. The claim mix is fixed:
// mostly executing and planning, some reviewing and completed, a few failed,
// blocked and helping (those with task ids), about 250 bytes per message.
#pragma once

#include <cstdint>
#include <string>

namespace backbeat::bench {

// Subjects as Reverb's defaults derive them from the cluster id.
std::string BeatSubject(const std::string& cluster_id);
std::string StatusSubject(const std::string& cluster_id);
std::string BarSubject(const std::string& cluster_id);

// The 32 hex characters of the bar whose downbeat is `downbeat_index`.
std::string WindowId(int64_t downbeat_index);

// A BeatFrame JSON for `beat_index`; the bar of a beat starts at the
// largest multiple of `beats_per_bar` not above it.
std::string BeatFrameJson(const std::string& cluster_id, int64_t beat_index,
                          int beats_per_bar, double tempo_bpm);

// Writes the StatusClaim of agent `agent` at `beat_index` into `out`
// (replacing its contents). `sequence` varies the state over time.
void StatusClaimJson(int64_t agent, int64_t beat_index, uint64_t sequence,
                     std::string* out);

}  // namespace backbeat::bench
