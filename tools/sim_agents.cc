// The agents of the simulator: what each behaviour claims at each beat.
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/sim_model.h"

namespace backbeat::sim {
namespace {

constexpr uint64_t kShuffleSalt = 0x6167656e74730000ull;  // "agents"

}  // namespace

Agents::Agents(const SimConfig& config) : config_(config) {
  if (config_.mix.empty()) {
    config_.mix = DefaultMix();
  }

  // Behaviours in proportion to the mix, then shuffled with the seed.
  std::vector<Behaviour> pool;
  for (const auto& [behaviour, count] :
       Apportion(config_.mix, config_.agents)) {
    pool.insert(pool.end(), count, behaviour);
  }
  Random random(config_.seed ^ kShuffleSalt);
  for (size_t i = pool.size(); i > 1; --i) {
    std::swap(pool[i - 1], pool[random.Below(i)]);
  }

  // Helpers get a rank to spread them over the tasks that complete.
  int helpers = 0;
  for (size_t i = 0; i < pool.size(); ++i) {
    agents_.push_back(
        {absl::StrFormat("sim-%s-%03d", BehaviourName(pool[i]), i), pool[i]});
    helper_rank_.push_back(pool[i] == Behaviour::kHelping ? helpers++ : -1);
  }
  for (Behaviour completer : {Behaviour::kOnTime, Behaviour::kLate}) {
    for (size_t i = 0; i < pool.size(); ++i) {
      if (pool[i] == completer) {
        completers_.push_back(static_cast<int>(i));
      }
    }
  }
}

std::string Agents::TaskId(int agent, const BeatContext& beat) const {
  return absl::StrCat(agents_[agent].id, "/", beat.downbeat_index);
}

std::string Agents::HelpTarget(int helper_rank, const BeatContext& beat) const {
  if (completers_.empty()) {
    return absl::StrCat("unassigned/", beat.downbeat_index);
  }
  size_t pick =
      static_cast<size_t>(helper_rank + beat.bar) % completers_.size();
  return TaskId(completers_[pick], beat);
}

void Agents::AgentClaims(int agent, const BeatContext& beat,
                         std::vector<Step>* now,
                         std::vector<Step>* later) const {
  const int bar_beats = config_.beats_per_bar;
  const int last = bar_beats - 1;
  const int p = beat.position;
  if (p < 0 || p > last) {
    return;  // A bar longer than expected: nothing more to say.
  }
  auto step = [&](ClaimState state, std::string task) {
    Step s;
    s.agent = agent;
    s.state = state;
    s.task_id = std::move(task);
    s.claimed_beat = beat.beat_index;
    return s;
  };
  const std::string own_task = TaskId(agent, beat);
  Behaviour behaviour = agents_[agent].behaviour;
  if (behaviour == Behaviour::kSilent) {
    if (beat.bar % 2 == 1) {
      return;
    }
    behaviour = Behaviour::kOnTime;
  }

  switch (behaviour) {
    case Behaviour::kOnTime:
    case Behaviour::kLate: {
      if (p < last || p == 0) {
        ClaimState state = p == 0 ? ClaimState::kPlanning
                           : PhaseAt(p, bar_beats) == Phase::kReview
                               ? ClaimState::kReviewing
                               : ClaimState::kExecuting;
        Step s = step(state, own_task);
        s.progress = static_cast<double>(p) / bar_beats;
        s.beats_left = last - p;
        now->push_back(std::move(s));
      }
      if (p == last) {
        std::vector<Step>* out = behaviour == Behaviour::kLate ? later : now;
        Step review = step(ClaimState::kReviewing, own_task);
        review.progress = 1.0;
        review.beats_left = 0;
        Step done = review;
        done.state = ClaimState::kCompleted;
        out->push_back(std::move(review));
        out->push_back(std::move(done));
      }
      return;
    }
    case Behaviour::kFailing:
    case Behaviour::kBlocked: {
      const int give_up = std::min(last, bar_beats / 2);
      if (p == 0) {
        now->push_back(step(ClaimState::kPlanning, own_task));
      } else if (p < give_up) {
        now->push_back(step(ClaimState::kExecuting, own_task));
      }
      if (p == give_up) {
        bool failing = behaviour == Behaviour::kFailing;
        Step s = step(failing ? ClaimState::kFailed : ClaimState::kBlocked,
                      own_task);
        s.notes =
            failing ? "sim: injected failure" : "sim: waiting on a dependency";
        now->push_back(std::move(s));
      }
      return;
    }
    case Behaviour::kHelping: {
      const std::string target = HelpTarget(helper_rank_[agent], beat);
      if (p == 0 && bar_beats >= 3) {
        now->push_back(step(ClaimState::kPlanning, target));
      } else if (p < last || bar_beats == 1) {
        now->push_back(step(ClaimState::kHelping, target));
      }
      if (p == last) {
        now->push_back(step(ClaimState::kReviewing, target));
      }
      return;
    }
    case Behaviour::kSilent:
      return;
  }
}

StatusClaim Agents::MakeClaim(const Step& step, const BeatContext& beat) {
  if (beat.beat_index != sequence_beat_) {
    sequence_beat_ = beat.beat_index;
    sequence_ = 0;
  }
  StatusClaim claim;
  claim.agent_id = agents_[step.agent].id;
  claim.task_id = step.task_id;
  claim.beat_index = step.claimed_beat;
  claim.state = step.state;
  claim.beats_left = step.beats_left;
  claim.progress = step.progress;
  claim.notes = step.notes;
  claim.hlc = Hlc(beat.beat_index, ++sequence_);
  return claim;
}

std::vector<StatusClaim> Agents::TakeDeferred(const BeatContext& beat) {
  std::vector<StatusClaim> claims;
  for (const Step& step : deferred_) {
    claims.push_back(MakeClaim(step, beat));
  }
  deferred_.clear();
  return claims;
}

std::vector<StatusClaim> Agents::OnBeat(const BeatContext& beat) {
  std::vector<StatusClaim> claims;
  std::vector<Step> now;
  for (size_t i = 0; i < agents_.size(); ++i) {
    AgentClaims(static_cast<int>(i), beat, &now, &deferred_);
  }
  for (const Step& step : now) {
    claims.push_back(MakeClaim(step, beat));
  }
  return claims;
}

}  // namespace backbeat::sim
