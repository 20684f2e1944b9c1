// A small cnats client for tests: connect, publish bytes, subscribe and
// collect messages with a bounded wait.
//
// Not thread-safe: use a TestNatsClient and its inboxes from one thread.
#pragma once

#include <nats/nats.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace backbeat::test_support {

struct ReceivedMessage {
  std::string subject;
  std::string data;
};

// Messages of one subscription, pulled from cnats as the test waits.
// Owned by the TestNatsClient that made it.
class Inbox {
 public:
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;
  ~Inbox();

  // Waits until at least `count` messages have arrived in total, or
  // `timeout` has passed, and returns every message received so far.
  std::vector<ReceivedMessage> WaitFor(size_t count, absl::Duration timeout);

  // Collects whatever arrives within `period` and returns all messages.
  std::vector<ReceivedMessage> Drain(absl::Duration period);

  const std::vector<ReceivedMessage>& messages() const { return messages_; }

 private:
  friend class TestNatsClient;
  explicit Inbox(natsSubscription* subscription);
  bool Pull(absl::Duration timeout);

  natsSubscription* subscription_;
  std::vector<ReceivedMessage> messages_;
};

class TestNatsClient {
 public:
  // Connects to `url` (no reconnection: a test sees failures directly).
  static absl::StatusOr<std::unique_ptr<TestNatsClient>> Connect(
      const std::string& url);

  TestNatsClient(const TestNatsClient&) = delete;
  TestNatsClient& operator=(const TestNatsClient&) = delete;
  ~TestNatsClient();  // Destroys the inboxes, then the connection.

  absl::Status Publish(const std::string& subject, absl::string_view data);

  // Round trip to the server: everything published before has reached it.
  absl::Status Flush(absl::Duration timeout = absl::Seconds(5));

  // Subscribes (wildcards allowed) and flushes, so that messages published
  // by anyone after this returns are delivered. The inbox is owned by this
  // client and valid until it is destroyed.
  absl::StatusOr<Inbox*> Subscribe(const std::string& subject);

 private:
  explicit TestNatsClient(natsConnection* connection);

  natsConnection* connection_;
  std::vector<std::unique_ptr<Inbox>> inboxes_;
};

}  // namespace backbeat::test_support
