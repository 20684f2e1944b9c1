#include "tests/support/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace backbeat::test_support {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(5);

// Resolves a program name through PATH, as execvp would, but before fork:
// the child may only call async-signal-safe functions.
std::string ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  const char* path = getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return name;
}

// The parent's environment with `overrides` ("NAME=value") applied.
std::vector<std::string> MergeEnvironment(
    const std::vector<std::string>& overrides) {
  std::vector<std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    absl::string_view current(*entry);
    absl::string_view name = current.substr(0, current.find('='));
    bool replaced = false;
    for (const std::string& o : overrides) {
      if (absl::string_view(o).substr(0, o.find('=')) == name) {
        replaced = true;
      }
    }
    if (!replaced) {
      merged.emplace_back(current);
    }
  }
  merged.insert(merged.end(), overrides.begin(), overrides.end());
  return merged;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) {
    pointers.push_back(s.data());
  }
  pointers.push_back(nullptr);
  return pointers;
}

// Where the child's stream goes: a path to open, or "" to inherit.
std::string TargetPath(const OutputSpec& spec, const std::string& capture) {
  switch (spec.kind) {
    case OutputSpec::Kind::kInherit:
      return "";
    case OutputSpec::Kind::kDiscard:
      return "/dev/null";
    case OutputSpec::Kind::kFile:
      return spec.path;
    case OutputSpec::Kind::kCapture:
      return capture;
  }
  return "";
}

// In the child: redirect `fd` to `path` (if any). Async-signal-safe.
bool Redirect(int fd, const char* path) {
  if (path == nullptr) {
    return true;
  }
  int file = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (file < 0) {
    return false;
  }
  return dup2(file, fd) >= 0;
}

// In the child: everything between fork and exec. Reports errno on
// `report_fd` if anything fails, then exits.
[[noreturn]] void RunChild(pid_t parent, int report_fd, bool group,
                           const char* dir, const char* out, const char* err,
                           const char* program, char** argv, char** envp) {
  if (group) {
    setpgid(0, 0);
  }
  // Dies with the test even when the test cannot run its destructors (a
  // sanitizer abort, a crash): no server outlives its test.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) {
    _exit(127);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  int in = open("/dev/null", O_RDONLY);
  if (in >= 0) {
    dup2(in, STDIN_FILENO);
  }
  if ((dir == nullptr || chdir(dir) == 0) && Redirect(STDOUT_FILENO, out) &&
      Redirect(STDERR_FILENO, err)) {
    execve(program, argv, envp);
  }
  int error = errno;
  ssize_t ignored = write(report_fd, &error, sizeof(error));
  (void)ignored;
  _exit(127);
}

}  // namespace

std::string ExitStatus::ToString() const {
  if (exited) {
    return absl::StrCat("exit ", code);
  }
  return absl::StrCat("signal ", signal);
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Start(
    SubprocessOptions options) {
  if (options.argv.empty()) {
    return absl::InvalidArgumentError("subprocess: empty argv");
  }

  // Capture files live in a private directory.
  std::string capture_dir;
  bool captures = options.stdout_spec.kind == OutputSpec::Kind::kCapture ||
                  options.stderr_spec.kind == OutputSpec::Kind::kCapture;
  if (captures) {
    char tmpl[] = "/tmp/backbeat-subprocess.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      return absl::InternalError(
          absl::StrCat("subprocess: mkdtemp: ", strerror(errno)));
    }
    capture_dir = tmpl;
  }
  std::string out = TargetPath(options.stdout_spec, capture_dir + "/stdout");
  std::string err = TargetPath(options.stderr_spec, capture_dir + "/stderr");

  // Everything the child needs is prepared before fork.
  std::string program = ResolveProgram(options.argv[0]);
  std::vector<std::string> env = MergeEnvironment(options.env);
  std::vector<char*> argv = CStrings(options.argv);
  std::vector<char*> envp = CStrings(env);
  const char* dir =
      options.working_dir.empty() ? nullptr : options.working_dir.c_str();
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    return absl::InternalError(
        absl::StrCat("subprocess: pipe: ", strerror(errno)));
  }

  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(report[0]);
    close(report[1]);
    return absl::InternalError(
        absl::StrCat("subprocess: fork: ", strerror(errno)));
  }
  if (pid == 0) {
    close(report[0]);
    RunChild(parent, report[1], options.new_process_group, dir,
             out.empty() ? nullptr : out.c_str(),
             err.empty() ? nullptr : err.c_str(), program.c_str(), argv.data(),
             envp.data());
  }
  if (options.new_process_group) {
    setpgid(pid, pid);  // Also in the parent: no race with Terminate().
  }

  // The report pipe closes on a successful exec and carries errno otherwise.
  close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(report[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  auto child = std::unique_ptr<Subprocess>(new Subprocess(
      pid, options.new_process_group, out == capture_dir + "/stdout" ? out : "",
      err == capture_dir + "/stderr" ? err : "", capture_dir));
  if (n > 0) {
    child->Reap(/*block=*/true);
    return absl::FailedPreconditionError(absl::StrCat(
        "subprocess: cannot run ", program, ": ", strerror(child_errno)));
  }
  return child;
}

Subprocess::Subprocess(pid_t pid, bool group, std::string stdout_path,
                       std::string stderr_path, std::string capture_dir)
    : pid_(pid),
      group_(group),
      stdout_path_(std::move(stdout_path)),
      stderr_path_(std::move(stderr_path)),
      capture_dir_(std::move(capture_dir)) {}

Subprocess::~Subprocess() {
  if (group_) {
    kill(-pid_, SIGKILL);  // The group may outlive the child itself.
  }
  if (!reaped_) {
    kill(pid_, SIGKILL);
    Reap(/*block=*/true);
  }
  if (!capture_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(capture_dir_, ignored);
  }
}

absl::Status Subprocess::Terminate(int signal) {
  if (reaped_) {
    return absl::OkStatus();
  }
  if (kill(group_ ? -pid_ : pid_, signal) != 0 && errno != ESRCH) {
    return absl::InternalError(
        absl::StrCat("subprocess: kill ", pid_, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

bool Subprocess::Reap(bool block) {
  if (reaped_) {
    return true;
  }
  int raw = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &raw, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) {
    return false;
  }
  reaped_ = true;
  if (r > 0 && WIFEXITED(raw)) {
    status_ = {true, WEXITSTATUS(raw), 0};
  } else if (r > 0 && WIFSIGNALED(raw)) {
    status_ = {false, 0, WTERMSIG(raw)};
  }
  return true;
}

absl::StatusOr<ExitStatus> Subprocess::Wait(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!Reap(/*block=*/false)) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("subprocess: ", pid_, " still running after ",
                       absl::FormatDuration(timeout)));
    }
    absl::SleepFor(kPollInterval);
  }
  return status_;
}

bool Subprocess::Running() { return !Reap(/*block=*/false); }

std::string Subprocess::ReadStdout() const {
  return stdout_path_.empty() ? "" : ReadFileOrEmpty(stdout_path_);
}

std::string Subprocess::ReadStderr() const {
  return stderr_path_.empty() ? "" : ReadFileOrEmpty(stderr_path_);
}

}  // namespace backbeat::test_support
