// libFuzzer target: any bytes through Parse, and every accepted message
// through a Serialize round trip that must reproduce it exactly. The same
// bytes go through the fast and the DOM paths of ParseStatusClaim and
// ParseBeatFrame, under the default and a tight depth limit: any
// difference in value, error code or error text is a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/contract.h"

namespace {

template <typename T>
void ExpectSame(const absl::StatusOr<T>& fast, const absl::StatusOr<T>& dom,
                absl::string_view bytes) {
  bool same =
      fast.ok() ? dom.ok() && *fast == *dom : fast.status() == dom.status();
  if (same) {
    return;
  }
  std::fprintf(stderr, "fast path (%s) and DOM path (%s) differ on: %s\n",
               fast.status().ToString().c_str(),
               dom.status().ToString().c_str(), std::string(bytes).c_str());
  std::abort();
}

void ComparePaths(const backbeat::Contract& contract, absl::string_view bytes,
                  const backbeat::ParseLimits& limits) {
  ExpectSame(contract.ParseStatusClaim(bytes, limits),
             contract.ParseStatusClaimViaDom(bytes, limits), bytes);
  ExpectSame(contract.ParseBeatFrame(bytes, limits),
             contract.ParseBeatFrameViaDom(bytes, limits), bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using backbeat::Contract;
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Contract& contract = Contract::Builtin();
  backbeat::ParseLimits limits;
  limits.max_bytes = 1 << 16;
  ComparePaths(contract, bytes, limits);
  backbeat::ParseLimits tight = limits;
  tight.max_depth = 2;
  ComparePaths(contract, bytes, tight);

  auto message = contract.Parse(bytes, limits);
  if (!message.ok()) {
    return 0;
  }
  std::string json = backbeat::Serialize(*message);
  limits.max_bytes = json.size();
  auto again = contract.Parse(json, limits);
  if (!again.ok() || !(*again == *message) ||
      backbeat::Serialize(*again) != json || !contract.Check(*message).ok()) {
    std::fprintf(stderr, "round trip broke on: %s\n", json.c_str());
    std::abort();
  }
  ComparePaths(contract, json, limits);
  return 0;
}
