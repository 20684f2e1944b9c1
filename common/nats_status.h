// The one adapter from cnats status codes to absl::Status, and URLs fit
// for logs.
#pragma once

#include <nats/nats.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace backbeat {

// OK for NATS_OK; otherwise a status whose message is "<what>: <cnats
// text>", with the last error detail cnats recorded on this thread.
inline absl::Status NatsStatus(natsStatus s, absl::string_view what) {
  if (s == NATS_OK) {
    return absl::OkStatus();
  }
  const char* detail = nats_GetLastError(nullptr);
  std::string message = absl::StrCat(what, ": ", natsStatus_GetText(s));
  if (detail != nullptr && *detail != '\0') {
    absl::StrAppend(&message, " (", detail, ")");
  }
  switch (s) {
    case NATS_TIMEOUT:
      return absl::DeadlineExceededError(message);
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
      return absl::InvalidArgumentError(message);
    case NATS_NO_SERVER:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
      return absl::UnavailableError(message);
    case NATS_NO_MEMORY:
    case NATS_SLOW_CONSUMER:
    case NATS_MAX_PAYLOAD:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

// `urls` (comma-separated NATS URLs) fit for a log: any user:password@ or
// token@ part is replaced by "***@".
inline std::string RedactNatsUrls(absl::string_view urls) {
  std::string out;
  for (absl::string_view url : absl::StrSplit(urls, ',')) {
    if (!out.empty()) {
      out += ',';
    }
    size_t scheme = url.find("://");
    size_t start = scheme == absl::string_view::npos ? 0 : scheme + 3;
    size_t at = url.find('@', start);
    if (at == absl::string_view::npos) {
      absl::StrAppend(&out, url);
    } else {
      absl::StrAppend(&out, url.substr(0, start), "***", url.substr(at));
    }
  }
  return out;
}

}  // namespace backbeat
