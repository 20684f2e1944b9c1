// A real nats-server for integration tests.
//
// Runs /usr/sbin/nats-server -a 127.0.0.1 -p <free port> (optionally with
// JetStream, storing under a private temporary directory) in its own process
// group, and waits until it is ready. The destructor kills and reaps it and
// removes its directory.
//
// Not thread-safe: drive one NatsServer from one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/subprocess.h"

namespace backbeat::test_support {

struct NatsServerOptions {
  bool jetstream = false;               // Adds -js -sd <tmpdir>/jetstream.
  std::vector<std::string> extra_args;  // Appended to the command line.
  std::string binary = "/usr/sbin/nats-server";
  absl::Duration ready_timeout = absl::Seconds(10);
};

class NatsServer {
 public:
  // Starts a server on a free loopback port, retrying on another port if the
  // chosen one was taken meanwhile. Fails if it never becomes ready.
  static absl::StatusOr<std::unique_ptr<NatsServer>> Start(
      NatsServerOptions options = {});

  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;
  ~NatsServer();

  int port() const { return port_; }
  std::string url() const;  // "nats://127.0.0.1:<port>"
  // The JetStream store directory (empty without JetStream).
  std::string store_dir() const;

  // Stops the server (SIGTERM, then SIGKILL after 5 s) and reaps it.
  // Succeeds if it is already stopped.
  absl::Status Stop();

  // Stops the server if it runs, then starts it again on the same port with
  // the same store, for reconnection tests.
  absl::Status Restart();
  // The same, with `extra_args` in place of the ones it had (say, other
  // credentials).
  absl::Status Restart(std::vector<std::string> extra_args);

  bool Running();

  // Freezes the server (SIGSTOP): connections stay open but nothing is
  // read or answered until Resume (SIGCONT). Stop resumes it first.
  absl::Status Pause();
  absl::Status Resume();

  // The server's log (its stderr) since the last (re)start.
  std::string Log() const;

 private:
  NatsServer(NatsServerOptions options, int port, std::string dir);
  absl::Status Launch();

  NatsServerOptions options_;
  int port_;
  std::string dir_;  // Private temporary directory, removed at the end.
  std::unique_ptr<Subprocess> process_;
};

}  // namespace backbeat::test_support
