#include "reverb/metrics.h"

#include <CivetServer.h>
#include <arpa/inet.h>
#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/exposer.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace backbeat::reverb {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Label values. They are part of the exporter's interface (dashboards and
// alerts select on them), so they are spelled here rather than borrowed
// from the enums' wire names.
constexpr std::array<const char*, 5> kClaimResults = {
    "accepted", "held", "late", "future", "unobserved"};
constexpr std::array<const char*, 4> kRejectReasons = {"too_large", "malformed",
                                                       "schema", "wrong_type"};
constexpr std::array<const char*, 6> kBeatOutcomes = {
    "opened", "beat", "duplicate", "out_of_order", "no_bar", "wrong_cluster"};
constexpr std::array<const char*, 9> kIssueKinds = {
    "agents_failed", "agents_blocked", "missed_reviews",
    "agents_silent", "late_claims",    "invalid_claims",
    "missing_beats", "tempo_drift",    "ingest_dropped"};
// Issue kinds outside kIssueKinds are exported too, up to this many series.
constexpr size_t kMaxIssueKinds = 32;

// Claim processing time, seconds: 1 us to 10 ms.
constexpr std::array<double, 11> kClaimBuckets = {
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2};
// Bar close latency, seconds: 100 us to 1 s.
const prometheus::Histogram::BucketBoundaries kCloseBuckets = {
    1e-4,   2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2,
    2.5e-2, 5e-2,   0.1,  0.25, 0.5,    1.0};

constexpr absl::Duration kDefaultReadinessWindow = absl::Seconds(10);

// The claim-path counters of one group of threads, alone on a cache line
// (or several), so that threads on different stripes never contend.
struct alignas(64) Stripe {
  std::array<std::atomic<uint64_t>, kClaimResults.size()> claims{};
  std::array<std::atomic<uint64_t>, kRejectReasons.size()> rejected{};
  // Per bucket, not cumulative; the last one is +Inf.
  std::array<std::atomic<uint64_t>, kClaimBuckets.size() + 1> buckets{};
  std::atomic<uint64_t> sum_ns{0};
};
constexpr int kStripes = 16;

// Threads take stripes round-robin, once, the first time they count.
int ThreadStripe() {
  static std::atomic<int> next{0};
  thread_local const int stripe =
      next.fetch_add(1, std::memory_order_relaxed) % kStripes;
  return stripe;
}

void Bump(std::atomic<uint64_t>& counter) {
  counter.fetch_add(1, std::memory_order_relaxed);
}

// Raises `target` to `value` if larger (running totals never go back).
void StoreMax(std::atomic<int64_t>& target, int64_t value) {
  int64_t seen = target.load(std::memory_order_relaxed);
  while (value > seen && !target.compare_exchange_weak(
                             seen, value, std::memory_order_relaxed)) {
  }
}

double UnixSeconds(absl::Time t) {
  return absl::ToDoubleSeconds(t - absl::UnixEpoch());
}

// The figures of the last published report, and when reports came out.
struct LastBar {
  int64_t from_beat = 0;
  int64_t to_beat = 0;
  int64_t agents_reporting = 0;
  int64_t on_time_reviews = 0;
  int64_t help_promises_fulfilled = 0;
  bool secret_rotations_ok = true;
  double tempo_drift_seconds = 0;
  std::map<std::string, int64_t> issues;  // By kind.
  double published_unix_seconds = 0;
  std::optional<double> interval_seconds;  // Between the last two reports.
  std::chrono::steady_clock::time_point published_steady;
};

// Builds families whose every series carries the `cluster` label.
class FamilyBuilder {
 public:
  explicit FamilyBuilder(const std::string& cluster) : cluster_(cluster) {}

  ClientMetric Series() const {
    ClientMetric metric;
    metric.label.push_back({"cluster", cluster_});
    return metric;
  }
  ClientMetric Series(const char* name, const std::string& value) const {
    ClientMetric metric = Series();
    metric.label.push_back({name, value});
    return metric;
  }
  static MetricFamily Family(const char* name, const char* help,
                             MetricType type) {
    MetricFamily family;
    family.name = name;
    family.help = help;
    family.type = type;
    return family;
  }
  MetricFamily Gauge(const char* name, const char* help, double value) const {
    MetricFamily family = Family(name, help, MetricType::Gauge);
    family.metric.push_back(Series());
    family.metric.back().gauge.value = value;
    return family;
  }
  MetricFamily Counter(const char* name, const char* help, double value) const {
    MetricFamily family = Family(name, help, MetricType::Counter);
    family.metric.push_back(Series());
    family.metric.back().counter.value = value;
    return family;
  }
  // One counter series per label value: values[i] under label=names[i].
  template <typename Names, typename Values>
  MetricFamily LabelledCounters(const char* name, const char* help,
                                const char* label, const Names& names,
                                const Values& values) const {
    MetricFamily family = Family(name, help, MetricType::Counter);
    for (size_t i = 0; i < values.size(); ++i) {
      family.metric.push_back(Series(label, names[i]));
      family.metric.back().counter.value = static_cast<double>(values[i]);
    }
    return family;
  }

 private:
  const std::string cluster_;
};

// Serving processes are found by listening port, the one thing civetweb's
// request callback can tell apart. Entries live from a successful Serve()
// until the exporter stops serving.
class Exporter;
struct PortTable {
  std::mutex mu;  // Not absl::Mutex: invisible to TSan here.
  absl::flat_hash_map<int, const Exporter*> exporters;  // Guarded by mu.
};

PortTable& Ports() {
  static PortTable* table = new PortTable;
  return *table;
}

int BeginRequest(mg_connection* conn);

// An address that reaches a listener bound to `address` on `port`: its
// IPv4 host, or loopback for a wildcard or anything else.
sockaddr_in WakeAddress(const std::string& address, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const size_t colon = address.rfind(':');
  const std::string host =
      colon == std::string::npos ? "" : address.substr(0, colon);
  in_addr parsed{};
  if (inet_pton(AF_INET, host.c_str(), &parsed) == 1 &&
      parsed.s_addr != htonl(INADDR_ANY)) {
    addr.sin_addr = parsed;
  }
  return addr;
}

// Everything behind Metrics. See metrics.h for the contracts.
class Exporter : public prometheus::Collectable {
 public:
  explicit Exporter(const std::string& cluster);
  ~Exporter() override;

  absl::Status Serve(const std::string& address,
                     std::weak_ptr<prometheus::Collectable> self);
  int port() const { return port_; }

  void CountClaim(ClaimOutcome outcome) {
    const auto i = static_cast<size_t>(outcome);
    if (i < kClaimResults.size()) {
      Bump(Mine().claims[i]);
    }
  }
  void CountRejected(RejectReason reason) {
    const auto i = static_cast<size_t>(reason);
    if (i < kRejectReasons.size()) {
      Bump(Mine().rejected[i]);
    }
  }
  void ObserveClaimSeconds(double seconds);

  void CountBeat(BeatOutcome outcome) {
    const auto i = static_cast<size_t>(outcome);
    if (i < beats_.size()) {
      beats_[i]->Increment();
    }
  }
  void CountRejectedBeat(RejectReason reason) {
    const auto i = static_cast<size_t>(reason);
    if (i < beats_rejected_.size()) {
      beats_rejected_[i]->Increment();
    }
  }
  void RecordBar(const BarReport& report, double close_latency_seconds);
  void CountPublishFailure() { publish_failures_->Increment(); }
  void CountUnconfirmedFlush() { unconfirmed_->Increment(); }
  void SetEngineStats(const EngineStats& stats);

  void SetConnected(bool up) { connected_.store(up); }
  void SetDroppedTotal(int64_t dropped) { StoreMax(dropped_total_, dropped); }
  void SetReleaseOverflowsTotal(int64_t batches) {
    StoreMax(release_overflows_, batches);
  }
  void CountReconnect() { reconnects_->Increment(); }
  void CountDeadLetter() { dead_letters_->Increment(); }

  void MarkBeatSeen(absl::Time now) {
    StoreMax(last_beat_unix_ns_, absl::ToUnixNanos(now));
  }
  void SetReadinessWindow(absl::Duration window) {
    readiness_window_ns_.store(absl::ToInt64Nanoseconds(window));
  }
  absl::Status Readiness(absl::Time now) const;

  std::vector<MetricFamily> Collect() const override;

 private:
  Stripe& Mine() { return stripes_[ThreadStripe()]; }
  void AddClaimFamilies(std::vector<MetricFamily>& out) const;
  void AddStateFamilies(std::vector<MetricFamily>& out) const;
  void AddBarFamilies(std::vector<MetricFamily>& out) const;
  void StopServing();

  const std::string cluster_;
  const FamilyBuilder build_;
  const double start_unix_seconds_;

  // Claim path.
  std::array<Stripe, kStripes> stripes_;

  // Transport, engine and readiness state, read at scrape time.
  std::atomic<bool> connected_{false};
  std::atomic<int64_t> dropped_total_{0};
  std::atomic<int64_t> release_overflows_{0};
  std::atomic<int64_t> last_beat_unix_ns_{std::numeric_limits<int64_t>::min()};
  std::atomic<int64_t> readiness_window_ns_{
      absl::ToInt64Nanoseconds(kDefaultReadinessWindow)};
  std::array<std::atomic<int64_t>, 5> engine_stats_{};

  mutable std::mutex bar_mu_;
  std::optional<LastBar> last_bar_;  // Guarded by bar_mu_.

  // Low-rate series, kept by prometheus-cpp.
  std::shared_ptr<prometheus::Registry> registry_;
  std::array<prometheus::Counter*, kBeatOutcomes.size()> beats_{};
  std::array<prometheus::Counter*, kRejectReasons.size()> beats_rejected_{};
  prometheus::Counter* published_ = nullptr;
  prometheus::Counter* publish_failures_ = nullptr;
  prometheus::Counter* unconfirmed_ = nullptr;
  prometheus::Counter* reconnects_ = nullptr;
  prometheus::Counter* dead_letters_ = nullptr;
  prometheus::Histogram* close_latency_ = nullptr;

  int port_ = 0;
  sockaddr_in wake_address_{};  // Where StopServing() connects to.
  std::unique_ptr<prometheus::Exposer> exposer_;
};

Exporter::Exporter(const std::string& cluster)
    : cluster_(cluster),
      build_(cluster),
      start_unix_seconds_(UnixSeconds(absl::Now())),
      registry_(std::make_shared<prometheus::Registry>()) {
  const prometheus::Labels labels = {{"cluster", cluster}};
  auto& beats = prometheus::BuildCounter()
                    .Name("reverb_beats_total")
                    .Help(
                        "BeatFrames received, by what the engine made of "
                        "them.")
                    .Labels(labels)
                    .Register(*registry_);
  for (size_t i = 0; i < kBeatOutcomes.size(); ++i) {
    beats_[i] = &beats.Add({{"outcome", kBeatOutcomes[i]}});
  }
  auto& beats_rejected =
      prometheus::BuildCounter()
          .Name("reverb_beats_rejected_total")
          .Help("Beat-subject messages rejected before the engine, by reason.")
          .Labels(labels)
          .Register(*registry_);
  for (size_t i = 0; i < kRejectReasons.size(); ++i) {
    beats_rejected_[i] = &beats_rejected.Add({{"reason", kRejectReasons[i]}});
  }
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter()
                .Name(name)
                .Help(help)
                .Labels(labels)
                .Register(*registry_)
                .Add({});
  };
  published_ = counter("reverb_bar_reports_published_total",
                       "BarReports published on NATS.");
  publish_failures_ = counter("reverb_bar_publish_failures_total",
                              "BarReports that could not be published.");
  unconfirmed_ = counter("reverb_bar_unconfirmed_flushes_total",
                         "Flushes after publishing BarReports that the NATS "
                         "server did not confirm in time.");
  reconnects_ = counter("reverb_nats_reconnects_total",
                        "Times the NATS connection was re-established.");
  dead_letters_ = counter("reverb_dead_letters_total",
                          "Rejected messages republished to the dead-letter "
                          "subject.");
  close_latency_ = &prometheus::BuildHistogram()
                        .Name("reverb_bar_close_latency_seconds")
                        .Help(
                            "Time from a bar's due time (boundary plus "
                            "grace) to its report being published.")
                        .Labels(labels)
                        .Register(*registry_)
                        .Add({}, kCloseBuckets);
}

Exporter::~Exporter() { StopServing(); }

void Exporter::StopServing() {
  if (exposer_ == nullptr) {
    return;
  }
  {
    PortTable& table = Ports();
    std::lock_guard<std::mutex> lock(table.mu);
    table.exporters.erase(port_);
  }
  // civetweb's listener polls in 2 s slices and sees the stop request only
  // between them; connecting wakes it, so stopping takes milliseconds.
  std::atomic<bool> stopped{false};
  std::thread waker([&] {
    while (!stopped.load()) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        break;
      }
      connect(fd, reinterpret_cast<const sockaddr*>(&wake_address_),
              sizeof wake_address_);
      close(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  exposer_.reset();  // Joins civetweb's threads: no scrape runs after this.
  stopped.store(true);
  waker.join();
}

absl::Status Exporter::Serve(const std::string& address,
                             std::weak_ptr<prometheus::Collectable> self) {
  if (exposer_ != nullptr) {
    return absl::FailedPreconditionError("metrics: already serving");
  }
  static CivetCallbacks* callbacks = [] {
    auto* c = new CivetCallbacks;
    c->begin_request = BeginRequest;
    return c;
  }();

  // prometheus-cpp reports a failed bind by throwing; stop it here.
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", address, "num_threads",
                                 "2"},
        callbacks);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot serve on ", address, ": ", e.what()));
  }
  const std::vector<int> ports = exposer_->GetListeningPorts();
  if (ports.empty()) {
    exposer_.reset();
    return absl::UnavailableError(
        absl::StrCat("metrics: no listening port for ", address));
  }
  port_ = ports.front();
  wake_address_ = WakeAddress(address, port_);

  {
    PortTable& table = Ports();
    std::lock_guard<std::mutex> lock(table.mu);
    table.exporters[port_] = this;
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(std::move(self));
  return absl::OkStatus();
}

void Exporter::ObserveClaimSeconds(double seconds) {
  if (!(seconds >= 0)) {
    seconds = 0;  // Also catches NaN.
  }
  size_t bucket = 0;
  while (bucket < kClaimBuckets.size() && seconds > kClaimBuckets[bucket]) {
    ++bucket;
  }
  Stripe& stripe = Mine();
  Bump(stripe.buckets[bucket]);
  const double ns = std::min(seconds * 1e9, 1e15);
  stripe.sum_ns.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

void Exporter::RecordBar(const BarReport& report,
                         double close_latency_seconds) {
  const auto now_steady = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(bar_mu_);
    LastBar bar;
    bar.from_beat = report.from_beat;
    bar.to_beat = report.to_beat;
    bar.agents_reporting = report.agents_reporting;
    bar.on_time_reviews = report.on_time_reviews;
    bar.help_promises_fulfilled = report.help_promises_fulfilled;
    bar.secret_rotations_ok = report.secret_rotations_ok;
    bar.tempo_drift_seconds = report.tempo_drift_ms / 1000.0;
    bar.published_unix_seconds = UnixSeconds(absl::Now());
    bar.published_steady = now_steady;

    // Every kind seen so far stays exported (at 0 when absent), so series
    // do not vanish between bars.
    for (const char* kind : kIssueKinds) {
      bar.issues[kind] = 0;
    }
    if (last_bar_.has_value()) {
      for (const auto& [kind, count] : last_bar_->issues) {
        bar.issues[kind] = 0;
      }
      bar.interval_seconds = std::chrono::duration<double>(
                                 now_steady - last_bar_->published_steady)
                                 .count();
    }
    for (const Issue& issue : report.issues) {
      auto it = bar.issues.find(issue.kind);
      if (it != bar.issues.end()) {
        it->second += issue.count;
      } else if (bar.issues.size() < kMaxIssueKinds) {
        bar.issues[issue.kind] = issue.count;
      }
    }
    last_bar_ = std::move(bar);
  }
  published_->Increment();
  close_latency_->Observe(std::max(close_latency_seconds, 0.0));
}

void Exporter::SetEngineStats(const EngineStats& stats) {
  const int64_t values[] = {stats.bars_reported, stats.bars_unobserved,
                            stats.bars_forced, stats.held_released,
                            stats.held_expired};
  for (size_t i = 0; i < engine_stats_.size(); ++i) {
    StoreMax(engine_stats_[i], values[i]);
  }
}

absl::Status Exporter::Readiness(absl::Time now) const {
  if (!connected_.load()) {
    return absl::UnavailableError("not connected to NATS");
  }
  const int64_t last = last_beat_unix_ns_.load();
  if (last == std::numeric_limits<int64_t>::min()) {
    return absl::UnavailableError("no BeatFrame seen yet");
  }
  const absl::Duration since = now - absl::FromUnixNanos(last);
  const absl::Duration window = absl::Nanoseconds(readiness_window_ns_.load());
  if (since > window) {
    return absl::UnavailableError(
        absl::StrCat("no BeatFrame for ", absl::FormatDuration(since),
                     " (readiness window ", absl::FormatDuration(window), ")"));
  }
  return absl::OkStatus();
}

std::vector<MetricFamily> Exporter::Collect() const {
  std::vector<MetricFamily> out;
  AddClaimFamilies(out);
  AddStateFamilies(out);
  AddBarFamilies(out);
  return out;
}

void Exporter::AddClaimFamilies(std::vector<MetricFamily>& out) const {
  // Sum the stripes.
  std::array<uint64_t, kClaimResults.size()> claims{};
  std::array<uint64_t, kRejectReasons.size()> rejected{};
  std::array<uint64_t, kClaimBuckets.size() + 1> buckets{};
  uint64_t sum_ns = 0;
  for (const Stripe& s : stripes_) {
    for (size_t i = 0; i < claims.size(); ++i) {
      claims[i] += s.claims[i].load();
    }
    for (size_t i = 0; i < rejected.size(); ++i) {
      rejected[i] += s.rejected[i].load();
    }
    for (size_t i = 0; i < buckets.size(); ++i) {
      buckets[i] += s.buckets[i].load();
    }
    sum_ns += s.sum_ns.load();
  }

  // Counters by label.
  out.push_back(build_.LabelledCounters(
      "reverb_claims_total",
      "Valid StatusClaims handed to the engine, by result.", "result",
      kClaimResults, claims));
  out.push_back(build_.LabelledCounters(
      "reverb_claims_rejected_total",
      "Status messages rejected before the engine, by reason.", "reason",
      kRejectReasons, rejected));

  // The histogram, cumulative; its count is the sum of its buckets.
  MetricFamily hist = FamilyBuilder::Family(
      "reverb_claim_processing_seconds",
      "Time to parse, validate and aggregate one status message.",
      MetricType::Histogram);
  ClientMetric series = build_.Series();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    cumulative += buckets[i];
    const double bound = i < kClaimBuckets.size()
                             ? kClaimBuckets[i]
                             : std::numeric_limits<double>::infinity();
    series.histogram.bucket.push_back({cumulative, bound});
  }
  series.histogram.sample_count = cumulative;
  series.histogram.sample_sum = static_cast<double>(sum_ns) / 1e9;
  hist.metric.push_back(std::move(series));
  out.push_back(std::move(hist));
}

void Exporter::AddStateFamilies(std::vector<MetricFamily>& out) const {
  out.push_back(
      build_.Counter("reverb_nats_dropped_messages_total",
                     "Messages the NATS client dropped as a slow consumer.",
                     static_cast<double>(dropped_total_.load())));
  out.push_back(build_.Counter(
      "reverb_release_overflow_batches_total",
      "Batches of read messages a delivery thread destroyed itself because "
      "the releaser thread was behind.",
      static_cast<double>(release_overflows_.load())));
  out.push_back(build_.Gauge("reverb_nats_connected",
                             "1 while connected to NATS, else 0.",
                             connected_.load() ? 1 : 0));
  out.push_back(build_.Gauge("reverb_ready",
                             "1 while /readyz answers 200, else 0.",
                             Readiness(absl::Now()).ok() ? 1 : 0));
  out.push_back(build_.Gauge("reverb_start_time_seconds",
                             "Unix time the exporter was created.",
                             start_unix_seconds_));
  const int64_t last_beat = last_beat_unix_ns_.load();
  if (last_beat != std::numeric_limits<int64_t>::min()) {
    out.push_back(build_.Gauge("reverb_last_beat_timestamp_seconds",
                               "Unix time the last BeatFrame was received.",
                               static_cast<double>(last_beat) / 1e9));
  }

  // Engine totals.
  static constexpr std::array<std::pair<const char*, const char*>, 5> kEngine =
      {{
          {"reverb_engine_bars_closed_total", "Bars the engine closed."},
          {"reverb_engine_bars_unobserved_total",
           "Bars not reported: they began before the first downbeat seen."},
          {"reverb_engine_bars_forced_total",
           "Bars closed early because too many were open."},
          {"reverb_engine_held_claims_released_total",
           "Claims held ahead of Pulse, later aggregated."},
          {"reverb_engine_held_claims_expired_total",
           "Claims held ahead of Pulse that never found their bar."},
      }};
  for (size_t i = 0; i < kEngine.size(); ++i) {
    out.push_back(build_.Counter(kEngine[i].first, kEngine[i].second,
                                 static_cast<double>(engine_stats_[i].load())));
  }
}

void Exporter::AddBarFamilies(std::vector<MetricFamily>& out) const {
  std::lock_guard<std::mutex> lock(bar_mu_);
  if (!last_bar_.has_value()) {
    return;  // Nothing to say before a report.
  }
  const LastBar& bar = *last_bar_;
  auto gauge = [&](const char* name, const char* help, double value) {
    out.push_back(build_.Gauge(name, help, value));
  };
  gauge("reverb_bar_from_beat", "Last report: first beat of the bar.",
        static_cast<double>(bar.from_beat));
  gauge("reverb_bar_to_beat", "Last report: last beat of the bar.",
        static_cast<double>(bar.to_beat));
  gauge("reverb_bar_agents_reporting",
        "Last report: distinct agents that sent a claim.",
        static_cast<double>(bar.agents_reporting));
  gauge("reverb_bar_on_time_reviews",
        "Last report: agents reviewing or completed by the bar's boundary.",
        static_cast<double>(bar.on_time_reviews));
  gauge("reverb_bar_on_time_review_ratio",
        "Last report: on-time reviews over agents reporting (NaN if none).",
        bar.agents_reporting > 0
            ? static_cast<double>(bar.on_time_reviews) / bar.agents_reporting
            : std::numeric_limits<double>::quiet_NaN());
  gauge("reverb_bar_help_promises_fulfilled",
        "Last report: helping promises whose task completed.",
        static_cast<double>(bar.help_promises_fulfilled));
  gauge("reverb_bar_secret_rotations_ok",
        "Last report: 1 if every claim's signing key was valid.",
        bar.secret_rotations_ok ? 1 : 0);
  gauge("reverb_bar_tempo_drift_seconds",
        "Last report: measured minus nominal bar duration (positive: Pulse "
        "runs behind).",
        bar.tempo_drift_seconds);
  gauge("reverb_last_report_timestamp_seconds",
        "Unix time the last report was published.", bar.published_unix_seconds);
  if (bar.interval_seconds.has_value()) {
    gauge("reverb_bar_interval_seconds",
          "Time between the last two published reports (about one bar).",
          *bar.interval_seconds);
  }

  MetricFamily issues = FamilyBuilder::Family(
      "reverb_bar_issues", "Last report: the count of each kind of issue.",
      MetricType::Gauge);
  for (const auto& [kind, count] : bar.issues) {
    issues.metric.push_back(build_.Series("kind", kind));
    issues.metric.back().gauge.value = static_cast<double>(count);
  }
  out.push_back(std::move(issues));
}

void Reply(mg_connection* conn, int code, const std::string& body) {
  const mg_request_info* info = mg_get_request_info(conn);
  const bool head = info->request_method != nullptr &&
                    std::string_view(info->request_method) == "HEAD";
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: %zu\r\nCache-Control: no-store\r\n"
            "Connection: close\r\n\r\n",
            code, code == 200 ? "OK" : "Service Unavailable", body.size());
  if (!head) {
    mg_write(conn, body.data(), body.size());
  }
}

// Serves /healthz and /readyz; everything else goes on to the Exposer.
int BeginRequest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (info == nullptr || info->local_uri == nullptr) {
    return 0;
  }
  const std::string_view uri = info->local_uri;
  if (uri == "/healthz") {
    Reply(conn, 200, "ok\n");
    return 200;
  }
  if (uri != "/readyz") {
    return 0;
  }

  absl::Status ready = absl::UnavailableError("starting");
  {
    PortTable& table = Ports();
    std::lock_guard<std::mutex> lock(table.mu);
    auto it = table.exporters.find(info->server_port);
    if (it != table.exporters.end()) {
      ready = it->second->Readiness(absl::Now());
    }
  }
  if (ready.ok()) {
    Reply(conn, 200, "ready\n");
    return 200;
  }
  Reply(conn, 503, absl::StrCat("not ready: ", ready.message(), "\n"));
  return 503;
}

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<Exporter> exporter;
};

Metrics::Metrics(const std::string& cluster_id)
    : impl_(std::make_unique<Impl>()) {
  impl_->exporter = std::make_shared<Exporter>(cluster_id);
}

Metrics::~Metrics() = default;

absl::Status Metrics::Serve(const std::string& address) {
  return impl_->exporter->Serve(address, impl_->exporter);
}
int Metrics::port() const { return impl_->exporter->port(); }

void Metrics::CountClaim(ClaimOutcome outcome) {
  impl_->exporter->CountClaim(outcome);
}
void Metrics::CountRejected(RejectReason reason) {
  impl_->exporter->CountRejected(reason);
}
void Metrics::ObserveClaimSeconds(double seconds) {
  impl_->exporter->ObserveClaimSeconds(seconds);
}
void Metrics::CountRejectedBeat(RejectReason reason) {
  impl_->exporter->CountRejectedBeat(reason);
}

void Metrics::CountBeat(BeatOutcome outcome) {
  impl_->exporter->CountBeat(outcome);
}
void Metrics::RecordBar(const BarReport& report, double close_latency_seconds) {
  impl_->exporter->RecordBar(report, close_latency_seconds);
}
void Metrics::CountPublishFailure() { impl_->exporter->CountPublishFailure(); }
void Metrics::CountUnconfirmedFlush() {
  impl_->exporter->CountUnconfirmedFlush();
}
void Metrics::SetEngineStats(const EngineStats& stats) {
  impl_->exporter->SetEngineStats(stats);
}
void Metrics::SetConnected(bool connected) {
  impl_->exporter->SetConnected(connected);
}
void Metrics::SetDroppedTotal(int64_t dropped) {
  impl_->exporter->SetDroppedTotal(dropped);
}
void Metrics::SetReleaseOverflowsTotal(int64_t batches) {
  impl_->exporter->SetReleaseOverflowsTotal(batches);
}
void Metrics::CountReconnect() { impl_->exporter->CountReconnect(); }
void Metrics::CountDeadLetter() { impl_->exporter->CountDeadLetter(); }
void Metrics::MarkBeatSeen(absl::Time now) {
  impl_->exporter->MarkBeatSeen(now);
}
void Metrics::SetReadinessWindow(absl::Duration window) {
  impl_->exporter->SetReadinessWindow(window);
}
absl::Status Metrics::Readiness(absl::Time now) const {
  return impl_->exporter->Readiness(now);
}

}  // namespace backbeat::reverb
