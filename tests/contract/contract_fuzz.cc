// libFuzzer target: any bytes through Parse, and every accepted message
// through a Serialize round trip that must reproduce it exactly.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "common/contract.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using backbeat::Contract;
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Contract& contract = Contract::Builtin();
  backbeat::ParseLimits limits;
  limits.max_bytes = 1 << 16;
  auto message = contract.Parse(bytes, limits);
  (void)contract.ParseStatusClaim(bytes, limits);
  if (!message.ok()) return 0;

  std::string json = backbeat::Serialize(*message);
  limits.max_bytes = json.size();
  auto again = contract.Parse(json, limits);
  if (!again.ok() || !(*again == *message) ||
      backbeat::Serialize(*again) != json || !contract.Check(*message).ok()) {
    std::fprintf(stderr, "round trip broke on: %s\n", json.c_str());
    std::abort();
  }
  return 0;
}
