// How BACKBEAT's programs learn that they should stop: SIGINT and SIGTERM
// are blocked in every thread and waited for by the main thread.
#pragma once

#include <signal.h>

#include <algorithm>

#include "absl/time/time.h"

namespace backbeat {

// SIGINT and SIGTERM.
inline sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

// Blocks the stop signals in the calling thread, and so in every thread it
// starts afterwards (cnats' included), and ignores SIGPIPE. Call in main
// before any thread starts.
inline void BlockStopSignals() {
  sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Waits up to `timeout` (zero: only looks) for a stop signal. Returns the
// signal's number, or 0 if none came.
inline int WaitForStopSignal(absl::Duration timeout) {
  sigset_t signals = StopSignals();
  timespec wait = absl::ToTimespec(std::max(timeout, absl::ZeroDuration()));
  int received = sigtimedwait(&signals, nullptr, &wait);
  return received > 0 ? received : 0;
}

}  // namespace backbeat
