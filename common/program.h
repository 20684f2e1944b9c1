// Command-line set-up shared by Reverb's programs.
#pragma once

#include "absl/strings/string_view.h"

namespace backbeat {

// The project's version, as CMake's project() declares it ("0.1.0").
absl::string_view Version();

// Sets what `--help` says of the program and what `--version` prints
// ("<program> <version>"). Call once, before absl::ParseCommandLine.
void SetProgramUsage(absl::string_view program, absl::string_view usage);

}  // namespace backbeat
