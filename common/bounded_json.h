// One JSON object parsed from untrusted bytes, with bounded memory.
//
// The parse is a single pass over the input that rejects: invalid UTF-8,
// nesting deeper than a limit, integers outside int64, numbers that do not
// fit in a double, NUL bytes outside strings, duplicate object keys and any
// root that is not an object. Values live in a pool that starts in the
// object itself and is freed with it, so parsing many messages never grows
// memory. Not thread-safe; meant to live on the stack for one message.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace backbeat {

using PoolAllocator = rapidjson::MemoryPoolAllocator<>;
using PoolDocument =
    rapidjson::GenericDocument<rapidjson::UTF8<>, PoolAllocator, PoolAllocator>;

// A JSON number token read as BACKBEAT reads numbers: without '.', 'e' or
// 'E' it is an integer that must fit in int64; otherwise a finite double.
struct JsonNumber {
  bool is_integer = false;
  int64_t integer = 0;
  double real = 0;  // Also set for integers, converted.
};

// Reads the token `s` of `n` bytes (already valid JSON number syntax).
// Returns nullptr on success, else a static text naming the problem.
const char* ReadJsonNumber(const char* s, size_t n, JsonNumber* out);

// True if a decoded string holds a UTF-16 surrogate (U+D800-U+DFFF) as a
// code point: RapidJSON 1.1.0 lets a lone "\udc00" escape through, and the
// result is not valid UTF-8.
bool HoldsSurrogate(const char* s, size_t n);

class BoundedDocument {
 public:
  BoundedDocument();
  BoundedDocument(const BoundedDocument&) = delete;
  BoundedDocument& operator=(const BoundedDocument&) = delete;

  // Parses `bytes`. On failure returns DataLoss with a message naming the
  // problem and its byte offset; root() is then unspecified. Call once.
  absl::Status Parse(absl::string_view bytes, int max_depth);

  // The parsed object; valid while this lives.
  const rapidjson::Value& root() const { return document_; }

 private:
  static constexpr size_t kValueBytes = 8192;
  static constexpr size_t kStackBytes = 2048;

  alignas(8) char value_buffer_[kValueBytes];
  alignas(8) char stack_buffer_[kStackBytes];
  alignas(8) char reader_buffer_[kStackBytes];
  PoolAllocator value_allocator_;
  PoolAllocator stack_allocator_;
  PoolAllocator reader_allocator_;
  PoolDocument document_;
};

}  // namespace backbeat
