#include "common/bounded_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "rapidjson/error/en.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace backbeat {
namespace {

using rapidjson::SizeType;

// Forwards SAX events to a document, limiting depth and converting numbers
// itself so that out-of-range values are errors instead of approximations.
class LimitedBuilder {
 public:
  LimitedBuilder(PoolDocument& document, int max_depth)
      : document_(document), max_depth_(max_depth) {}

  bool Null() { return document_.Null(); }
  bool Bool(bool b) { return document_.Bool(b); }
  bool Int(int i) { return document_.Int64(i); }
  bool Uint(unsigned u) { return document_.Int64(u); }
  bool Int64(int64_t i) { return document_.Int64(i); }
  bool Uint64(uint64_t u) {
    if (u <= static_cast<uint64_t>(INT64_MAX)) {
      return document_.Int64(static_cast<int64_t>(u));
    }
    error_ = "integer does not fit in 64 bits";
    return false;
  }
  bool Double(double d) { return document_.Double(d); }
  bool String(const char* s, SizeType n, bool copy) {
    return CheckText(s, n) && document_.String(s, n, copy);
  }
  bool Key(const char* s, SizeType n, bool copy) {
    return CheckText(s, n) && document_.Key(s, n, copy);
  }
  bool StartObject() { return Enter() && document_.StartObject(); }
  bool EndObject(SizeType n) {
    --depth_;
    return document_.EndObject(n);
  }
  bool StartArray() { return Enter() && document_.StartArray(); }
  bool EndArray(SizeType n) {
    --depth_;
    return document_.EndArray(n);
  }

  bool RawNumber(const char* s, SizeType n, bool /*copy*/) {
    JsonNumber number;
    error_ = ReadJsonNumber(s, n, &number);
    if (error_ != nullptr) {
      return false;
    }
    return number.is_integer ? document_.Int64(number.integer)
                             : document_.Double(number.real);
  }

  const char* error() const { return error_; }

 private:
  bool CheckText(const char* s, SizeType n) {
    if (!HoldsSurrogate(s, n)) {
      return true;
    }
    error_ = "string escapes a lone UTF-16 surrogate";
    return false;
  }

  bool Enter() {
    if (++depth_ <= max_depth_) {
      return true;
    }
    error_ = "nesting is too deep";
    return false;
  }

  PoolDocument& document_;
  int max_depth_;
  int depth_ = 0;
  const char* error_ = nullptr;
};

constexpr char kFraction[] = ".eE";

}  // namespace

// In UTF-8, U+D800-U+DFFF is 0xED followed by a byte of 0xA0-0xBF.
bool HoldsSurrogate(const char* s, size_t n) {
  const char* end = s + n;
  for (const char* p = s; p < end; ++p) {
    p = static_cast<const char*>(std::memchr(p, '\xED', end - p));
    if (p == nullptr || p + 1 >= end) {
      return false;
    }
    if (static_cast<unsigned char>(p[1]) >= 0xA0) {
      return true;
    }
  }
  return false;
}

namespace {

absl::Status Malformed(size_t offset, absl::string_view what) {
  return absl::DataLossError(
      absl::StrCat("malformed JSON at byte ", offset, ": ", what));
}

// Finds a repeated key in any object of the tree; returns it or nullptr.
const rapidjson::Value* DuplicateKey(const rapidjson::Value& v) {
  if (v.IsArray()) {
    for (const auto& item : v.GetArray()) {
      if (const auto* d = DuplicateKey(item)) {
        return d;
      }
    }
    return nullptr;
  }
  if (!v.IsObject()) {
    return nullptr;
  }
  auto view = [](const rapidjson::Value* s) {
    return absl::string_view(s->GetString(), s->GetStringLength());
  };
  for (const auto& m : v.GetObject()) {
    if (const auto* d = DuplicateKey(m.value)) {
      return d;
    }
  }

  // Small objects (every BACKBEAT message) are compared pairwise.
  constexpr size_t kPairwise = 16;
  if (v.MemberCount() <= kPairwise) {
    for (auto a = v.MemberBegin(); a != v.MemberEnd(); ++a) {
      for (auto b = a + 1; b != v.MemberEnd(); ++b) {
        if (view(&a->name) == view(&b->name)) {
          return &b->name;
        }
      }
    }
    return nullptr;
  }
  std::vector<const rapidjson::Value*> names;
  names.reserve(v.MemberCount());
  for (const auto& m : v.GetObject()) {
    names.push_back(&m.name);
  }
  std::sort(names.begin(), names.end(),
            [&](const auto* a, const auto* b) { return view(a) < view(b); });
  for (size_t i = 1; i < names.size(); ++i) {
    if (view(names[i - 1]) == view(names[i])) {
      return names[i];
    }
  }
  return nullptr;
}

}  // namespace

const char* ReadJsonNumber(const char* s, size_t n, JsonNumber* out) {
  const char* end = s + n;
  if (std::find_first_of(s, end, kFraction, kFraction + 3) == end) {
    auto [ptr, ec] = std::from_chars(s, end, out->integer);
    if (ec != std::errc() || ptr != end) {
      return "integer does not fit in 64 bits";
    }
    out->is_integer = true;
    out->real = static_cast<double>(out->integer);
    return nullptr;
  }
  auto [ptr, ec] = std::from_chars(s, end, out->real);
  if (ec != std::errc() || ptr != end || !std::isfinite(out->real)) {
    return "number is out of the range of a double";
  }
  out->is_integer = false;
  return nullptr;
}

BoundedDocument::BoundedDocument()
    : value_allocator_(value_buffer_, kValueBytes),
      stack_allocator_(stack_buffer_, kStackBytes),
      reader_allocator_(reader_buffer_, kStackBytes),
      document_(&value_allocator_, 512, &stack_allocator_) {}

absl::Status BoundedDocument::Parse(absl::string_view bytes, int max_depth) {
  if (bytes.empty()) {
    return absl::DataLossError("message is empty");
  }

  // One pass: the reader validates UTF-8, the builder limits the rest.
  constexpr unsigned kFlags = rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag;
  rapidjson::MemoryStream stream(bytes.data(), bytes.size());
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, PoolAllocator>
      reader(&reader_allocator_, 256);
  LimitedBuilder builder(document_, max_depth);
  auto generate = [&](PoolDocument&) {
    return !reader.Parse<kFlags>(stream, builder).IsError();
  };
  document_.Populate(generate);
  if (reader.HasParseError()) {
    const char* what =
        builder.error() != nullptr
            ? builder.error()
            : rapidjson::GetParseError_En(reader.GetParseErrorCode());
    return Malformed(reader.GetErrorOffset(), what);
  }
  if (stream.Tell() != bytes.size()) {
    return Malformed(stream.Tell(), "NUL byte outside a string");
  }

  // Shape: one object with unique keys.
  if (!document_.IsObject()) {
    return absl::DataLossError("message must be a JSON object");
  }
  if (const rapidjson::Value* key = DuplicateKey(document_)) {
    return absl::DataLossError(absl::StrCat(
        "malformed JSON: duplicate key \"",
        absl::string_view(key->GetString(), key->GetStringLength()), "\""));
  }
  return absl::OkStatus();
}

}  // namespace backbeat
