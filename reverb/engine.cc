// How the engine shares work between threads.
//
// The timeline (bars, their frames and timing, held claims, reports ready to
// go out) belongs to the beat path and the closer and is guarded by `mu`.
// After every change the timeline is published to a SnapshotCell.
//
// Each shard owns a ring of per-bar aggregates. OnClaim marks its shard busy
// (an odd epoch), reads the snapshot, and writes into the slot of the
// claim's bar, or pushes a held claim onto the shard's queue; then marks the
// shard idle. No lock is taken on that path.
//
// To seal a bar, the closer publishes a snapshot in which the bar is
// reported, then waits until every shard is idle or has finished the call it
// was in. Any later OnClaim reads the new snapshot (the epoch increments and
// the snapshot accesses are all sequentially consistent), so from then on
// no shard writes into that bar's slot and the closer may take it. Held
// claims are drained from the shard queues into the timeline and folded
// into their bar once a frame at or past their beat has arrived.
#include "reverb/engine.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "reverb/bar_aggregate.h"
#include "reverb/report_builder.h"
#include "reverb/timeline_snapshot.h"

namespace backbeat::reverb {
namespace {

constexpr size_t kMaxFramesPerBar = 4096;
constexpr absl::Duration kMaxDefaultGrace = absl::Seconds(2);

// A quarter of a beat at `tempo_bpm`, at most 2 s, unless configured.
absl::Duration GraceFor(const EngineOptions& options, double tempo_bpm) {
  if (options.grace.has_value()) {
    return *options.grace;
  }
  if (!(tempo_bpm > 0)) {
    return kMaxDefaultGrace;
  }
  return std::min(absl::Seconds(60.0 / tempo_bpm / 4.0), kMaxDefaultGrace);
}

// A std::mutex that clang's thread-safety analysis understands. Not
// absl::Mutex: the system's Abseil is built without ThreadSanitizer, which
// then cannot see absl::Mutex synchronize.
class ABSL_LOCKABLE TimelineLock {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE TimelineGuard {
 public:
  explicit TimelineGuard(TimelineLock& lock) ABSL_EXCLUSIVE_LOCK_FUNCTION(lock)
      : lock_(lock) {
    lock_.Lock();
  }
  ~TimelineGuard() ABSL_UNLOCK_FUNCTION() { lock_.Unlock(); }
  TimelineGuard(const TimelineGuard&) = delete;
  TimelineGuard& operator=(const TimelineGuard&) = delete;

 private:
  TimelineLock& lock_;
};

struct HeldClaim {
  StatusClaim claim;
  Nanos arrival = 0;
  int shard = 0;
};

// Single-producer, single-consumer queue of held claims. The producer is the
// shard's OnClaim, the consumer the timeline (under the engine's lock).
class HeldQueue {
 public:
  HeldQueue() : head_(new Node), tail_(head_) {}
  ~HeldQueue() {
    while (head_ != nullptr) {
      Node* next = head_->next.load(std::memory_order_acquire);
      delete head_;
      head_ = next;
    }
  }
  HeldQueue(const HeldQueue&) = delete;
  HeldQueue& operator=(const HeldQueue&) = delete;

  void Push(HeldClaim claim) {
    Node* node = new Node;
    node->value = std::move(claim);
    tail_->next.store(node, std::memory_order_release);
    tail_ = node;
  }

  bool Pop(HeldClaim* out) {
    Node* next = head_->next.load(std::memory_order_acquire);
    if (next == nullptr) {
      return false;
    }
    *out = std::move(next->value);
    delete head_;
    head_ = next;
    return true;
  }

 private:
  struct Node {
    HeldClaim value;
    std::atomic<Node*> next{nullptr};
  };
  Node* head_;  // Consumer side; a node already consumed.
  Node* tail_;  // Producer side.
};

struct Slot {
  int64_t seq = -1;  // The bar whose claims `bar` holds.
  BarAggregate bar;
};

struct alignas(64) Shard {
  std::atomic<uint64_t> epoch{0};  // Odd while an OnClaim runs.
  std::atomic<int64_t> held{0};    // Held claims not yet released.
  std::array<Slot, kBarRing> slots;
  HeldQueue queue;
};

// A bar as the timeline knows it, open or in grace.
struct Bar {
  int64_t seq = 0;
  bool observed = true;  // False: its downbeat was never seen.
  bool has_boundary = false;
  Nanos due = 0;
  int64_t dropped_at_open = 0;
  BarFacts facts;
  BarAggregate carried;  // Held claims released into this bar.
};

}  // namespace

struct Engine::Impl {
  explicit Impl(EngineOptions opts) : options(std::move(opts)) {
    options.shards = std::max(1, options.shards);
    for (int i = 0; i < options.shards; ++i) {
      shards.push_back(std::make_unique<Shard>());
    }
  }

  // Timeline steps, all with `mu` held.
  BeatOutcome OnOlderBeat(const BeatFrame& frame)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  BeatOutcome OnNewerBeat(const BeatFrame& frame, Nanos arrival)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void OpenBar(const BeatFrame& frame, Nanos arrival, bool observed,
               int64_t from_beat) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void SetBoundary(Bar& bar, int64_t to_beat, Nanos arrival, double tempo)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  Bar* BarOf(int64_t seq) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  Bar* BarOpenAt(Nanos arrival) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  Snapshot MakeSnapshot() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void ReleaseHeld() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void WaitForIdleShards();
  void SealOldest() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Report(Bar& bar) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  std::vector<ClosedBar> TakeReady() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  EngineOptions options;
  SnapshotCell snapshot;
  std::vector<std::unique_ptr<Shard>> shards;

  mutable TimelineLock mu;
  int64_t newest_beat ABSL_GUARDED_BY(mu) = -1;
  int64_t first_downbeat ABSL_GUARDED_BY(mu) = -1;
  int64_t sealed_through ABSL_GUARDED_BY(mu) = -1;
  int64_t next_seq ABSL_GUARDED_BY(mu) = 0;
  bool saw_beat_without_bar ABSL_GUARDED_BY(mu) = false;
  bool connected ABSL_GUARDED_BY(mu) = true;
  int64_t dropped_total ABSL_GUARDED_BY(mu) = 0;
  std::deque<Bar> open ABSL_GUARDED_BY(mu);
  std::vector<HeldClaim> held ABSL_GUARDED_BY(mu);
  std::vector<ClosedBar> ready ABSL_GUARDED_BY(mu);
  std::optional<AgentRoll> previous_agents ABSL_GUARDED_BY(mu);
  EngineStats stats ABSL_GUARDED_BY(mu);
};

const char* ClaimOutcomeName(ClaimOutcome outcome) {
  switch (outcome) {
    case ClaimOutcome::kAccepted:
      return "accepted";
    case ClaimOutcome::kHeld:
      return "held";
    case ClaimOutcome::kLate:
      return "late";
    case ClaimOutcome::kFuture:
      return "future";
    case ClaimOutcome::kUnobserved:
      return "unobserved";
  }
  return "unknown";
}

const char* BeatOutcomeName(BeatOutcome outcome) {
  switch (outcome) {
    case BeatOutcome::kOpened:
      return "opened";
    case BeatOutcome::kBeat:
      return "beat";
    case BeatOutcome::kDuplicate:
      return "duplicate";
    case BeatOutcome::kOutOfOrder:
      return "out_of_order";
    case BeatOutcome::kNoBar:
      return "no_bar";
    case BeatOutcome::kWrongCluster:
      return "wrong_cluster";
  }
  return "unknown";
}

Engine::Engine(EngineOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

Engine::~Engine() = default;

absl::Duration Engine::grace_for_tempo(double tempo_bpm) const {
  return GraceFor(impl_->options, tempo_bpm);
}

// ---------------------------------------------------------------- claims --

ClaimOutcome Engine::OnClaim(int shard_index, const StatusClaim& claim,
                             Nanos arrival) {
  Shard& shard = *impl_->shards[shard_index];
  shard.epoch.fetch_add(1);  // Busy.

  const Snapshot snapshot = impl_->snapshot.Read();
  Placement place =
      PlaceClaim(snapshot, claim.beat_index, impl_->options.hold_beats);
  if (place.outcome == ClaimOutcome::kAccepted ||
      (place.outcome == ClaimOutcome::kLate && place.seq >= 0)) {
    Slot& slot = shard.slots[place.seq % kBarRing];
    if (slot.seq != place.seq) {
      slot.bar.Clear();
      slot.seq = place.seq;
    }
    if (place.outcome == ClaimOutcome::kAccepted) {
      slot.bar.AddClaim(claim, arrival);
    } else {
      slot.bar.AddLate(claim.agent_id);
    }
  } else if (place.outcome == ClaimOutcome::kHeld) {
    if (shard.held.load(std::memory_order_relaxed) >=
        static_cast<int64_t>(impl_->options.max_held_claims)) {
      place.outcome = ClaimOutcome::kFuture;
    } else {
      shard.held.fetch_add(1, std::memory_order_relaxed);
      shard.queue.Push({claim, arrival, shard_index});
    }
  }

  shard.epoch.fetch_add(1, std::memory_order_release);  // Idle.
  return place.outcome;
}

// ----------------------------------------------------------------- beats --

BeatOutcome Engine::OnBeat(const BeatFrame& frame, Nanos arrival) {
  if (frame.cluster_id != impl_->options.cluster_id) {
    return BeatOutcome::kWrongCluster;
  }
  TimelineGuard lock(impl_->mu);
  if (impl_->newest_beat >= 0 && frame.beat_index <= impl_->newest_beat) {
    return impl_->OnOlderBeat(frame);
  }
  const BeatOutcome outcome = impl_->OnNewerBeat(frame, arrival);
  impl_->Publish();
  impl_->ReleaseHeld();
  return outcome;
}

BeatOutcome Engine::Impl::OnOlderBeat(const BeatFrame& frame) {
  const int64_t beat = frame.beat_index;
  for (Bar& bar : open) {
    const bool inside = beat >= bar.facts.from_beat &&
                        (!bar.has_boundary || beat <= bar.facts.to_beat);
    if (!inside) {
      continue;
    }
    if (bar.facts.tempos.contains(beat)) {
      return BeatOutcome::kDuplicate;
    }
    if (bar.observed && bar.facts.tempos.size() < kMaxFramesPerBar) {
      bar.facts.tempos.emplace(beat, frame.tempo_bpm);
    }
    return BeatOutcome::kOutOfOrder;
  }
  return beat == newest_beat ? BeatOutcome::kDuplicate
                             : BeatOutcome::kOutOfOrder;
}

BeatOutcome Engine::Impl::OnNewerBeat(const BeatFrame& frame, Nanos arrival) {
  const int64_t previous_newest = newest_beat;
  newest_beat = frame.beat_index;
  if (frame.downbeat) {
    OpenBar(frame, arrival, /*observed=*/true, frame.beat_index);
    return BeatOutcome::kOpened;
  }
  if (open.empty()) {
    saw_beat_without_bar = true;
    return BeatOutcome::kNoBar;
  }
  Bar& bar = open.back();
  if (bar.facts.window_id != frame.window_id) {
    // A new window began and its downbeat never arrived: the beats from
    // here on belong to a bar that is not reported.
    ++stats.bars_unobserved;
    OpenBar(frame, arrival, /*observed=*/false, previous_newest + 1);
    return BeatOutcome::kNoBar;
  }
  if (!bar.observed) {
    return BeatOutcome::kNoBar;
  }
  if (bar.facts.tempos.size() < kMaxFramesPerBar) {
    bar.facts.tempos.emplace(frame.beat_index, frame.tempo_bpm);
  }
  return BeatOutcome::kBeat;
}

void Engine::Impl::OpenBar(const BeatFrame& frame, Nanos arrival, bool observed,
                           int64_t from_beat) {
  if (!open.empty()) {
    SetBoundary(open.back(), from_beat - 1, arrival, frame.tempo_bpm);
  } else if (observed && first_downbeat < 0) {
    first_downbeat = frame.beat_index;
    if (saw_beat_without_bar) {
      ++stats.bars_unobserved;  // The bar Reverb joined in the middle of.
    }
  }

  Bar bar;
  bar.seq = next_seq++;
  bar.observed = observed;
  bar.dropped_at_open = dropped_total;
  bar.facts.window_id = frame.window_id;
  bar.facts.from_beat = from_beat;
  bar.facts.downbeat_arrival = arrival;
  bar.facts.disconnects = connected ? 0 : 1;
  if (observed) {
    bar.facts.tempos.emplace(frame.beat_index, frame.tempo_bpm);
  }
  open.push_back(std::move(bar));

  // Too many bars waiting for their grace: report the oldest now.
  if (open.size() > static_cast<size_t>(kMaxOpenBars)) {
    ++stats.bars_forced;
    SealOldest();
  }
}

void Engine::Impl::SetBoundary(Bar& bar, int64_t to_beat, Nanos arrival,
                               double tempo) {
  bar.has_boundary = true;
  bar.facts.to_beat = std::max(to_beat, bar.facts.from_beat);
  bar.facts.boundary = arrival;
  bar.facts.dropped = std::max<int64_t>(0, dropped_total - bar.dropped_at_open);
  const absl::Duration grace = GraceFor(options, tempo);
  bar.due = arrival + absl::ToInt64Nanoseconds(grace);
}

// ------------------------------------------------------------- transport --

void Engine::OnTransportEvent(TransportEvent event, Nanos arrival) {
  TimelineGuard lock(impl_->mu);
  switch (event) {
    case TransportEvent::kInvalidClaim:
      if (Bar* bar = impl_->BarOpenAt(arrival)) {
        ++bar->facts.invalid_claims;
      }
      return;
    case TransportEvent::kDisconnected:
      impl_->connected = false;
      for (Bar& bar : impl_->open) {
        const bool open_then = bar.facts.downbeat_arrival <= arrival &&
                               (!bar.has_boundary || arrival <= bar.due);
        if (open_then) {
          ++bar.facts.disconnects;
        }
      }
      return;
    case TransportEvent::kReconnected:
      impl_->connected = true;
      return;
  }
}

void Engine::SetDroppedTotal(int64_t dropped) {
  TimelineGuard lock(impl_->mu);
  impl_->dropped_total = dropped;
}

Bar* Engine::Impl::BarOf(int64_t seq) {
  if (open.empty() || seq < open.front().seq || seq > open.back().seq) {
    return nullptr;
  }
  return &open[seq - open.front().seq];
}

Bar* Engine::Impl::BarOpenAt(Nanos arrival) {
  for (auto it = open.rbegin(); it != open.rend(); ++it) {
    if (it->facts.downbeat_arrival > arrival) {
      continue;
    }
    const bool before_boundary =
        !it->has_boundary || arrival < it->facts.boundary;
    return it->observed && before_boundary ? &*it : nullptr;
  }
  return nullptr;
}

// -------------------------------------------------------------- snapshot --

Snapshot Engine::Impl::MakeSnapshot() const {
  Snapshot s;
  s.newest_beat = newest_beat;
  s.first_downbeat = first_downbeat;
  s.sealed_through = sealed_through;
  s.oldest_seq = open.empty() ? next_seq : open.front().seq;
  s.newest_seq = open.empty() ? next_seq - 1 : open.back().seq;
  for (const Bar& bar : open) {
    s.starts[bar.seq % kBarRing] = bar.facts.from_beat;
    s.observed[bar.seq % kBarRing] = bar.observed;
  }
  return s;
}

void Engine::Impl::Publish() { snapshot.Publish(MakeSnapshot()); }

void Engine::Impl::ReleaseHeld() {
  for (auto& shard : shards) {
    HeldClaim claim;
    while (shard->queue.Pop(&claim)) {
      held.push_back(std::move(claim));
    }
  }
  if (held.empty()) {
    return;
  }
  const Snapshot view = MakeSnapshot();
  size_t kept = 0;
  for (HeldClaim& h : held) {
    const Placement place =
        PlaceClaim(view, h.claim.beat_index, options.hold_beats);
    if (place.outcome == ClaimOutcome::kHeld ||
        place.outcome == ClaimOutcome::kFuture) {
      // No frame at or past its beat yet.
      if (&held[kept] != &h) {
        held[kept] = std::move(h);
      }
      ++kept;
      continue;
    }
    if (place.outcome == ClaimOutcome::kAccepted) {
      BarOf(place.seq)->carried.AddClaim(h.claim, h.arrival);
      ++stats.held_released;
    } else {
      ++stats.held_expired;
    }
    shards[h.shard]->held.fetch_sub(1, std::memory_order_relaxed);
  }
  held.resize(kept);
}

// --------------------------------------------------------------- closing --

void Engine::Impl::WaitForIdleShards() {
  for (auto& shard : shards) {
    const uint64_t epoch = shard->epoch.load();
    if ((epoch & 1) == 0) {
      continue;
    }
    while (shard->epoch.load(std::memory_order_acquire) == epoch) {
      std::this_thread::yield();
    }
  }
}

void Engine::Impl::SealOldest() {
  Bar& bar = open.front();
  if (bar.observed) {
    // Stop the shards from writing into the bar, then wait for any write
    // already under way.
    Snapshot sealed = MakeSnapshot();
    sealed.sealed_through = bar.facts.to_beat;
    sealed.oldest_seq = bar.seq + 1;
    snapshot.Publish(sealed);
    WaitForIdleShards();
    ReleaseHeld();
    Report(bar);
  }
  sealed_through = std::max(sealed_through, bar.facts.to_beat);
  open.pop_front();
  Publish();
}

void Engine::Impl::Report(Bar& bar) {
  BarAggregate merged = std::move(bar.carried);
  for (auto& shard : shards) {
    Slot& slot = shard->slots[bar.seq % kBarRing];
    if (slot.seq == bar.seq) {
      merged.Merge(std::move(slot.bar));
      slot.seq = -1;
    }
  }
  ClosedBar closed;
  closed.report =
      BuildReport(bar.facts, merged,
                  previous_agents.has_value() ? &*previous_agents : nullptr,
                  ReportOptions{options.tempo_drift_share});
  closed.boundary = bar.facts.boundary;
  closed.due = bar.due;
  ready.push_back(std::move(closed));
  ++stats.bars_reported;
  // The old roll goes first, so only one is ever held beside the bar.
  previous_agents.reset();
  previous_agents.emplace(merged.agents());
}

std::vector<ClosedBar> Engine::Impl::TakeReady() {
  std::vector<ClosedBar> out;
  out.swap(ready);
  return out;
}

std::vector<ClosedBar> Engine::Poll(Nanos now) {
  TimelineGuard lock(impl_->mu);
  impl_->ReleaseHeld();
  while (!impl_->open.empty() && impl_->open.front().has_boundary &&
         impl_->open.front().due <= now) {
    impl_->SealOldest();
  }
  return impl_->TakeReady();
}

std::vector<ClosedBar> Engine::Flush() {
  TimelineGuard lock(impl_->mu);
  impl_->ReleaseHeld();
  while (!impl_->open.empty() && impl_->open.front().has_boundary) {
    impl_->SealOldest();
  }
  return impl_->TakeReady();
}

std::optional<Nanos> Engine::NextDue() const {
  TimelineGuard lock(impl_->mu);
  if (!impl_->ready.empty()) {
    return impl_->ready.front().due;
  }
  if (!impl_->open.empty() && impl_->open.front().has_boundary) {
    return impl_->open.front().due;
  }
  return std::nullopt;
}

EngineStats Engine::stats() const {
  TimelineGuard lock(impl_->mu);
  return impl_->stats;
}

}  // namespace backbeat::reverb
