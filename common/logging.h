// Process-wide logging set-up shared by Reverb's programs.
#pragma once

#include <string>

#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace backbeat {

// Sends spdlog's default logger to stderr as
// "2026-12-03T16:30:00.123 info <program>: <message>". Call once, early in
// main, before any thread logs.
inline void LogToStderr(const std::string& program) {
  auto logger = spdlog::stderr_logger_mt(program);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ " + program + ": %v");
  spdlog::set_default_logger(logger);
}

}  // namespace backbeat
