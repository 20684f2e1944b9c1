// A minimal HTTP/1.1 GET client and Prometheus text parser for tests.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace backbeat::ops_test {

struct HttpResponse {
  int status = 0;  // 0 if the request failed.
  std::string body;
};

// GET http://127.0.0.1:`port``path`, waiting at most 5 s. Never throws.
HttpResponse HttpGet(int port, const std::string& path);

// One sample of a text exposition.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<Sample> ParseExposition(const std::string& text);

// The value of the only sample named `name` whose labels include `labels`;
// nullopt if there is none or more than one.
std::optional<double> Find(
    const std::vector<Sample>& samples, const std::string& name,
    const std::map<std::string, std::string>& labels = {});

// Runs a shell command, feeding `input` on stdin; returns its exit status
// and puts stdout+stderr in `output`.
int RunWithInput(const std::string& command, const std::string& input,
                 std::string* output);

}  // namespace backbeat::ops_test
