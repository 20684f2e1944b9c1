#include "tools/sim_model.h"

#include <algorithm>
#include <array>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace backbeat::sim {
namespace {

constexpr std::array<Behaviour, kBehaviourCount> kBehaviours = {
    Behaviour::kOnTime,  Behaviour::kLate,    Behaviour::kFailing,
    Behaviour::kBlocked, Behaviour::kHelping, Behaviour::kSilent,
};

uint64_t Fnv1a(absl::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : text) {
    hash = (hash ^ c) * 0x100000001b3ull;
  }
  return hash;
}

int PlanBeats(int beats_per_bar) { return (beats_per_bar + 3) / 4; }

}  // namespace

const char* BehaviourName(Behaviour behaviour) {
  switch (behaviour) {
    case Behaviour::kOnTime:
      return "on_time";
    case Behaviour::kLate:
      return "late";
    case Behaviour::kFailing:
      return "failing";
    case Behaviour::kBlocked:
      return "blocked";
    case Behaviour::kHelping:
      return "helping";
    case Behaviour::kSilent:
      return "silent";
  }
  return "unknown";
}

Mix DefaultMix() {
  return {{Behaviour::kOnTime, 60},  {Behaviour::kLate, 10},
          {Behaviour::kFailing, 10}, {Behaviour::kBlocked, 5},
          {Behaviour::kHelping, 10}, {Behaviour::kSilent, 5}};
}

absl::StatusOr<Mix> ParseMix(absl::string_view text) {
  Mix mix;
  int total = 0;
  for (absl::string_view entry : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(entry, absl::MaxSplits(':', 1));
    const Behaviour* found = std::find_if(
        kBehaviours.begin(), kBehaviours.end(),
        [&](Behaviour b) { return parts.first == BehaviourName(b); });
    int weight = 0;
    if (found == kBehaviours.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("mix: unknown behaviour \"", parts.first, "\""));
    }
    if (!absl::SimpleAtoi(parts.second, &weight) || weight < 0 ||
        weight > 1000000) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mix: weight of ", parts.first, " must be an integer >= 0"));
    }
    for (const auto& [behaviour, ignored] : mix) {
      if (behaviour == *found) {
        return absl::InvalidArgumentError(
            absl::StrCat("mix: ", parts.first, " given twice"));
      }
    }
    mix.emplace_back(*found, weight);
    total += weight;
  }
  if (total == 0) {
    return absl::InvalidArgumentError("mix: weights must not all be zero");
  }
  return mix;
}

std::vector<std::pair<Behaviour, int>> Apportion(const Mix& mix, int agents) {
  int64_t total = 0;
  for (const auto& entry : mix) {
    total += entry.second;
  }
  std::vector<std::pair<Behaviour, int>> counts;
  std::vector<std::pair<int64_t, size_t>> remainders;  // (-remainder, index)
  int given = 0;
  for (size_t i = 0; i < mix.size(); ++i) {
    int64_t share = int64_t{agents} * mix[i].second;
    counts.emplace_back(mix[i].first, static_cast<int>(share / total));
    remainders.emplace_back(-(share % total), i);
    given += counts.back().second;
  }
  std::sort(remainders.begin(), remainders.end());
  for (size_t i = 0; given < agents; ++i, ++given) {
    counts[remainders[i % remainders.size()].second].second++;
  }
  return counts;
}

uint64_t Random::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string WindowId(uint64_t seed, absl::string_view cluster_id,
                     int64_t downbeat_index) {
  Random random(
      seed ^ Fnv1a(cluster_id) ^
      (static_cast<uint64_t>(downbeat_index) * 0xd1b54a32d192ed03ull));
  uint64_t high = random.Next();
  uint64_t low = random.Next();
  return absl::StrFormat("%016x%016x", high, low);
}

Phase PhaseAt(int position, int beats_per_bar) {
  int quarter = PlanBeats(beats_per_bar);
  if (position < quarter) {
    return Phase::kPlan;
  }
  if (position >= beats_per_bar - quarter) {
    return Phase::kReview;
  }
  return Phase::kExecute;
}

int BeatsLeftInPhase(int position, int beats_per_bar) {
  Phase phase = PhaseAt(position, beats_per_bar);
  int end = position;
  while (end < beats_per_bar && PhaseAt(end, beats_per_bar) == phase) {
    ++end;
  }
  return std::max(1, end - position);
}

std::string Hlc(int64_t beat_index, uint32_t sequence) {
  uint64_t beat = static_cast<uint64_t>(beat_index);
  return absl::StrFormat("%04x:%04x:%04x", (beat >> 16) & 0xffff, beat & 0xffff,
                         sequence & 0xffff);
}

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

BeatFrame MakeBeatFrame(const SimConfig& config, int64_t downbeat_index,
                        int position, absl::Time deadline) {
  BeatFrame frame;
  frame.cluster_id = config.cluster_id;
  frame.beat_index = downbeat_index + position;
  frame.downbeat = position == 0;
  frame.phase = PhaseAt(position, config.beats_per_bar);
  frame.hlc = Hlc(frame.beat_index, 0);
  frame.deadline_at = Rfc3339(deadline);
  frame.tempo_bpm = config.tempo_bpm;
  frame.window_id = WindowId(config.seed, config.cluster_id, downbeat_index);
  return frame;
}

}  // namespace backbeat::sim
