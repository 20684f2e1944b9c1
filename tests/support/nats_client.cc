#include "tests/support/nats_client.h"

#include "absl/strings/str_cat.h"
#include "common/nats_status.h"

namespace backbeat::test_support {

Inbox::Inbox(natsSubscription* subscription) : subscription_(subscription) {}

Inbox::~Inbox() {
  natsSubscription_Unsubscribe(subscription_);
  natsSubscription_Destroy(subscription_);
}

bool Inbox::Pull(absl::Duration timeout) {
  int64_t ms = std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout));
  natsMsg* message = nullptr;
  if (natsSubscription_NextMsg(&message, subscription_, ms) != NATS_OK) {
    return false;
  }
  const char* data = natsMsg_GetData(message);
  messages_.push_back(
      {natsMsg_GetSubject(message),
       std::string(data, static_cast<size_t>(natsMsg_GetDataLength(message)))});
  natsMsg_Destroy(message);
  return true;
}

std::vector<ReceivedMessage> Inbox::WaitFor(size_t count,
                                            absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (messages_.size() < count) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      break;
    }
    Pull(left);
  }
  return messages_;
}

std::vector<ReceivedMessage> Inbox::Drain(absl::Duration period) {
  absl::Time deadline = absl::Now() + period;
  for (absl::Duration left = period; left > absl::ZeroDuration();
       left = deadline - absl::Now()) {
    Pull(left);
  }
  return messages_;
}

absl::StatusOr<std::unique_ptr<TestNatsClient>> TestNatsClient::Connect(
    const std::string& url) {
  natsOptions* options = nullptr;
  natsStatus s = natsOptions_Create(&options);
  if (s == NATS_OK) {
    s = natsOptions_SetURL(options, url.c_str());
  }
  if (s == NATS_OK) {
    s = natsOptions_SetAllowReconnect(options, false);
  }
  natsConnection* connection = nullptr;
  if (s == NATS_OK) {
    s = natsConnection_Connect(&connection, options);
  }
  natsOptions_Destroy(options);
  if (s != NATS_OK) {
    return NatsStatus(s, absl::StrCat("connect ", url));
  }
  return std::unique_ptr<TestNatsClient>(new TestNatsClient(connection));
}

TestNatsClient::TestNatsClient(natsConnection* connection)
    : connection_(connection) {}

TestNatsClient::~TestNatsClient() {
  inboxes_.clear();
  natsConnection_Destroy(connection_);
}

absl::Status TestNatsClient::Publish(const std::string& subject,
                                     absl::string_view data) {
  return NatsStatus(
      natsConnection_Publish(connection_, subject.c_str(), data.data(),
                             static_cast<int>(data.size())),
      absl::StrCat("publish ", subject));
}

absl::Status TestNatsClient::Flush(absl::Duration timeout) {
  return NatsStatus(natsConnection_FlushTimeout(
                        connection_, absl::ToInt64Milliseconds(timeout)),
                    "flush");
}

absl::StatusOr<Inbox*> TestNatsClient::Subscribe(const std::string& subject) {
  natsSubscription* subscription = nullptr;
  natsStatus s =
      natsConnection_SubscribeSync(&subscription, connection_, subject.c_str());
  if (s == NATS_OK) {
    // Tests may collect many messages before reading them.
    s = natsSubscription_SetPendingLimits(subscription, 1 << 20, 256 << 20);
  }
  if (s != NATS_OK) {
    natsSubscription_Destroy(subscription);
    return NatsStatus(s, absl::StrCat("subscribe ", subject));
  }
  inboxes_.push_back(std::unique_ptr<Inbox>(new Inbox(subscription)));
  if (absl::Status flushed = Flush(); !flushed.ok()) {
    return flushed;
  }
  return inboxes_.back().get();
}

}  // namespace backbeat::test_support
