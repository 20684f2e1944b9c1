#include "common/schema_checker.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/simple_pattern.h"
#include "rapidjson/internal/regex.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace backbeat {
namespace {

using rapidjson::Value;
using Regex = rapidjson::internal::GenericRegex<rapidjson::UTF8<>>;

constexpr size_t kMaxProperties = 64;

enum TypeBit : uint8_t {
  kNullBit = 1,
  kBooleanBit = 2,
  kObjectBit = 4,
  kArrayBit = 8,
  kStringBit = 16,
  kNumberBit = 32,
  kIntegerBit = 64,
  kAnyType = 127,
};

struct TypeName {
  const char* keyword;
  TypeBit bit;
  const char* phrase;
};
constexpr TypeName kTypeNames[] = {
    {"null", kNullBit, "null"},
    {"boolean", kBooleanBit, "a boolean"},
    {"object", kObjectBit, "an object"},
    {"array", kArrayBit, "an array"},
    {"string", kStringBit, "a string"},
    {"number", kNumberBit, "a number"},
    {"integer", kIntegerBit, "an integer"},
};

uint8_t TypeOfValue(const Value& v) {
  if (v.IsNull()) {
    return kNullBit;
  }
  if (v.IsBool()) {
    return kBooleanBit;
  }
  if (v.IsObject()) {
    return kObjectBit;
  }
  if (v.IsArray()) {
    return kArrayBit;
  }
  if (v.IsString()) {
    return kStringBit;
  }
  if (v.IsInt64()) {
    return kNumberBit | kIntegerBit;
  }
  return kNumberBit;
}

// Number of code points in valid UTF-8.
size_t CodePoints(const char* s, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      ++count;
    }
  }
  return count;
}

// The JSON text of a schema number, as written in the schema file.
std::string NumberText(const Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

// A pattern of the simple shape the schemas use is matched by
// SimplePattern. Any other goes to RapidJSON's regex engine, which keeps
// match state inside the object, so each thread compiles its own copy of
// the pattern, found by the pattern's unique id. Next to it the thread
// keeps the last subject and its verdict: the same value often comes again
// (a cluster id in every frame), and the engine's cost grows with bounded
// repetitions such as {1,64}.
std::atomic<uint64_t> next_pattern_id{1};

class Pattern {
 public:
  explicit Pattern(std::string source)
      : source_(std::move(source)),
        simple_(SimplePattern::Compile(source_)),
        id_(next_pattern_id.fetch_add(1)) {}

  bool IsValid() const { return Regex(source_.c_str()).IsValid(); }
  const std::string& source() const { return source_; }

  // Runs over all `n` bytes. RapidJSON's engine ends a subject at a NUL
  // code point, so a subject holding NUL never matches.
  bool Matches(const char* s, size_t n) const {
    if (std::memchr(s, '\0', n) != nullptr) {
      return false;
    }
    if (simple_.has_value()) {
      return simple_->Matches(absl::string_view(s, n));
    }
    ThreadState& state = ThisThread();
    absl::string_view subject(s, n);
    if (state.has_last && state.last == subject) {
      return state.last_verdict;
    }
    rapidjson::MemoryStream stream(s, n);
    state.last_verdict = state.regex->Search(stream);
    if (n <= kMemoBytes) {
      state.last.assign(s, n);
      state.has_last = true;
    }
    return state.last_verdict;
  }

 private:
  static constexpr size_t kMemoBytes = 256;

  struct ThreadState {
    std::unique_ptr<Regex> regex;
    std::string last;
    bool has_last = false;
    bool last_verdict = false;
  };

  // Patterns get small sequential ids, so a vector indexes the states.
  ThreadState& ThisThread() const {
    thread_local std::vector<ThreadState> states;
    if (id_ >= states.size()) {
      states.resize(id_ + 1);
    }
    ThreadState& state = states[id_];
    if (state.regex == nullptr) {
      state.regex = std::make_unique<Regex>(source_.c_str());
    }
    return state;
  }

  std::string source_;
  std::optional<SimplePattern> simple_;
  uint64_t id_;
};

bool IsLeap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

bool Digits(absl::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) {
    return false;
  }
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

bool IsRfc3339DateTime(absl::string_view s) {
  // Date: YYYY-MM-DD with a day that exists.
  int year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' ||
      !Digits(s, 5, 2, &month) || s[7] != '-' || !Digits(s, 8, 2, &day)) {
    return false;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1) {
    return false;
  }
  int days = kDays[month - 1] + (month == 2 && IsLeap(year) ? 1 : 0);
  if (day > days) {
    return false;
  }

  // Time: THH:MM:SS, then an optional fraction.
  if ((s[10] != 'T' && s[10] != 't') || !Digits(s, 11, 2, &hour) ||
      s[13] != ':' || !Digits(s, 14, 2, &minute) || s[16] != ':' ||
      !Digits(s, 17, 2, &second) || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  size_t pos = 19;
  if (s[pos] == '.') {
    size_t start = ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ++pos;
    }
    if (pos == start) {
      return false;
    }
  }

  // Offset: Z or +HH:MM / -HH:MM, and nothing after it.
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    return pos + 1 == s.size();
  }
  int off_hour, off_minute;
  return pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') &&
         Digits(s, pos + 1, 2, &off_hour) && s[pos + 3] == ':' &&
         Digits(s, pos + 4, 2, &off_minute) && off_hour <= 23 &&
         off_minute <= 59;
}

struct SchemaChecker::Node {
  uint8_t types = kAnyType;
  std::string type_rule;

  std::vector<std::string> property_names;
  std::vector<std::unique_ptr<Node>> property_nodes;
  std::vector<int> required;
  bool additional = true;

  std::vector<std::string> enum_values;
  std::string enum_rule;
  std::optional<size_t> min_length, max_length;
  std::unique_ptr<Pattern> pattern;
  bool date_time = false;

  std::optional<double> minimum, maximum;
  std::string minimum_text, maximum_text;

  std::unique_ptr<Node> items;
  std::optional<size_t> min_items, max_items;

  std::string rule;       // x-rule: replaces the pattern or format text.
  std::string code_rule;  // x-code-rule: a rule checked by the caller.

  int IndexOf(const char* name, size_t n) const {
    for (size_t i = 0; i < property_names.size(); ++i) {
      const std::string& p = property_names[i];
      if (p.size() == n && std::memcmp(p.data(), name, n) == 0) {
        return static_cast<int>(i);
      }
    }
    return -1;
  }
};

// A location in the checked value, rendered only when a check fails.
struct SchemaChecker::Path {
  const Path* parent = nullptr;
  const char* name = nullptr;
  size_t name_size = 0;
  size_t index = 0;

  void AppendTo(std::string* out) const {
    if (parent != nullptr) {
      parent->AppendTo(out);
    }
    if (name != nullptr) {
      if (!out->empty()) {
        out->push_back('.');
      }
      out->append(name, name_size);
    } else if (parent != nullptr) {
      absl::StrAppend(out, "[", index, "]");
    }
  }
  std::string Render() const {
    std::string out;
    AppendTo(&out);
    return out.empty() ? "message" : out;
  }
};

namespace {

using Node = SchemaChecker::Node;
using Path = SchemaChecker::Path;

absl::Status SchemaError(absl::string_view where, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("schema ", where.empty() ? "/" : where, ": ", what));
}

absl::StatusOr<size_t> Count(const Value& v, absl::string_view where) {
  if (!v.IsUint64()) {
    return SchemaError(where, "must be a whole number >= 0");
  }
  return static_cast<size_t>(v.GetUint64());
}

absl::Status CompileNode(const Value& schema, const std::string& where,
                         Node* node);

absl::Status CompileType(const Value& v, const std::string& where, Node* node) {
  std::vector<const Value*> names;
  if (v.IsArray()) {
    for (const Value& item : v.GetArray()) {
      names.push_back(&item);
    }
  } else {
    names.push_back(&v);
  }
  node->types = 0;
  std::vector<std::string> phrases;
  for (const Value* name : names) {
    const TypeName* found = nullptr;
    for (const TypeName& t : kTypeNames) {
      if (name->IsString() && std::strcmp(name->GetString(), t.keyword) == 0) {
        found = &t;
      }
    }
    if (found == nullptr) {
      return SchemaError(where, "unknown type");
    }
    node->types |= found->bit;
    phrases.push_back(found->phrase);
  }
  // An integer is also a number; "number" alone admits both.
  if (node->types & kNumberBit) {
    node->types |= kIntegerBit;
  }
  node->type_rule = absl::StrCat("must be ", absl::StrJoin(phrases, " or "));
  return absl::OkStatus();
}

absl::Status CompileProperties(const Value& v, const std::string& where,
                               Node* node) {
  if (!v.IsObject()) {
    return SchemaError(where, "must be an object");
  }
  if (v.MemberCount() > kMaxProperties) {
    return SchemaError(where, "too many properties");
  }
  for (const auto& m : v.GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    auto child = std::make_unique<Node>();
    absl::Status s =
        CompileNode(m.value, absl::StrCat(where, "/", name), child.get());
    if (!s.ok()) {
      return s;
    }
    node->property_names.push_back(std::move(name));
    node->property_nodes.push_back(std::move(child));
  }
  return absl::OkStatus();
}

absl::Status CompileEnum(const Value& v, const std::string& where, Node* node) {
  if (!v.IsArray() || v.Empty()) {
    return SchemaError(where, "must be an array");
  }
  for (const Value& item : v.GetArray()) {
    if (!item.IsString()) {
      return SchemaError(where, "only string enums are implemented");
    }
    node->enum_values.emplace_back(item.GetString(), item.GetStringLength());
  }
  node->enum_rule =
      absl::StrCat("must be one of: ", absl::StrJoin(node->enum_values, ", "));
  return absl::OkStatus();
}

absl::Status CompileNumberBound(const Value& v, const std::string& where,
                                std::optional<double>* bound,
                                std::string* text) {
  if (!v.IsNumber()) {
    return SchemaError(where, "must be a number");
  }
  *bound = v.GetDouble();
  *text = NumberText(v);
  return absl::OkStatus();
}

absl::Status CompileString(const char* key, const Value& v,
                           const std::string& where, Node* node) {
  if (!v.IsString()) {
    return SchemaError(where, "must be a string");
  }
  if (std::strcmp(key, "pattern") == 0) {
    node->pattern = std::make_unique<Pattern>(v.GetString());
    if (!node->pattern->IsValid()) {
      return SchemaError(where, "pattern is not supported by the regex engine");
    }
  } else if (std::strcmp(key, "format") == 0) {
    if (std::strcmp(v.GetString(), "date-time") != 0) {
      return SchemaError(where, "only format date-time is implemented");
    }
    node->date_time = true;
  } else if (std::strcmp(key, "x-rule") == 0) {
    node->rule = v.GetString();
  } else {
    node->code_rule = v.GetString();
  }
  return absl::OkStatus();
}

absl::Status CompileKeyword(const char* key, const Value& v,
                            const std::string& parent, Node* node) {
  std::string where = absl::StrCat(parent, "/", key);
  auto is = [key](const char* k) { return std::strcmp(key, k) == 0; };
  if (is("$schema") || is("$id") || is("title") || is("description") ||
      is("examples") || is("$comment")) {
    return absl::OkStatus();
  }
  if (is("type")) {
    return CompileType(v, where, node);
  }
  if (is("properties")) {
    return CompileProperties(v, where, node);
  }
  if (is("enum")) {
    return CompileEnum(v, where, node);
  }
  if (is("minimum")) {
    return CompileNumberBound(v, where, &node->minimum, &node->minimum_text);
  }
  if (is("maximum")) {
    return CompileNumberBound(v, where, &node->maximum, &node->maximum_text);
  }
  if (is("pattern") || is("format") || is("x-rule") || is("x-code-rule")) {
    return CompileString(key, v, where, node);
  }
  if (is("required")) {
    if (!v.IsArray()) {
      return SchemaError(where, "must be an array");
    }
    return absl::OkStatus();  // Resolved once properties are known.
  }
  if (is("additionalProperties")) {
    if (!v.IsBool()) {
      return SchemaError(where, "only true or false");
    }
    node->additional = v.GetBool();
    return absl::OkStatus();
  }
  if (is("items")) {
    if (!v.IsObject()) {
      return SchemaError(where, "only one item schema");
    }
    node->items = std::make_unique<Node>();
    return CompileNode(v, where, node->items.get());
  }

  // Counts.
  std::optional<size_t>* count = is("minLength")   ? &node->min_length
                                 : is("maxLength") ? &node->max_length
                                 : is("minItems")  ? &node->min_items
                                 : is("maxItems")  ? &node->max_items
                                                   : nullptr;
  if (count == nullptr) {
    return SchemaError(where, "keyword is not implemented by the checker");
  }
  absl::StatusOr<size_t> n = Count(v, where);
  if (!n.ok()) {
    return n.status();
  }
  *count = *n;
  return absl::OkStatus();
}

absl::Status CompileNode(const Value& schema, const std::string& where,
                         Node* node) {
  if (!schema.IsObject()) {
    return SchemaError(where, "must be an object");
  }
  for (const auto& m : schema.GetObject()) {
    absl::Status s = CompileKeyword(m.name.GetString(), m.value, where, node);
    if (!s.ok()) {
      return s;
    }
  }
  auto required = schema.FindMember("required");
  if (required == schema.MemberEnd()) {
    return absl::OkStatus();
  }
  for (const Value& name : required->value.GetArray()) {
    int index = name.IsString()
                    ? node->IndexOf(name.GetString(), name.GetStringLength())
                    : -1;
    if (index < 0) {
      return SchemaError(absl::StrCat(where, "/required"),
                         "each name must have a property schema");
    }
    node->required.push_back(index);
  }
  return absl::OkStatus();
}

absl::Status Fail(const SchemaChecker::Path& path, absl::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(path.Render(), " ", rule));
}

}  // namespace

SchemaChecker::SchemaChecker(std::unique_ptr<Node> root)
    : root_(std::move(root)) {}
SchemaChecker::~SchemaChecker() = default;

absl::StatusOr<std::unique_ptr<SchemaChecker>> SchemaChecker::Compile(
    const rapidjson::Value& schema) {
  auto root = std::make_unique<Node>();
  absl::Status s = CompileNode(schema, "", root.get());
  if (!s.ok()) {
    return s;
  }
  return std::unique_ptr<SchemaChecker>(new SchemaChecker(std::move(root)));
}

size_t SchemaChecker::property_count() const {
  return root_->property_names.size();
}

absl::string_view SchemaChecker::PropertyName(int property) const {
  return root_->property_names[property];
}

int SchemaChecker::PropertyIndex(absl::string_view name) const {
  return root_->IndexOf(name.data(), name.size());
}

std::string SchemaChecker::CodeRule(absl::string_view property) const {
  int i = PropertyIndex(property);
  return i < 0 ? "" : root_->property_nodes[i]->code_rule;
}

std::vector<std::string> SchemaChecker::EnumOf(
    absl::string_view property) const {
  int i = PropertyIndex(property);
  return i < 0 ? std::vector<std::string>{}
               : root_->property_nodes[i]->enum_values;
}

namespace {

// The rules a single value can break, in the order they are checked.
enum class Rule : uint8_t {
  kNone,
  kType,
  kEnum,
  kMinLength,
  kMaxLength,
  kPattern,
  kDateTime,
  kMinimum,
  kMaximum,
};

std::string CharacterCount(const char* bound, size_t n) {
  return absl::StrCat(bound, n, n == 1 ? " character" : " characters");
}

// The text of a broken rule, as it follows the path in an error.
std::string RuleText(const Node& node, Rule rule) {
  switch (rule) {
    case Rule::kNone:
      return "";
    case Rule::kType:
      return node.type_rule;
    case Rule::kEnum:
      return node.enum_rule;
    case Rule::kMinLength:
      return CharacterCount("must be at least ", *node.min_length);
    case Rule::kMaxLength:
      return CharacterCount("must be at most ", *node.max_length);
    case Rule::kPattern:
      return node.rule.empty()
                 ? absl::StrCat("must match pattern ", node.pattern->source())
                 : node.rule;
    case Rule::kDateTime:
      return node.rule.empty() ? "must be an RFC 3339 date-time" : node.rule;
    case Rule::kMinimum:
      return absl::StrCat("must be at least ", node.minimum_text);
    case Rule::kMaximum:
      return absl::StrCat("must be at most ", node.maximum_text);
  }
  return "";
}

// True if the code points of `n` bytes of UTF-8, between n / 4 and n,
// might fall outside the node's length bounds, so they must be counted.
bool LengthInDoubt(const Node& node, size_t n) {
  return (node.min_length && (n + 3) / 4 < *node.min_length) ||
         (node.max_length && n > *node.max_length);
}

Rule StringRule(const Node& node, absl::string_view s) {
  if (LengthInDoubt(node, s.size())) {
    size_t length = CodePoints(s.data(), s.size());
    if (node.min_length && length < *node.min_length) {
      return Rule::kMinLength;
    }
    if (node.max_length && length > *node.max_length) {
      return Rule::kMaxLength;
    }
  }
  if (node.pattern && !node.pattern->Matches(s.data(), s.size())) {
    return Rule::kPattern;
  }
  if (node.date_time && !IsRfc3339DateTime(s)) {
    return Rule::kDateTime;
  }
  return Rule::kNone;
}

Rule NumberRule(const Node& node, double d) {
  if (node.minimum && d < *node.minimum) {
    return Rule::kMinimum;
  }
  if (node.maximum && d > *node.maximum) {
    return Rule::kMaximum;
  }
  return Rule::kNone;
}

// The first rule a value of `type` breaks among type, enum and, for
// scalars, the string or number rules; `s` and `d` are its text or number.
Rule ValueRule(const Node& node, uint8_t type, absl::string_view s, double d) {
  if ((type & node.types) == 0) {
    return Rule::kType;
  }
  if (!node.enum_values.empty()) {
    if ((type & kStringBit) == 0) {
      return Rule::kEnum;
    }
    auto end = node.enum_values.end();
    if (std::find(node.enum_values.begin(), end, s) == end) {
      return Rule::kEnum;
    }
  }
  if (type & kStringBit) {
    return StringRule(node, s);
  }
  if (type & kNumberBit) {
    return NumberRule(node, d);
  }
  return Rule::kNone;
}

absl::Status CheckNode(const Node& node, const Value& value,
                       const SchemaChecker::Path& path, const Value** slots);

absl::Status CheckObject(const Node& node, const Value& value,
                         const SchemaChecker::Path& path, const Value** slots) {
  // Match members to properties.
  std::array<const Value*, kMaxProperties> local{};
  if (slots == nullptr) {
    slots = local.data();
  }
  std::fill(slots, slots + node.property_names.size(), nullptr);
  for (const auto& m : value.GetObject()) {
    int i = node.IndexOf(m.name.GetString(), m.name.GetStringLength());
    if (i >= 0) {
      slots[i] = &m.value;
    } else if (!node.additional) {
      Path child{&path, m.name.GetString(), m.name.GetStringLength()};
      return Fail(child, "is not allowed");
    }
  }

  // Required members, then every present member in schema order.
  for (int i : node.required) {
    if (slots[i] == nullptr) {
      const std::string& name = node.property_names[i];
      Path child{&path, name.data(), name.size()};
      return Fail(child, "field is required");
    }
  }
  for (size_t i = 0; i < node.property_names.size(); ++i) {
    if (slots[i] == nullptr) {
      continue;
    }
    const std::string& name = node.property_names[i];
    Path child{&path, name.data(), name.size()};
    absl::Status s =
        CheckNode(*node.property_nodes[i], *slots[i], child, nullptr);
    if (!s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckArray(const Node& node, const Value& value,
                        const SchemaChecker::Path& path) {
  size_t size = value.Size();
  if (node.min_items && size < *node.min_items) {
    return Fail(path,
                absl::StrCat("must have at least ", *node.min_items, " items"));
  }
  if (node.max_items && size > *node.max_items) {
    return Fail(path,
                absl::StrCat("must have at most ", *node.max_items, " items"));
  }
  if (node.items == nullptr) {
    return absl::OkStatus();
  }
  for (size_t i = 0; i < size; ++i) {
    SchemaChecker::Path child{&path, nullptr, 0, i};
    absl::Status s =
        CheckNode(*node.items, value[static_cast<unsigned>(i)], child, nullptr);
    if (!s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNode(const Node& node, const Value& value,
                       const SchemaChecker::Path& path, const Value** slots) {
  uint8_t type = TypeOfValue(value);
  absl::string_view s;
  double d = 0;
  if (type & kStringBit) {
    s = {value.GetString(), value.GetStringLength()};
  }
  if (type & kNumberBit) {
    d = value.GetDouble();
  }
  Rule rule = ValueRule(node, type, s, d);
  if (rule != Rule::kNone) {
    return Fail(path, RuleText(node, rule));
  }
  if (type & kObjectBit) {
    return CheckObject(node, value, path, slots);
  }
  if (type & kArrayBit) {
    return CheckArray(node, value, path);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SchemaChecker::Check(const rapidjson::Value& value,
                                  const rapidjson::Value** slots) const {
  Path root;
  if (slots != nullptr && !value.IsObject()) {
    slots = nullptr;
  }
  return CheckNode(*root_, value, root, slots);
}

bool SchemaChecker::AcceptsNull(int property) const {
  const Node& node = *root_->property_nodes[property];
  return ValueRule(node, kNullBit, {}, 0) == Rule::kNone;
}

bool SchemaChecker::AcceptsBool(int property) const {
  const Node& node = *root_->property_nodes[property];
  return ValueRule(node, kBooleanBit, {}, 0) == Rule::kNone;
}

bool SchemaChecker::AcceptsNumber(int property, bool is_integer,
                                  double value) const {
  const Node& node = *root_->property_nodes[property];
  uint8_t type = is_integer ? kNumberBit | kIntegerBit : kNumberBit;
  return ValueRule(node, type, {}, value) == Rule::kNone;
}

bool SchemaChecker::AcceptsString(int property, absl::string_view value) const {
  const Node& node = *root_->property_nodes[property];
  return ValueRule(node, kStringBit, value, 0) == Rule::kNone;
}

uint64_t SchemaChecker::RequiredMask() const {
  uint64_t mask = 0;
  for (int i : root_->required) {
    mask |= uint64_t{1} << i;
  }
  return mask;
}

bool SchemaChecker::RootIsObject() const {
  return root_->types == kObjectBit && root_->enum_values.empty();
}

bool SchemaChecker::RootAllowsAdditional() const { return root_->additional; }

}  // namespace backbeat
