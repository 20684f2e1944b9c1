// The one clock Reverb's window logic reads, through the server.
//
// Live, arrival times come from the monotonic clock; a replay would supply
// stored timestamps instead. Implementations are thread-safe.
#pragma once

#include <chrono>

#include "reverb/engine.h"

namespace backbeat::reverb {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Nanos Now() const = 0;
};

// std::chrono::steady_clock in nanoseconds.
class MonotonicClock : public Clock {
 public:
  Nanos Now() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace backbeat::reverb
