#include "reverb/bar_aggregate.h"

#include <algorithm>
#include <tuple>

namespace backbeat::reverb {
namespace {

bool IsReview(ClaimState state) {
  return state == ClaimState::kReviewing || state == ClaimState::kCompleted;
}

}  // namespace

void AgentState::Add(int64_t beat, Nanos arrival, ClaimState state) {
  if (std::tie(beat, arrival, state) >
      std::tie(latest_beat, latest_arrival, latest_state)) {
    latest_beat = beat;
    latest_arrival = arrival;
    latest_state = state;
  }
  if (IsReview(state)) {
    first_review_arrival = std::min(first_review_arrival, arrival);
  }
}

void AgentState::Merge(const AgentState& other) {
  if (other.latest_beat >= 0) {
    Add(other.latest_beat, other.latest_arrival, other.latest_state);
  }
  first_review_arrival =
      std::min(first_review_arrival, other.first_review_arrival);
}

size_t AgentMap::PartitionOf(const std::string& agent) {
  // The top bits: the tables themselves index by the low ones.
  return absl::Hash<std::string>{}(agent) >> 60 & (kPartitions - 1);
}

const AgentState* AgentMap::Find(const std::string& agent) const {
  const auto& part = parts_[PartitionOf(agent)];
  auto it = part.find(agent);
  return it == part.end() ? nullptr : &it->second;
}

size_t AgentMap::size() const {
  size_t total = 0;
  for (const auto& part : parts_) {
    total += part.size();
  }
  return total;
}

void AgentMap::Merge(AgentMap&& other) {
  for (size_t p = 0; p < kPartitions; ++p) {
    auto& into = parts_[p];
    auto& from = other.parts_[p];
    // Fold the smaller table into the larger one.
    if (from.size() > into.size()) {
      into.swap(from);
    }
    for (const auto& [agent, state] : from) {
      auto [it, inserted] = into.try_emplace(agent, state);
      if (!inserted) {
        it->second.Merge(state);
      }
    }
    from.clear();
  }
}

void SmallestIds::Offer(const std::string& id) {
  if (ids_.size() == limit_ && (limit_ == 0 || id >= ids_.back())) {
    return;
  }
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it != ids_.end() && *it == id) {
    return;
  }
  ids_.insert(it, id);
  if (ids_.size() > limit_) {
    ids_.pop_back();
  }
}

void SmallestIds::Merge(const SmallestIds& other) {
  for (const std::string& id : other.ids_) {
    Offer(id);
  }
}

void BarAggregate::AddClaim(const StatusClaim& claim, Nanos arrival) {
  agents_[claim.agent_id].Add(claim.beat_index, arrival, claim.state);
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
  for (const AgentTask& pair : other.helping_) {
    helping_.insert(pair);
  }
  for (const std::string& task : other.completed_tasks_) {
    completed_tasks_.insert(task);
  }
  late_claims_ += other.late_claims_;
  late_agents_.Merge(other.late_agents_);
  other.Clear();
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
