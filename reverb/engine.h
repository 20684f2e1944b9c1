// The window logic of Reverb: attributes claims to bars and builds one
// BarReport per observed bar.
//
// The engine is a pure function of (message, arrival time) events: it never
// reads a clock. Callers pass monotonic arrival times in nanoseconds (the
// local receive time live, a stream's stored timestamp on replay), and the
// bar-closer calls Poll() with "now" on the same clock.
//
// Threads: OnBeat, OnTransportEvent and Poll/Flush may be called from
// different threads (they synchronize internally, off the claim path).
// OnClaim is lock-free: each shard index in [0, shards) must be used by at
// most one thread at a time, and different shards may run in parallel.
// Sealing a bar uses up to EngineOptions::seal_threads threads, started with
// the engine and joined by its destructor.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "common/messages.h"

namespace backbeat::reverb {

using Nanos = int64_t;  // Monotonic nanoseconds.

struct EngineOptions {
  std::string cluster_id = "local";
  // Time a bar stays open after its boundary. Unset: a quarter of the
  // current beat, at most 2 s.
  std::optional<absl::Duration> grace;
  int shards = 1;
  int hold_beats = 2;               // Claims this far ahead are held.
  size_t max_held_claims = 65536;   // Per shard; beyond it, `future`.
  double tempo_drift_share = 0.05;  // tempo_drift issue threshold.
  bool signing_enabled = false;     // Claim signatures (not yet supported).
  // Threads that seal a bar, the closer included; 0: min(4, CPUs). With
  // more than one, the roll of a bar's ids for the next bar's agents_silent
  // is built after its report is handed out, on a worker.
  int seal_threads = 0;
  // Bars with fewer agents are merged and tallied on the closer alone.
  size_t parallel_seal_min_agents = 32768;
};

enum class ClaimOutcome : uint8_t {
  kAccepted,    // Aggregated into a bar.
  kHeld,        // Ahead of Pulse by <= hold_beats; aggregated later.
  kLate,        // Its bar's report is already out.
  kFuture,      // Too far ahead of Pulse, or the hold buffer is full.
  kUnobserved,  // Its bar began before Reverb saw a downbeat.
};
const char* ClaimOutcomeName(ClaimOutcome outcome);  // "accepted", ...

enum class BeatOutcome : uint8_t {
  kOpened,        // A downbeat: a new bar opens, the previous one has its
                  // boundary.
  kBeat,          // A beat of the open bar.
  kDuplicate,     // Seen before; ignored.
  kOutOfOrder,    // Older than the newest beat; used only to fill a gap.
  kNoBar,         // No downbeat seen yet; the bar is not reported.
  kWrongCluster,  // cluster_id differs from EngineOptions::cluster_id.
};
const char* BeatOutcomeName(BeatOutcome outcome);

// Things the transport saw, recorded into the open bar's issues.
enum class TransportEvent : uint8_t {
  kInvalidClaim,  // A claim failed parsing or validation.
  kDisconnected,  // Lost the NATS connection.
  kReconnected,
};

// Counters of degraded paths, for the exporter. Monotonic.
struct EngineStats {
  int64_t bars_reported = 0;
  int64_t bars_unobserved = 0;  // Started before the first downbeat.
  int64_t bars_forced = 0;      // Closed early: too many open bars.
  int64_t held_released = 0;
  int64_t held_expired = 0;  // Held but never attributable.
};

// A report together with what the closer knows about its timing.
struct ClosedBar {
  BarReport report;
  Nanos boundary = 0;  // Arrival of the next downbeat.
  Nanos due = 0;       // boundary + grace: when it should be published.
};

class Engine {
 public:
  explicit Engine(EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  BeatOutcome OnBeat(const BeatFrame& frame, Nanos arrival);
  ClaimOutcome OnClaim(int shard, const StatusClaim& claim, Nanos arrival);
  void OnTransportEvent(TransportEvent event, Nanos arrival);
  // Messages the NATS client dropped as a slow consumer (a running total).
  void SetDroppedTotal(int64_t dropped);

  // Seals every bar with boundary + grace <= now and returns their reports
  // in bar order. Each bar is returned exactly once.
  std::vector<ClosedBar> Poll(Nanos now);
  // Seals every bar whose boundary is known, ignoring grace (shutdown).
  std::vector<ClosedBar> Flush();

  // Waits until the work a seal leaves for after its report (the roll of
  // the bar's ids for the next bar, freeing its tables) is done. Never
  // needed for correctness; for measurements.
  void Settle();

  // The earliest time a Poll() could return a report; nullopt if none.
  std::optional<Nanos> NextDue() const;
  EngineStats stats() const;
  absl::Duration grace_for_tempo(double tempo_bpm) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace backbeat::reverb
