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
//
// A seal runs on the closer and the engine's SealPool workers. For each of
// the 64 agent partitions, one task makes the shards' tables disjoint (an
// agent held by several shards keeps one entry, with the merged state),
// tallies the agents and checks the previous bar's roll against them; the
// per-partition tallies then combine in a fixed order, so the report does
// not depend on which thread ran what. Once the report is built, one worker
// copies the bar's ids into the roll for the next bar's agents_silent and
// frees the bar's tables, while the closer publishes; the next seal waits
// for it.
#include "reverb/engine.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
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

// Threads that help the closer seal a bar. Run() spreads tasks over the
// caller and the workers; Post() hands one job to a worker. std::mutex, not
// absl::Mutex, for ThreadSanitizer's sake.
class SealPool {
 public:
  explicit SealPool(int threads) {
    for (int i = 1; i < threads; ++i) {
      workers_.emplace_back([this] { Work(); });
    }
  }
  ~SealPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) {
      worker.join();  // Jobs already posted run first.
    }
  }
  SealPool(const SealPool&) = delete;
  SealPool& operator=(const SealPool&) = delete;

  size_t workers() const { return workers_.size(); }

  // Calls fn(task) for every task in [0, tasks) and returns when all are
  // done. The caller works too, so a busy or slow worker only means less
  // help, never a wait for it to start.
  void Run(size_t tasks, const std::function<void(size_t)>& fn) {
    auto job = std::make_shared<RunState>();
    job->tasks = tasks;
    job->fn = &fn;
    const size_t helpers = std::min(workers_.size(), tasks);
    for (size_t i = 0; i < helpers; ++i) {
      Post([job] { job->Drain(); });
    }
    job->Drain();
    std::unique_lock<std::mutex> lock(job->mu);
    job->all_done.wait(lock, [&] { return job->done == job->tasks; });
  }

  // Runs `job` on a worker (at once on the caller if there is none).
  void Post(std::function<void()> job) {
    if (workers_.empty()) {
      job();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

 private:
  struct RunState {
    std::atomic<size_t> next{0};
    size_t tasks = 0;
    const std::function<void(size_t)>* fn = nullptr;  // Valid while tasks
                                                      // remain unclaimed.
    std::mutex mu;
    std::condition_variable all_done;
    size_t done = 0;

    void Drain() {
      size_t finished = 0;
      for (size_t t = next++; t < tasks; t = next++) {
        (*fn)(t);
        ++finished;
      }
      if (finished > 0) {
        std::lock_guard<std::mutex> lock(mu);
        done += finished;
        if (done == tasks) {
          all_done.notify_all();
        }
      }
    }
  };

  void Work() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) {
          return;
        }
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// The work left after a bar's report is out: the roll of its ids for the
// next bar's agents_silent, and freeing its tables. Done by one pool worker.
class Aftermath {
 public:
  // Takes the sealed bar's aggregates, their agents made disjoint.
  void Start(SealPool& pool, std::vector<BarAggregate> aggregates) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = true;
    }
    auto parts =
        std::make_shared<std::vector<BarAggregate>>(std::move(aggregates));
    pool.Post([this, parts] {
      std::vector<const AgentMap*> maps;
      for (const BarAggregate& part : *parts) {
        maps.push_back(&part.agents());
      }
      auto roll = std::make_unique<AgentRoll>(maps);
      parts->clear();
      std::lock_guard<std::mutex> lock(mu_);
      roll_ = std::move(roll);
      pending_ = false;
      finished_.notify_all();
    });
  }

  // Waits for the last Start() to finish and returns its roll (null if
  // there was none, or it was already taken).
  std::unique_ptr<AgentRoll> Take() {
    Wait();
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(roll_);
  }

  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    finished_.wait(lock, [&] { return !pending_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable finished_;
  bool pending_ = false;
  std::unique_ptr<AgentRoll> roll_;
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

int SealThreads(int configured) {
  if (configured > 0) {
    return configured;
  }
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(cores, 1, 4);
}

}  // namespace

struct Engine::Impl {
  explicit Impl(EngineOptions opts)
      : options(std::move(opts)), pool(SealThreads(options.seal_threads)) {
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
  AgentTally TallyBar(std::vector<BarAggregate>& parts, Nanos boundary,
                      int64_t* help_fulfilled);
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
  std::unique_ptr<AgentRoll> previous_agents ABSL_GUARDED_BY(mu);
  EngineStats stats ABSL_GUARDED_BY(mu);

  // Declared last: the pool's workers finish (and are joined) before the
  // rest goes.
  Aftermath aftermath;
  SealPool pool;
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
  // Take the bar from every shard; the largest aggregate comes first, so
  // most agents held twice are found at the first look.
  std::vector<BarAggregate> parts;
  parts.push_back(std::move(bar.carried));
  for (auto& shard : shards) {
    Slot& slot = shard->slots[bar.seq % kBarRing];
    if (slot.seq == bar.seq) {
      parts.push_back(std::move(slot.bar));
      slot.seq = -1;
    }
  }
  const size_t target = static_cast<size_t>(
      std::max_element(parts.begin(), parts.end(),
                       [](const BarAggregate& a, const BarAggregate& b) {
                         return a.agents().size() < b.agents().size();
                       }) -
      parts.begin());
  std::swap(parts[0], parts[target]);

  // Merge and tally, against the roll of the previous bar.
  if (std::unique_ptr<AgentRoll> roll = aftermath.Take()) {
    previous_agents = std::move(roll);
  }
  int64_t help_fulfilled = 0;
  const AgentTally tally = TallyBar(parts, bar.facts.boundary, &help_fulfilled);

  ClosedBar closed;
  closed.report = AssembleReport(bar.facts, parts[0], tally, help_fulfilled,
                                 ReportOptions{options.tempo_drift_share});
  closed.boundary = bar.facts.boundary;
  closed.due = bar.due;
  ready.push_back(std::move(closed));
  ++stats.bars_reported;

  // The roll for the next bar, after the report is out. The old roll goes
  // first, so only one is ever held beside the bar.
  previous_agents.reset();
  aftermath.Start(pool, std::move(parts));
}

// Makes the agents of `parts` disjoint (AgentMap::Disjoin), folds the other
// sets of parts[1...] into parts[0], and tallies the bar's agents: one task
// per partition, plus one for the helping pairs and the other sets.
AgentTally Engine::Impl::TallyBar(std::vector<BarAggregate>& parts,
                                  Nanos boundary, int64_t* help_fulfilled) {
  size_t agents = 0;
  std::vector<AgentMap*> maps;
  for (BarAggregate& part : parts) {
    agents += part.agents().size();
    maps.push_back(&part.mutable_agents());
  }
  const std::vector<const AgentMap*> read_maps(maps.begin(), maps.end());

  // Task 0 merges the sets, taken first as it is not split by partition;
  // task 1 + p handles partition p.
  constexpr size_t kTasks = AgentMap::kPartitions + 1;
  std::vector<AgentTally> tallies(AgentMap::kPartitions);
  const AgentRoll* roll = previous_agents.get();
  const std::function<void(size_t)> task = [&](size_t t) {
    if (t == 0) {
      for (size_t i = 1; i < parts.size(); ++i) {
        parts[0].MergeAllButAgents(parts[i]);
      }
      *help_fulfilled = parts[0].HelpPromisesFulfilled();
      return;
    }
    AgentMap::Disjoin(maps, t - 1);
    TallyPartition(read_maps, t - 1, boundary, roll, &tallies[t - 1]);
  };
  if (agents >= options.parallel_seal_min_agents && pool.workers() > 0) {
    pool.Run(kTasks, task);
  } else {
    for (size_t t = 0; t < kTasks; ++t) {
      task(t);
    }
  }

  AgentTally total;
  for (const AgentTally& part : tallies) {
    total.Merge(part);
  }
  return total;
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

void Engine::Settle() { impl_->aftermath.Wait(); }

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
