// Reverb's Prometheus exporter: /metrics, /healthz and /readyz on one port.
//
// Thread-safe: every method may be called from any thread. The claim-path
// methods (CountClaim, CountRejected, ObserveClaimSeconds) are cheap enough
// to call once per message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/contract.h"
#include "reverb/engine.h"

namespace backbeat::reverb {

class Metrics {
 public:
  // `cluster_id` becomes the `cluster` label of every series.
  explicit Metrics(const std::string& cluster_id);
  ~Metrics();

  // Serves on "host:port" ("127.0.0.1:9464"; port 0 picks a free one).
  // Fails if the address cannot be bound.
  absl::Status Serve(const std::string& address);
  int port() const;  // The bound port once Serve() succeeded.

  // Claim path.
  void CountClaim(ClaimOutcome outcome);
  void CountRejected(RejectReason reason);
  void ObserveClaimSeconds(double seconds);

  // Beat path and bar-closer.
  void CountBeat(BeatOutcome outcome);
  void RecordBar(const BarReport& report, double close_latency_seconds);
  void CountPublishFailure();
  void SetEngineStats(const EngineStats& stats);

  // Transport.
  void SetConnected(bool connected);
  void SetDroppedTotal(int64_t dropped);
  void CountReconnect();
  void CountDeadLetter();

  // Readiness: connected and a BeatFrame within this long of `now`.
  void MarkBeatSeen(absl::Time now);
  void SetReadinessWindow(absl::Duration window);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace backbeat::reverb
