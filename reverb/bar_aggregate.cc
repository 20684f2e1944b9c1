#include "reverb/bar_aggregate.h"

#include <algorithm>
#include <cstring>
#include <tuple>

namespace backbeat::reverb {
namespace {

constexpr int64_t kMaxArrivalOffset = PackedAgentState::kNoReview - 1;
constexpr int64_t kMaxBeatOffset = (int64_t{1} << 15) - 1;
constexpr unsigned char kLongId = 0xff;  // Length follows as 4 bytes.
// Entries sampled to size a merge, and entries touched ahead of use.
constexpr size_t kSample = 64;
constexpr size_t kLookahead = 8;

bool IsReview(ClaimState state) {
  return state == ClaimState::kReviewing || state == ClaimState::kCompleted;
}

}  // namespace

// ---------------------------------------------------------------- arena --

const char* IdArena::Store(std::string_view id) {
  const bool is_long = id.size() >= kLongId;
  const size_t header = is_long ? 1 + sizeof(uint32_t) : 1;
  const size_t needed = header + id.size();
  char* out;
  if (needed > kBlockBytes / 4) {
    // A block of its own, kept behind the block being filled.
    auto block = std::make_unique<char[]>(needed);
    out = block.get();
    blocks_.insert(blocks_.empty() ? blocks_.end() : blocks_.end() - 1,
                   std::move(block));
    if (blocks_.size() == 1) {
      used_ = kBlockBytes;  // No block being filled yet.
    }
  } else {
    if (blocks_.empty() || used_ + needed > kBlockBytes) {
      blocks_.push_back(std::make_unique<char[]>(kBlockBytes));
      used_ = 0;
    }
    out = blocks_.back().get() + used_;
    used_ += needed;
  }

  if (is_long) {
    out[0] = static_cast<char>(kLongId);
    const uint32_t size = static_cast<uint32_t>(id.size());
    std::memcpy(out + 1, &size, sizeof(size));
  } else {
    out[0] = static_cast<char>(id.size());
  }
  std::memcpy(out + header, id.data(), id.size());
  return out;
}

std::string_view IdArena::View(const char* stored) {
  const auto first = static_cast<unsigned char>(stored[0]);
  if (first != kLongId) {
    return std::string_view(stored + 1, first);
  }
  uint32_t size;
  std::memcpy(&size, stored + 1, sizeof(size));
  return std::string_view(stored + 1 + sizeof(size), size);
}

void IdArena::Adopt(IdArena&& other) {
  if (blocks_.empty()) {
    blocks_ = std::move(other.blocks_);
    used_ = other.used_;
  } else {
    // Keep our block being filled last.
    blocks_.insert(blocks_.end() - 1,
                   std::make_move_iterator(other.blocks_.begin()),
                   std::make_move_iterator(other.blocks_.end()));
  }
  other.blocks_.clear();
  other.used_ = kBlockBytes;
}

// ---------------------------------------------------------------- state --

void PackedAgentState::Add(int64_t beat, int64_t arrival, ClaimState state) {
  const auto code = static_cast<uint64_t>(state);
  if (std::tie(beat, arrival, code) >
      std::make_tuple(static_cast<int64_t>(latest_beat),
                      static_cast<int64_t>(latest_arrival),
                      static_cast<uint64_t>(latest_state))) {
    latest_beat = beat;
    latest_arrival = arrival;
    latest_state = code;
  }
  if (IsReview(state) && arrival < first_review) {
    first_review = arrival;
  }
}

void PackedAgentState::Merge(const PackedAgentState& other) {
  Add(other.latest_beat, other.latest_arrival,
      static_cast<ClaimState>(other.latest_state));
  first_review = std::min<int64_t>(first_review, other.first_review);
}

// ------------------------------------------------------------ agent map --

void AgentMap::SetBases(int64_t beat, Nanos arrival) {
  has_bases_ = true;
  base_beat_ = beat;
  base_arrival_ = arrival;
}

int64_t AgentMap::BeatOffset(int64_t beat) const {
  // Differences of in-range beats cannot overflow; clamp before narrowing.
  const int64_t offset = beat - base_beat_;
  return std::clamp(offset, -kMaxBeatOffset, kMaxBeatOffset);
}

int64_t AgentMap::ArrivalOffset(Nanos arrival) const {
  int64_t offset;
  if (__builtin_sub_overflow(arrival, base_arrival_, &offset)) {
    offset = arrival < base_arrival_ ? -kMaxArrivalOffset : kMaxArrivalOffset;
  }
  return std::clamp(offset, -kMaxArrivalOffset, kMaxArrivalOffset);
}

AgentState AgentMap::Unpack(const PackedAgentState& packed) const {
  AgentState state;
  state.latest_beat = base_beat_ + packed.latest_beat;
  state.latest_arrival = base_arrival_ + packed.latest_arrival;
  state.latest_state = static_cast<ClaimState>(packed.latest_state);
  if (packed.first_review != PackedAgentState::kNoReview) {
    state.first_review_arrival = base_arrival_ + packed.first_review;
  }
  return state;
}

void AgentMap::Add(std::string_view agent, int64_t beat, Nanos arrival,
                   ClaimState state) {
  if (!has_bases_) {
    SetBases(beat, arrival);
  }
  const uint64_t hash = HashOf(agent);
  Partition& part = parts_[PartitionOf(hash)];
  auto it = part.lazy_emplace(Probe{agent, hash}, [&](const auto& construct) {
    PackedAgentState fresh{};
    fresh.latest_beat = -kMaxBeatOffset - 1;  // Below any claim.
    fresh.first_review = PackedAgentState::kNoReview;
    construct(Entry{arena_.Store(agent), hash, fresh});
  });
  it->state.Add(BeatOffset(beat), ArrivalOffset(arrival), state);
}

std::optional<AgentState> AgentMap::Find(std::string_view agent) const {
  const uint64_t hash = HashOf(agent);
  const Partition& part = parts_[PartitionOf(hash)];
  auto it = part.find(Probe{agent, hash});
  if (it == part.end()) {
    return std::nullopt;
  }
  return Unpack(it->state);
}

bool AgentMap::Contains(std::string_view agent, uint64_t hash) const {
  return parts_[PartitionOf(hash)].contains(Probe{agent, hash});
}

size_t AgentMap::size() const {
  size_t total = 0;
  for (const auto& part : parts_) {
    total += part.size();
  }
  return total;
}

PackedAgentState AgentMap::Rebase(const AgentMap& from,
                                  const PackedAgentState& packed) const {
  if (from.base_beat_ == base_beat_ && from.base_arrival_ == base_arrival_) {
    return packed;
  }
  const AgentState full = from.Unpack(packed);
  PackedAgentState state = packed;
  state.latest_beat = BeatOffset(full.latest_beat);
  state.latest_arrival = ArrivalOffset(full.latest_arrival);
  state.first_review = full.first_review_arrival == kNever
                           ? PackedAgentState::kNoReview
                           : ArrivalOffset(full.first_review_arrival);
  return state;
}

void AgentMap::MergePartition(const AgentMap& from, size_t p) {
  Partition& into = parts_[p];
  const Partition& source = from.parts_[p];

  // Grow once, by the share of a sample that is new to us.
  size_t sampled = 0, fresh = 0;
  for (auto it = source.begin(); it != source.end() && sampled < kSample;
       ++it, ++sampled) {
    fresh += into.contains(Probe{IdArena::View(it->id), it->hash}) ? 0 : 1;
  }
  if (sampled > 0) {
    into.reserve(into.size() + source.size() * fresh / sampled);
  }

  // Fold, touching the slots and ids a few entries ahead.
  auto ahead = source.begin();
  for (size_t i = 0; i < kLookahead && ahead != source.end(); ++i, ++ahead) {
  }
  for (const Entry& entry : source) {
    if (ahead != source.end()) {
      into.prefetch(Probe{{}, ahead->hash});
      __builtin_prefetch(ahead->id);
      ++ahead;
    }
    const PackedAgentState state = Rebase(from, entry.state);
    bool inserted = false;
    auto it = into.lazy_emplace(Probe{IdArena::View(entry.id), entry.hash},
                                [&](const auto& construct) {
                                  inserted = true;
                                  construct(Entry{entry.id, entry.hash, state});
                                });
    if (!inserted) {
      it->state.Merge(state);
    }
  }
}

void AgentMap::Merge(AgentMap&& other) {
  // Fold the smaller map into the larger one.
  if (other.size() > size()) {
    std::swap(*this, other);
  }
  if (other.size() > 0) {
    for (size_t p = 0; p < kPartitions; ++p) {
      MergePartition(other, p);
    }
  }
  AdoptIds(std::move(other));
}

void AgentMap::AdoptIds(AgentMap&& from) {
  // Entries taken from `from` keep their id handles: its arena joins ours.
  arena_.Adopt(std::move(from.arena_));
  from = AgentMap();
}

void AgentMap::Disjoin(std::span<AgentMap* const> maps, size_t p) {
  for (size_t j = 1; j < maps.size(); ++j) {
    const AgentMap& from = *maps[j];
    Partition& source = maps[j]->parts_[p];
    auto ahead = source.begin();
    for (size_t i = 0; i < kLookahead && ahead != source.end(); ++i) {
      ++ahead;
    }
    for (auto it = source.begin(); it != source.end();) {
      // Touch the slots of an entry a few ahead in the maps before us.
      if (ahead != source.end()) {
        for (size_t i = 0; i < j; ++i) {
          maps[i]->parts_[p].prefetch(*ahead);
        }
        __builtin_prefetch(ahead->id);
        ++ahead;
      }
      // Found by entry: ids are read only on a hash match.
      bool held_before = false;
      for (size_t i = 0; i < j && !held_before; ++i) {
        const AgentMap& into = *maps[i];
        auto found = into.parts_[p].find(*it);
        if (found != into.parts_[p].end()) {
          found->state.Merge(into.Rebase(from, it->state));
          held_before = true;
        }
      }
      if (held_before) {
        source.erase(it++);
      } else {
        ++it;
      }
    }
    if (source.empty()) {
      Partition().swap(source);  // Give its memory back now.
    }
  }
}

// ------------------------------------------------------------ samples --

void SmallestIds::Offer(std::string_view id) {
  if (ids_.size() == limit_ && (limit_ == 0 || id >= ids_.back())) {
    return;
  }
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it != ids_.end() && *it == id) {
    return;
  }
  ids_.insert(it, std::string(id));
  if (ids_.size() > limit_) {
    ids_.pop_back();
  }
}

void SmallestIds::Merge(const SmallestIds& other) {
  for (const std::string& id : other.ids_) {
    Offer(id);
  }
}

// ----------------------------------------------------------------- roll --

AgentRoll::AgentRoll(const AgentMap& agents)
    : AgentRoll(std::span<const AgentMap* const>(
          std::array<const AgentMap*, 1>{&agents})) {}

AgentRoll::AgentRoll(std::span<const AgentMap* const> maps) {
  std::vector<std::string_view> ids;
  for (size_t p = 0; p < AgentMap::kPartitions; ++p) {
    // Collect the ids, then copy them a few entries ahead of use.
    std::vector<Member>& members = parts_[p];
    ids.clear();
    for (const AgentMap* agents : maps) {
      agents->ForEachIn(
          p, [&](std::string_view id, uint64_t hash, const AgentState&) {
            ids.push_back(id);
            members.push_back({nullptr, hash});
          });
    }
    for (size_t i = 0; i < members.size(); ++i) {
      if (i + kLookahead < ids.size()) {
        __builtin_prefetch(ids[i + kLookahead].data());
      }
      members[i].id = arena_.Store(ids[i]);
    }
    members.shrink_to_fit();
    size_ += members.size();
  }
}

int64_t AgentRoll::CountMissing(const AgentMap& agents,
                                SmallestIds* sample) const {
  const std::array<const AgentMap*, 1> maps = {&agents};
  int64_t missing = 0;
  for (size_t p = 0; p < AgentMap::kPartitions; ++p) {
    missing += CountMissingIn(p, maps, sample);
  }
  return missing;
}

int64_t AgentRoll::CountMissingIn(size_t p,
                                  std::span<const AgentMap* const> maps,
                                  SmallestIds* sample) const {
  // First find, by hash alone, the entry each member most likely matches,
  // touching its id; then compare ids byte for byte, and look again in full
  // only where they differ (a hash collision).
  const std::vector<Member>& members = parts_[p];
  std::vector<const char*> candidates(members.size(), nullptr);
  for (size_t i = 0; i < members.size(); ++i) {
    if (i + kLookahead < members.size()) {
      for (const AgentMap* agents : maps) {
        agents->Prefetch(members[i + kLookahead].hash);
      }
    }
    for (size_t m = 0; m < maps.size() && candidates[i] == nullptr; ++m) {
      candidates[i] = maps[m]->CandidateWithHash(members[i].hash);
    }
    if (candidates[i] != nullptr) {
      __builtin_prefetch(candidates[i]);
    }
  }

  int64_t missing = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    if (i + kLookahead < members.size()) {
      __builtin_prefetch(members[i + kLookahead].id);
      if (candidates[i + kLookahead] != nullptr) {
        __builtin_prefetch(candidates[i + kLookahead]);
      }
    }
    const std::string_view id = IdArena::View(members[i].id);
    bool found = candidates[i] != nullptr && IdArena::View(candidates[i]) == id;
    for (size_t m = 0; m < maps.size() && !found && candidates[i] != nullptr;
         ++m) {
      found = maps[m]->Contains(id, members[i].hash);
    }
    if (!found) {
      ++missing;
      sample->Offer(id);
    }
  }
  return missing;
}

// ------------------------------------------------------------ aggregate --

void BarAggregate::AddClaim(const StatusClaim& claim, Nanos arrival) {
  agents_.Add(claim.agent_id, claim.beat_index, arrival, claim.state);
  if (!claim.task_id.has_value()) {
    return;
  }
  if (claim.state == ClaimState::kHelping) {
    helping_.emplace(claim.agent_id, *claim.task_id);
  } else if (claim.state == ClaimState::kCompleted) {
    completed_tasks_.insert(*claim.task_id);
  }
}

void BarAggregate::AddLate(const std::string& agent_id) {
  ++late_claims_;
  late_agents_.Offer(agent_id);
}

void BarAggregate::Merge(BarAggregate&& other) {
  agents_.Merge(std::move(other.agents_));
  MergeAllButAgents(other);
  other.Clear();
}

void BarAggregate::MergeAllButAgents(const BarAggregate& other) {
  for (const AgentTask& pair : other.helping_) {
    helping_.insert(pair);
  }
  for (const std::string& task : other.completed_tasks_) {
    completed_tasks_.insert(task);
  }
  late_claims_ += other.late_claims_;
  late_agents_.Merge(other.late_agents_);
}

void BarAggregate::Clear() { *this = BarAggregate(); }

int64_t BarAggregate::HelpPromisesFulfilled() const {
  int64_t fulfilled = 0;
  for (const AgentTask& pair : helping_) {
    fulfilled += completed_tasks_.contains(pair.second) ? 1 : 0;
  }
  return fulfilled;
}

}  // namespace backbeat::reverb
