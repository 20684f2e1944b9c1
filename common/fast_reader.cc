#include "common/fast_reader.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "common/bounded_json.h"
#include "common/message_fields.h"
#include "rapidjson/reader.h"

namespace backbeat {
namespace {

using rapidjson::SizeType;

// Messages up to this size are copied to the stack for reading.
constexpr size_t kLocalBytes = 4096;

// Deeper nesting is left to the DOM path, whatever the limit, so that the
// reader's recursion and the key stack stay small.
constexpr int kMaxFastDepth = 33;

// One scalar value of a root member, as the reader saw it.
struct FastValue {
  enum Kind : uint8_t { kNull, kBool, kNumber, kString } kind = kNull;
  bool boolean = false;
  JsonNumber number;
  absl::string_view text;
};

// Storing a checked value into a typed field. Each returns false if the
// value is not of the kind the field holds (a schema that drifted from the
// code), which sends the message to the DOM path.
bool Text(const FastValue& v, std::string* out) {
  if (v.kind != FastValue::kString) {
    return false;
  }
  out->assign(v.text.data(), v.text.size());
  return true;
}

bool Integer(const FastValue& v, int64_t* out) {
  if (v.kind != FastValue::kNumber || !v.number.is_integer) {
    return false;
  }
  *out = v.number.integer;
  return true;
}

bool Real(const FastValue& v, double* out) {
  if (v.kind != FastValue::kNumber) {
    return false;
  }
  *out = v.number.real;
  return true;
}

template <typename E, size_t N>
bool Name(const FastValue& v, const absl::string_view (&names)[N], E* out) {
  int i = v.kind == FastValue::kString ? NameIndex(v.text, names) : -1;
  if (i < 0) {
    return false;
  }
  *out = static_cast<E>(i);
  return true;
}

bool Store(int field, const FastValue& v, StatusClaim* c) {
  switch (field) {
    case kAgentId:
      return Text(v, &c->agent_id);
    case kTaskId:
      return Text(v, &c->task_id.emplace());
    case kClaimBeat:
      return Integer(v, &c->beat_index);
    case kState:
      return Name(v, kStates, &c->state);
    case kBeatsLeft:
      return Integer(v, &c->beats_left.emplace());
    case kProgress:
      return Real(v, &c->progress.emplace());
    case kNotes:
      return Text(v, &c->notes.emplace());
    case kClaimHlc:
      return Text(v, &c->hlc);
  }
  return false;
}

bool Store(int field, const FastValue& v, BeatFrame* f) {
  switch (field) {
    case kClusterId:
      return Text(v, &f->cluster_id);
    case kFrameBeat:
      return Integer(v, &f->beat_index);
    case kDownbeat:
      if (v.kind != FastValue::kBool) {
        return false;
      }
      f->downbeat = v.boolean;
      return true;
    case kPhase:
      return Name(v, kPhases, &f->phase);
    case kFrameHlc:
      return Text(v, &f->hlc);
    case kDeadlineAt:
      return Text(v, &f->deadline_at);
    case kTempoBpm:
      return Real(v, &f->tempo_bpm);
    case kFrameWindow:
      return Text(v, &f->window_id);
  }
  return false;
}

// A cheap hash of a key: its length and its first and last bytes.
uint8_t KeyHash(absl::string_view key) {
  if (key.empty()) {
    return 0;
  }
  return static_cast<uint8_t>(key.size() * 31 + key.front() * 7 + key.back());
}

// The root property named `key`, or -1.
int PropertyOf(const FastBinding& binding, absl::string_view key) {
  if (!binding.hashed) {
    return binding.checker->PropertyIndex(key);
  }
  int i = binding.by_hash[KeyHash(key)];
  return i >= 0 && SameBytes(binding.names[i], key) ? i : -1;
}

// Fills the hash table of `binding`; leaves `hashed` false on a collision.
void HashNames(FastBinding* binding) {
  binding->by_hash.fill(-1);
  for (size_t i = 0; i < binding->checker->property_count(); ++i) {
    absl::string_view name = binding->checker->PropertyName(i);
    binding->names[i] = name;
    int8_t& slot = binding->by_hash[KeyHash(name)];
    if (slot >= 0) {
      return;
    }
    slot = static_cast<int8_t>(i);
  }
  binding->hashed = true;
}

// The keys of the objects open at one time, kept to find duplicates in
// fixed buffers. Running out of room makes the read "not sure".
class KeyStack {
 public:
  // Called when an object opens at `depth` (1 for the root, at most
  // kMaxFastDepth).
  void Open(int depth) { first_[depth] = count_; }
  void Close(int depth) {
    count_ = first_[depth];
    bytes_ = count_ == 0 ? 0 : keys_[count_ - 1].end;
  }

  // Adds a key of the object open at `depth`; false if it is a duplicate
  // or does not fit.
  bool Add(int depth, absl::string_view key) {
    for (size_t i = first_[depth]; i < count_; ++i) {
      if (View(i) == key) {
        return false;
      }
    }
    if (count_ == kMaxKeys || key.size() > kKeyBytes - bytes_) {
      return false;
    }
    std::memcpy(buffer_ + bytes_, key.data(), key.size());
    size_t start = bytes_;
    bytes_ += key.size();
    keys_[count_++] = {static_cast<uint16_t>(start),
                       static_cast<uint16_t>(bytes_)};
    return true;
  }

 private:
  static constexpr size_t kMaxKeys = 64;
  static constexpr size_t kKeyBytes = 1024;

  struct Span {
    uint16_t begin, end;
  };
  absl::string_view View(size_t i) const {
    return {buffer_ + keys_[i].begin,
            static_cast<size_t>(keys_[i].end - keys_[i].begin)};
  }

  char buffer_[kKeyBytes];
  Span keys_[kMaxKeys];
  size_t first_[kMaxFastDepth + 1];  // Per depth: its first key.
  size_t count_ = 0;
  size_t bytes_ = 0;
};

// SAX handler: every event either keeps the message valid or stops the
// parse. Root member values are checked and stored; values nested in
// members the schema does not know are only walked (depth, keys, numbers).
template <typename T>
class FastHandler {
 public:
  // `escapes`: the text holds a backslash, so a decoded string may hold a
  // lone surrogate from a \u escape.
  FastHandler(const FastBinding& binding, int max_depth, bool escapes, T* out)
      : binding_(binding),
        max_depth_(max_depth),
        escapes_(escapes),
        out_(out) {}

  bool Null() { return Scalar(FastValue{}); }
  bool Bool(bool b) {
    FastValue v;
    v.kind = FastValue::kBool;
    v.boolean = b;
    return Scalar(v);
  }
  // With kParseNumbersAsStringsFlag every number arrives as RawNumber.
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char* s, SizeType n, bool) {
    FastValue v;
    v.kind = FastValue::kNumber;
    if (ReadJsonNumber(s, n, &v.number) != nullptr) {
      return false;
    }
    return Scalar(v);
  }
  bool String(const char* s, SizeType n, bool) {
    if (escapes_ && HoldsSurrogate(s, n)) {
      return false;
    }
    FastValue v;
    v.kind = FastValue::kString;
    v.text = absl::string_view(s, n);
    return Scalar(v);
  }

  bool Key(const char* s, SizeType n, bool) {
    if (escapes_ && HoldsSurrogate(s, n)) {
      return false;
    }
    absl::string_view key(s, n);
    if (depth_ > 1) {
      return keys_.Add(depth_, key);
    }
    property_ = PropertyOf(binding_, key);
    if (property_ < 0) {
      return binding_.allows_additional && keys_.Add(depth_, key);
    }
    uint64_t bit = uint64_t{1} << property_;
    if (seen_ & bit) {
      return false;  // Duplicate key.
    }
    seen_ |= bit;
    return true;
  }

  bool StartObject() {
    if (!Enter()) {
      return false;
    }
    keys_.Open(depth_);
    return true;
  }
  bool EndObject(SizeType) {
    keys_.Close(depth_);
    if (--depth_ > 0) {
      return true;
    }
    done_ = true;
    return (seen_ & binding_.required) == binding_.required;
  }
  bool StartArray() { return depth_ > 0 && Enter(); }
  bool EndArray(SizeType) {
    --depth_;
    return true;
  }

  bool done() const { return done_; }

 private:
  // Opens a container. A root member the schema knows must be a scalar
  // here; other shapes are left to the DOM path.
  bool Enter() {
    if (depth_ == 1 && property_ >= 0) {
      return false;
    }
    ++depth_;
    return depth_ <= max_depth_ && depth_ <= kMaxFastDepth;
  }

  bool Scalar(const FastValue& v) {
    if (depth_ != 1) {
      return depth_ > 1;  // A scalar root is not a message.
    }
    if (property_ < 0) {
      return true;  // A member outside the schema.
    }
    if (!Accepts(v)) {
      return false;
    }
    int field = binding_.field_of[property_];
    return field < 0 || Store(field, v, out_);
  }

  bool Accepts(const FastValue& v) const {
    const SchemaChecker& checker = *binding_.checker;
    switch (v.kind) {
      case FastValue::kNull:
        return checker.AcceptsNull(property_);
      case FastValue::kBool:
        return checker.AcceptsBool(property_);
      case FastValue::kNumber:
        return checker.AcceptsNumber(property_, v.number.is_integer,
                                     v.number.real);
      case FastValue::kString:
        return checker.AcceptsString(property_, v.text);
    }
    return false;
  }

  const FastBinding& binding_;
  const int max_depth_;
  const bool escapes_;
  T* out_;
  int depth_ = 0;
  int property_ = -1;  // Root property of the current member, or -1.
  uint64_t seen_ = 0;  // Root properties met so far, as bits.
  bool done_ = false;
  KeyStack keys_;
};

// What one pass over the raw bytes tells the reader.
struct RawShape {
  bool ascii = true;     // Pure ASCII is valid UTF-8: nothing to validate.
  bool escapes = false;  // A backslash: strings may hold \u escapes.
};

RawShape ShapeOf(absl::string_view bytes) {
  RawShape shape;
  uint64_t high = 0;
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    high |= word;
  }
  for (; i < bytes.size(); ++i) {
    high |= static_cast<unsigned char>(bytes[i]);
  }
  shape.ascii = (high & 0x8080808080808080u) == 0;
  shape.escapes = bytes.find('\\') != absl::string_view::npos;
  return shape;
}

// One pass of the SAX reader over NUL-terminated `text`; then nothing but
// the end of the bytes may follow the object (a NUL byte ends the reader's
// input early).
template <unsigned kFlags, typename T>
bool ReadText(char* text, size_t size, FastHandler<T>& handler) {
  using Allocator = rapidjson::MemoryPoolAllocator<>;
  alignas(8) char scratch[256];
  Allocator allocator(scratch, sizeof(scratch));
  rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, Allocator>
      reader(&allocator, 64);
  rapidjson::InsituStringStream stream(text);
  if (reader.Parse<kFlags>(stream, handler).IsError()) {
    return false;
  }
  return handler.done() && stream.Tell() == size;
}

template <typename T>
bool Read(const FastBinding& binding, absl::string_view bytes, int max_depth,
          T* out) {
  if (!binding.enabled || bytes.empty()) {
    return false;
  }

  // The reader decodes strings in place, in a NUL-terminated copy of the
  // bytes, so that no value is copied twice.
  char local[kLocalBytes + 1];
  std::string heap;
  char* text = local;
  if (bytes.size() > kLocalBytes) {
    heap.resize(bytes.size());
    text = heap.data();
  }
  std::memcpy(text, bytes.data(), bytes.size());
  text[bytes.size()] = '\0';

  constexpr unsigned kFlags =
      rapidjson::kParseInsituFlag | rapidjson::kParseNumbersAsStringsFlag;
  RawShape shape = ShapeOf(bytes);
  FastHandler<T> handler(binding, max_depth, shape.escapes, out);
  if (shape.ascii) {
    return ReadText<kFlags>(text, bytes.size(), handler);
  }
  return ReadText<kFlags | rapidjson::kParseValidateEncodingFlag>(
      text, bytes.size(), handler);
}

}  // namespace

void BindFastReader(const SchemaChecker* checker, const char* const* fields,
                    size_t field_count, FastBinding* binding) {
  *binding = FastBinding{};
  binding->checker = checker;
  binding->field_of.fill(-1);
  if (checker->property_count() > binding->field_of.size() ||
      !checker->RootIsObject()) {
    return;
  }
  for (size_t i = 0; i < field_count; ++i) {
    int property = checker->PropertyIndex(fields[i]);
    if (property < 0) {
      return;
    }
    binding->field_of[property] = static_cast<int8_t>(i);
  }
  binding->required = checker->RequiredMask();
  binding->allows_additional = checker->RootAllowsAdditional();
  HashNames(binding);
  binding->enabled = true;
}

bool FastRead(const FastBinding& binding, absl::string_view bytes,
              int max_depth, StatusClaim* out) {
  return Read(binding, bytes, max_depth, out);
}

bool FastRead(const FastBinding& binding, absl::string_view bytes,
              int max_depth, BeatFrame* out) {
  return Read(binding, bytes, max_depth, out);
}

}  // namespace backbeat
