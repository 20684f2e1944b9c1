// Rate limiting for warnings on degraded paths.
#pragma once

#include <atomic>
#include <cstdint>

#include "reverb/engine.h"

namespace backbeat::reverb {

// Allows one event per `period`; counts the ones it suppresses.
// Thread-safe and lock-free.
class LogLimiter {
 public:
  explicit LogLimiter(Nanos period) : period_(period) {}

  // True if the caller should log now; `*suppressed` then holds how many
  // events were swallowed since the last allowed one.
  bool Allow(Nanos now, int64_t* suppressed) {
    Nanos next = next_allowed_.load(std::memory_order_relaxed);
    if (now < next || !next_allowed_.compare_exchange_strong(
                          next, now + period_, std::memory_order_relaxed)) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }

 private:
  const Nanos period_;
  std::atomic<Nanos> next_allowed_{0};
  std::atomic<int64_t> suppressed_{0};
};

}  // namespace backbeat::reverb
