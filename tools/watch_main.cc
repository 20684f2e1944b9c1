// backbeat-watch: prints the BarReports of a cluster as they arrive.
//
// Each report is validated with the contract library. A valid one is
// printed as a one-line summary (or, with --json, as received); an invalid
// one as "invalid report: <error>: <bytes>" (on stderr with --json, so that
// stdout stays JSON). Exit status: 0; 1 if --timeout passed before --count
// reports arrived or NATS failed; 2 on bad flags; 3 if any report was
// invalid.
#include <nats/nats.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/contract.h"
#include "common/logging.h"
#include "common/nats_flags.h"
#include "common/nats_security.h"
#include "common/nats_status.h"
#include "common/program.h"
#include "common/stop_signals.h"
#include "spdlog/spdlog.h"
#include "tools/watch_format.h"

ABSL_FLAG(std::string, nats_url, "nats://127.0.0.1:4222", "NATS server URL");
ABSL_FLAG(std::string, cluster_id, "local", "BACKBEAT cluster id");
ABSL_FLAG(std::string, subject, "",
          "subject to watch (default backbeat.<cluster_id>.bar)");
ABSL_FLAG(int64_t, count, 0, "stop after this many reports (0: no limit)");
ABSL_FLAG(absl::Duration, timeout, absl::ZeroDuration(),
          "stop after this long (0: no limit); exit 1 if fewer than --count "
          "reports arrived");
ABSL_FLAG(bool, json, false, "print each report's raw JSON, one per line");

namespace backbeat::watch {
namespace {

constexpr int64_t kPollMs = 100;  // How often signals are looked at.

bool SignalPending() { return WaitForStopSignal(absl::ZeroDuration()) != 0; }

struct Tally {
  int64_t received = 0;
  int64_t invalid = 0;
};

// Validates and prints one report.
void Show(absl::string_view bytes, bool json, Tally* tally) {
  ++tally->received;
  absl::StatusOr<BarReport> report = Contract::Builtin().ParseBarReport(bytes);
  if (!report.ok()) {
    ++tally->invalid;
    std::string line = absl::StrCat(
        "invalid report: ", report.status().message(), ": ", bytes);
    fprintf(json ? stderr : stdout, "%s\n", line.c_str());
  } else if (json) {
    fprintf(stdout, "%.*s\n", static_cast<int>(bytes.size()), bytes.data());
  } else {
    fprintf(stdout, "%s\n", Summarize(*report).c_str());
  }
  fflush(stdout);
}

// Receives until --count, --timeout or a signal. Returns the exit status.
int Watch(natsConnection* connection, const std::string& subject) {
  const int64_t count = absl::GetFlag(FLAGS_count);
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  const bool json = absl::GetFlag(FLAGS_json);
  const absl::Time deadline = timeout > absl::ZeroDuration()
                                  ? absl::Now() + timeout
                                  : absl::InfiniteFuture();
  natsSubscription* subscription = nullptr;
  absl::Status status = NatsStatus(
      natsConnection_SubscribeSync(&subscription, connection, subject.c_str()),
      absl::StrCat("subscribe ", subject));
  if (status.ok()) {
    status = NatsStatus(natsConnection_Flush(connection), "flush");
  }
  if (!status.ok()) {
    spdlog::error("start: {}", status.ToString());
    natsSubscription_Destroy(subscription);
    return 1;
  }
  spdlog::info("watching {}", subject);

  Tally tally;
  bool interrupted = false;
  while ((count == 0 || tally.received < count) && absl::Now() < deadline) {
    if (SignalPending()) {
      interrupted = true;
      break;
    }
    int64_t wait_ms = std::min<int64_t>(
        kPollMs, std::max<int64_t>(
                     1, absl::ToInt64Milliseconds(deadline - absl::Now())));
    natsMsg* message = nullptr;
    natsStatus s = natsSubscription_NextMsg(&message, subscription, wait_ms);
    if (s == NATS_TIMEOUT) {
      continue;
    }
    if (s != NATS_OK) {
      spdlog::error("receive: {}", NatsStatus(s, "next report").ToString());
      natsSubscription_Destroy(subscription);
      return 1;
    }
    Show(absl::string_view(natsMsg_GetData(message),
                           static_cast<size_t>(natsMsg_GetDataLength(message))),
         json, &tally);
    natsMsg_Destroy(message);
  }
  natsSubscription_Destroy(subscription);

  spdlog::info("stop: {} reports, {} invalid", tally.received, tally.invalid);
  if (!interrupted && count > 0 && tally.received < count) {
    spdlog::error("timeout: {} of {} reports after {}", tally.received, count,
                  absl::FormatDuration(timeout));
    return 1;
  }
  return tally.invalid > 0 ? 3 : 0;
}

}  // namespace
}  // namespace backbeat::watch

int main(int argc, char** argv) {
  backbeat::SetProgramUsage(
      "backbeat-watch",
      "prints BACKBEAT BarReports as they arrive.\n"
      "  backbeat-watch --nats_url=nats://127.0.0.1:4222 --count=5");
  absl::ParseCommandLine(argc, argv);
  backbeat::LogToStderr("backbeat-watch");
  if (absl::GetFlag(FLAGS_count) < 0 ||
      absl::GetFlag(FLAGS_timeout) < absl::ZeroDuration()) {
    fprintf(stderr, "backbeat-watch: count and timeout must be >= 0\n");
    return 2;
  }
  std::string subject = absl::GetFlag(FLAGS_subject);
  if (subject.empty()) {
    subject =
        absl::StrCat("backbeat.", absl::GetFlag(FLAGS_cluster_id), ".bar");
  }

  backbeat::BlockStopSignals();

  backbeat::NatsSecurity security = backbeat::NatsSecurityFromFlags();
  if (absl::Status valid = backbeat::ValidateNatsSecurity(security);
      !valid.ok()) {
    fprintf(stderr, "backbeat-watch: %s\n",
            std::string(valid.message()).c_str());
    return 2;
  }
  absl::StatusOr<natsConnection*> connection = backbeat::ConnectToNats(
      absl::GetFlag(FLAGS_nats_url), "backbeat-watch", security);
  if (!connection.ok()) {
    spdlog::error("start: {}", connection.status().ToString());
    return 1;
  }
  int exit_code = backbeat::watch::Watch(*connection, subject);
  natsConnection_Destroy(*connection);
  return exit_code;
}
