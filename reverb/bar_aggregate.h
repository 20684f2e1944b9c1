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
#include <string>
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

// One agent's claims within one bar, reduced to what the report needs.
struct AgentState {
  int64_t latest_beat = -1;
  Nanos latest_arrival = 0;
  Nanos first_review_arrival = kNever;  // Earliest reviewing/completed.
  ClaimState latest_state = ClaimState::kIdle;

  // Folds one claim in. The latest state is the claim with the highest
  // beat_index; ties go to the later arrival, then the higher state, so the
  // result does not depend on the order claims are folded in.
  void Add(int64_t beat, Nanos arrival, ClaimState state);
  void Merge(const AgentState& other);
};

// Agents of one bar, split by a hash of the id into partitions so that
// merging and scanning work on cache-sized tables.
class AgentMap {
 public:
  static constexpr size_t kPartitions = 16;

  AgentState& operator[](const std::string& agent) {
    return parts_[PartitionOf(agent)][agent];
  }
  const AgentState* Find(const std::string& agent) const;
  bool contains(const std::string& agent) const {
    return Find(agent) != nullptr;
  }
  size_t size() const;
  // Calls fn(id, state) for every agent, in no particular order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& part : parts_) {
      for (const auto& [agent, state] : part) {
        fn(agent, state);
      }
    }
  }
  // Set union; `other` is left in a valid but unspecified state.
  void Merge(AgentMap&& other);

 private:
  static size_t PartitionOf(const std::string& agent);

  std::array<absl::flat_hash_map<std::string, AgentState>, kPartitions> parts_;
};

// The `limit` lexicographically smallest distinct ids offered, sorted.
class SmallestIds {
 public:
  explicit SmallestIds(size_t limit = kMaxIssueAgents) : limit_(limit) {}

  void Offer(const std::string& id);
  void Merge(const SmallestIds& other);
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  size_t limit_;
  std::vector<std::string> ids_;
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
  void Clear();

  const AgentMap& agents() const { return agents_; }
  AgentMap TakeAgents() { return std::move(agents_); }
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
