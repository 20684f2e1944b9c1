// The reverb binary as an operator runs it: flags, signals, exit codes.
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/program.h"
#include "gtest/gtest.h"
#include "tests/support/nats_server.h"
#include "tests/support/ports.h"
#include "tests/support/subprocess.h"

namespace backbeat::reverb {
namespace {

using test_support::NatsServer;
using test_support::NatsServerOptions;
using test_support::Subprocess;
using test_support::SubprocessOptions;

std::unique_ptr<Subprocess> StartReverb(std::vector<std::string> args) {
  SubprocessOptions options;
  options.argv = {REVERB_BINARY};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  auto process = Subprocess::Start(options);
  EXPECT_TRUE(process.ok()) << process.status();
  return process.ok() ? *std::move(process) : nullptr;
}

// Waits until the log shows `text`; false after `timeout`.
bool WaitForLog(Subprocess& process, const std::string& text,
                absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (process.ReadStderr().find(text) != std::string::npos) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

TEST(LifecycleTest, SigtermDrainsAndExitsZero) {
  auto nats = NatsServer::Start();
  ASSERT_TRUE(nats.ok()) << nats.status();
  auto reverb = StartReverb(
      {"--nats_url=" + (*nats)->url(), "--metrics_address=127.0.0.1:0"});
  ASSERT_NE(reverb, nullptr);
  ASSERT_TRUE(WaitForLog(*reverb, "nats: subscribed", absl::Seconds(10)))
      << reverb->ReadStderr();

  ASSERT_TRUE(reverb->Terminate(SIGTERM).ok());
  auto exit = reverb->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->Success()) << exit->ToString() << reverb->ReadStderr();
  EXPECT_NE(reverb->ReadStderr().find("shutdown: done"), std::string::npos);
  // Closing its own connection is not a loss worth a warning.
  EXPECT_EQ(reverb->ReadStderr().find("reconnecting"), std::string::npos)
      << reverb->ReadStderr();
}

TEST(LifecycleTest, StartsBeforeNatsAndConnectsWhenItAppears) {
  auto nats = NatsServer::Start();
  ASSERT_TRUE(nats.ok()) << nats.status();
  ASSERT_TRUE((*nats)->Stop().ok());
  auto reverb = StartReverb(
      {"--nats_url=" + (*nats)->url(), "--metrics_address=127.0.0.1:0"});
  ASSERT_NE(reverb, nullptr);
  ASSERT_TRUE(WaitForLog(*reverb, "retrying", absl::Seconds(10)))
      << reverb->ReadStderr();

  ASSERT_TRUE((*nats)->Restart().ok());
  EXPECT_TRUE(WaitForLog(*reverb, "nats: connected", absl::Seconds(20)))
      << reverb->ReadStderr();
  ASSERT_TRUE(reverb->Terminate(SIGINT).ok());
  auto exit = reverb->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->Success()) << exit->ToString();
}

TEST(LifecycleTest, BadFlagsAreUsageErrors) {
  struct Case {
    std::string flags;  // Split at spaces.
    std::string error;
  };
  const Case cases[] = {
      {"--grace=soon", "grace: not a duration"},
      {"--ingest_threads=0", "ingest_threads must be 1-64"},
      {"--max_message_bytes=10", "max_message_bytes must be between"},
      {"--tempo_drift_share=0", "tempo_drift_share must be positive"},
      {"--log_level=loud", "log_level must be"},
      {"--cluster_id=a.b", "cluster_id must be 1-64 characters"},
      {"--nats_user=reverb", "nats_user and nats_password_file go together"},
      {"--nats_tls_cert=client.pem",
       "nats_tls_cert and nats_tls_key go together"},
      {"--nats_nkey=UABC", "nats_nkey and nats_nkey_seed_file go together"},
      {"--nats_creds_file=a.creds --nats_token_file=t",
       "give one way to authenticate to NATS"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flags);
    auto reverb = StartReverb(absl::StrSplit(c.flags, ' '));
    ASSERT_NE(reverb, nullptr);
    auto exit = reverb->Wait(absl::Seconds(30));
    ASSERT_TRUE(exit.ok()) << exit.status();
    EXPECT_TRUE(exit->exited);
    EXPECT_EQ(exit->code, 2);
    EXPECT_NE(reverb->ReadStderr().find(c.error), std::string::npos)
        << reverb->ReadStderr();
  }
}

TEST(LifecycleTest, VersionNamesTheProgramAndItsVersion) {
  SubprocessOptions options;
  options.argv = {REVERB_BINARY, "--version"};
  options.stdout_spec = test_support::OutputSpec::Capture();
  auto reverb = Subprocess::Start(options);
  ASSERT_TRUE(reverb.ok()) << reverb.status();
  auto exit = (*reverb)->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->Success()) << exit->ToString();
  EXPECT_EQ((*reverb)->ReadStdout(),
            absl::StrCat("reverb ", backbeat::Version(), "\n"));
}

TEST(LifecycleTest, BusyMetricsPortIsAClearError) {
  auto nats = NatsServer::Start();
  ASSERT_TRUE(nats.ok()) << nats.status();
  auto first = StartReverb(
      {"--nats_url=" + (*nats)->url(), "--metrics_address=127.0.0.1:0"});
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(WaitForLog(*first, "metrics: serving on", absl::Seconds(10)));
  std::string log = first->ReadStderr();
  size_t at = log.find("metrics: serving on 127.0.0.1:");
  ASSERT_NE(at, std::string::npos);
  std::string port = log.substr(at + 30, log.find('\n', at) - at - 30);

  auto second = StartReverb(
      {"--nats_url=" + (*nats)->url(), "--metrics_address=127.0.0.1:" + port});
  ASSERT_NE(second, nullptr);
  auto exit = second->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(exit->code, 1) << second->ReadStderr();
  EXPECT_NE(second->ReadStderr().find("start:"), std::string::npos);
}

// A private directory, removed with the object.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/reverb-lifecycle.XXXXXX";
    path_ = mkdtemp(tmpl) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Writes `text` to `name` and returns its path.
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(File(name)) << text;
    return File(name);
  }

 private:
  std::string path_;
};

// Runs openssl with `args`; true if it succeeded.
bool OpenSsl(std::vector<std::string> args) {
  SubprocessOptions options;
  options.argv = {"openssl"};
  options.argv.insert(options.argv.end(), args.begin(), args.end());
  options.stdout_spec = test_support::OutputSpec::Discard();
  options.stderr_spec = test_support::OutputSpec::Discard();
  auto process = Subprocess::Start(options);
  if (!process.ok()) {
    return false;
  }
  auto exit = (*process)->Wait(absl::Seconds(60));
  return exit.ok() && exit->Success();
}

// A test CA in `dir` (ca.pem) that signed `name`.pem / `name`.key for
// 127.0.0.1.
bool IssueCertificate(const TempDir& dir, const std::string& name) {
  if (!std::filesystem::exists(dir.File("ca.pem")) &&
      !OpenSsl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=reverb-test-ca", "-keyout", dir.File("ca.key"),
                "-out", dir.File("ca.pem")})) {
    return false;
  }
  std::string ext = dir.Write(name + ".ext", "subjectAltName=IP:127.0.0.1\n");
  return OpenSsl({"req", "-newkey", "rsa:2048", "-nodes", "-subj",
                  "/CN=127.0.0.1", "-keyout", dir.File(name + ".key"), "-out",
                  dir.File(name + ".csr")}) &&
         OpenSsl({"x509", "-req", "-days", "2", "-in", dir.File(name + ".csr"),
                  "-CA", dir.File("ca.pem"), "-CAkey", dir.File("ca.key"),
                  "-CAcreateserial", "-extfile", ext, "-out",
                  dir.File(name + ".pem")});
}

// Runs reverb with `args` against `nats` until it has subscribed, then stops
// it; the log if it did not get there.
std::string SubscribesWith(const NatsServer& nats, const std::string& url,
                           std::vector<std::string> args) {
  args.insert(args.end(),
              {"--nats_url=" + url, "--metrics_address=127.0.0.1:0"});
  auto reverb = StartReverb(args);
  if (reverb == nullptr) {
    return "reverb did not start";
  }
  bool subscribed = WaitForLog(*reverb, "nats: subscribed", absl::Seconds(10));
  std::string log = reverb->ReadStderr();
  reverb->Terminate(SIGTERM).IgnoreError();
  reverb->Wait(absl::Seconds(30)).IgnoreError();
  return subscribed ? "" : log + "\n" + nats.Log();
}

// Runs reverb with `args`; the exit code and log of a start that failed.
std::pair<int, std::string> FailsWith(const std::string& url,
                                      std::vector<std::string> args) {
  args.insert(args.end(),
              {"--nats_url=" + url, "--metrics_address=127.0.0.1:0"});
  auto reverb = StartReverb(args);
  if (reverb == nullptr) {
    return {-1, "reverb did not start"};
  }
  auto exit = reverb->Wait(absl::Seconds(30));
  return {exit.ok() && exit->exited ? exit->code : -1, reverb->ReadStderr()};
}

// A nats-server that admits user "reverb" with `password` only.
absl::StatusOr<std::unique_ptr<NatsServer>> StartNatsWithPassword(
    const std::string& password) {
  NatsServerOptions options;
  options.extra_args = {"--user", "reverb", "--pass", password};
  return NatsServer::Start(options);
}

TEST(LifecycleTest, UserAndPasswordComeFromAFile) {
  auto nats = StartNatsWithPassword("s3cret");
  ASSERT_TRUE(nats.ok()) << nats.status();
  TempDir dir;
  std::string good = dir.Write("password", "s3cret\n");
  std::string bad = dir.Write("wrong", "guess\n");
  const std::string url = (*nats)->url();

  EXPECT_EQ(
      SubscribesWith(**nats, url,
                     {"--nats_user=reverb", "--nats_password_file=" + good}),
      "");
  auto [code, log] =
      FailsWith(url, {"--nats_user=reverb", "--nats_password_file=" + bad});
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("Authorization Violation"), std::string::npos) << log;
  std::tie(code, log) = FailsWith(
      url, {"--nats_user=reverb", "--nats_password_file=" + dir.File("none")});
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("cannot read a line from"), std::string::npos) << log;
}

// A server that comes back refusing the credentials makes the client give
// up for good: Reverb says why and exits 1, for its supervisor to act on.
TEST(LifecycleTest, ExitsOneWhenTheClientGivesUp) {
  auto nats = StartNatsWithPassword("s3cret");
  ASSERT_TRUE(nats.ok()) << nats.status();
  TempDir dir;
  auto reverb =
      StartReverb({"--nats_url=" + (*nats)->url(),
                   "--metrics_address=127.0.0.1:0", "--nats_user=reverb",
                   "--nats_password_file=" + dir.Write("password", "s3cret")});
  ASSERT_NE(reverb, nullptr);
  ASSERT_TRUE(WaitForLog(*reverb, "nats: subscribed", absl::Seconds(10)))
      << reverb->ReadStderr();

  ASSERT_TRUE((*nats)->Restart({"--user", "reverb", "--pass", "changed"}).ok());
  auto exit = reverb->Wait(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status() << reverb->ReadStderr();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 1) << reverb->ReadStderr();
  EXPECT_NE(reverb->ReadStderr().find("shutdown: nats: connection closed: "
                                      "Authorization Violation"),
            std::string::npos)
      << reverb->ReadStderr();
}

TEST(LifecycleTest, TokenComesFromAFile) {
  NatsServerOptions options;
  options.extra_args = {"--auth", "t0ken"};
  auto nats = NatsServer::Start(options);
  ASSERT_TRUE(nats.ok()) << nats.status();
  TempDir dir;
  EXPECT_EQ(SubscribesWith(**nats, (*nats)->url(),
                           {"--nats_token_file=" + dir.Write("t", "t0ken")}),
            "");
  auto [code, log] = FailsWith((*nats)->url(), {});
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("Authorization Violation"), std::string::npos) << log;
}

// The test identities in tests/integration/nats_identities (generate.py).
std::string Identity(const std::string& name) {
  return std::string(NATS_IDENTITIES) + "/" + name;
}

// The first line of the file at `path`.
std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// A nats-server configured by `conf` from the test identities.
absl::StatusOr<std::unique_ptr<NatsServer>> StartNatsWithConfig(
    const std::string& conf) {
  NatsServerOptions options;
  options.extra_args = {"-c", Identity(conf)};
  return NatsServer::Start(options);
}

TEST(LifecycleTest, NKeySignsWithTheSeedFromAFile) {
  auto nats = StartNatsWithConfig("nkey.conf");
  ASSERT_TRUE(nats.ok()) << nats.status();
  const std::string url = (*nats)->url();
  const std::string nkey = "--nats_nkey=" + FirstLine(Identity("user.pub"));
  ASSERT_NE(nkey, "--nats_nkey=");

  EXPECT_EQ(
      SubscribesWith(**nats, url,
                     {nkey, "--nats_nkey_seed_file=" + Identity("user.nk")}),
      "");
  auto [code, log] = FailsWith(url, {});
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("Authorization Violation"), std::string::npos) << log;
  TempDir dir;
  std::tie(code, log) =
      FailsWith(url, {nkey, "--nats_nkey_seed_file=" + dir.File("none")});
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("cannot read a line from"), std::string::npos) << log;
}

TEST(LifecycleTest, CredsFileSignsInUnderAnOperator) {
  auto nats = StartNatsWithConfig("operator.conf");
  ASSERT_TRUE(nats.ok()) << nats.status();
  const std::string url = (*nats)->url();

  EXPECT_EQ(SubscribesWith(**nats, url,
                           {"--nats_creds_file=" + Identity("user.creds")}),
            "");
  auto [code, log] = FailsWith(url, {});
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("Authorization Violation"), std::string::npos) << log;
  std::tie(code, log) =
      FailsWith(url, {"--nats_creds_file=" + Identity("user.pub")});
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("is not a NATS .creds file"), std::string::npos) << log;
}

TEST(LifecycleTest, TlsVerifiesTheServerAgainstTheGivenCa) {
  TempDir dir;
  ASSERT_TRUE(IssueCertificate(dir, "server"));
  NatsServerOptions options;
  options.extra_args = {"--tls", "--tlscert", dir.File("server.pem"),
                        "--tlskey", dir.File("server.key")};
  auto nats = NatsServer::Start(options);
  ASSERT_TRUE(nats.ok()) << nats.status();
  const std::string url = absl::StrCat("tls://127.0.0.1:", (*nats)->port());

  EXPECT_EQ(
      SubscribesWith(**nats, url, {"--nats_tls_ca=" + dir.File("ca.pem")}), "");
  auto [code, log] = FailsWith(url, {});  // The system CAs do not know it.
  EXPECT_EQ(code, 1) << log;
  EXPECT_NE(log.find("SSL"), std::string::npos) << log;
}

TEST(LifecycleTest, TlsClientCertificateIsPresented) {
  TempDir dir;
  ASSERT_TRUE(IssueCertificate(dir, "server"));
  ASSERT_TRUE(IssueCertificate(dir, "client"));
  NatsServerOptions options;
  options.extra_args = {
      "--tlsverify",          "--tlscert",   dir.File("server.pem"), "--tlskey",
      dir.File("server.key"), "--tlscacert", dir.File("ca.pem")};
  auto nats = NatsServer::Start(options);
  ASSERT_TRUE(nats.ok()) << nats.status();
  const std::string url = (*nats)->url();
  const std::string ca = "--nats_tls_ca=" + dir.File("ca.pem");

  EXPECT_EQ(SubscribesWith(**nats, url,
                           {ca, "--nats_tls_cert=" + dir.File("client.pem"),
                            "--nats_tls_key=" + dir.File("client.key")}),
            "");
  auto [code, log] = FailsWith(url, {ca});
  EXPECT_EQ(code, 1) << log;
}

}  // namespace
}  // namespace backbeat::reverb
