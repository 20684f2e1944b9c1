// Splitting validator input into messages.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace backbeat {

// Splits the contents of one input into message texts (views into `text`):
// a JSON array yields its elements, several JSON values one per line
// (NDJSON, blank lines skipped) yield one message per line, anything else
// is one message. Never fails: text that is not JSON stays one message, so
// the parser reports it.
std::vector<absl::string_view> SplitMessages(absl::string_view text);

// The "type" member of a JSON object text mapped to "beatframe",
// "statusclaim" or "barreport"; "unknown" otherwise.
std::string SniffType(absl::string_view message);

}  // namespace backbeat
