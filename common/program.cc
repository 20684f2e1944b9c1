#include "common/program.h"

#include <string>

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"

namespace backbeat {

absl::string_view Version() { return REVERB_VERSION; }

void SetProgramUsage(absl::string_view program, absl::string_view usage) {
  absl::SetProgramUsageMessage(usage);
  absl::FlagsUsageConfig config;
  config.version_string = [line = absl::StrCat(program, " ", Version(), "\n")] {
    return line;
  };
  absl::SetFlagsUsageConfig(config);
}

}  // namespace backbeat
