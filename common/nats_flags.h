// The NATS authentication and TLS flags the BACKBEAT programs share:
// --nats_user, --nats_password_file, --nats_token_file, --nats_nkey,
// --nats_nkey_seed_file, --nats_creds_file, --nats_tls_ca, --nats_tls_cert
// and --nats_tls_key.
#pragma once

#include "common/nats_security.h"

namespace backbeat {

// The flags' values, as parsed. Check them with ValidateNatsSecurity.
NatsSecurity NatsSecurityFromFlags();

}  // namespace backbeat
