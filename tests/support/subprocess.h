// Child processes for integration tests.
//
// A Subprocess is a fork/exec'd program, by default in its own process
// group so that everything it starts can be signalled and killed with it.
// Its stdout and stderr are inherited, discarded, written to a given file or
// captured into a temporary file readable through ReadStdout()/ReadStderr().
// The destructor kills the whole group and reaps the child: a test never
// leaks a process.
//
// Not thread-safe: use one Subprocess from one thread.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace backbeat::test_support {

// Where a child's output stream goes.
struct OutputSpec {
  enum class Kind { kInherit, kDiscard, kFile, kCapture };
  Kind kind = Kind::kCapture;
  std::string path;  // Only for kFile: created or truncated.

  static OutputSpec Inherit() { return {Kind::kInherit, ""}; }
  static OutputSpec Discard() { return {Kind::kDiscard, ""}; }
  static OutputSpec File(std::string path) { return {Kind::kFile, path}; }
  static OutputSpec Capture() { return {Kind::kCapture, ""}; }
};

struct SubprocessOptions {
  // argv[0] is the program: a path, or a name looked up in PATH.
  std::vector<std::string> argv;
  // "NAME=value" entries set on top of the parent's environment.
  std::vector<std::string> env;
  std::string working_dir;  // Empty: the parent's.
  OutputSpec stdout_spec;
  OutputSpec stderr_spec;
  bool new_process_group = true;
};

// How a child ended.
struct ExitStatus {
  bool exited = false;  // Called exit(); `code` holds the status.
  int code = 0;
  int signal = 0;  // Non-zero when killed by a signal.

  bool Success() const { return exited && code == 0; }
  std::string ToString() const;  // "exit 0", "signal 9".
};

class Subprocess {
 public:
  // Starts the program. Fails (the child having been reaped) if the program
  // cannot be found or executed, or an output file cannot be opened.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      SubprocessOptions options);

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  // Kills the child (its whole group when it has one) and reaps it.
  ~Subprocess();

  pid_t pid() const { return pid_; }

  // Sends `signal` to the child, or to its process group when it has one.
  // Succeeds without effect if the child has already been reaped.
  absl::Status Terminate(int signal);

  // Waits up to `timeout` for the child to end and reaps it. Fails with
  // kDeadlineExceeded if it is still running. Calling it again after the
  // child ended returns the same status.
  absl::StatusOr<ExitStatus> Wait(absl::Duration timeout);

  // True until the child has ended (reaps it if it has).
  bool Running();

  // The captured output so far; empty unless captured (kCapture).
  std::string ReadStdout() const;
  std::string ReadStderr() const;

 private:
  Subprocess(pid_t pid, bool group, std::string stdout_path,
             std::string stderr_path, std::string capture_dir);
  bool Reap(bool block);

  pid_t pid_;
  bool group_;
  bool reaped_ = false;
  ExitStatus status_;
  std::string stdout_path_;  // Capture files, empty if not captured.
  std::string stderr_path_;
  std::string capture_dir_;  // Removed by the destructor.
};

// Reads a whole file; empty if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace backbeat::test_support
