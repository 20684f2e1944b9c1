// count_sub: the baseline subscriber. Counts the messages on one subject
// and does nothing else with them, with the same pending limits Reverb sets
// on its subscriptions (see ServerOptions in reverb/server.h).
//
// Reads commands on stdin: "stat" answers "received=N dropped=D", "quit"
// (or end of input) exits.
//
// --parse also parses and validates each message as a StatusClaim with the
// contract library (what Reverb does before its engine), to split Reverb's
// cost in profiles; --lock_spin sets cnats' mutex spin count.
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/contract.h"
#include "common/nats_status.h"

ABSL_FLAG(std::string, nats_url, "nats://127.0.0.1:4222", "NATS server");
ABSL_FLAG(std::string, subject, "bench.baseline.status", "subject to count");
ABSL_FLAG(int, pending_messages, 1 << 20, "pending limit, messages");
ABSL_FLAG(int, pending_bytes, 256 << 20, "pending limit, bytes");
ABSL_FLAG(int, max_seconds, 600, "exit after this long whatever happens");
ABSL_FLAG(bool, parse, false, "parse and validate every claim");
ABSL_FLAG(int64_t, lock_spin, -1, "cnats lock spin count; -1: its default");

namespace backbeat::bench {
using backbeat::Contract;
using backbeat::StatusClaim;
namespace {

std::atomic<int64_t> received{0};
std::atomic<int64_t> invalid{0};
bool parse = false;

void OnMessage(natsConnection*, natsSubscription*, natsMsg* msg, void*) {
  if (parse) {
    absl::StatusOr<StatusClaim> claim = Contract::Builtin().ParseStatusClaim(
        absl::string_view(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
    if (!claim.ok()) {
      invalid.fetch_add(1, std::memory_order_relaxed);
    }
  }
  received.fetch_add(1, std::memory_order_relaxed);
  natsMsg_Destroy(msg);
}

int Run() {
  natsConnection* conn = nullptr;
  natsSubscription* sub = nullptr;
  parse = absl::GetFlag(FLAGS_parse);
  natsStatus s = nats_Open(absl::GetFlag(FLAGS_lock_spin));
  if (s == NATS_OK) {
    s = natsConnection_ConnectTo(&conn, absl::GetFlag(FLAGS_nats_url).c_str());
  }
  if (s == NATS_OK) {
    s = natsConnection_Subscribe(
        &sub, conn, absl::GetFlag(FLAGS_subject).c_str(), OnMessage, nullptr);
  }
  if (s == NATS_OK) {
    s = natsSubscription_SetPendingLimits(sub,
                                          absl::GetFlag(FLAGS_pending_messages),
                                          absl::GetFlag(FLAGS_pending_bytes));
  }
  if (s == NATS_OK) {
    s = natsConnection_Flush(conn);  // The subscription is registered.
  }
  if (s != NATS_OK) {
    std::fprintf(stderr, "count_sub: %s\n",
                 NatsStatus(s, "subscribe").ToString().c_str());
    return 1;
  }
  std::thread([] {
    std::this_thread::sleep_for(
        std::chrono::seconds(absl::GetFlag(FLAGS_max_seconds)));
    std::fprintf(stderr, "count_sub: time limit reached\n");
    std::_Exit(2);
  }).detach();

  std::printf("ready\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line) && line != "quit") {
    int64_t dropped = 0;
    natsSubscription_GetDropped(sub, &dropped);
    std::printf("received=%lld dropped=%lld invalid=%lld\n",
                static_cast<long long>(received.load()),
                static_cast<long long>(dropped),
                static_cast<long long>(invalid.load()));
    std::fflush(stdout);
  }
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(conn);
  return 0;
}

}  // namespace
}  // namespace backbeat::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return backbeat::bench::Run();
}
