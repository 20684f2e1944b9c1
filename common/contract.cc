#include "common/contract.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/bounded_json.h"
#include "common/builtin_schemas.h"
#include "common/fast_reader.h"
#include "common/message_fields.h"
#include "common/schema_checker.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace backbeat {
namespace {

using rapidjson::Value;

constexpr const char* kSchemaFiles[] = {
    "beatframe-v1.schema.json",
    "statusclaim-v1.schema.json",
    "barreport-v1.schema.json",
};
constexpr const char* kWireTypes[] = {kBeatFrameType, kStatusClaimType,
                                      kBarReportType};

// Position of a checked enum value in its wire names.
template <size_t N>
int EnumIndex(const Value& v, const absl::string_view (&names)[N]) {
  int i =
      NameIndex(absl::string_view(v.GetString(), v.GetStringLength()), names);
  return i < 0 ? 0 : i;  // Never negative once the enum has been checked.
}

std::string Str(const Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

}  // namespace

// One compiled schema plus what the typed code needs from it.
struct MessageSchema {
  std::unique_ptr<SchemaChecker> checker;
  std::array<int, kMaxFields> field_index{};
  std::string wire_type;
  std::vector<std::string> code_rules;  // Indexed like the rules below.
  FastBinding fast;                     // For the streaming reader.
};

struct Contract::Schemas {
  std::array<MessageSchema, 3> message;
  std::string type_rule;  // "must be one of: <all three types>".
};

namespace {

// Reads what the typed code needs from a compiled schema and checks it is
// there, so that a schema and this code cannot drift apart silently.
absl::Status Bind(const char* file, const char* const* fields, size_t count,
                  const std::vector<const char*>& code_rule_fields,
                  MessageSchema* schema) {
  for (size_t i = 0; i < count; ++i) {
    schema->field_index[i] = schema->checker->PropertyIndex(fields[i]);
    if (schema->field_index[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": no property ", fields[i]));
    }
  }
  for (const char* field : code_rule_fields) {
    std::string rule = schema->checker->CodeRule(field);
    if (rule.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": ", field, " lacks its x-code-rule"));
    }
    schema->code_rules.push_back(absl::StrCat(field, " ", rule));
  }
  std::vector<std::string> types = schema->checker->EnumOf("type");
  if (types.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": type must be an enum of one value"));
  }
  schema->wire_type = types[0];
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SchemaChecker>> CompileText(
    const char* file, const std::string& text) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseValidateEncodingFlag>(text.c_str());
  if (document.HasParseError()) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ": not valid JSON at byte ", document.GetErrorOffset()));
  }
  auto checker = SchemaChecker::Compile(document);
  if (!checker.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": ", checker.status().message()));
  }
  return checker;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Contract::Schemas>> LoadSchemas(
    const std::array<std::string, 3>& texts) {
  auto schemas = std::make_unique<Contract::Schemas>();
  const std::vector<const char*> rules[] = {
      {"tempo_bpm"}, {}, {"to_beat", "on_time_reviews", "tempo_drift_ms"}};
  const std::pair<const char* const*, size_t> fields[] = {
      {kFrameFields, std::size(kFrameFields)},
      {kClaimFields, std::size(kClaimFields)},
      {kReportFields, std::size(kReportFields)}};
  for (size_t i = 0; i < 3; ++i) {
    auto checker = CompileText(kSchemaFiles[i], texts[i]);
    if (!checker.ok()) {
      return checker.status();
    }
    MessageSchema& m = schemas->message[i];
    m.checker = *std::move(checker);
    absl::Status s =
        Bind(kSchemaFiles[i], fields[i].first, fields[i].second, rules[i], &m);
    if (!s.ok()) {
      return s;
    }
    BindFastReader(m.checker.get(), fields[i].first, fields[i].second, &m.fast);
    if (m.wire_type != kWireTypes[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          kSchemaFiles[i], ": type is ", m.wire_type, ", not ", kWireTypes[i]));
    }
  }
  schemas->type_rule =
      absl::StrCat("type must be one of: ", kBeatFrameType, ", ",
                   kStatusClaimType, ", ", kBarReportType);
  return schemas;
}

// ---------------------------------------------------------------------------
// Reading typed messages out of a checked document.

namespace {

using Slots = std::array<const Value*, 64>;

const Value* Field(const MessageSchema& s, const Slots& slots, int field) {
  return slots[s.field_index[field]];
}

BeatFrame ReadFrame(const MessageSchema& s, const Slots& slots) {
  BeatFrame f;
  f.cluster_id = Str(*Field(s, slots, kClusterId));
  f.beat_index = Field(s, slots, kFrameBeat)->GetInt64();
  f.downbeat = Field(s, slots, kDownbeat)->GetBool();
  f.phase = static_cast<Phase>(EnumIndex(*Field(s, slots, kPhase), kPhases));
  f.hlc = Str(*Field(s, slots, kFrameHlc));
  f.deadline_at = Str(*Field(s, slots, kDeadlineAt));
  f.tempo_bpm = Field(s, slots, kTempoBpm)->GetDouble();
  f.window_id = Str(*Field(s, slots, kFrameWindow));
  return f;
}

StatusClaim ReadClaim(const MessageSchema& s, const Slots& slots) {
  StatusClaim c;
  c.agent_id = Str(*Field(s, slots, kAgentId));
  if (const Value* v = Field(s, slots, kTaskId)) {
    c.task_id = Str(*v);
  }
  c.beat_index = Field(s, slots, kClaimBeat)->GetInt64();
  c.state =
      static_cast<ClaimState>(EnumIndex(*Field(s, slots, kState), kStates));
  if (const Value* v = Field(s, slots, kBeatsLeft)) {
    c.beats_left = v->GetInt64();
  }
  if (const Value* v = Field(s, slots, kProgress)) {
    c.progress = v->GetDouble();
  }
  if (const Value* v = Field(s, slots, kNotes)) {
    c.notes = Str(*v);
  }
  c.hlc = Str(*Field(s, slots, kClaimHlc));
  return c;
}

Issue ReadIssue(const Value& v) {
  Issue issue;
  issue.kind = Str(v["kind"]);
  issue.severity = static_cast<Severity>(EnumIndex(v["severity"], kSeverities));
  issue.count = v["count"].GetInt64();
  issue.detail = Str(v["detail"]);
  for (const Value& agent : v["agents"].GetArray()) {
    issue.agents.push_back(Str(agent));
  }
  return issue;
}

BarReport ReadReport(const MessageSchema& s, const Slots& slots) {
  BarReport r;
  r.window_id = Str(*Field(s, slots, kReportWindow));
  r.from_beat = Field(s, slots, kFromBeat)->GetInt64();
  r.to_beat = Field(s, slots, kToBeat)->GetInt64();
  r.agents_reporting = Field(s, slots, kAgentsReporting)->GetInt64();
  r.on_time_reviews = Field(s, slots, kOnTimeReviews)->GetInt64();
  r.help_promises_fulfilled = Field(s, slots, kHelpFulfilled)->GetInt64();
  r.secret_rotations_ok = Field(s, slots, kRotationsOk)->GetBool();
  r.tempo_drift_ms = Field(s, slots, kDriftMs)->GetDouble();
  for (const Value& issue : Field(s, slots, kIssues)->GetArray()) {
    r.issues.push_back(ReadIssue(issue));
  }
  return r;
}

// Rules JSON Schema cannot express; the texts come from x-code-rule.
absl::Status CheckCodeRules(const MessageSchema& s, const BeatFrame& f) {
  if (!std::isfinite(f.tempo_bpm)) {
    return absl::InvalidArgumentError(s.code_rules[0]);
  }
  return absl::OkStatus();
}

absl::Status CheckCodeRules(const MessageSchema&, const StatusClaim&) {
  return absl::OkStatus();
}

absl::Status CheckCodeRules(const MessageSchema& s, const BarReport& r) {
  if (r.to_beat < r.from_beat) {
    return absl::InvalidArgumentError(s.code_rules[0]);
  }
  if (r.on_time_reviews > r.agents_reporting) {
    return absl::InvalidArgumentError(s.code_rules[1]);
  }
  if (!std::isfinite(r.tempo_drift_ms)) {
    return absl::InvalidArgumentError(s.code_rules[2]);
  }
  return absl::OkStatus();
}

// The message type named by the root's "type" member, if it is a known one.
int DetectType(const Value& root) {
  auto it = root.FindMember("type");
  if (it == root.MemberEnd() || !it->value.IsString()) {
    return -1;
  }
  for (int i = 0; i < 3; ++i) {
    if (std::strcmp(it->value.GetString(), kWireTypes[i]) == 0 &&
        std::strlen(kWireTypes[i]) == it->value.GetStringLength()) {
      return i;
    }
  }
  return -1;
}

template <typename T>
absl::StatusOr<T> ReadChecked(const MessageSchema& s, const Value& root) {
  Slots slots;
  absl::Status status = s.checker->Check(root, slots.data());
  if (!status.ok()) {
    return status;
  }
  T message;
  if constexpr (std::is_same_v<T, BeatFrame>) {
    message = ReadFrame(s, slots);
  } else if constexpr (std::is_same_v<T, StatusClaim>) {
    message = ReadClaim(s, slots);
  } else {
    message = ReadReport(s, slots);
  }
  status = CheckCodeRules(s, message);
  if (!status.ok()) {
    return status;
  }
  return message;
}

absl::Status Prepare(absl::string_view bytes, const ParseLimits& limits,
                     BoundedDocument* document) {
  if (bytes.size() > limits.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("message is ", bytes.size(), " bytes, over the limit of ",
                     limits.max_bytes));
  }
  return document->Parse(bytes, limits.max_depth);
}

}  // namespace

// ---------------------------------------------------------------------------
// Contract.

Contract::Contract(std::unique_ptr<Schemas> schemas)
    : schemas_(std::move(schemas)) {}
Contract::~Contract() = default;

absl::StatusOr<std::unique_ptr<Contract>> Contract::LoadFromDirectory(
    const std::string& dir) {
  std::array<std::string, 3> texts;
  for (size_t i = 0; i < 3; ++i) {
    std::string path = absl::StrCat(dir, "/", kSchemaFiles[i]);
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return absl::NotFoundError(absl::StrCat("cannot read ", path));
    }
    std::ostringstream text;
    text << in.rdbuf();
    texts[i] = text.str();
  }
  auto schemas = LoadSchemas(texts);
  if (!schemas.ok()) {
    return schemas.status();
  }
  return std::unique_ptr<Contract>(new Contract(*std::move(schemas)));
}

const Contract& Contract::Builtin() {
  static const Contract* builtin = [] {
    std::array<std::string, 3> texts;
    for (size_t i = 0; i < 3; ++i) {
      for (size_t j = 0; j < kEmbeddedSchemaCount; ++j) {
        if (std::strcmp(kEmbeddedSchemas[j].file_name, kSchemaFiles[i]) == 0) {
          texts[i] = kEmbeddedSchemas[j].text;
        }
      }
    }
    auto schemas = LoadSchemas(texts);
    if (!schemas.ok()) {
      // The test suite loads the same files; reaching this is a build bug.
      std::fprintf(stderr, "builtin schemas: %s\n",
                   std::string(schemas.status().message()).c_str());
      std::abort();
    }
    return new Contract(*std::move(schemas));
  }();
  return *builtin;
}

// The reference path: a bounded document, then the checker.
template <typename T>
static absl::StatusOr<T> ParseViaDom(const Contract::Schemas& schemas, int want,
                                     absl::string_view bytes,
                                     const ParseLimits& limits) {
  BoundedDocument document;
  absl::Status status = Prepare(bytes, limits, &document);
  if (!status.ok()) {
    return status;
  }
  const Value& root = document.root();
  int type = DetectType(root);
  if (type >= 0 && type != want) {
    status = schemas.message[type].checker->Check(root);
    if (!status.ok()) {
      return status;
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "type is ", kWireTypes[type], ", expected ", kWireTypes[want]));
  }
  return ReadChecked<T>(schemas.message[want], root);
}

// The streaming reader for valid messages; anything it is not sure of,
// every error included, goes through the DOM path for its verdict.
template <typename T>
static absl::StatusOr<T> ParseAs(const Contract::Schemas& schemas, int want,
                                 absl::string_view bytes,
                                 const ParseLimits& limits) {
  const MessageSchema& s = schemas.message[want];
  if (bytes.size() <= limits.max_bytes) {
    T message;
    if (FastRead(s.fast, bytes, limits.max_depth, &message) &&
        CheckCodeRules(s, message).ok()) {
      return message;
    }
  }
  return ParseViaDom<T>(schemas, want, bytes, limits);
}

absl::StatusOr<StatusClaim> Contract::ParseStatusClaim(
    absl::string_view bytes, const ParseLimits& limits) const {
  return ParseAs<StatusClaim>(*schemas_, 1, bytes, limits);
}

absl::StatusOr<BeatFrame> Contract::ParseBeatFrame(
    absl::string_view bytes, const ParseLimits& limits) const {
  return ParseAs<BeatFrame>(*schemas_, 0, bytes, limits);
}

absl::StatusOr<BarReport> Contract::ParseBarReport(
    absl::string_view bytes, const ParseLimits& limits) const {
  return ParseViaDom<BarReport>(*schemas_, 2, bytes, limits);
}

absl::StatusOr<StatusClaim> Contract::ParseStatusClaimViaDom(
    absl::string_view bytes, const ParseLimits& limits) const {
  return ParseViaDom<StatusClaim>(*schemas_, 1, bytes, limits);
}

absl::StatusOr<BeatFrame> Contract::ParseBeatFrameViaDom(
    absl::string_view bytes, const ParseLimits& limits) const {
  return ParseViaDom<BeatFrame>(*schemas_, 0, bytes, limits);
}

absl::StatusOr<Message> Contract::Parse(absl::string_view bytes,
                                        const ParseLimits& limits) const {
  BoundedDocument document;
  absl::Status status = Prepare(bytes, limits, &document);
  if (!status.ok()) {
    return status;
  }
  const Value& root = document.root();
  switch (DetectType(root)) {
    case 0:
      return ReadChecked<BeatFrame>(schemas_->message[0], root);
    case 1:
      return ReadChecked<StatusClaim>(schemas_->message[1], root);
    case 2:
      return ReadChecked<BarReport>(schemas_->message[2], root);
  }
  if (!root.HasMember("type")) {
    return absl::InvalidArgumentError("type field is required");
  }
  return absl::InvalidArgumentError(schemas_->type_rule);
}

absl::Status Contract::Check(const Message& message) const {
  int type = static_cast<int>(message.index());
  const MessageSchema& s = schemas_->message[type];
  absl::Status status =
      std::visit([&](const auto& m) { return CheckCodeRules(s, m); }, message);
  if (!status.ok()) {
    return status;
  }
  std::string json = Serialize(message);
  ParseLimits limits;
  limits.max_bytes = json.size();
  BoundedDocument document;
  status = Prepare(json, limits, &document);
  if (!status.ok()) {
    return status;
  }
  Slots slots;
  return s.checker->Check(document.root(), slots.data());
}

// ---------------------------------------------------------------------------
// Names and serialization.

const char* RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kTooLarge:
      return "too_large";
    case RejectReason::kMalformed:
      return "malformed";
    case RejectReason::kSchema:
      return "schema";
    case RejectReason::kWrongType:
      return "wrong_type";
  }
  return "schema";
}

RejectReason RejectReasonOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      return RejectReason::kTooLarge;
    case absl::StatusCode::kDataLoss:
      return RejectReason::kMalformed;
    case absl::StatusCode::kFailedPrecondition:
      return RejectReason::kWrongType;
    default:
      return RejectReason::kSchema;
  }
}

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Key(Writer& w, const char* key) { w.Key(key); }
void Text(Writer& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Shortest text that reads back as the same double; always carries a '.'
// or an exponent so that it reads back as a double, not an integer.
void Number(Writer& w, double d) {
  char buffer[40];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer) - 2, d);
  size_t n = end - buffer;
  if (std::strpbrk(std::string(buffer, n).c_str(), ".eEn") == nullptr) {
    buffer[n++] = '.';
    buffer[n++] = '0';
  }
  w.RawValue(buffer, n, rapidjson::kNumberType);
}

void Write(Writer& w, const BeatFrame& f) {
  Key(w, "cluster_id"), Text(w, f.cluster_id);
  Key(w, "beat_index"), w.Int64(f.beat_index);
  Key(w, "downbeat"), w.Bool(f.downbeat);
  Key(w, "phase"), w.String(PhaseName(f.phase));
  Key(w, "hlc"), Text(w, f.hlc);
  Key(w, "deadline_at"), Text(w, f.deadline_at);
  Key(w, "tempo_bpm"), Number(w, f.tempo_bpm);
  Key(w, "window_id"), Text(w, f.window_id);
}

void Write(Writer& w, const StatusClaim& c) {
  Key(w, "agent_id"), Text(w, c.agent_id);
  if (c.task_id) {
    Key(w, "task_id"), Text(w, *c.task_id);
  }
  Key(w, "beat_index"), w.Int64(c.beat_index);
  Key(w, "state"), w.String(ClaimStateName(c.state));
  if (c.beats_left) {
    Key(w, "beats_left"), w.Int64(*c.beats_left);
  }
  if (c.progress) {
    Key(w, "progress"), Number(w, *c.progress);
  }
  if (c.notes) {
    Key(w, "notes"), Text(w, *c.notes);
  }
  Key(w, "hlc"), Text(w, c.hlc);
}

void Write(Writer& w, const BarReport& r) {
  Key(w, "window_id"), Text(w, r.window_id);
  Key(w, "from_beat"), w.Int64(r.from_beat);
  Key(w, "to_beat"), w.Int64(r.to_beat);
  Key(w, "agents_reporting"), w.Int64(r.agents_reporting);
  Key(w, "on_time_reviews"), w.Int64(r.on_time_reviews);
  Key(w, "help_promises_fulfilled"), w.Int64(r.help_promises_fulfilled);
  Key(w, "secret_rotations_ok"), w.Bool(r.secret_rotations_ok);
  Key(w, "tempo_drift_ms"), Number(w, r.tempo_drift_ms);
  Key(w, "issues"), w.StartArray();
  for (const Issue& issue : r.issues) {
    w.StartObject();
    Key(w, "kind"), Text(w, issue.kind);
    Key(w, "severity"), w.String(SeverityName(issue.severity));
    Key(w, "count"), w.Int64(issue.count);
    Key(w, "detail"), Text(w, issue.detail);
    Key(w, "agents"), w.StartArray();
    for (const std::string& agent : issue.agents) {
      Text(w, agent);
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

std::string Serialize(const Message& message) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartObject();
  writer.Key("type");
  writer.String(kWireTypes[message.index()]);
  std::visit([&](const auto& m) { Write(writer, m); }, message);
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace backbeat
