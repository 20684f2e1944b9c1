// backbeat-sim: plays Pulse and a population of agents over NATS.
//
// Pulse sends one BeatFrame per beat on backbeat.<cluster>.beat; the agents
// answer with StatusClaims on backbeat.<cluster>.status. See
// docs/simulator.md for the behaviours. --dry_run prints what would be sent
// ("<subject> <json>" per line) without NATS or waiting.
#include <nats/nats.h>
#include <string.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
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
#include "tools/sim_model.h"

ABSL_FLAG(std::string, nats_url, "nats://127.0.0.1:4222", "NATS server URL");
ABSL_FLAG(std::string, cluster_id, "local", "BACKBEAT cluster id");
ABSL_FLAG(int, agents, 20, "number of simulated agents");
ABSL_FLAG(double, tempo_bpm, 120, "beats per minute announced and played");
ABSL_FLAG(int, beats_per_bar, 4, "beats in each bar");
ABSL_FLAG(int64_t, bars, 0,
          "stop after this many complete bars (0: run until signalled)");
ABSL_FLAG(uint64_t, seed, 1, "seed of every choice the simulator makes");
ABSL_FLAG(int, jitter_ms, 0, "each beat is sent up to this much early/late");
ABSL_FLAG(int, drift_ms, 0, "extra delay added per beat (Pulse runs late)");
ABSL_FLAG(int64_t, start_beat, 0, "beat_index of the first downbeat");
ABSL_FLAG(std::string, mix,
          "on_time:60,late:10,failing:10,blocked:5,helping:10,silent:5",
          "weights of the agent behaviours");
ABSL_FLAG(bool, agents_only, false,
          "do not play Pulse: follow BeatFrames on the beat subject");
ABSL_FLAG(bool, pulse_only, false, "send beats only, no agents");
ABSL_FLAG(bool, dry_run, false,
          "print '<subject> <json>' lines to stdout instead of publishing, "
          "without waiting; needs --bars");

namespace backbeat::sim {
namespace {

// The wall-clock origin of a dry run, so that its output is reproducible.
constexpr int64_t kDryRunEpochSeconds = 1735689600;  // 2025-01-01T00:00:00Z
constexpr uint64_t kJitterSalt = 0x6a6974746572ull;  // "jitter"
constexpr int kFlushTimeoutMs = 2000;
// How far into a bar late agents send the reviews of the bar before, as a
// share of a beat: past the boundary, well within Reverb's default grace
// (a quarter beat).
constexpr double kLatePause = 0.1;

struct RunOptions {
  SimConfig sim;
  int64_t bars = 0;
  int64_t start_beat = 0;
  absl::Duration jitter;
  absl::Duration drift;
  bool agents_only = false;
  bool pulse_only = false;
  bool dry_run = false;
  std::string nats_url;
  NatsSecurity nats_security;
  std::string beat_subject;
  std::string status_subject;
};

// Where messages go: NATS, or stdout for a dry run.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual absl::Status Publish(const std::string& subject,
                               const std::string& data) = 0;
  virtual absl::Status Flush() = 0;
};

class StdoutSink : public Sink {
 public:
  absl::Status Publish(const std::string& subject,
                       const std::string& data) override {
    std::string line = absl::StrCat(subject, " ", data, "\n");
    if (fwrite(line.data(), 1, line.size(), stdout) != line.size()) {
      return absl::UnavailableError("stdout: write failed");
    }
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    return fflush(stdout) == 0 ? absl::OkStatus()
                               : absl::UnavailableError("stdout: flush");
  }
};

class NatsSink : public Sink {
 public:
  explicit NatsSink(natsConnection* connection) : connection_(connection) {}
  absl::Status Publish(const std::string& subject,
                       const std::string& data) override {
    return NatsStatus(
        natsConnection_Publish(connection_, subject.c_str(), data.data(),
                               static_cast<int>(data.size())),
        absl::StrCat("publish ", subject));
  }
  absl::Status Flush() override {
    return NatsStatus(natsConnection_FlushTimeout(connection_, kFlushTimeoutMs),
                      "flush");
  }

 private:
  natsConnection* connection_;
};

// Waits for SIGINT/SIGTERM up to `timeout`. Returns true if one arrived.
bool SignalWithin(absl::Duration timeout) {
  if (int received = WaitForStopSignal(timeout); received != 0) {
    spdlog::info("stop: {} received", strsignal(received));
    return true;
  }
  return false;
}

absl::Duration Since(std::chrono::steady_clock::time_point start) {
  return absl::FromChrono(std::chrono::steady_clock::now() - start);
}

// Sends frames and claims, and logs one line per bar.
class Runner {
 public:
  Runner(const RunOptions& options, Sink* sink)
      : options_(options), sink_(sink), agents_(options.sim) {}

  // Plays Pulse (and the agents unless --pulse_only) until --bars complete
  // bars have been sent or a signal arrives.
  absl::Status PlayPulse();

  // Answers the BeatFrames of a real Pulse until --bars complete bars have
  // been seen or a signal arrives.
  absl::Status FollowPulse(natsConnection* connection);

 private:
  void Send(const std::string& subject, const Message& message);
  void SendClaims(const std::vector<StatusClaim>& claims);
  void FlushBeat();
  void OpenBar(const std::string& window_id, int64_t downbeat_index);
  void CloseBar(int64_t last_beat);
  // The next valid frame within 100 ms; nullopt if none came or it was
  // invalid (counted, and logged at 1, 2, 4... invalid frames).
  absl::StatusOr<std::optional<BeatFrame>> NextFrame(natsSubscription* sub);
  // Answers one newer frame of a followed Pulse. Returns false to stop.
  bool AnswerFrame(const BeatFrame& frame);

  const RunOptions& options_;
  Sink* sink_;
  Agents agents_;

  // The bar being sent, and what went out in it.
  std::string window_id_;
  int64_t downbeat_index_ = 0;
  int64_t frames_ = 0;
  int64_t claims_ = 0;
  int64_t bar_errors_ = 0;
  int64_t bars_done_ = 0;
  int64_t total_errors_ = 0;
  int64_t invalid_frames_ = 0;
  int64_t followed_bar_ = -1;  // Bars seen since following began, from 0.
};

void Runner::Send(const std::string& subject, const Message& message) {
  absl::Status status = sink_->Publish(subject, Serialize(message));
  if (!status.ok()) {
    ++bar_errors_;
    ++total_errors_;
    if (bar_errors_ == 1) {  // One warning per bar at most.
      spdlog::warn("publish: {} (errors so far: {})", status.ToString(),
                   total_errors_);
    }
  }
}

void Runner::SendClaims(const std::vector<StatusClaim>& claims) {
  for (const StatusClaim& claim : claims) {
    Send(options_.status_subject, claim);
  }
  claims_ += static_cast<int64_t>(claims.size());
}

void Runner::FlushBeat() {
  absl::Status status = sink_->Flush();
  if (!status.ok()) {
    ++bar_errors_;
    ++total_errors_;
    if (bar_errors_ == 1) {
      spdlog::warn("flush: {} (errors so far: {})", status.ToString(),
                   total_errors_);
    }
  }
}

void Runner::OpenBar(const std::string& window_id, int64_t downbeat_index) {
  window_id_ = window_id;
  downbeat_index_ = downbeat_index;
  frames_ = claims_ = bar_errors_ = 0;
}

void Runner::CloseBar(int64_t last_beat) {
  ++bars_done_;
  spdlog::info("bar {}: window {} beats {}-{}, {} frames, {} claims, {} errors",
               bars_done_, window_id_, downbeat_index_, last_beat, frames_,
               claims_, bar_errors_);
}

absl::Status Runner::PlayPulse() {
  const SimConfig& sim = options_.sim;
  const int bar_beats = sim.beats_per_bar;
  const absl::Duration step = absl::Minutes(1) / sim.tempo_bpm + options_.drift;
  const int64_t jitter_us = absl::ToInt64Microseconds(options_.jitter);
  Random jitter(sim.seed ^ kJitterSalt);
  const auto start = std::chrono::steady_clock::now();
  const absl::Time wall_start = options_.dry_run
                                    ? absl::FromUnixSeconds(kDryRunEpochSeconds)
                                    : absl::Now();
  absl::Duration due = absl::ZeroDuration();

  for (int64_t k = 0;; ++k) {
    // When this beat is due: jitter moves it, but never before the last.
    absl::Duration offset = step * k;
    if (jitter_us > 0) {
      offset += absl::Microseconds(
          static_cast<int64_t>(jitter.Below(2 * jitter_us + 1)) - jitter_us);
    }
    due = std::max(due, offset);
    if (!options_.dry_run && SignalWithin(due - Since(start))) {
      return absl::OkStatus();
    }

    // The frame, then the agents' answers, in one flush.
    const int position = static_cast<int>(k % bar_beats);
    const int64_t bar = k / bar_beats;
    const int64_t downbeat = options_.start_beat + bar * bar_beats;
    BeatContext beat{downbeat + position, downbeat, bar, position};
    // The phase's deadline follows the nominal schedule, without jitter.
    BeatFrame frame = MakeBeatFrame(
        sim, downbeat, position,
        wall_start + step * (k + BeatsLeftInPhase(position, bar_beats)));
    if (position == 0 && bar > 0) {
      CloseBar(downbeat - 1);
    }
    if (position == 0) {
      OpenBar(frame.window_id, downbeat);
    }
    const bool last = options_.bars > 0 && bar == options_.bars;
    Send(options_.beat_subject, frame);
    ++frames_;
    if (!options_.pulse_only && !last) {
      SendClaims(agents_.OnBeat(beat));
    }
    FlushBeat();

    // Late reviews follow a downbeat after a short pause.
    if (position == 0 && bar > 0 && !options_.pulse_only) {
      if (!options_.dry_run && SignalWithin(step * kLatePause)) {
        return absl::OkStatus();
      }
      SendClaims(agents_.TakeDeferred(beat));
      FlushBeat();
    }
    if (last) {
      return absl::OkStatus();
    }
  }
}

absl::StatusOr<std::optional<BeatFrame>> Runner::NextFrame(
    natsSubscription* sub) {
  natsMsg* message = nullptr;
  natsStatus s = natsSubscription_NextMsg(&message, sub, 100);
  if (s == NATS_TIMEOUT) {
    return std::nullopt;
  }
  if (s != NATS_OK) {
    return NatsStatus(s, "next beat");
  }
  absl::StatusOr<BeatFrame> frame = Contract::Builtin().ParseBeatFrame(
      absl::string_view(natsMsg_GetData(message),
                        static_cast<size_t>(natsMsg_GetDataLength(message))));
  natsMsg_Destroy(message);
  if (frame.ok()) {
    return *std::move(frame);
  }
  ++invalid_frames_;
  if ((invalid_frames_ & (invalid_frames_ - 1)) == 0) {
    spdlog::warn("follow: invalid frame skipped: {} (invalid so far: {})",
                 frame.status().ToString(), invalid_frames_);
  }
  return std::nullopt;
}

bool Runner::AnswerFrame(const BeatFrame& frame) {
  // Step: bars open at downbeats; claims start with the first one.
  if (frame.downbeat) {
    if (followed_bar_ >= 0) {
      CloseBar(frame.beat_index - 1);
    }
    ++followed_bar_;
    OpenBar(frame.window_id, frame.beat_index);
  }
  if (followed_bar_ < 0) {
    return true;
  }
  const bool last =
      frame.downbeat && options_.bars > 0 && bars_done_ == options_.bars;
  const int position = static_cast<int>(std::min<int64_t>(
      frame.beat_index - downbeat_index_, options_.sim.beats_per_bar));
  BeatContext beat{frame.beat_index, downbeat_index_, followed_bar_, position};
  if (!last) {
    ++frames_;
    SendClaims(agents_.OnBeat(beat));
    FlushBeat();
  }

  // Step: late reviews follow a downbeat after a short pause.
  if (frame.downbeat && followed_bar_ > 0) {
    if (SignalWithin(absl::Minutes(1) / frame.tempo_bpm * kLatePause)) {
      return false;
    }
    SendClaims(agents_.TakeDeferred(beat));
    FlushBeat();
  }
  return !last;
}

absl::Status Runner::FollowPulse(natsConnection* connection) {
  natsSubscription* subscription = nullptr;
  absl::Status status =
      NatsStatus(natsConnection_SubscribeSync(&subscription, connection,
                                              options_.beat_subject.c_str()),
                 absl::StrCat("subscribe ", options_.beat_subject));
  if (status.ok()) {  // The server knows the subscription from here on.
    status = NatsStatus(natsConnection_Flush(connection), "flush");
  }
  if (!status.ok()) {
    natsSubscription_Destroy(subscription);
    return status;
  }
  spdlog::info("follow: waiting for a downbeat on {}", options_.beat_subject);
  int64_t last_beat = -1;
  while (!SignalWithin(absl::ZeroDuration())) {
    absl::StatusOr<std::optional<BeatFrame>> frame = NextFrame(subscription);
    if (!frame.ok()) {
      status = frame.status();
      break;
    }
    if (!frame->has_value() || (*frame)->beat_index <= last_beat) {
      continue;  // None yet, invalid, a duplicate or an old frame.
    }
    last_beat = (*frame)->beat_index;
    if (!AnswerFrame(**frame)) {
      break;
    }
  }
  natsSubscription_Destroy(subscription);
  return status;
}

absl::StatusOr<RunOptions> OptionsFromFlags() {
  RunOptions o;
  o.sim.cluster_id = absl::GetFlag(FLAGS_cluster_id);
  o.sim.agents = absl::GetFlag(FLAGS_agents);
  o.sim.tempo_bpm = absl::GetFlag(FLAGS_tempo_bpm);
  o.sim.beats_per_bar = absl::GetFlag(FLAGS_beats_per_bar);
  o.sim.seed = absl::GetFlag(FLAGS_seed);
  absl::StatusOr<Mix> mix = ParseMix(absl::GetFlag(FLAGS_mix));
  if (!mix.ok()) {
    return mix.status();
  }
  o.sim.mix = *std::move(mix);
  o.bars = absl::GetFlag(FLAGS_bars);
  o.start_beat = absl::GetFlag(FLAGS_start_beat);
  o.jitter = absl::Milliseconds(absl::GetFlag(FLAGS_jitter_ms));
  o.drift = absl::Milliseconds(absl::GetFlag(FLAGS_drift_ms));
  o.agents_only = absl::GetFlag(FLAGS_agents_only);
  o.pulse_only = absl::GetFlag(FLAGS_pulse_only);
  o.dry_run = absl::GetFlag(FLAGS_dry_run);
  o.nats_url = absl::GetFlag(FLAGS_nats_url);
  o.nats_security = NatsSecurityFromFlags();
  o.beat_subject = absl::StrCat("backbeat.", o.sim.cluster_id, ".beat");
  o.status_subject = absl::StrCat("backbeat.", o.sim.cluster_id, ".status");

  // The same rules the contract puts on what we will send.
  const std::string& cluster = o.sim.cluster_id;
  if (cluster.empty() || cluster.size() > 64 ||
      cluster.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
          std::string::npos) {
    return absl::InvalidArgumentError(
        "cluster_id must be 1-64 characters of [A-Za-z0-9_-]");
  }
  if (o.sim.agents < 0 || o.sim.agents > 1000000) {
    return absl::InvalidArgumentError("agents must be in [0, 1000000]");
  }
  if (!(o.sim.tempo_bpm >= 0.1 && o.sim.tempo_bpm <= 6000)) {
    return absl::InvalidArgumentError("tempo_bpm must be in [0.1, 6000]");
  }
  if (o.sim.beats_per_bar < 1 || o.sim.beats_per_bar > 4096) {
    return absl::InvalidArgumentError("beats_per_bar must be in [1, 4096]");
  }
  if (o.bars < 0 || o.start_beat < 0 || o.jitter < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "bars, start_beat and jitter_ms must be >= 0");
  }
  if (absl::Minutes(1) / o.sim.tempo_bpm + o.drift <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("drift_ms must leave a positive beat");
  }
  if (o.agents_only && o.pulse_only) {
    return absl::InvalidArgumentError(
        "agents_only and pulse_only exclude each other");
  }
  if (o.dry_run && (o.bars == 0 || o.agents_only)) {
    return absl::InvalidArgumentError(
        "dry_run needs --bars > 0 and cannot follow a Pulse");
  }
  if (absl::Status security = ValidateNatsSecurity(o.nats_security);
      !security.ok()) {
    return security;
  }
  return o;
}

int Run(const RunOptions& options) {
  if (options.dry_run) {
    StdoutSink sink;
    Runner runner(options, &sink);
    absl::Status status = runner.PlayPulse();
    return status.ok() ? 0 : 1;
  }
  absl::StatusOr<natsConnection*> connection =
      ConnectToNats(options.nats_url, "backbeat-sim", options.nats_security);
  if (!connection.ok()) {
    spdlog::error("start: {}", connection.status().ToString());
    return 1;
  }
  spdlog::info(
      "start: nats={} cluster={} agents={} tempo_bpm={} beats_per_bar={} "
      "bars={} seed={} mode={}",
      RedactNatsUrls(options.nats_url), options.sim.cluster_id,
      options.pulse_only ? 0 : options.sim.agents, options.sim.tempo_bpm,
      options.sim.beats_per_bar, options.bars, options.sim.seed,
      options.agents_only  ? "agents"
      : options.pulse_only ? "pulse"
                           : "pulse+agents");
  NatsSink sink(*connection);
  Runner runner(options, &sink);
  absl::Status status = options.agents_only ? runner.FollowPulse(*connection)
                                            : runner.PlayPulse();
  natsConnection_FlushTimeout(*connection, kFlushTimeoutMs);
  natsConnection_Destroy(*connection);
  if (!status.ok()) {
    spdlog::error("stop: {}", status.ToString());
    return 1;
  }
  spdlog::info("stop: done");
  return 0;
}

}  // namespace
}  // namespace backbeat::sim

int main(int argc, char** argv) {
  backbeat::SetProgramUsage(
      "backbeat-sim",
      "plays BACKBEAT Pulse and a population of agents over NATS.\n"
      "  backbeat-sim --nats_url=nats://127.0.0.1:4222 --agents=20");
  absl::ParseCommandLine(argc, argv);
  backbeat::LogToStderr("backbeat-sim");

  absl::StatusOr<backbeat::sim::RunOptions> options =
      backbeat::sim::OptionsFromFlags();
  if (!options.ok()) {
    fprintf(stderr, "backbeat-sim: %s\n",
            std::string(options.status().message()).c_str());
    return 2;
  }

  backbeat::BlockStopSignals();
  return backbeat::sim::Run(*options);
}
