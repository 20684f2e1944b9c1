// claim_flood: plays Pulse at a fixed tempo and, on command, floods
// StatusClaims from a large agent population at a paced rate.
//
// Reads commands on stdin, one per line, and answers each on stdout:
//   flood SUBJECT RATE COUNT   publish COUNT claims to SUBJECT at RATE/s,
//                              then flush; answers
//                              "done published=N errors=E seconds=S"
//   quit                       exits (also on end of input)
// BeatFrames go to backbeat.<cluster>.beat for the whole life of the
// process, and every claim carries the beat last published, so Reverb
// accepts it. Default cnats buffering: nothing here asks for SendAsap.
#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "bench/e2e/bench_messages.h"
#include "common/nats_status.h"

ABSL_FLAG(std::string, nats_url, "nats://127.0.0.1:4222", "NATS server");
ABSL_FLAG(std::string, cluster_id, "local", "cluster of the BeatFrames");
ABSL_FLAG(int64_t, agents, 100000, "distinct agents the claims come from");
ABSL_FLAG(double, tempo_bpm, 120, "Pulse tempo");
ABSL_FLAG(int, beats_per_bar, 4, "beats per bar; beat 0 is a downbeat");
ABSL_FLAG(int, max_seconds, 600, "exit after this long whatever happens");

namespace backbeat::bench {
namespace {

using Clock = std::chrono::steady_clock;

class Flooder {
 public:
  explicit Flooder(natsConnection* conn) : conn_(conn) {}

  // Publishes one BeatFrame per beat until Stop(). Renders the claims of
  // every agent for the next beat while waiting for it, so that the flood
  // itself only publishes.
  void RunPulse() {
    const std::string cluster = absl::GetFlag(FLAGS_cluster_id);
    const std::string subject = BeatSubject(cluster);
    const double tempo = absl::GetFlag(FLAGS_tempo_bpm);
    const auto beat = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(60.0 / tempo));
    const Clock::time_point start = Clock::now();
    std::shared_ptr<const Pool> next = Render(0);
    for (int64_t b = 0; !stop_.load(); ++b) {
      std::this_thread::sleep_until(start + b * beat);
      std::string frame =
          BeatFrameJson(cluster, b, absl::GetFlag(FLAGS_beats_per_bar), tempo);
      natsConnection_Publish(conn_, subject.c_str(), frame.data(),
                             static_cast<int>(frame.size()));
      natsConnection_Flush(conn_);
      {
        std::lock_guard<std::mutex> lock(mu_);
        pool_ = std::move(next);
      }
      next = Render(b + 1);
    }
  }

  void Stop() { stop_.store(true); }
  bool CurrentPoolEmpty() { return CurrentPool() == nullptr; }

  // Publishes `count` claims at `rate` per second; prints the outcome.
  void Flood(const std::string& subject, double rate, int64_t count) {
    int64_t sent = 0;
    int64_t errors = 0;
    const Clock::time_point start = Clock::now();
    while (sent < count) {
      const double elapsed =
          std::chrono::duration<double>(Clock::now() - start).count();
      int64_t due = static_cast<int64_t>(rate * elapsed) + 1;
      if (due > count) {
        due = count;
      }
      if (sent >= due) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        continue;
      }
      std::shared_ptr<const Pool> pool = CurrentPool();
      const int64_t agents = static_cast<int64_t>(pool->size());
      for (; sent < due; ++sent) {
        // A stride coprime with the population visits every agent.
        const std::string& claim = (*pool)[(sequence_++ * 7919) % agents];
        if (natsConnection_Publish(conn_, subject.c_str(), claim.data(),
                                   static_cast<int>(claim.size())) != NATS_OK) {
          ++errors;
        }
      }
    }
    const double seconds =
        std::chrono::duration<double>(Clock::now() - start).count();
    natsConnection_FlushTimeout(conn_, 10000);
    std::printf("done published=%lld errors=%lld seconds=%.4f\n",
                static_cast<long long>(sent - errors),
                static_cast<long long>(errors), seconds);
    std::fflush(stdout);
  }

 private:
  // The claim of every agent at one beat.
  using Pool = std::vector<std::string>;

  static std::shared_ptr<const Pool> Render(int64_t beat) {
    auto pool = std::make_shared<Pool>(
        static_cast<size_t>(absl::GetFlag(FLAGS_agents)));
    for (size_t agent = 0; agent < pool->size(); ++agent) {
      StatusClaimJson(static_cast<int64_t>(agent), beat,
                      static_cast<uint64_t>(beat), &(*pool)[agent]);
    }
    return pool;
  }

  std::shared_ptr<const Pool> CurrentPool() {
    std::lock_guard<std::mutex> lock(mu_);
    return pool_;
  }

  natsConnection* conn_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::shared_ptr<const Pool> pool_;  // Claims at the last beat published.
  int64_t sequence_ = 0;
};

int Run() {
  natsConnection* conn = nullptr;
  absl::Status status = NatsStatus(
      natsConnection_ConnectTo(&conn, absl::GetFlag(FLAGS_nats_url).c_str()),
      "connect");
  if (!status.ok()) {
    std::fprintf(stderr, "claim_flood: %s\n", status.ToString().c_str());
    return 1;
  }
  Flooder flooder(conn);
  std::thread pulse([&flooder] { flooder.RunPulse(); });
  // A watchdog bounds the process even if its driver disappears.
  std::thread([] {
    std::this_thread::sleep_for(
        std::chrono::seconds(absl::GetFlag(FLAGS_max_seconds)));
    std::fprintf(stderr, "claim_flood: time limit reached\n");
    std::_Exit(2);
  }).detach();

  while (flooder.CurrentPoolEmpty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::printf("ready\n");
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string command, subject;
    double rate = 0;
    int64_t count = 0;
    words >> command;
    if (command == "quit") {
      break;
    }
    if (command == "flood" && (words >> subject >> rate >> count) && rate > 0 &&
        count >= 0) {
      flooder.Flood(subject, rate, count);
    } else {
      std::printf("error: unknown command\n");
      std::fflush(stdout);
    }
  }
  flooder.Stop();
  pulse.join();
  natsConnection_Destroy(conn);
  return 0;
}

}  // namespace
}  // namespace backbeat::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return backbeat::bench::Run();
}
