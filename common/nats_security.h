// How a BACKBEAT program proves itself to the NATS server and checks it,
// and the client connection the tools share.
#pragma once

#include <nats/nats.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace backbeat {

// Empty fields are unused. Secrets are read from files, never taken on
// the command line.
struct NatsSecurity {
  std::string user;           // With password_file.
  std::string password_file;  // Its first line is the password.
  std::string token_file;     // Its first line is the token.
  // TLS: on when any of these is set or the URL is tls://.
  std::string tls_ca_file;    // CAs the server's certificate must chain to.
  std::string tls_cert_file;  // Client certificate, with tls_key_file.
  std::string tls_key_file;
};

// InvalidArgument naming the flags when fields that go together do not.
absl::Status ValidateNatsSecurity(const NatsSecurity& security);

// Sets authentication and TLS on `options`. Files that cannot be read or
// parsed are errors now, not at the first connection attempt.
absl::Status ApplyNatsSecurity(const NatsSecurity& security,
                               natsOptions* options);

// Connects to `url` as client `name`, reconnecting forever after a loss.
// The caller owns the connection (natsConnection_Destroy).
absl::StatusOr<natsConnection*> ConnectToNats(
    const std::string& url, const char* name,
    const NatsSecurity& security = {});

}  // namespace backbeat
