// What the claims of one bar add up to, before the report is built.
//
// A BarAggregate is a set of facts (which agents spoke, their latest state,
// their earliest review, which agents helped on which task, which tasks were
// completed). Two aggregates of the same bar merge by set union, so a bar's
// state can be split across shards, threads or processes and combined in any
// order with the same result.
//
// Not thread-safe: each instance is owned by one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "common/messages.h"

namespace backbeat::reverb {

using Nanos = int64_t;  // Monotonic nanoseconds.

inline constexpr Nanos kNever = std::numeric_limits<Nanos>::max();
inline constexpr size_t kMaxIssueAgents = 10;

// Agent ids copied once, at addresses that stay put until the arena (or the
// arena that adopted its blocks) is destroyed, moves included.
class IdArena {
 public:
  // Copies `id`; the handle returned names it for View().
  const char* Store(std::string_view id);
  static std::string_view View(const char* stored);
  // Takes over every block of `other`: handles into it stay valid.
  void Adopt(IdArena&& other);

 private:
  static constexpr size_t kBlockBytes = 64 << 10;

  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t used_ = kBlockBytes;  // Bytes used of blocks_.back().
};

// One agent's claims within one bar, packed into 16 bytes: beats and arrival
// times are offsets from the owning AgentMap's base beat and base arrival.
// Offsets saturate: arrivals more than ~39 hours and beats more than 32767
// away from the bar's first claim compare as equal to the extreme value.
struct PackedAgentState {
  static constexpr int64_t kNoReview = (int64_t{1} << 47) - 1;

  int64_t latest_arrival : 48;
  uint64_t latest_state : 8;
  int64_t first_review : 48;  // kNoReview: none.
  int64_t latest_beat : 16;

  // Folds one claim in. The latest state is the claim with the highest
  // beat; ties go to the later arrival, then the higher state, so the result
  // does not depend on the order claims are folded in.
  void Add(int64_t beat, int64_t arrival, ClaimState state);
  void Merge(const PackedAgentState& other);
};
static_assert(sizeof(PackedAgentState) == 16);

// One agent's state in absolute beats and times, as the report reads it.
struct AgentState {
  int64_t latest_beat = -1;
  Nanos latest_arrival = 0;
  Nanos first_review_arrival = kNever;  // Earliest reviewing/completed.
  ClaimState latest_state = ClaimState::kIdle;
};

// Agents of one bar, split by a hash of the id into partitions so that
// merging and scanning work on cache-sized tables. Each agent takes a
// 32-byte slot (its id's hash, a handle into the map's IdArena and its
// packed state) plus the id's bytes once.
class AgentMap {
 public:
  static constexpr size_t kPartitions = 64;
  static constexpr int kIdLookahead = 8;

  static uint64_t HashOf(std::string_view agent) {
    return absl::Hash<std::string_view>{}(agent);
  }

  void Add(std::string_view agent, int64_t beat, Nanos arrival,
           ClaimState state);
  std::optional<AgentState> Find(std::string_view agent) const;
  // Same as Find(agent).has_value(); `hash` must be HashOf(agent).
  bool Contains(std::string_view agent, uint64_t hash) const;
  size_t size() const;
  // Hints that Contains(..., hash) follows soon.
  void Prefetch(uint64_t hash) const {
    parts_[PartitionOf(hash)].prefetch(Probe{{}, hash});
  }
  // Calls fn(id, hash, state) for every agent, partition by partition, in no
  // particular order within a partition. `id` lives as long as the map.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t p = 0; p < kPartitions; ++p) {
      ForEachIn(p, fn);
    }
  }
  template <typename Fn>
  void ForEachIn(size_t partition, Fn&& fn) const {
    // Ids lie anywhere in the arena: touch them a few entries ahead.
    const Partition& part = parts_[partition];
    auto ahead = part.begin();
    for (int i = 0; i < kIdLookahead && ahead != part.end(); ++i, ++ahead) {
      __builtin_prefetch(ahead->id);
    }
    for (const Entry& entry : part) {
      if (ahead != part.end()) {
        __builtin_prefetch(ahead->id);
        ++ahead;
      }
      fn(IdArena::View(entry.id), entry.hash, Unpack(entry.state));
    }
  }
  // The id handle of some agent whose hash is `hash` (ids not compared), or
  // null: a candidate to touch before an exact Contains().
  const char* CandidateWithHash(uint64_t hash) const {
    const Partition& part = parts_[PartitionOf(hash)];
    auto it = part.find(HashOnly{hash});
    return it == part.end() ? nullptr : it->id;
  }
  static size_t PartitionOf(uint64_t hash) {
    // The top bits: the tables themselves index by the low ones.
    return hash >> 58 & (kPartitions - 1);
  }
  // Set union; `other` is left empty.
  void Merge(AgentMap&& other);
  // Set union of partition `p` of `from` into ours. The entries taken keep
  // handles to ids in `from`'s arena: call AdoptIds(from) once every
  // partition is merged, before `from` changes or goes. Calls for different
  // partitions may run in parallel; `from` is only read. Merge into the
  // larger map: if ours is empty, `from` must be empty too.
  void MergePartition(const AgentMap& from, size_t p);
  // Takes over the ids of `from`, which is left empty.
  void AdoptIds(AgentMap&& from);
  // Makes `maps` (of one bar) disjoint in partition `p`: an agent held by
  // several keeps one entry, in the first map holding it, with the merged
  // state, and leaves the others. Ids stay where they are: the maps together
  // then hold the set union. Touches partition `p` only: calls for
  // different partitions may run in parallel.
  static void Disjoin(std::span<AgentMap* const> maps, size_t p);

 private:
  struct Entry {
    const char* id;  // In arena_.
    uint64_t hash;
    mutable PackedAgentState state;
  };
  struct Probe {
    std::string_view id;
    uint64_t hash;
  };
  struct HashOnly {
    uint64_t hash;
  };
  struct EntryHash {
    using is_transparent = void;
    size_t operator()(const Entry& e) const { return e.hash; }
    size_t operator()(const Probe& p) const { return p.hash; }
    size_t operator()(const HashOnly& h) const { return h.hash; }
  };
  struct EntryEq {
    using is_transparent = void;
    bool operator()(const Entry& a, const Entry& b) const {
      return a.hash == b.hash && IdArena::View(a.id) == IdArena::View(b.id);
    }
    bool operator()(const Entry& a, const Probe& b) const {
      return a.hash == b.hash && IdArena::View(a.id) == b.id;
    }
    bool operator()(const Probe& a, const Entry& b) const {
      return (*this)(b, a);
    }
    bool operator()(const Entry& a, const HashOnly& b) const {
      return a.hash == b.hash;
    }
    bool operator()(const HashOnly& a, const Entry& b) const {
      return a.hash == b.hash;
    }
  };
  using Partition = absl::flat_hash_set<Entry, EntryHash, EntryEq>;

  AgentState Unpack(const PackedAgentState& packed) const;
  PackedAgentState Rebase(const AgentMap& from,
                          const PackedAgentState& packed) const;
  // Sets the bases from the first claim.
  void SetBases(int64_t beat, Nanos arrival);
  int64_t BeatOffset(int64_t beat) const;
  int64_t ArrivalOffset(Nanos arrival) const;

  bool has_bases_ = false;
  int64_t base_beat_ = 0;
  Nanos base_arrival_ = 0;
  IdArena arena_;
  std::array<Partition, kPartitions> parts_;
};

// The `limit` lexicographically smallest distinct ids offered, sorted.
class SmallestIds {
 public:
  explicit SmallestIds(size_t limit = kMaxIssueAgents) : limit_(limit) {}

  void Offer(std::string_view id);
  void Merge(const SmallestIds& other);
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  size_t limit_;
  std::vector<std::string> ids_;
};

// The ids of a reported bar's agents, kept for the next bar's
// agents_silent: about 16 bytes per agent plus the id's bytes.
class AgentRoll {
 public:
  // Copies the ids of `agents`.
  explicit AgentRoll(const AgentMap& agents);
  // Copies the ids of several disjoint maps.
  explicit AgentRoll(std::span<const AgentMap* const> maps);

  // Counts the agents of the roll missing from `agents`, and offers their ids
  // to `sample`. Exact: ids are compared byte for byte on a hash match.
  int64_t CountMissing(const AgentMap& agents, SmallestIds* sample) const;
  // The same for the agents of partition `p` only, missing from every map of
  // `maps`. Read-only: calls may run in parallel.
  int64_t CountMissingIn(size_t p, std::span<const AgentMap* const> maps,
                         SmallestIds* sample) const;
  size_t size() const { return size_; }

 private:
  struct Member {
    const char* id;  // In arena_.
    uint64_t hash;
  };

  IdArena arena_;
  std::array<std::vector<Member>, AgentMap::kPartitions> parts_;
  size_t size_ = 0;
};

class BarAggregate {
 public:
  // A claim attributed to this bar, received at `arrival`.
  void AddClaim(const StatusClaim& claim, Nanos arrival);
  // A claim that arrived while this bar was open but named a bar whose
  // report was already out.
  void AddLate(const std::string& agent_id);
  // Set union with `other`, which is left empty.
  void Merge(BarAggregate&& other);
  // Set union of everything but the agents (helping pairs, completed tasks,
  // late claims); `other` is only read. Touches no AgentMap, so it may run
  // beside AgentMap::MergePartition calls on mutable_agents().
  void MergeAllButAgents(const BarAggregate& other);
  void Clear();

  const AgentMap& agents() const { return agents_; }
  AgentMap& mutable_agents() { return agents_; }
  // Distinct (agent, task) pairs helping on a task that some claim of the
  // bar reports completed.
  int64_t HelpPromisesFulfilled() const;
  int64_t late_claims() const { return late_claims_; }
  const SmallestIds& late_agents() const { return late_agents_; }

 private:
  using AgentTask = std::pair<std::string, std::string>;

  AgentMap agents_;
  absl::flat_hash_set<AgentTask> helping_;
  absl::flat_hash_set<std::string> completed_tasks_;
  int64_t late_claims_ = 0;
  SmallestIds late_agents_;
};

}  // namespace backbeat::reverb
