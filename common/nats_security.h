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
  std::string user;            // With password_file.
  std::string password_file;   // Its first line is the password.
  std::string token_file;      // Its first line is the token.
  std::string nkey;            // A user NKey's public key, with nkey_seed_file.
  std::string nkey_seed_file;  // Holds the NKey's seed.
  std::string creds_file;      // A NATS 2 .creds file: user JWT and seed.
  // TLS: on when any of these is set or the URL is tls://.
  std::string tls_ca_file;    // CAs the server's certificate must chain to.
  std::string tls_cert_file;  // Client certificate, with tls_key_file.
  std::string tls_key_file;
};

// InvalidArgument naming the flags when fields that go together do not,
// or when more than one way to authenticate is given.
absl::Status ValidateNatsSecurity(const NatsSecurity& security);

// The way `security` authenticates, for logs (never a secret): "user",
// "token", "nkey", "creds", or "url-or-none" (credentials in the URL, if
// any).
const char* NatsAuthMode(const NatsSecurity& security);

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
