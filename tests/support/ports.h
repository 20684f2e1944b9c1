// Loopback ports for tests.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace backbeat::test_support {

// A TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads
// the port the kernel chose and closes the socket. Another process may take
// it before the caller binds it, so servers started on it should be retried.
absl::StatusOr<int> FreePort();

// Succeeds once a TCP connection to 127.0.0.1:`port` is accepted; fails with
// kDeadlineExceeded after `timeout`.
absl::Status WaitForPort(int port, absl::Duration timeout);

}  // namespace backbeat::test_support
