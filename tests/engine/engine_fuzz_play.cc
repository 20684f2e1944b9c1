// The bytes become a sequence of valid BeatFrames and
// StatusClaims (beats repeated, skipped, reordered, tempos from 0.1 to 6000
// bpm, foreign clusters), transport events and clock steps, played into two
// engines: one shard sealing alone, and four shards sealing in parallel with
// each claim on a shard the bytes choose. A crash, a report that breaks the
// BarReport contract, a window reported twice or out of order, or any
// difference between the two engines' reports aborts.
#include "tests/engine/engine_fuzz_play.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/contract.h"
#include "reverb/engine.h"

namespace backbeat::reverb {
namespace {

constexpr int kShards = 4;
constexpr Nanos kMs = 1'000'000;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "engine_fuzz: %s\n", what.c_str());
  std::abort();
}

[[noreturn]] void Fail(const std::string& what, const BarReport& report) {
  Fail(what + ": " + Serialize(report));
}

// The options both engines share, then what makes the second parallel.
EngineOptions Options(FuzzedDataProvider& in) {
  EngineOptions o;
  if (in.ConsumeBool()) {
    o.grace = absl::Milliseconds(in.ConsumeIntegralInRange(0, 3000));
  }
  o.hold_beats = in.ConsumeIntegralInRange(0, 4);
  o.tempo_drift_share = in.ConsumeBool() ? 0.05 : 0.5;
  o.max_held_claims = 1 << 20;  // Never reached: both engines hold alike.
  o.shards = 1;
  o.seal_threads = 1;
  o.parallel_seal_min_agents = 1 << 30;
  return o;
}

EngineOptions Parallel(EngineOptions o) {
  o.shards = kShards;
  o.seal_threads = 2;
  o.parallel_seal_min_agents = 0;
  return o;
}

// Two engines fed the same events, and what they reported.
class Pair {
 public:
  explicit Pair(const EngineOptions& options)
      : one_(std::make_unique<Engine>(options)),
        four_(std::make_unique<Engine>(Parallel(options))) {}

  void Beat(const BeatFrame& frame, Nanos at) {
    if (one_->OnBeat(frame, at) != four_->OnBeat(frame, at)) {
      Fail("beat outcomes differ");
    }
  }
  void Claim(int shard, const StatusClaim& claim, Nanos at) {
    if (one_->OnClaim(0, claim, at) != four_->OnClaim(shard, claim, at)) {
      Fail("claim outcomes differ");
    }
  }
  void Event(TransportEvent event, Nanos at) {
    one_->OnTransportEvent(event, at);
    four_->OnTransportEvent(event, at);
  }
  void Dropped(int64_t total) {
    one_->SetDroppedTotal(total);
    four_->SetDroppedTotal(total);
  }
  void Poll(Nanos now) { Compare(one_->Poll(now), four_->Poll(now)); }
  void Flush() { Compare(one_->Flush(), four_->Flush()); }

 private:
  void Compare(const std::vector<ClosedBar>& a,
               const std::vector<ClosedBar>& b) {
    if (a.size() != b.size()) {
      Fail(absl::StrFormat("%d reports against %d", a.size(), b.size()));
    }
    for (size_t i = 0; i < a.size(); ++i) {
      const BarReport& report = a[i].report;
      if (!(report == b[i].report)) {
        Fail("four shards reported " + Serialize(b[i].report), report);
      }
      Check(report);
    }
  }

  void Check(const BarReport& report) {
    if (absl::Status valid = Contract::Builtin().Check(report); !valid.ok()) {
      Fail(valid.ToString(), report);
    }
    if (!windows_.insert(report.window_id).second) {
      Fail("window reported twice", report);
    }
    if (report.from_beat <= last_from_) {
      Fail("reports out of window order", report);
    }
    last_from_ = report.from_beat;
  }

  std::unique_ptr<Engine> one_;
  std::unique_ptr<Engine> four_;
  std::set<std::string> windows_;
  int64_t last_from_ = -1;
};

BeatFrame NextFrame(FuzzedDataProvider& in, int64_t* beat) {
  static constexpr double kTempos[] = {120, 60, 240, 0.1, 6000, 119.5};
  *beat = std::max<int64_t>(0, *beat + in.ConsumeIntegralInRange(-3, 6));
  BeatFrame frame;
  frame.cluster_id = in.ConsumeIntegralInRange(0, 15) == 0 ? "other" : "local";
  frame.beat_index = *beat;
  frame.downbeat = in.ConsumeBool();
  frame.phase = Phase::kExecute;
  frame.hlc = "0000:0000:0001";
  frame.deadline_at = "2025-01-01T00:00:00Z";
  frame.tempo_bpm = kTempos[in.ConsumeIntegralInRange(0, 5)];
  // Usually the downbeat's bar; sometimes a window id of another bar.
  int64_t bar =
      frame.downbeat ? *beat : *beat - in.ConsumeIntegralInRange(0, 4);
  frame.window_id = absl::StrFormat("%032x", std::max<int64_t>(0, bar));
  return frame;
}

StatusClaim NextClaim(FuzzedDataProvider& in, int64_t beat) {
  StatusClaim claim;
  claim.agent_id = absl::StrFormat("agent-%d", in.ConsumeIntegral<uint8_t>());
  claim.beat_index =
      std::max<int64_t>(0, beat + in.ConsumeIntegralInRange(-9, 4));
  claim.state = static_cast<ClaimState>(in.ConsumeIntegralInRange(0, 7));
  if (in.ConsumeBool()) {
    claim.task_id = absl::StrFormat("task-%d", in.ConsumeIntegralInRange(0, 7));
  }
  claim.hlc = "0000:0000:0002";
  return claim;
}

}  // namespace

void PlayEngineFuzzInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Pair engines(Options(in));
  Nanos now = 0;
  int64_t beat = 0;
  int64_t dropped = 0;
  while (in.remaining_bytes() > 0) {
    now += in.ConsumeIntegralInRange<Nanos>(0, 50) * kMs;
    switch (in.ConsumeIntegralInRange(0, 9)) {
      case 0:
      case 1:
        engines.Beat(NextFrame(in, &beat), now);
        break;
      case 2:
        now += in.ConsumeIntegralInRange<Nanos>(0, 3000) * kMs;
        engines.Poll(now);
        break;
      case 3:
        engines.Event(
            static_cast<TransportEvent>(in.ConsumeIntegralInRange(0, 2)), now);
        break;
      case 4:
        dropped += in.ConsumeIntegralInRange(0, 3);
        engines.Dropped(dropped);
        break;
      default:
        engines.Claim(in.ConsumeIntegralInRange(0, kShards - 1),
                      NextClaim(in, beat), now);
        break;
    }
  }
  engines.Poll(now + 10'000 * kMs);
  engines.Flush();
}

}  // namespace backbeat::reverb
