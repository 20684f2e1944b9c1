#include "reverb/timeline_snapshot.h"

#include <thread>

namespace backbeat::reverb {

Placement PlaceClaim(const Snapshot& snapshot, int64_t beat, int hold_beats) {
  if (snapshot.newest_beat < 0) {
    // No frame yet: the claim may have overtaken the very first downbeat.
    return {ClaimOutcome::kHeld};
  }
  if (beat > snapshot.newest_beat) {
    return {beat - snapshot.newest_beat <= hold_beats ? ClaimOutcome::kHeld
                                                      : ClaimOutcome::kFuture};
  }
  if (snapshot.first_downbeat < 0 || beat < snapshot.first_downbeat) {
    return {ClaimOutcome::kUnobserved};
  }
  if (beat <= snapshot.sealed_through) {
    const int64_t open = snapshot.newest_seq;
    const bool reported =
        open >= snapshot.oldest_seq && snapshot.observed[open % kBarRing];
    return {ClaimOutcome::kLate, reported ? open : -1};
  }
  for (int64_t seq = snapshot.newest_seq; seq >= snapshot.oldest_seq; --seq) {
    if (snapshot.starts[seq % kBarRing] <= beat) {
      if (!snapshot.observed[seq % kBarRing]) {
        return {ClaimOutcome::kUnobserved};
      }
      return {ClaimOutcome::kAccepted, seq};
    }
  }
  return {ClaimOutcome::kUnobserved};
}

// Every access is sequentially consistent: the claim path relies on a
// total order between this cell and the shards' epochs (see engine.cc).
void SnapshotCell::Publish(const Snapshot& snapshot) {
  const uint64_t version = version_.load();
  version_.store(version + 1);
  newest_beat_.store(snapshot.newest_beat);
  first_downbeat_.store(snapshot.first_downbeat);
  sealed_through_.store(snapshot.sealed_through);
  oldest_seq_.store(snapshot.oldest_seq);
  newest_seq_.store(snapshot.newest_seq);
  for (int i = 0; i < kBarRing; ++i) {
    starts_[i].store(snapshot.starts[i]);
    observed_[i].store(snapshot.observed[i]);
  }
  version_.store(version + 2);
}

Snapshot SnapshotCell::Read() const {
  Snapshot snapshot;
  for (;;) {
    const uint64_t before = version_.load();
    if (before & 1) {
      std::this_thread::yield();
      continue;
    }
    snapshot.newest_beat = newest_beat_.load();
    snapshot.first_downbeat = first_downbeat_.load();
    snapshot.sealed_through = sealed_through_.load();
    snapshot.oldest_seq = oldest_seq_.load();
    snapshot.newest_seq = newest_seq_.load();
    if (snapshot.newest_seq - snapshot.oldest_seq >= kBarRing) {
      continue;  // Torn: a Publish ran meanwhile.
    }
    for (int64_t seq = snapshot.oldest_seq; seq <= snapshot.newest_seq; ++seq) {
      snapshot.starts[seq % kBarRing] = starts_[seq % kBarRing].load();
      snapshot.observed[seq % kBarRing] = observed_[seq % kBarRing].load();
    }
    if (version_.load() == before) {
      return snapshot;
    }
  }
}

}  // namespace backbeat::reverb
