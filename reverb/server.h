// Reverb's server: NATS transport around the window engine.
//
// Subscribes to BeatFrames and StatusClaims, feeds the engine (claims on
// several ingest threads, one engine shard each), and runs the bar-closer
// that publishes one BarReport per bar, checked against barreport-v1.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/contract.h"
#include "common/nats_security.h"
#include "reverb/clock.h"
#include "reverb/engine.h"

namespace backbeat::reverb {

struct ServerOptions {
  std::string nats_url = "nats://127.0.0.1:4222";
  NatsSecurity security;
  // Empty subjects take their defaults from engine.cluster_id:
  // backbeat.<cluster>.beat, .status (and .status.>), .bar.
  std::string beat_subject;
  std::string status_subject;
  std::string bar_subject;
  std::string dead_letter_subject;  // Empty: rejected input is not copied.
  std::string metrics_address = "127.0.0.1:9464";
  int ingest_threads = 1;
  ParseLimits limits;
  EngineOptions engine;
  // Per-subscription queue bounds in the NATS client. Beyond them the
  // client drops messages, which are counted and reported.
  int pending_messages = 1 << 20;
  int pending_bytes = 256 << 20;
};

// Fills empty subjects from the cluster id; checks the rest.
absl::StatusOr<ServerOptions> ResolveOptions(ServerOptions options);

class Server {
 public:
  // Starts the exporter, connects (retrying in the background while no
  // server answers), subscribes and starts the bar-closer. Fails on bad
  // options, an address the exporter cannot bind, unreadable secret or
  // certificate files, or a server that refuses the credentials or TLS. `clock`
  // must outlive the server; null means the monotonic clock.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      ServerOptions options, const Clock* clock = nullptr);

  // Drains the subscriptions, publishes every bar whose boundary is known
  // and closes the connection. Idempotent; the destructor calls it.
  void Shutdown();

  // OK while the NATS client is connected or still trying; once it has
  // given up for good (say, the server now refuses the credentials), the
  // reason. Thread-safe.
  absl::Status Failure() const;

  int metrics_port() const;
  ~Server();

  struct State;  // Defined in server.cc.

 private:
  explicit Server(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace backbeat::reverb
