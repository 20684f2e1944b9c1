// Reverb's Prometheus exporter: /metrics, /healthz and /readyz on one port.
//
// Every series carries a `cluster` label; no label ever names an agent or a
// task. docs/operations.md lists each series.
//
// Thread-safe: every method may be called from any thread. The claim-path
// methods (CountClaim, CountRejected, ObserveClaimSeconds) touch only relaxed
// atomics on a cache line private to the calling thread (one of a fixed set
// of stripes) and take no lock; the stripes are summed when /metrics is
// scraped. The other methods may take a short lock and are meant for
// per-beat, per-bar or per-event use, not per message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/contract.h"
#include "reverb/engine.h"

namespace backbeat::reverb {

class Metrics {
 public:
  // `cluster_id` becomes the `cluster` label of every series.
  explicit Metrics(const std::string& cluster_id);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Serves on "host:port" with a numeric host ("127.0.0.1:9464"; port 0
  // picks a free one). Fails with kUnavailable if the address cannot be
  // bound, kFailedPrecondition if already serving. The series are recorded
  // whether or not Serve() is ever called.
  absl::Status Serve(const std::string& address);
  int port() const;  // The bound port once Serve() succeeded, else 0.

  // Claim path. CountClaim is for claims that passed validation and reached
  // the engine; CountRejected for messages that did not.
  void CountClaim(ClaimOutcome outcome);
  void CountRejected(RejectReason reason);
  void ObserveClaimSeconds(double seconds);

  // Beat path and bar-closer. Call RecordBar once per report after it was
  // published: it sets the last-bar gauges, counts the report and observes
  // `close_latency_seconds` (the time the server confirmed the report,
  // or it was handed to the client while disconnected, minus the bar's due
  // time).
  void CountBeat(BeatOutcome outcome);
  void CountRejectedBeat(RejectReason reason);
  void RecordBar(const BarReport& report, double close_latency_seconds);
  void CountPublishFailure();
  void CountUnconfirmedFlush();  // The server did not confirm the reports.
  void SetEngineStats(const EngineStats& stats);  // Running totals.

  // Transport.
  void SetConnected(bool connected);
  void SetDroppedTotal(int64_t dropped);  // Running total; never decreases.
  // Running total of batches of read messages the delivery threads had to
  // destroy themselves (the releaser thread was behind).
  void SetReleaseOverflowsTotal(int64_t batches);
  void CountReconnect();
  void CountDeadLetter();

  // Readiness: connected and a BeatFrame within this long of `now`.
  // MarkBeatSeen keeps the latest time it was given (wall clock, as
  // absl::Now()). The window defaults to 10 s.
  void MarkBeatSeen(absl::Time now);
  void SetReadinessWindow(absl::Duration window);

  // OK when ready as of `now`; otherwise kUnavailable naming the reason.
  // /readyz answers with this, evaluated at absl::Now().
  absl::Status Readiness(absl::Time now) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace backbeat::reverb
