#include "common/nats_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, nats_user, "",
          "NATS user name; the password comes from --nats_password_file");
ABSL_FLAG(std::string, nats_password_file, "",
          "file whose first line is the NATS password");
ABSL_FLAG(std::string, nats_token_file, "",
          "file whose first line is the NATS authentication token");
ABSL_FLAG(std::string, nats_nkey, "",
          "public key (U...) of the NATS user NKey; the seed comes from "
          "--nats_nkey_seed_file");
ABSL_FLAG(std::string, nats_nkey_seed_file, "",
          "file whose first line is the seed (SU...) of --nats_nkey");
ABSL_FLAG(std::string, nats_creds_file, "",
          "NATS 2 credentials file (.creds: user JWT and NKey seed)");
ABSL_FLAG(std::string, nats_tls_ca, "",
          "PEM file of the CAs the NATS server's certificate must chain to; "
          "turns TLS on");
ABSL_FLAG(std::string, nats_tls_cert, "",
          "PEM client certificate for NATS TLS (with --nats_tls_key)");
ABSL_FLAG(std::string, nats_tls_key, "", "PEM private key of --nats_tls_cert");

namespace backbeat {

NatsSecurity NatsSecurityFromFlags() {
  NatsSecurity s;
  s.user = absl::GetFlag(FLAGS_nats_user);
  s.password_file = absl::GetFlag(FLAGS_nats_password_file);
  s.token_file = absl::GetFlag(FLAGS_nats_token_file);
  s.nkey = absl::GetFlag(FLAGS_nats_nkey);
  s.nkey_seed_file = absl::GetFlag(FLAGS_nats_nkey_seed_file);
  s.creds_file = absl::GetFlag(FLAGS_nats_creds_file);
  s.tls_ca_file = absl::GetFlag(FLAGS_nats_tls_ca);
  s.tls_cert_file = absl::GetFlag(FLAGS_nats_tls_cert);
  s.tls_key_file = absl::GetFlag(FLAGS_nats_tls_key);
  return s;
}

}  // namespace backbeat
