// The beat path's view of the timeline, as the claim path reads it.
//
// The beat path (one writer, under the engine's lock) publishes a Snapshot
// through a SnapshotCell; claim threads read it without locks. The cell is a
// sequence lock over atomic fields: readers retry while a write is in
// progress, so every read returns one published snapshot whole.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "reverb/engine.h"

namespace backbeat::reverb {

// Bars tracked at once (open or in grace) and ring slots per shard. A bar's
// slot is its sequence number modulo kBarRing; kMaxOpenBars < kBarRing keeps
// a slot from being reused while its bar is still open.
inline constexpr int kBarRing = 16;
inline constexpr int kMaxOpenBars = 8;

struct Snapshot {
  int64_t newest_beat = -1;     // Highest beat index seen in a frame.
  int64_t first_downbeat = -1;  // Beats before it belong to no report.
  int64_t sealed_through = -1;  // Beats up to here: report is out.
  int64_t oldest_seq = 0;       // Open bars: oldest_seq..newest_seq.
  int64_t newest_seq = -1;
  std::array<int64_t, kBarRing> starts{};  // By seq % kBarRing.
  std::array<bool, kBarRing> observed{};
};

// Where a claim goes, judged from a snapshot.
struct Placement {
  ClaimOutcome outcome = ClaimOutcome::kUnobserved;
  int64_t seq = -1;  // kAccepted: its bar. kLate: the open bar, or -1.
};

Placement PlaceClaim(const Snapshot& snapshot, int64_t beat, int hold_beats);

class SnapshotCell {
 public:
  // Single writer.
  void Publish(const Snapshot& snapshot);
  // Any thread; lock-free (retries only while a Publish is in progress).
  Snapshot Read() const;

 private:
  std::atomic<uint64_t> version_{0};
  std::atomic<int64_t> newest_beat_{-1};
  std::atomic<int64_t> first_downbeat_{-1};
  std::atomic<int64_t> sealed_through_{-1};
  std::atomic<int64_t> oldest_seq_{0};
  std::atomic<int64_t> newest_seq_{-1};
  std::array<std::atomic<int64_t>, kBarRing> starts_{};
  std::array<std::atomic<bool>, kBarRing> observed_{};
};

}  // namespace backbeat::reverb
