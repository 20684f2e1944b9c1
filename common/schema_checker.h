// A JSON Schema (draft-07 subset) compiled into a tree of checks.
//
// Only the keywords the BACKBEAT schemas use are implemented: type,
// required, properties, additionalProperties, enum, pattern, format
// (date-time), minimum, maximum, minLength, maxLength, items, minItems,
// maxItems, plus the annotations $schema, $id, title, description,
// examples, x-rule and x-code-rule. Compiling a schema that uses any other
// keyword fails, so no rule is ever ignored silently.
//
// Error messages are "<path> <rule>", where the rule comes from the schema:
// the x-rule annotation of a pattern or format, otherwise text derived from
// the keyword ("must be at least 0.1", "must be one of: a, b").
//
// Immutable after Compile(): thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"

namespace backbeat {

// True if `text` is an RFC 3339 date-time ("2025-09-05T12:30:00Z",
// "2025-09-05t12:30:00.5+02:00"), with calendar-correct days.
bool IsRfc3339DateTime(absl::string_view text);

class SchemaChecker {
 public:
  // Compiles `schema`. Fails with InvalidArgument naming the schema path of
  // an unknown keyword or of a malformed value (for instance a pattern
  // RapidJSON's regex engine cannot compile).
  static absl::StatusOr<std::unique_ptr<SchemaChecker>> Compile(
      const rapidjson::Value& schema);

  // Checks `value`; the first failed rule is returned as InvalidArgument
  // "<path> <rule>" (paths like "hlc" or "issues[3].severity"). If `slots`
  // is not null and the root is an object, slots[i] receives the member
  // matching root property i (or nullptr); it must hold property_count()
  // entries.
  absl::Status Check(const rapidjson::Value& value,
                     const rapidjson::Value** slots = nullptr) const;

  // Root object properties, in schema order.
  size_t property_count() const;
  int PropertyIndex(absl::string_view name) const;  // -1 if absent.
  absl::string_view PropertyName(int property) const;

  // Checks for a streaming reader that sees one scalar value of root
  // property `property` (0 <= property < property_count()) at a time: true
  // if the value keeps every rule of that property's schema, the same rules
  // Check() applies. Integers are numbers with is_integer set.
  bool AcceptsNull(int property) const;
  bool AcceptsBool(int property) const;
  bool AcceptsNumber(int property, bool is_integer, double value) const;
  bool AcceptsString(int property, absl::string_view value) const;

  // The root's rules that are not per property: the required properties as
  // bits (bit i for property i; property_count() is at most 64), whether
  // the root must be an object and nothing else, and whether properties
  // outside the schema are allowed.
  uint64_t RequiredMask() const;
  bool RootIsObject() const;
  bool RootAllowsAdditional() const;

  // Annotations and enum of a root property (empty if none).
  std::string CodeRule(absl::string_view property) const;
  std::vector<std::string> EnumOf(absl::string_view property) const;

  ~SchemaChecker();

  // Implementation details, opaque to callers.
  struct Node;
  struct Path;

 private:
  explicit SchemaChecker(std::unique_ptr<Node> root);
  std::unique_ptr<Node> root_;
};

}  // namespace backbeat
