#include "bench/e2e/bench_messages.h"

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace backbeat::bench {
namespace {

constexpr size_t kTargetClaimBytes = 250;

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Out of 100: executing 45, planning 25, reviewing 10, completed 8,
// failed 3, blocked 3, helping 4, idle 2.
const char* StateFor(uint64_t draw) {
  const uint64_t p = draw % 100;
  if (p < 45) {
    return "executing";
  }
  if (p < 70) {
    return "planning";
  }
  if (p < 80) {
    return "reviewing";
  }
  if (p < 88) {
    return "completed";
  }
  if (p < 91) {
    return "failed";
  }
  if (p < 94) {
    return "blocked";
  }
  if (p < 98) {
    return "helping";
  }
  return "idle";
}

}  // namespace

std::string BeatSubject(const std::string& cluster_id) {
  return "backbeat." + cluster_id + ".beat";
}

std::string StatusSubject(const std::string& cluster_id) {
  return "backbeat." + cluster_id + ".status";
}

std::string BarSubject(const std::string& cluster_id) {
  return "backbeat." + cluster_id + ".bar";
}

std::string WindowId(int64_t downbeat_index) {
  char id[40];
  const uint64_t h = Mix64(static_cast<uint64_t>(downbeat_index));
  std::snprintf(id, sizeof(id), "%016" PRIx64 "%016" PRIx64, h, Mix64(h));
  return id;
}

std::string BeatFrameJson(const std::string& cluster_id, int64_t beat_index,
                          int beats_per_bar, double tempo_bpm) {
  const int64_t position = beat_index % beats_per_bar;
  const int64_t downbeat = beat_index - position;
  const char* phase = position == 0                   ? "plan"
                      : position == beats_per_bar - 1 ? "review"
                                                      : "execute";
  const time_t now = time(nullptr) + 1;
  struct tm utc;
  gmtime_r(&now, &utc);
  char deadline[32];
  strftime(deadline, sizeof(deadline), "%Y-%m-%dT%H:%M:%SZ", &utc);
  char json[512];
  std::snprintf(json, sizeof(json),
                "{\"type\":\"backbeat.beatframe.v1\",\"cluster_id\":\"%s\","
                "\"beat_index\":%" PRId64
                ",\"downbeat\":%s,\"phase\":\"%s\","
                "\"hlc\":\"%04x:%04x:0001\",\"deadline_at\":\"%s\","
                "\"tempo_bpm\":%g,\"window_id\":\"%s\"}",
                cluster_id.c_str(), beat_index,
                position == 0 ? "true" : "false", phase,
                static_cast<unsigned>((beat_index >> 16) & 0xffff),
                static_cast<unsigned>(beat_index & 0xffff), deadline, tempo_bpm,
                WindowId(downbeat).c_str());
  return json;
}

void StatusClaimJson(int64_t agent, int64_t beat_index, uint64_t sequence,
                     std::string* out) {
  const uint64_t draw =
      Mix64(static_cast<uint64_t>(agent) * 1315423911u + sequence);
  const char* state = StateFor(draw);
  // A helper works on the task of the next agent, which may complete it.
  const int64_t task = state[0] == 'h' ? agent + 1 : agent;
  char head[320];
  int n = std::snprintf(
      head, sizeof(head),
      "{\"type\":\"backbeat.statusclaim.v1\",\"agent_id\":\"agent-%07" PRId64
      "\",\"task_id\":\"task-%07" PRId64 "\",\"beat_index\":%" PRId64
      ",\"state\":\"%s\",\"beats_left\":%u,\"progress\":0.%02u,"
      "\"hlc\":\"%04x:%04x:%04x\",\"notes\":\"",
      agent, task, beat_index, state, static_cast<unsigned>(draw >> 40) % 8,
      static_cast<unsigned>(draw >> 20) % 100,
      static_cast<unsigned>(beat_index & 0xffff),
      static_cast<unsigned>(sequence & 0xffff),
      static_cast<unsigned>(agent & 0xffff));
  out->assign(head, static_cast<size_t>(n));
  // Pad the free-text notes so the whole message is about 250 bytes.
  const size_t tail = 2;  // closing quote and brace
  const size_t want = kTargetClaimBytes > out->size() + tail
                          ? kTargetClaimBytes - out->size() - tail
                          : 0;
  static constexpr char kWords[] =
      "working through the assigned step; checks pass so far, waiting on "
      "the next review slot before merging the change set ";
  out->append(kWords, want < sizeof(kWords) - 1 ? want : sizeof(kWords) - 1);
  out->append("\"}");
}

}  // namespace backbeat::bench
