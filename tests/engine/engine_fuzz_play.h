// Plays fuzz input into the window engine; see engine_fuzz_play.cc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace backbeat::reverb {

// Turns `data` into BeatFrames, StatusClaims, transport events and clock
// steps for two engines (one shard; four shards sealing in parallel), and
// aborts with a message on stderr if a report breaks the contract, a
// window is reported twice or out of order, or the engines disagree.
void PlayEngineFuzzInput(const uint8_t* data, size_t size);

}  // namespace backbeat::reverb
