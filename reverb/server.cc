#include "reverb/server.h"

#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/nats_security.h"
#include "common/nats_status.h"
#include "reverb/log_limiter.h"
#include "reverb/message_release.h"
#include "reverb/metrics.h"
#include "spdlog/spdlog.h"

namespace backbeat::reverb {
namespace {

constexpr Nanos kSecond = 1'000'000'000;
constexpr Nanos kCloserTick =
    100'000'000;  // Drop counters are read this often.
constexpr int64_t kDrainMillis = 2000;
// How long the bar-closer waits for the server to confirm its reports.
constexpr int64_t kReportFlushMillis = 250;
constexpr size_t kMaxHeaderValue = 256;

// Header values may not carry line breaks or other control characters.
std::string HeaderValue(absl::string_view text) {
  std::string out(text.substr(0, kMaxHeaderValue));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      c = '?';
    }
  }
  return out;
}

const char* BeatAdvice(BeatOutcome outcome) {
  switch (outcome) {
    case BeatOutcome::kNoBar:
      return "bar started before reverb saw its downbeat; not reported";
    case BeatOutcome::kWrongCluster:
      return "frame names another cluster; ignored";
    default:
      return nullptr;
  }
}

}  // namespace

// One subscription and the engine shard its callback thread owns.
struct Subscription {
  explicit Subscription(MessageReleaser* releaser) : finished(releaser) {}

  struct Server::State* state = nullptr;
  int shard = -1;  // -1: the BeatFrame subscription.
  std::string subject;
  natsSubscription* sub = nullptr;
  ReleaseBatch finished;  // Messages read; touched only while accepting.
};

struct Server::State {
  ServerOptions options;
  const Clock* clock = nullptr;
  MonotonicClock default_clock;
  Engine engine;
  Metrics metrics;

  natsOptions* nats_options = nullptr;
  natsConnection* conn = nullptr;
  // Outlives the subscriptions; gone before the connection is.
  std::unique_ptr<MessageReleaser> releaser =
      std::make_unique<MessageReleaser>();
  std::vector<std::unique_ptr<Subscription>> subs;

  std::atomic<bool> accepting{true};
  std::atomic<bool> closing{false};  // Reverb itself closes the connection.
  std::atomic<int> in_flight{0};
  LogLimiter invalid_claim_log{5 * kSecond};
  LogLimiter invalid_beat_log{5 * kSecond};
  LogLimiter beat_log{5 * kSecond};
  LogLimiter slow_consumer_log{5 * kSecond};

  // std::mutex rather than absl::Mutex: Debian's Abseil is not built with
  // ThreadSanitizer, which then cannot see its synchronization.
  std::mutex mu;
  std::condition_variable wake_closer;
  bool stopping = false;  // Guarded by mu.
  bool woken = false;     // Guarded by mu.
  bool closed = false;    // Guarded by mu: cnats ran its last callback.
  std::string failure;    // Guarded by mu: why the client gave up, if it did.
  std::thread closer;
  bool shut_down = false;

  explicit State(ServerOptions opts)
      : options(std::move(opts)),
        engine(options.engine),
        metrics(options.engine.cluster_id) {}

  Nanos Now() const { return clock->Now(); }

  void WakeCloser() {
    std::lock_guard<std::mutex> lock(mu);
    woken = true;
    wake_closer.notify_one();
  }

  // Message path.
  void OnBeatMessage(natsMsg* msg);
  void OnClaimMessage(int shard, natsMsg* msg);
  void Reject(natsMsg* msg, const char* reason, absl::string_view error);

  // Bar-closer.
  void CloserLoop();
  void WaitForWork();
  void PublishBars(std::vector<ClosedBar> bars);
  bool Publish(const ClosedBar& bar);
  void SendNow();
  void RecordPublished(const ClosedBar& bar, Nanos on_wire);
  void UpdateDropped();

  // Lifecycle.
  absl::Status MakeNatsOptions();
  void StopCloser();
  void PublishRemaining();
  void Disconnect();
  absl::Status Connect();
  absl::Status Subscribe();
  absl::Status SubscribeOne(const std::string& subject, int shard,
                            const std::string& queue);
  void Drain();
};

// --- cnats callbacks -------------------------------------------------------

namespace {

// Counts a callback in flight so that Shutdown can wait for it.
class InFlight {
 public:
  explicit InFlight(std::atomic<int>* count) : count_(count) {
    count_->fetch_add(1);
  }
  ~InFlight() { count_->fetch_sub(1); }

 private:
  std::atomic<int>* count_;
};

void OnMessage(natsConnection*, natsSubscription*, natsMsg* msg,
               void* closure) {
  auto* sub = static_cast<Subscription*>(closure);
  Server::State* state = sub->state;
  InFlight guard(&state->in_flight);
  if (!state->accepting.load()) {
    natsMsg_Destroy(msg);
    return;
  }
  if (sub->shard < 0) {
    state->OnBeatMessage(msg);
  } else {
    state->OnClaimMessage(sub->shard, msg);
  }
  sub->finished.Add(msg);
}

void OnDisconnected(natsConnection*, void* closure) {
  auto* state = static_cast<Server::State*>(closure);
  if (state->closing.load()) {
    return;  // Shutdown closes it; nothing is lost and nothing reconnects.
  }
  state->engine.OnTransportEvent(TransportEvent::kDisconnected, state->Now());
  state->metrics.SetConnected(false);
  spdlog::warn("nats: disconnected from {}; reconnecting",
               RedactNatsUrls(state->options.nats_url));
}

void OnReconnected(natsConnection* nc, void* closure) {
  auto* state = static_cast<Server::State*>(closure);
  state->engine.OnTransportEvent(TransportEvent::kReconnected, state->Now());
  state->metrics.SetConnected(true);
  state->metrics.CountReconnect();
  char url[256] = "";
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  spdlog::info("nats: reconnected to {}", RedactNatsUrls(url));
}

void OnConnected(natsConnection* nc, void* closure) {
  auto* state = static_cast<Server::State*>(closure);
  state->metrics.SetConnected(true);
  char url[256] = "";
  natsConnection_GetConnectedUrl(nc, url, sizeof(url));
  spdlog::info("nats: connected to {}", RedactNatsUrls(url));
}

// The client's last error on `nc`, or "" if it has none.
std::string LastError(natsConnection* nc) {
  const char* text = nullptr;
  natsStatus s = natsConnection_GetLastError(nc, &text);
  return s == NATS_OK || text == nullptr ? "" : text;
}

void OnClosed(natsConnection* nc, void* closure) {
  auto* state = static_cast<Server::State*>(closure);
  state->metrics.SetConnected(false);
  // Closed while still taking messages: the client gave up, not Reverb.
  std::string failure;
  if (state->accepting.load()) {
    failure = absl::StrCat("nats: connection closed: ", LastError(nc));
    spdlog::error("{}", failure);
  } else {
    spdlog::info("nats: connection closed");
  }
  std::lock_guard<std::mutex> lock(state->mu);
  state->failure = failure;
  state->closed = true;
  state->wake_closer.notify_all();
}

void OnAsyncError(natsConnection*, natsSubscription* sub, natsStatus err,
                  void* closure) {
  auto* state = static_cast<Server::State*>(closure);
  int64_t suppressed = 0;
  if (!state->slow_consumer_log.Allow(state->Now(), &suppressed)) {
    return;
  }
  if (err == NATS_SLOW_CONSUMER) {
    spdlog::warn(
        "nats: slow consumer on {}: the client is dropping messages "
        "(counted in reverb_nats_dropped_messages_total)",
        sub != nullptr ? natsSubscription_GetSubject(sub) : "?");
  } else {
    spdlog::warn("nats: asynchronous error: {}", natsStatus_GetText(err));
  }
}

}  // namespace

// --- message path ----------------------------------------------------------

void Server::State::OnBeatMessage(natsMsg* msg) {
  Nanos arrival = Now();
  absl::string_view bytes(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  absl::StatusOr<BeatFrame> frame =
      Contract::Builtin().ParseBeatFrame(bytes, options.limits);
  if (!frame.ok()) {
    metrics.CountRejectedBeat(RejectReasonOf(frame.status()));
    int64_t suppressed = 0;
    if (invalid_beat_log.Allow(arrival, &suppressed)) {
      spdlog::warn("beat: rejected frame: {} ({} more suppressed)",
                   std::string(frame.status().message()), suppressed);
    }
    Reject(msg, RejectReasonName(RejectReasonOf(frame.status())),
           frame.status().message());
    return;
  }

  BeatOutcome outcome = engine.OnBeat(*frame, arrival);
  metrics.CountBeat(outcome);
  if (outcome != BeatOutcome::kWrongCluster) {
    metrics.MarkBeatSeen(absl::Now());
    double beat_seconds = 60.0 / frame->tempo_bpm;
    metrics.SetReadinessWindow(absl::Seconds(2 * beat_seconds + 5));
  }
  int64_t suppressed = 0;
  const char* advice = BeatAdvice(outcome);
  if (advice != nullptr && beat_log.Allow(arrival, &suppressed)) {
    spdlog::warn("beat: {} at beat {}: {}", BeatOutcomeName(outcome),
                 frame->beat_index, advice);
  }
  if (outcome == BeatOutcome::kOpened) {
    WakeCloser();
  }
}

void Server::State::OnClaimMessage(int shard, natsMsg* msg) {
  Nanos arrival = Now();
  absl::string_view bytes(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  absl::StatusOr<StatusClaim> claim =
      Contract::Builtin().ParseStatusClaim(bytes, options.limits);
  if (!claim.ok()) {
    RejectReason reason = RejectReasonOf(claim.status());
    engine.OnTransportEvent(TransportEvent::kInvalidClaim, arrival);
    metrics.CountRejected(reason);
    int64_t suppressed = 0;
    if (invalid_claim_log.Allow(arrival, &suppressed)) {
      spdlog::warn("claim: rejected {}: {} ({} more suppressed)",
                   RejectReasonName(reason),
                   std::string(claim.status().message()), suppressed);
    }
    Reject(msg, RejectReasonName(reason), claim.status().message());
    return;
  }

  ClaimOutcome outcome = engine.OnClaim(shard, *claim, arrival);
  metrics.CountClaim(outcome);
  if (outcome == ClaimOutcome::kLate || outcome == ClaimOutcome::kFuture) {
    Reject(msg, ClaimOutcomeName(outcome),
           absl::StrCat("beat_index ", claim->beat_index, " is ",
                        ClaimOutcomeName(outcome)));
  }
  metrics.ObserveClaimSeconds(static_cast<double>(Now() - arrival) / kSecond);
}

// Copies rejected input to the dead-letter subject, with the reason in
// headers, when one is configured.
void Server::State::Reject(natsMsg* msg, const char* reason,
                           absl::string_view error) {
  if (options.dead_letter_subject.empty()) {
    return;
  }
  natsMsg* copy = nullptr;
  natsStatus s =
      natsMsg_Create(&copy, options.dead_letter_subject.c_str(), nullptr,
                     natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
  if (s == NATS_OK) {
    s = natsMsgHeader_Set(copy, "Backbeat-Reject-Reason", reason);
  }
  if (s == NATS_OK) {
    s = natsMsgHeader_Set(copy, "Backbeat-Reject-Error",
                          HeaderValue(error).c_str());
  }
  if (s == NATS_OK) {
    s = natsMsgHeader_Set(copy, "Backbeat-Subject",
                          HeaderValue(natsMsg_GetSubject(msg)).c_str());
  }
  if (s == NATS_OK) {
    s = natsConnection_PublishMsg(conn, copy);
  }
  natsMsg_Destroy(copy);
  if (s == NATS_OK) {
    metrics.CountDeadLetter();
  } else {
    metrics.CountPublishFailure();
  }
}

// --- bar-closer ------------------------------------------------------------

void Server::State::CloserLoop() {
  while (true) {
    WaitForWork();
    UpdateDropped();
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) {
        return;
      }
    }
    PublishBars(engine.Poll(Now()));
    metrics.SetEngineStats(engine.stats());
  }
}

// Sleeps until the next bar is due, a new boundary is known, the drop
// counters need reading, or the server stops.
void Server::State::WaitForWork() {
  Nanos now = Now();
  Nanos wake = now + kCloserTick;
  std::optional<Nanos> due = engine.NextDue();
  if (due.has_value() && *due < wake) {
    wake = *due;
  }
  std::unique_lock<std::mutex> lock(mu);
  if (wake > now) {
    wake_closer.wait_for(lock, std::chrono::nanoseconds(wake - now),
                         [this] { return woken || stopping; });
  }
  woken = false;
}

// Publishes the bars, then sends them at once: cnats's flusher would hold
// them for about a millisecond to gather more.
void Server::State::PublishBars(std::vector<ClosedBar> bars) {
  std::vector<const ClosedBar*> published;
  for (const ClosedBar& bar : bars) {
    if (Publish(bar)) {
      published.push_back(&bar);
    }
  }
  if (published.empty()) {
    return;
  }
  SendNow();
  const Nanos on_wire = Now();
  for (const ClosedBar* bar : published) {
    RecordPublished(*bar, on_wire);
  }
}

// Checks the report and hands it to the client; false if it was not taken.
bool Server::State::Publish(const ClosedBar& bar) {
  const BarReport& report = bar.report;
  absl::Status valid = Contract::Builtin().Check(Message(report));
  if (!valid.ok()) {
    metrics.CountPublishFailure();
    spdlog::error("bar: report for window {} fails barreport-v1: {}",
                  report.window_id, std::string(valid.message()));
    return false;
  }

  // Nats-Msg-Id lets a JetStream stream drop a replayed duplicate.
  std::string json = Serialize(Message(report));
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, options.bar_subject.c_str(), nullptr,
                                json.data(), static_cast<int>(json.size()));
  if (s == NATS_OK) {
    s = natsMsgHeader_Set(msg, "Nats-Msg-Id", report.window_id.c_str());
  }
  if (s == NATS_OK) {
    s = natsConnection_PublishMsg(conn, msg);
  }
  natsMsg_Destroy(msg);
  if (s != NATS_OK) {
    metrics.CountPublishFailure();
    spdlog::error("bar: publishing window {} failed: {}", report.window_id,
                  std::string(NatsStatus(s, "publish").message()));
    return false;
  }
  return true;
}

// Writes what the client holds to the socket and waits for the server to
// confirm it. While disconnected the reports wait in the client's
// reconnect buffer instead.
void Server::State::SendNow() {
  if (conn == nullptr ||
      natsConnection_Status(conn) != NATS_CONN_STATUS_CONNECTED) {
    return;
  }
  natsStatus s = natsConnection_FlushTimeout(conn, kReportFlushMillis);
  if (s != NATS_OK) {
    metrics.CountUnconfirmedFlush();
    spdlog::warn("bar: the server did not confirm the reports: {}",
                 std::string(NatsStatus(s, "flush").message()));
  }
}

// Counts a report that left, with its close latency, and logs it.
void Server::State::RecordPublished(const ClosedBar& bar, Nanos on_wire) {
  const BarReport& report = bar.report;
  double latency = static_cast<double>(on_wire - bar.due) / kSecond;
  metrics.RecordBar(report, latency);
  spdlog::info(
      "bar: published window {} beats {}-{}: agents={} on_time={} help={} "
      "drift_ms={:.1f} issues={} close_latency_ms={:.2f}",
      report.window_id, report.from_beat, report.to_beat,
      report.agents_reporting, report.on_time_reviews,
      report.help_promises_fulfilled, report.tempo_drift_ms,
      report.issues.size(), latency * 1e3);
}

// Reads the client's slow-consumer drops over every subscription, and the
// releaser's overflows.
void Server::State::UpdateDropped() {
  int64_t total = 0;
  for (const auto& sub : subs) {
    int64_t dropped = 0;
    if (natsSubscription_GetDropped(sub->sub, &dropped) == NATS_OK) {
      total += dropped;
    }
  }
  engine.SetDroppedTotal(total);
  metrics.SetDroppedTotal(total);
  if (releaser != nullptr) {
    metrics.SetReleaseOverflowsTotal(releaser->overflowed_batches());
  }
}

// --- lifecycle -------------------------------------------------------------

// Reconnect forever, report every connection event to this state, then
// authentication and TLS. Sets nats_options, which this state destroys.
absl::Status Server::State::MakeNatsOptions() {
  natsOptions* o = nullptr;
  natsStatus s = natsOptions_Create(&o);
  nats_options = o;
  if (s == NATS_OK) {
    s = natsOptions_SetURL(o, options.nats_url.c_str());
  }
  if (s == NATS_OK) {
    s = natsOptions_SetName(o, "reverb");
  }
  if (s == NATS_OK) {
    s = natsOptions_SetMaxReconnect(o, -1);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetReconnectWait(o, 250);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetReconnectBufSize(o, 8 << 20);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetDisconnectedCB(o, OnDisconnected, this);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetReconnectedCB(o, OnReconnected, this);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetClosedCB(o, OnClosed, this);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetErrorHandler(o, OnAsyncError, this);
  }
  if (s != NATS_OK) {
    return NatsStatus(s, "nats options");
  }
  return ApplyNatsSecurity(options.security, o);
}

// A server that answers but refuses Reverb (credentials, TLS) is an error
// now; only a server that is not there yet is waited for.
absl::Status Server::State::Connect() {
  if (absl::Status made = MakeNatsOptions(); !made.ok()) {
    return made;
  }
  natsOptions* o = nats_options;
  natsStatus s = natsConnection_Connect(&conn, o);
  if (s == NATS_NO_SERVER) {
    s = natsOptions_SetRetryOnFailedConnect(o, true, OnConnected, this);
    if (s == NATS_OK) {
      s = natsConnection_Connect(&conn, o);
    }
  }
  if (s == NATS_OK) {
    OnConnected(conn, this);
  } else if (s == NATS_NOT_YET_CONNECTED) {
    spdlog::warn("nats: no server at {} yet; retrying in the background",
                 RedactNatsUrls(options.nats_url));
  } else {
    return NatsStatus(
        s, absl::StrCat("connect to ", RedactNatsUrls(options.nats_url)));
  }
  return absl::OkStatus();
}

absl::Status Server::State::SubscribeOne(const std::string& subject, int shard,
                                         const std::string& queue) {
  auto sub = std::make_unique<Subscription>(releaser.get());
  sub->state = this;
  sub->shard = shard;
  sub->subject = subject;
  natsStatus s =
      queue.empty()
          ? natsConnection_Subscribe(&sub->sub, conn, subject.c_str(),
                                     OnMessage, sub.get())
          : natsConnection_QueueSubscribe(&sub->sub, conn, subject.c_str(),
                                          queue.c_str(), OnMessage, sub.get());
  if (s == NATS_OK) {
    s = natsSubscription_SetPendingLimits(sub->sub, options.pending_messages,
                                          options.pending_bytes);
  }
  if (s != NATS_OK) {
    if (sub->sub != nullptr) {
      natsSubscription_Destroy(sub->sub);
    }
    return NatsStatus(s, absl::StrCat("subscribe to ", subject));
  }
  subs.push_back(std::move(sub));
  return absl::OkStatus();
}

// Each ingest thread is one subscription per claim subject in a queue group
// private to this process, so the server spreads claims over the threads
// and each thread owns one engine shard.
absl::Status Server::State::Subscribe() {
  absl::Status status = SubscribeOne(options.beat_subject, -1, "");
  char inbox_queue[64];
  snprintf(inbox_queue, sizeof(inbox_queue), "reverb-ingest-%d-%lld",
           static_cast<int>(getpid()), static_cast<long long>(Now()));
  std::string wildcard = options.status_subject + ".>";
  int shard = 0;
  for (int i = 0; i < options.ingest_threads && status.ok(); ++i) {
    status = SubscribeOne(options.status_subject, shard++, inbox_queue);
    if (status.ok()) {
      status = SubscribeOne(wildcard, shard++, inbox_queue);
    }
  }
  // Make sure the server has the subscriptions before Start returns.
  if (status.ok() &&
      natsConnection_Status(conn) == NATS_CONN_STATUS_CONNECTED) {
    status = NatsStatus(natsConnection_FlushTimeout(conn, 5000), "flush");
  }
  if (status.ok()) {
    spdlog::info("nats: subscribed to {}, {} and {} ({} ingest threads)",
                 options.beat_subject, options.status_subject, wildcard,
                 options.ingest_threads);
  }
  return status;
}

// Lets every subscription deliver what it already holds, bounded in time,
// then stops all callbacks.
void Server::State::Drain() {
  bool connected = conn != nullptr &&
                   natsConnection_Status(conn) == NATS_CONN_STATUS_CONNECTED;
  for (const auto& sub : subs) {
    if (!connected) {
      // Nothing more can arrive, and a drain would wait for the server.
      natsSubscription_Unsubscribe(sub->sub);
    } else {
      natsSubscription_Drain(sub->sub);
    }
  }
  Nanos deadline = Now() + kDrainMillis * 1'000'000;
  for (const auto& sub : subs) {
    // Zero would mean "no timeout" to cnats.
    int64_t left = std::max<int64_t>(1, (deadline - Now()) / 1'000'000);
    if (connected &&
        natsSubscription_WaitForDrainCompletion(sub->sub, left) != NATS_OK) {
      spdlog::warn("shutdown: {} did not drain in time", sub->subject);
      natsSubscription_Unsubscribe(sub->sub);
    }
  }
  // Sequentially consistent with InFlight: a callback either counted itself
  // before this store, and is waited for, or sees accepting false.
  accepting.store(false);
  while (in_flight.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

namespace {

// The cluster id is part of every default subject: [A-Za-z0-9_-]{1,64}.
bool ValidClusterId(const std::string& id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           c == '-';
  });
}

}  // namespace

absl::StatusOr<ServerOptions> ResolveOptions(ServerOptions o) {
  if (!ValidClusterId(o.engine.cluster_id)) {
    return absl::InvalidArgumentError(
        "cluster_id must be 1-64 characters of [A-Za-z0-9_-]");
  }
  const std::string prefix = absl::StrCat("backbeat.", o.engine.cluster_id);
  if (o.beat_subject.empty()) {
    o.beat_subject = prefix + ".beat";
  }
  if (o.status_subject.empty()) {
    o.status_subject = prefix + ".status";
  }
  if (o.bar_subject.empty()) {
    o.bar_subject = prefix + ".bar";
  }
  if (absl::Status security = ValidateNatsSecurity(o.security);
      !security.ok()) {
    return security;
  }
  if (o.ingest_threads < 1 || o.ingest_threads > 64) {
    return absl::InvalidArgumentError("ingest_threads must be 1-64");
  }
  if (o.limits.max_bytes < 64 || o.limits.max_bytes > (64u << 20)) {
    return absl::InvalidArgumentError(
        "max_message_bytes must be between 64 and 67108864");
  }
  if (o.engine.grace.has_value() && *o.engine.grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("grace must not be negative");
  }
  if (!(o.engine.tempo_drift_share > 0) ||
      !std::isfinite(o.engine.tempo_drift_share)) {
    return absl::InvalidArgumentError("tempo_drift_share must be positive");
  }
  if (o.engine.hold_beats < 0) {
    return absl::InvalidArgumentError("hold_beats must not be negative");
  }
  o.engine.shards = 2 * o.ingest_threads;
  return o;
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options,
                                                      const Clock* clock) {
  absl::StatusOr<ServerOptions> resolved = ResolveOptions(std::move(options));
  if (!resolved.ok()) {
    return resolved.status();
  }
  auto state = std::make_unique<State>(*std::move(resolved));
  state->clock = clock != nullptr ? clock : &state->default_clock;
  std::unique_ptr<Server> server(new Server(std::move(state)));
  State& st = *server->state_;

  absl::Status status = st.metrics.Serve(st.options.metrics_address);
  if (!status.ok()) {
    st.shut_down = true;
    return status;
  }
  const std::string& address = st.options.metrics_address;
  spdlog::info("metrics: serving on {}:{}",
               address.substr(0, address.rfind(':')), st.metrics.port());
  status = st.Connect();
  if (status.ok()) {
    status = st.Subscribe();
  }
  if (!status.ok() && st.conn != nullptr && natsConnection_IsClosed(st.conn)) {
    // Say why the client gave up (say, an authorization violation).
    status = absl::UnavailableError(
        absl::StrCat("nats: connection closed: ", LastError(st.conn)));
  }
  if (!status.ok()) {
    server->Shutdown();
    return status;
  }
  st.closer = std::thread([&st] { st.CloserLoop(); });
  return server;
}

// Stops the bar-closer thread; bars still open stay in the engine.
void Server::State::StopCloser() {
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
    wake_closer.notify_one();
  }
  if (closer.joinable()) {
    closer.join();
  }
}

// Publishes every bar whose boundary is known and lets the bytes leave.
void Server::State::PublishRemaining() {
  UpdateDropped();
  PublishBars(engine.Flush());
  if (conn != nullptr &&
      natsConnection_Status(conn) == NATS_CONN_STATUS_CONNECTED) {
    natsConnection_FlushTimeout(conn, 1000);
  }
}

// Destroys the subscriptions, every message read, and the connection.
void Server::State::Disconnect() {
  for (const auto& sub : subs) {
    natsSubscription_Destroy(sub->sub);
  }
  subs.clear();
  releaser.reset();
  if (conn != nullptr) {
    closing.store(true);
    natsConnection_Close(conn);
    // cnats delivers the closed callback on its own thread; the state it
    // points to must outlive it.
    std::unique_lock<std::mutex> lock(mu);
    wake_closer.wait_for(lock, std::chrono::seconds(2),
                         [this] { return closed; });
    lock.unlock();
    natsConnection_Destroy(conn);
    conn = nullptr;
  }
  natsOptions_Destroy(nats_options);
  nats_options = nullptr;
}

void Server::Shutdown() {
  State& st = *state_;
  if (st.shut_down) {
    return;
  }
  st.shut_down = true;
  spdlog::info("shutdown: draining");
  st.Drain();  // First, so that every accepted claim is in the engine.
  st.StopCloser();
  st.PublishRemaining();
  st.Disconnect();
  spdlog::info("shutdown: done");
}

absl::Status Server::Failure() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->failure.empty() ? absl::OkStatus()
                                 : absl::UnavailableError(state_->failure);
}

int Server::metrics_port() const { return state_->metrics.port(); }

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}

Server::~Server() { Shutdown(); }

}  // namespace backbeat::reverb
