#include "tests/ops/scrape_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace backbeat::ops_test {

HttpResponse HttpGet(int port, const std::string& path) {
  HttpResponse response;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return response;
  }
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return response;
  }

  // Send the request; read until the server closes.
  const std::string request = "GET " + path +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              "Connection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), 0) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return response;
  }
  std::string raw;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof buffer, 0)) > 0) {
    raw.append(buffer, n);
  }
  close(fd);

  // Status line and body (responses here carry Content-Length, no chunks).
  const size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) {
    return response;
  }
  response.status = std::atoi(raw.c_str() + raw.find(' ') + 1);
  response.body = raw.substr(end + 4);
  return response;
}

std::vector<Sample> ParseExposition(const std::string& text) {
  std::vector<Sample> samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    Sample sample;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    size_t name_end = brace != std::string::npos ? brace : space;
    sample.name = line.substr(0, name_end);
    if (brace != std::string::npos) {
      const size_t close_brace = line.rfind('}');
      std::string body = line.substr(brace + 1, close_brace - brace - 1);
      size_t pos = 0;
      while (pos < body.size()) {
        const size_t eq = body.find('=', pos);
        const size_t q1 = body.find('"', eq);
        const size_t q2 = body.find('"', q1 + 1);
        sample.labels[body.substr(pos, eq - pos)] =
            body.substr(q1 + 1, q2 - q1 - 1);
        pos = q2 + 1;
        if (pos < body.size() && body[pos] == ',') {
          ++pos;
        }
      }
    }
    sample.value = std::strtod(line.c_str() + space + 1, nullptr);
    samples.push_back(std::move(sample));
  }
  return samples;
}

std::optional<double> Find(const std::vector<Sample>& samples,
                           const std::string& name,
                           const std::map<std::string, std::string>& labels) {
  std::optional<double> found;
  for (const Sample& sample : samples) {
    if (sample.name != name) {
      continue;
    }
    bool match = true;
    for (const auto& [key, value] : labels) {
      auto it = sample.labels.find(key);
      if (it == sample.labels.end() || it->second != value) {
        match = false;
      }
    }
    if (!match) {
      continue;
    }
    if (found.has_value()) {
      return std::nullopt;
    }
    found = sample.value;
  }
  return found;
}

int RunWithInput(const std::string& command, const std::string& input,
                 std::string* output) {
  char path[] = "/tmp/reverb_ops_input_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) {
    return -1;
  }
  close(fd);
  std::ofstream(path) << input;
  const std::string full = command + " < " + path + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) {
    unlink(path);
    return -1;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    output->append(buffer, n);
  }
  const int status = pclose(pipe);
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace backbeat::ops_test
