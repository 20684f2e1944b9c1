// bar_latency: measures how long after boundary + grace a BarReport reaches
// a subscriber, with a bar holding claims from N distinct agents.
//
// For each of --bars bars: publishes the bar's BeatFrames, then
// --claims_per_agent claims per agent (pass i at the bar's beat i),
// flushes and prints "loaded bar=K claims=N"; waits for a line
// "go" on stdin (the driver checks Reverb has processed them); publishes
// the next downbeat and waits for the report of bar K. Prints
//   "bar=K agents_reporting=A latency_ms=L since_downbeat_ms=D"
// where L = report arrival - (downbeat publish + grace), both read from
// CLOCK_MONOTONIC (steady_clock) in this process. Exits 1 on a timeout.
#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/e2e/bench_messages.h"
#include "common/nats_status.h"

ABSL_FLAG(std::string, nats_url, "nats://127.0.0.1:4222", "NATS server");
ABSL_FLAG(std::string, cluster_id, "local", "cluster of the frames");
ABSL_FLAG(int64_t, agents, 10000, "distinct agents in each bar");
ABSL_FLAG(int, claims_per_agent, 1,
          "claims of each agent in each bar (1-4), one per beat");
ABSL_FLAG(double, rate, 150000, "claims per second while loading a bar");
ABSL_FLAG(int, bars, 3, "bars to measure");
ABSL_FLAG(double, grace_ms, 100, "the grace Reverb was started with");
ABSL_FLAG(int, timeout_seconds, 30, "give up waiting for a report after");
ABSL_FLAG(double, tempo_bpm, 120, "tempo the frames announce");
ABSL_FLAG(int, max_seconds, 900, "exit after this long whatever happens");

namespace backbeat::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBeatsPerBar = 4;

struct Arrival {
  Clock::time_point at;
  std::string json;
};

struct Reports {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Arrival> arrived;
};

void OnReport(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  const Clock::time_point at = Clock::now();
  auto* reports = static_cast<Reports*>(closure);
  {
    std::lock_guard<std::mutex> lock(reports->mu);
    reports->arrived.push_back(
        {at, std::string(natsMsg_GetData(msg), natsMsg_GetDataLength(msg))});
  }
  reports->cv.notify_all();
  natsMsg_Destroy(msg);
}

// The integer after "key": in a compact JSON object; -1 if absent.
long long FieldInt(const std::string& json, const std::string& key) {
  const size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) {
    return -1;
  }
  return std::atoll(json.c_str() + at + key.size() + 3);
}

class Driver {
 public:
  Driver(natsConnection* conn, Reports* reports)
      : conn_(conn), reports_(reports) {}

  void Beat(int64_t index) {
    const std::string subject = BeatSubject(absl::GetFlag(FLAGS_cluster_id));
    const std::string frame =
        BeatFrameJson(absl::GetFlag(FLAGS_cluster_id), index, kBeatsPerBar,
                      absl::GetFlag(FLAGS_tempo_bpm));
    natsConnection_Publish(conn_, subject.c_str(), frame.data(),
                           static_cast<int>(frame.size()));
  }

  void Flush() { natsConnection_FlushTimeout(conn_, 10000); }

  // The claims of every agent for the bar starting at `downbeat`: pass i
  // claims at beat downbeat + i, paced.
  void Load(int64_t downbeat, uint64_t sequence) {
    const std::string subject = StatusSubject(absl::GetFlag(FLAGS_cluster_id));
    const int64_t agents = absl::GetFlag(FLAGS_agents);
    const int passes = absl::GetFlag(FLAGS_claims_per_agent);
    const double rate = absl::GetFlag(FLAGS_rate);
    std::string claim;
    const Clock::time_point start = Clock::now();
    int64_t sent = 0;
    for (int pass = 0; pass < passes; ++pass) {
      for (int64_t agent = 0; agent < agents; ++agent, ++sent) {
        if (sent % 1000 == 0) {
          std::this_thread::sleep_until(
              start + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double>(sent / rate)));
        }
        StatusClaimJson(agent, downbeat + pass, sequence + pass, &claim);
        natsConnection_Publish(conn_, subject.c_str(), claim.data(),
                               static_cast<int>(claim.size()));
      }
    }
    natsConnection_FlushTimeout(conn_, 10000);
  }

  // Waits for the report of the bar starting at `downbeat`.
  bool WaitReport(int64_t downbeat, Arrival* out) {
    const std::string id = WindowId(downbeat);
    std::unique_lock<std::mutex> lock(reports_->mu);
    return reports_->cv.wait_for(
        lock, std::chrono::seconds(absl::GetFlag(FLAGS_timeout_seconds)), [&] {
          for (const Arrival& a : reports_->arrived) {
            if (a.json.find(id) != std::string::npos) {
              *out = a;
              return true;
            }
          }
          return false;
        });
  }

 private:
  natsConnection* conn_;
  Reports* reports_;
};

int MeasureBars(Driver& driver) {
  const auto grace = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double, std::milli>(absl::GetFlag(FLAGS_grace_ms)));
  std::string line;
  for (int k = 0; k < absl::GetFlag(FLAGS_bars); ++k) {
    // Load the bar: its frames, then the claims of every agent.
    const int64_t downbeat = int64_t{k} * kBeatsPerBar;
    for (int b = 1; b < kBeatsPerBar; ++b) {
      driver.Beat(downbeat + b);
    }
    // Frames and claims reach Reverb on different subscriptions: give the
    // frames a head start so no claim overtakes its bar's downbeat.
    driver.Flush();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    driver.Load(downbeat, static_cast<uint64_t>(k));
    std::printf("loaded bar=%d claims=%lld\n", k,
                static_cast<long long>(absl::GetFlag(FLAGS_agents) *
                                       absl::GetFlag(FLAGS_claims_per_agent)));
    std::fflush(stdout);
    if (!std::getline(std::cin, line) || line != "go") {
      return 1;
    }

    // Close it with the next downbeat and time the report.
    const Clock::time_point sent = Clock::now();
    driver.Beat(downbeat + kBeatsPerBar);
    driver.Flush();
    Arrival report;
    if (!driver.WaitReport(downbeat, &report)) {
      std::printf("timeout bar=%d\n", k);
      std::fflush(stdout);
      return 1;
    }
    using Ms = std::chrono::duration<double, std::milli>;
    std::printf(
        "bar=%d agents_reporting=%lld latency_ms=%.3f "
        "since_downbeat_ms=%.3f\n",
        k, FieldInt(report.json, "agents_reporting"),
        Ms(report.at - (sent + grace)).count(), Ms(report.at - sent).count());
    std::fflush(stdout);
  }
  return 0;
}

int Run() {
  natsConnection* conn = nullptr;
  natsSubscription* sub = nullptr;
  Reports reports;
  natsStatus s =
      natsConnection_ConnectTo(&conn, absl::GetFlag(FLAGS_nats_url).c_str());
  if (s == NATS_OK) {
    s = natsConnection_Subscribe(
        &sub, conn, BarSubject(absl::GetFlag(FLAGS_cluster_id)).c_str(),
        OnReport, &reports);
  }
  if (s == NATS_OK) {
    s = natsConnection_Flush(conn);
  }
  if (s != NATS_OK) {
    std::fprintf(stderr, "bar_latency: %s\n",
                 NatsStatus(s, "connect").ToString().c_str());
    return 1;
  }
  std::thread([] {
    std::this_thread::sleep_for(
        std::chrono::seconds(absl::GetFlag(FLAGS_max_seconds)));
    std::fprintf(stderr, "bar_latency: time limit reached\n");
    std::_Exit(2);
  }).detach();

  Driver driver(conn, &reports);
  driver.Beat(0);
  const int rc = MeasureBars(driver);
  natsSubscription_Destroy(sub);
  natsConnection_Destroy(conn);
  return rc;
}

}  // namespace
}  // namespace backbeat::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int passes = absl::GetFlag(FLAGS_claims_per_agent);
  if (passes < 1 || passes > 4) {
    std::fprintf(stderr, "bar_latency: claims_per_agent must be 1-4\n");
    return 2;
  }
  return backbeat::bench::Run();
}
