#include "common/nats_status.h"

#include "gtest/gtest.h"

namespace backbeat {
namespace {

TEST(NatsStatusTest, UrlsLoseTheirCredentialsForLogs) {
  const struct {
    const char* in;
    const char* out;
  } cases[] = {
      {"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
      {"nats://user:pass@host:4222", "nats://***@host:4222"},
      {"tls://t0ken@host", "tls://***@host"},
      {"a:b@host:1,nats://c@d:2,nats://e:3",
       "***@host:1,nats://***@d:2,"
       "nats://e:3"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(RedactNatsUrls(c.in), c.out) << c.in;
  }
}

TEST(NatsStatusTest, StatusNamesWhatFailed) {
  EXPECT_TRUE(NatsStatus(NATS_OK, "x").ok());
  absl::Status s = NatsStatus(NATS_NO_SERVER, "connect to here");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("connect to here: "), absl::string_view::npos);
}

}  // namespace
}  // namespace backbeat
