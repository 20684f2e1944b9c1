// The fast path of the contract: one SAX pass over a message's bytes that
// checks every root value against the compiled schema as it goes and fills
// the typed message directly, without building a document.
//
// It only ever says "valid, here is the message" or "not sure". Anything
// unusual (a rule broken, malformed JSON, a property holding an object or
// an array, more keys or nesting than its fixed buffers hold) gives "not
// sure", and the caller runs the DOM path of contract.cc, which then gives
// the verdict and the exact error. So the fast path never has an error
// text of its own, and both paths agree by construction on what they share
// (the checker's rules, the number reading of bounded_json.h).
//
// Stateless: any number of threads may call FastRead concurrently.
#pragma once

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/messages.h"
#include "common/schema_checker.h"

namespace backbeat {

// What the reader needs to know about one message schema. Built once, when
// the schema is loaded; immutable afterwards.
struct FastBinding {
  const SchemaChecker* checker = nullptr;  // Not owned; outlives this.
  std::array<int8_t, 64> field_of{};  // Root property -> typed field or -1.
  uint64_t required = 0;              // SchemaChecker::RequiredMask().
  bool allows_additional = true;
  bool enabled = false;  // False if the root schema is not a plain object.

  // Root property names (views into the checker) and a table from a hash of
  // a key to the only property that can have it, or -1.
  std::array<absl::string_view, 64> names{};
  std::array<int8_t, 256> by_hash{};
  bool hashed = false;  // False if two names collide: search the names.
};

// Fills `binding` for `checker`, whose typed fields are `fields` (the
// tables of common/message_fields.h). The fields must all be properties of
// the schema; if they are not, the binding stays disabled.
void BindFastReader(const SchemaChecker* checker, const char* const* fields,
                    size_t field_count, FastBinding* binding);

// Reads `bytes` as one message. Returns true and fills `*out` (which must
// be default-constructed) only if the message is valid JSON within
// `max_depth`, with unique keys, numbers in range, no NUL after it, and
// every schema rule holds. Returns false otherwise; *out is then
// unspecified. Code-checked rules (x-code-rule) are the caller's.
bool FastRead(const FastBinding& binding, absl::string_view bytes,
              int max_depth, StatusClaim* out);
bool FastRead(const FastBinding& binding, absl::string_view bytes,
              int max_depth, BeatFrame* out);

}  // namespace backbeat
