#include "tools/validate_input.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/messages.h"
#include "rapidjson/document.h"
#include "rapidjson/memorystream.h"

namespace backbeat {
namespace {

// Elements of a top-level JSON array, found by scanning brackets outside
// strings. Returns false if the brackets do not balance.
bool SplitArray(absl::string_view text, std::vector<absl::string_view>* out) {
  int depth = 0;
  bool in_string = false;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth == 1) {
        start = i + 1;
      }
    } else if ((c == ',' && depth == 1) ||
               ((c == ']' || c == '}') && --depth == 0)) {
      absl::string_view element =
          absl::StripAsciiWhitespace(text.substr(start, i - start));
      if (!element.empty() || c == ',') {
        out->push_back(element);
      }
      start = i + 1;
      if (depth == 0) {
        return absl::StripAsciiWhitespace(text.substr(i + 1)).empty();
      }
    }
  }
  return false;
}

rapidjson::ParseErrorCode ParseCode(absl::string_view text) {
  rapidjson::Document document;
  rapidjson::MemoryStream stream(text.data(), text.size());
  document.ParseStream(stream);
  return document.GetParseError();
}

}  // namespace

std::vector<absl::string_view> SplitMessages(absl::string_view text) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  std::vector<absl::string_view> out;
  if (absl::StartsWith(trimmed, "[")) {
    if (SplitArray(trimmed, &out)) {
      return out;
    }
    return {trimmed};
  }
  if (ParseCode(trimmed) != rapidjson::kParseErrorDocumentRootNotSingular) {
    return {trimmed};
  }
  for (absl::string_view line : absl::StrSplit(trimmed, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) {
      out.push_back(line);
    }
  }
  return out;
}

std::string SniffType(absl::string_view message) {
  rapidjson::Document document;
  rapidjson::MemoryStream stream(message.data(), message.size());
  document.ParseStream(stream);
  if (document.HasParseError() || !document.IsObject()) {
    return "unknown";
  }
  auto it = document.FindMember("type");
  if (it == document.MemberEnd() || !it->value.IsString()) {
    return "unknown";
  }
  const char* type = it->value.GetString();
  if (std::strcmp(type, kBeatFrameType) == 0) {
    return "beatframe";
  }
  if (std::strcmp(type, kStatusClaimType) == 0) {
    return "statusclaim";
  }
  if (std::strcmp(type, kBarReportType) == 0) {
    return "barreport";
  }
  return "unknown";
}

}  // namespace backbeat
