// The simulator's model: what Pulse and a population of agents send, beat
// by beat, as a pure function of the configuration and the seed.
//
// Nothing here reads a clock or touches the network: the runner
// (sim_main.cc) decides when a beat happens and where messages go. The same
// configuration yields the same messages in the same order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/messages.h"

namespace backbeat::sim {

// How an agent behaves over each bar.
enum class Behaviour : uint8_t {
  kOnTime,   // plans, executes, reviews and completes within the bar.
  kLate,     // like kOnTime, but its review goes out after the next downbeat.
  kFailing,  // plans, executes, then fails mid-bar.
  kBlocked,  // plans, executes, then is blocked mid-bar.
  kHelping,  // helps on a task another agent completes in the same bar.
  kSilent,   // like kOnTime on every other bar, says nothing on the rest.
};
inline constexpr int kBehaviourCount = 6;

const char* BehaviourName(Behaviour behaviour);  // "on_time", ...

// Weights of each behaviour, in the order given.
using Mix = std::vector<std::pair<Behaviour, int>>;

// Parses "on_time:60,late:10,...". Fails on an unknown behaviour, a
// negative or non-numeric weight, a repeated name or an all-zero mix.
absl::StatusOr<Mix> ParseMix(absl::string_view text);

// Splits `agents` among the behaviours proportionally to their weights
// (largest remainder, ties to the earlier entry). The counts sum to
// `agents`.
std::vector<std::pair<Behaviour, int>> Apportion(const Mix& mix, int agents);

// A deterministic 64-bit generator (SplitMix64): the same seed yields the
// same sequence on every platform.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, bound); `bound` > 0.
  uint64_t Below(uint64_t bound) { return Next() % bound; }

 private:
  uint64_t state_;
};

struct SimConfig {
  std::string cluster_id = "local";
  int agents = 20;
  double tempo_bpm = 120;
  int beats_per_bar = 4;
  uint64_t seed = 1;
  Mix mix;  // Empty: DefaultMix().
};

Mix DefaultMix();  // on_time:60,late:10,failing:10,blocked:5,helping:10,
                   // silent:5

// The 32 hex characters naming the bar that starts at `downbeat_index`,
// derived from the seed and the cluster.
std::string WindowId(uint64_t seed, absl::string_view cluster_id,
                     int64_t downbeat_index);

// The phase of the beat at `position` (0-based) in a bar: roughly the first
// quarter plans, the last quarter reviews, the rest executes.
Phase PhaseAt(int position, int beats_per_bar);

// How many beats from `position` (included) to the end of its phase.
int BeatsLeftInPhase(int position, int beats_per_bar);

// "XXXX:XXXX:XXXX": the beat index (two 16-bit halves of its low 32 bits)
// and a sequence number of the message within the beat.
std::string Hlc(int64_t beat_index, uint32_t sequence);

// RFC 3339 in UTC with milliseconds: "2025-01-01T00:00:01.500Z".
std::string Rfc3339(absl::Time time);

// Pulse's frame for the beat at `position` of the bar that started at
// `downbeat_index`. `deadline` is when the beat's phase ends.
BeatFrame MakeBeatFrame(const SimConfig& config, int64_t downbeat_index,
                        int position, absl::Time deadline);

// Where the agents are in the rhythm.
struct BeatContext {
  int64_t beat_index = 0;
  int64_t downbeat_index = 0;  // The first beat of the current bar.
  int64_t bar = 0;             // Bars since the simulation began, from 0.
  int position = 0;            // beat_index - downbeat_index.
};

struct Agent {
  std::string id;  // "sim-<behaviour>-NNN"
  Behaviour behaviour;
};

// The agent population. Not thread-safe.
class Agents {
 public:
  // Assigns behaviours per config.mix, shuffled with config.seed.
  explicit Agents(const SimConfig& config);

  const std::vector<Agent>& agents() const { return agents_; }

  // The claims the agents send right after the frame of `beat`, in order.
  std::vector<StatusClaim> OnBeat(const BeatContext& beat);

  // The reviews late agents held back from the bar before `beat`, a
  // downbeat. Sent a little after that downbeat (and after OnBeat), so that
  // they arrive past the bar's boundary.
  std::vector<StatusClaim> TakeDeferred(const BeatContext& beat);

 private:
  // One claim an agent sends, before it gets its beat and hlc.
  struct Step {
    int agent = 0;
    ClaimState state = ClaimState::kIdle;
    std::string task_id;
    std::optional<int64_t> beats_left;
    std::optional<double> progress;
    std::optional<std::string> notes;
    int64_t claimed_beat = 0;  // The beat_index the claim names.
  };

  // Appends what `agent` sends at `beat` to `now`, and what it holds for
  // the next downbeat to `later`.
  void AgentClaims(int agent, const BeatContext& beat, std::vector<Step>* now,
                   std::vector<Step>* later) const;
  std::string TaskId(int agent, const BeatContext& beat) const;
  std::string HelpTarget(int helper_rank, const BeatContext& beat) const;
  StatusClaim MakeClaim(const Step& step, const BeatContext& beat);

  SimConfig config_;
  std::vector<Agent> agents_;
  std::vector<int> helper_rank_;  // Per agent: its rank among helpers.
  std::vector<int> completers_;   // on_time agents, then late ones.
  std::vector<Step> deferred_;    // Reviews held for the next downbeat.
  uint32_t sequence_ = 0;         // Messages sent in the current beat.
  int64_t sequence_beat_ = -1;
};

}  // namespace backbeat::sim
