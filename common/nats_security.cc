#include "common/nats_security.h"

#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/nats_status.h"

namespace backbeat {
namespace {

// The first line of the file at `path`, for secrets kept out of argv.
absl::StatusOr<std::string> ReadSecret(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read a line from ", path));
  }
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

// Turns TLS on when a CA or a client certificate is given, and loads them.
absl::Status ApplyTls(const NatsSecurity& security, natsOptions* o) {
  bool tls = !security.tls_ca_file.empty() || !security.tls_cert_file.empty();
  if (!tls) {
    return absl::OkStatus();
  }
  natsStatus s = natsOptions_SetSecure(o, true);
  if (s == NATS_OK && !security.tls_ca_file.empty()) {
    s = natsOptions_LoadCATrustedCertificates(o, security.tls_ca_file.c_str());
    if (s != NATS_OK) {
      return NatsStatus(s, absl::StrCat("tls ca ", security.tls_ca_file));
    }
  }
  if (s == NATS_OK && !security.tls_cert_file.empty()) {
    s = natsOptions_LoadCertificatesChain(o, security.tls_cert_file.c_str(),
                                          security.tls_key_file.c_str());
    if (s != NATS_OK) {
      return NatsStatus(s,
                        absl::StrCat("tls certificate ", security.tls_cert_file,
                                     " and key ", security.tls_key_file));
    }
  }
  return NatsStatus(s, "tls");
}

// Fails unless `path` is a NATS .creds file (it holds a user JWT).
absl::Status CheckCredsFile(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  }
  while (std::getline(in, line)) {
    if (line.find("BEGIN NATS USER JWT") != std::string::npos) {
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(path, " is not a NATS .creds file: no user JWT in it"));
}

// Sets NKey or JWT authentication, after checking that the files can be
// read (cnats reads them only when it connects).
absl::Status ApplyKeys(const NatsSecurity& security, natsOptions* o) {
  if (!security.nkey.empty()) {
    if (absl::StatusOr<std::string> seed = ReadSecret(security.nkey_seed_file);
        !seed.ok()) {
      return seed.status();
    }
    return NatsStatus(
        natsOptions_SetNKeyFromSeed(o, security.nkey.c_str(),
                                    security.nkey_seed_file.c_str()),
        "nats nkey");
  }
  if (!security.creds_file.empty()) {
    if (absl::Status creds = CheckCredsFile(security.creds_file); !creds.ok()) {
      return creds;
    }
    return NatsStatus(natsOptions_SetUserCredentialsFromFiles(
                          o, security.creds_file.c_str(), nullptr),
                      "nats creds");
  }
  return absl::OkStatus();
}

}  // namespace

const char* NatsAuthMode(const NatsSecurity& security) {
  if (!security.user.empty()) {
    return "user";
  }
  if (!security.token_file.empty()) {
    return "token";
  }
  if (!security.nkey.empty()) {
    return "nkey";
  }
  return security.creds_file.empty() ? "url-or-none" : "creds";
}

absl::Status ApplyNatsSecurity(const NatsSecurity& security, natsOptions* o) {
  natsStatus s = NATS_OK;
  if (!security.user.empty()) {
    absl::StatusOr<std::string> password = ReadSecret(security.password_file);
    if (!password.ok()) {
      return password.status();
    }
    s = natsOptions_SetUserInfo(o, security.user.c_str(), password->c_str());
  }
  if (s == NATS_OK && !security.token_file.empty()) {
    absl::StatusOr<std::string> token = ReadSecret(security.token_file);
    if (!token.ok()) {
      return token.status();
    }
    s = natsOptions_SetToken(o, token->c_str());
  }
  if (s != NATS_OK) {
    return NatsStatus(s, "nats credentials");
  }
  if (absl::Status keys = ApplyKeys(security, o); !keys.ok()) {
    return keys;
  }
  return ApplyTls(security, o);
}

absl::Status ValidateNatsSecurity(const NatsSecurity& security) {
  if (security.user.empty() != security.password_file.empty()) {
    return absl::InvalidArgumentError(
        "nats_user and nats_password_file go together");
  }
  if (security.nkey.empty() != security.nkey_seed_file.empty()) {
    return absl::InvalidArgumentError(
        "nats_nkey and nats_nkey_seed_file go together");
  }
  int ways = !security.user.empty() + !security.token_file.empty() +
             !security.nkey.empty() + !security.creds_file.empty();
  if (ways > 1) {
    return absl::InvalidArgumentError(
        "give one way to authenticate to NATS: nats_user, nats_token_file, "
        "nats_nkey or nats_creds_file");
  }
  if (security.tls_cert_file.empty() != security.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "nats_tls_cert and nats_tls_key go together");
  }
  return absl::OkStatus();
}

absl::StatusOr<natsConnection*> ConnectToNats(const std::string& url,
                                              const char* name,
                                              const NatsSecurity& security) {
  natsOptions* options = nullptr;
  natsStatus s = natsOptions_Create(&options);
  if (s == NATS_OK) {
    s = natsOptions_SetURL(options, url.c_str());
  }
  if (s == NATS_OK) {
    s = natsOptions_SetName(options, name);
  }
  if (s == NATS_OK) {
    s = natsOptions_SetMaxReconnect(options, -1);
  }
  absl::Status status = NatsStatus(s, "nats options");
  if (status.ok()) {
    status = ApplyNatsSecurity(security, options);
  }
  natsConnection* connection = nullptr;
  if (status.ok()) {
    status = NatsStatus(natsConnection_Connect(&connection, options),
                        absl::StrCat("connect ", RedactNatsUrls(url)));
  }
  natsOptions_Destroy(options);
  if (!status.ok()) {
    return status;
  }
  return connection;
}

}  // namespace backbeat
