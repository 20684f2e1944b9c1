// reverb: aggregates BACKBEAT StatusClaims into one BarReport per bar.
#include <string.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/nats_flags.h"
#include "common/nats_status.h"
#include "common/program.h"
#include "common/stop_signals.h"
#include "reverb/server.h"
#include "spdlog/spdlog.h"

ABSL_FLAG(std::string, nats_url, "nats://127.0.0.1:4222",
          "NATS server URL(s), comma separated");
ABSL_FLAG(std::string, cluster_id, "local",
          "BACKBEAT cluster id; part of the default subjects");
ABSL_FLAG(std::string, beat_subject, "",
          "BeatFrame subject (default backbeat.<cluster_id>.beat)");
ABSL_FLAG(std::string, status_subject, "",
          "StatusClaim subject (default backbeat.<cluster_id>.status); "
          "<subject>.> is subscribed too");
ABSL_FLAG(std::string, bar_subject, "",
          "BarReport subject (default backbeat.<cluster_id>.bar)");
ABSL_FLAG(std::string, grace, "auto",
          "how long a bar stays open after its boundary, e.g. 500ms; "
          "auto: a quarter beat, at most 2s");
ABSL_FLAG(int, ingest_threads, 1,
          "threads parsing and aggregating claims (1-64)");
ABSL_FLAG(int, max_message_bytes, 4096, "larger messages are rejected");
ABSL_FLAG(std::string, dead_letter_subject, "",
          "if set, rejected messages are republished here with the reason "
          "in headers");
ABSL_FLAG(std::string, metrics_address, "127.0.0.1:9464",
          "host:port for /metrics, /healthz and /readyz (port 0: any)");
ABSL_FLAG(double, tempo_drift_share, 0.05,
          "tempo drift beyond this share of the bar is an issue");
ABSL_FLAG(int, hold_beats, 2,
          "claims up to this many beats ahead of Pulse are held");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error");

namespace {

using backbeat::BlockStopSignals;
using backbeat::WaitForStopSignal;
using backbeat::reverb::Server;
using backbeat::reverb::ServerOptions;

absl::StatusOr<ServerOptions> OptionsFromFlags() {
  ServerOptions o;
  o.nats_url = absl::GetFlag(FLAGS_nats_url);
  o.security = backbeat::NatsSecurityFromFlags();
  o.engine.cluster_id = absl::GetFlag(FLAGS_cluster_id);
  o.beat_subject = absl::GetFlag(FLAGS_beat_subject);
  o.status_subject = absl::GetFlag(FLAGS_status_subject);
  o.bar_subject = absl::GetFlag(FLAGS_bar_subject);
  o.dead_letter_subject = absl::GetFlag(FLAGS_dead_letter_subject);
  o.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  o.ingest_threads = absl::GetFlag(FLAGS_ingest_threads);
  o.limits.max_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  o.engine.tempo_drift_share = absl::GetFlag(FLAGS_tempo_drift_share);
  o.engine.hold_beats = absl::GetFlag(FLAGS_hold_beats);
  std::string grace = absl::GetFlag(FLAGS_grace);
  if (grace != "auto") {
    absl::Duration d;
    if (!absl::ParseDuration(grace, &d)) {
      return absl::InvalidArgumentError(
          absl::StrCat("grace: not a duration: ", grace));
    }
    o.engine.grace = d;
  }
  if (absl::GetFlag(FLAGS_max_message_bytes) < 0) {
    return absl::InvalidArgumentError("max_message_bytes must be positive");
  }
  return backbeat::reverb::ResolveOptions(std::move(o));
}

// False if --log_level names no level.
bool SetUpLogging() {
  backbeat::LogToStderr("reverb");
  const std::string name = absl::GetFlag(FLAGS_log_level);
  spdlog::level::level_enum level = spdlog::level::from_str(name);
  if (level == spdlog::level::off && name != "off") {
    return false;
  }
  spdlog::set_level(level);
  return true;
}

const char* TlsName(const std::string& url, const backbeat::NatsSecurity& s) {
  if (!s.tls_cert_file.empty()) {
    return "client-cert";
  }
  bool on = !s.tls_ca_file.empty() || url.find("tls://") != std::string::npos;
  return on ? "on" : "off";
}

void LogConfiguration(const ServerOptions& o) {
  spdlog::info(
      "start: version={} cluster={} nats={} auth={} tls={} beat={} "
      "status={} bar={} grace={} "
      "ingest_threads={} max_message_bytes={} dead_letter={} metrics={} "
      "tempo_drift_share={} hold_beats={}",
      std::string(backbeat::Version()), o.engine.cluster_id,
      backbeat::RedactNatsUrls(o.nats_url), backbeat::NatsAuthMode(o.security),
      TlsName(o.nats_url, o.security), o.beat_subject, o.status_subject,
      o.bar_subject,
      o.engine.grace ? absl::FormatDuration(*o.engine.grace) : "auto",
      o.ingest_threads, o.limits.max_bytes,
      o.dead_letter_subject.empty() ? "off" : o.dead_letter_subject,
      o.metrics_address, o.engine.tempo_drift_share, o.engine.hold_beats);
}

}  // namespace

int main(int argc, char** argv) {
  backbeat::SetProgramUsage(
      "reverb",
      "aggregates BACKBEAT StatusClaims into one BarReport per bar.\n"
      "  reverb --nats_url=nats://127.0.0.1:4222 --cluster_id=local");
  absl::ParseCommandLine(argc, argv);
  if (!SetUpLogging()) {
    fprintf(stderr, "reverb: log_level must be debug, info, warn or error\n");
    return 2;
  }

  absl::StatusOr<ServerOptions> options = OptionsFromFlags();
  if (!options.ok()) {
    fprintf(stderr, "reverb: %s\n",
            std::string(options.status().message()).c_str());
    return 2;
  }
  LogConfiguration(*options);

  BlockStopSignals();

  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(*options);
  if (!server.ok()) {
    spdlog::error("start: {}", server.status().ToString());
    return 1;
  }
  // Until SIGTERM or SIGINT, or until the NATS client gives up for good:
  // then exit 1, so that a supervisor restarts Reverb.
  while (true) {
    if (int received = WaitForStopSignal(absl::Milliseconds(200));
        received != 0) {
      spdlog::info("shutdown: {} received", strsignal(received));
      (*server)->Shutdown();
      return 0;
    }
    if (absl::Status failure = (*server)->Failure(); !failure.ok()) {
      spdlog::error("shutdown: {}", std::string(failure.message()));
      (*server)->Shutdown();
      return 1;
    }
  }
}
