// The engine fuzz player on random inputs from a fixed seed, in every
// build of the suite (so also under ASan, UBSan and TSan, which watch the
// parallel seal). scripts/fuzz runs the coverage-guided libFuzzer target.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "tests/engine/engine_fuzz_play.h"

namespace backbeat::reverb {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kInputs = 300;
#else
constexpr int kInputs = 3000;
#endif

TEST(EngineFuzzTest, RandomEventSequencesKeepTheContract) {
  std::mt19937 random(20261203);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<size_t> length(0, 4096);
  for (int i = 0; i < kInputs; ++i) {
    std::vector<uint8_t> input(length(random));
    for (uint8_t& b : input) {
      b = static_cast<uint8_t>(byte(random));
    }
    PlayEngineFuzzInput(input.data(), input.size());  // Aborts on a defect.
  }
}

}  // namespace
}  // namespace backbeat::reverb
