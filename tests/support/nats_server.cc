#include "tests/support/nats_server.h"

#include <signal.h>
#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/support/ports.h"

namespace backbeat::test_support {
namespace {

constexpr int kStartAttempts = 5;
constexpr absl::Duration kStopTimeout = absl::Seconds(5);

}  // namespace

absl::StatusOr<std::unique_ptr<NatsServer>> NatsServer::Start(
    NatsServerOptions options) {
  char tmpl[] = "/tmp/backbeat-nats.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", strerror(errno)));
  }
  std::string dir = tmpl;

  absl::Status last = absl::UnknownError("nats-server: never started");
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) {
      std::filesystem::remove_all(dir);
      return port.status();
    }
    auto server =
        std::unique_ptr<NatsServer>(new NatsServer(options, *port, dir));
    last = server->Launch();
    if (last.ok()) {
      return server;
    }
    server->dir_.clear();  // Keep the directory for the next attempt.
  }
  std::filesystem::remove_all(dir);
  return last;
}

NatsServer::NatsServer(NatsServerOptions options, int port, std::string dir)
    : options_(std::move(options)), port_(port), dir_(std::move(dir)) {}

NatsServer::~NatsServer() {
  process_.reset();  // Kills and reaps.
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string NatsServer::url() const {
  return absl::StrCat("nats://127.0.0.1:", port_);
}

std::string NatsServer::store_dir() const {
  return options_.jetstream ? dir_ + "/jetstream" : "";
}

std::string NatsServer::Log() const {
  return ReadFileOrEmpty(dir_ + "/nats-server.log");
}

absl::Status NatsServer::Launch() {
  SubprocessOptions sub;
  sub.argv = {options_.binary, "-a", "127.0.0.1", "-p", absl::StrCat(port_)};
  if (options_.jetstream) {
    sub.argv.insert(sub.argv.end(), {"-js", "-sd", store_dir()});
  }
  sub.argv.insert(sub.argv.end(), options_.extra_args.begin(),
                  options_.extra_args.end());
  sub.stdout_spec = OutputSpec::Discard();
  sub.stderr_spec = OutputSpec::File(dir_ + "/nats-server.log");
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(std::move(sub));
  if (!process.ok()) {
    return process.status();
  }
  process_ = *std::move(process);

  // Ready means: it says so, is still alive, and accepts connections.
  absl::Time deadline = absl::Now() + options_.ready_timeout;
  while (!absl::StrContains(Log(), "Server is ready")) {
    if (!process_->Running() || absl::Now() >= deadline) {
      std::string log = Log();
      process_.reset();
      return absl::UnavailableError(absl::StrCat(
          "nats-server on port ", port_, " did not become ready: ", log));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  return WaitForPort(port_, deadline - absl::Now());
}

absl::Status NatsServer::Stop() {
  if (process_ == nullptr) {
    return absl::OkStatus();
  }
  absl::Status status = process_->Terminate(SIGCONT);  // If paused.
  if (status.ok()) {
    status = process_->Terminate(SIGTERM);
  }
  if (status.ok() && !process_->Wait(kStopTimeout).ok()) {
    status = process_->Terminate(SIGKILL);
  }
  process_.reset();  // Kills whatever is left and reaps.
  return status;
}

absl::Status NatsServer::Restart() {
  if (absl::Status stopped = Stop(); !stopped.ok()) {
    return stopped;
  }
  absl::Status status;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    status = Launch();
    if (status.ok()) {
      return status;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return status;
}

absl::Status NatsServer::Restart(std::vector<std::string> extra_args) {
  options_.extra_args = std::move(extra_args);
  return Restart();
}

bool NatsServer::Running() {
  return process_ != nullptr && process_->Running();
}

absl::Status NatsServer::Pause() {
  if (process_ == nullptr) {
    return absl::FailedPreconditionError("nats-server: not running");
  }
  return process_->Terminate(SIGSTOP);
}

absl::Status NatsServer::Resume() {
  if (process_ == nullptr) {
    return absl::FailedPreconditionError("nats-server: not running");
  }
  return process_->Terminate(SIGCONT);
}

}  // namespace backbeat::test_support
