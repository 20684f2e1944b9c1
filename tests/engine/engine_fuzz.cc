// libFuzzer target over the window engine (engine_fuzz_play.h).
#include <cstddef>
#include <cstdint>

#include "tests/engine/engine_fuzz_play.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  backbeat::reverb::PlayEngineFuzzInput(data, size);
  return 0;
}
