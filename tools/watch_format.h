// How backbeat-watch shows a BarReport.
#pragma once

#include <string>

#include "common/messages.h"

namespace backbeat::watch {

// A readable one-line summary, e.g.
//   window 7e9b0e6c4c9a4e59b7f2d9a3c1b2e4d5 beats 240-243 agents 60
//   on-time 41 help 6 drift +3.1ms issues agents_failed:6 missed_reviews:6
// (one line, shown wrapped). "issues none" when there are none; "rotations
// FAILED" is added when secret_rotations_ok is false.
std::string Summarize(const BarReport& report);

}  // namespace backbeat::watch
