// Builders shared by the engine tests: frames and claims of a Pulse playing
// 4-beat bars at 120 bpm (500 ms a beat), with arrival times in ms.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "reverb/engine.h"

namespace backbeat::reverb::testing {

inline constexpr Nanos kMs = 1'000'000;
inline constexpr int kBeatsPerBar = 4;
inline constexpr Nanos kBeatMs = 500;  // At 120 bpm.

inline std::string WindowId(int64_t bar) {
  return absl::StrFormat("%032x", bar + 0xabc0);
}

inline BeatFrame Frame(int64_t beat, double tempo = 120.0) {
  BeatFrame frame;
  frame.cluster_id = "local";
  frame.beat_index = beat;
  frame.downbeat = beat % kBeatsPerBar == 0;
  frame.phase = Phase::kExecute;
  frame.hlc = "0000:0000:0001";
  frame.deadline_at = "2025-01-01T00:00:00Z";
  frame.tempo_bpm = tempo;
  frame.window_id = WindowId(beat / kBeatsPerBar);
  return frame;
}

inline StatusClaim Claim(const std::string& agent, int64_t beat,
                         ClaimState state = ClaimState::kExecuting,
                         std::optional<std::string> task = std::nullopt) {
  StatusClaim claim;
  claim.agent_id = agent;
  claim.beat_index = beat;
  claim.state = state;
  claim.task_id = std::move(task);
  claim.hlc = "0000:0000:0002";
  return claim;
}

inline EngineOptions Sharded(int shards) {
  EngineOptions options;
  options.shards = shards;
  return options;
}

// Arrival of beat `beat` on a steady 120 bpm Pulse, in ns.
inline Nanos BeatTime(int64_t beat) { return beat * kBeatMs * kMs; }

// Plays beats first..last, each at BeatTime().
inline void Play(Engine& engine, int64_t first, int64_t last) {
  for (int64_t beat = first; beat <= last; ++beat) {
    engine.OnBeat(Frame(beat), BeatTime(beat));
  }
}

inline const Issue* FindIssue(const BarReport& report,
                              const std::string& kind) {
  for (const Issue& issue : report.issues) {
    if (issue.kind == kind) {
      return &issue;
    }
  }
  return nullptr;
}

}  // namespace backbeat::reverb::testing
