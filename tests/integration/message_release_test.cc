#include "reverb/message_release.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace backbeat::reverb {
namespace {

// The library must be open for cnats to free messages. Every test ends
// with nothing left allocated, which the sanitizer build checks.
class MessageReleaseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ASSERT_EQ(nats_Open(-1), NATS_OK); }
};

natsMsg* NewMessage(size_t bytes) {
  std::string data(bytes, 'x');
  natsMsg* msg = nullptr;
  EXPECT_EQ(natsMsg_Create(&msg, "test.subject", nullptr, data.data(),
                           static_cast<int>(data.size())),
            NATS_OK);
  return msg;
}

// Waits, bounded, for the releaser to have destroyed `count` messages.
bool WaitReleased(const MessageReleaser& releaser, int64_t count) {
  for (int i = 0; i < 5000 && releaser.released() < count; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return releaser.released() == count;
}

TEST_F(MessageReleaseTest, BatchHandsOverOnceFullByCount) {
  MessageReleaser releaser;
  ReleaseBatch batch(&releaser);
  for (size_t i = 0; i + 1 < ReleaseBatch::kMaxMessages; ++i) {
    batch.Add(NewMessage(16));
  }
  EXPECT_EQ(batch.held(), ReleaseBatch::kMaxMessages - 1);
  EXPECT_EQ(releaser.released(), 0);
  batch.Add(NewMessage(16));
  EXPECT_EQ(batch.held(), 0u);
  EXPECT_TRUE(WaitReleased(releaser, ReleaseBatch::kMaxMessages));
}

TEST_F(MessageReleaseTest, BatchHandsOverOnceFullByBytes) {
  MessageReleaser releaser;
  ReleaseBatch batch(&releaser);
  const size_t size = ReleaseBatch::kMaxBytes / 4;
  for (int i = 0; i < 3; ++i) {
    batch.Add(NewMessage(size));
  }
  EXPECT_EQ(batch.held(), 3u);
  batch.Add(NewMessage(size));
  EXPECT_EQ(batch.held(), 0u);
  EXPECT_TRUE(WaitReleased(releaser, 4));
}

TEST_F(MessageReleaseTest, BatchHandsOverTheRestWhenItGoes) {
  MessageReleaser releaser;
  {
    ReleaseBatch batch(&releaser);
    batch.Add(NewMessage(16));
    batch.Add(NewMessage(16));
  }
  EXPECT_TRUE(WaitReleased(releaser, 2));
}

TEST_F(MessageReleaseTest, ReleaserTakesFromManyThreads) {
  MessageReleaser releaser;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&releaser] {
      ReleaseBatch batch(&releaser);
      for (int i = 0; i < 3000; ++i) {
        batch.Add(NewMessage(8));
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_TRUE(WaitReleased(releaser, 12000));
}

// With no room left for pending messages, the caller destroys its batch
// itself, and that is counted.
TEST_F(MessageReleaseTest, OverflowIsDestroyedByTheCallerAndCounted) {
  MessageReleaser releaser(/*max_pending=*/0);
  std::vector<natsMsg*> batch = {NewMessage(8), NewMessage(8)};
  releaser.HandOver(&batch);
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(releaser.released(), 2);  // Already, on this thread.
  EXPECT_EQ(releaser.overflowed_batches(), 1);
}

// What is still pending when the releaser goes is destroyed before its
// destructor returns (the sanitizer build reports a leak otherwise).
TEST_F(MessageReleaseTest, ReleaserDestroysWhatIsPendingWhenItGoes) {
  auto releaser = std::make_unique<MessageReleaser>();
  std::vector<natsMsg*> batch;
  for (int i = 0; i < 5000; ++i) {
    batch.push_back(NewMessage(8));
  }
  releaser->HandOver(&batch);
  EXPECT_TRUE(batch.empty());
  releaser.reset();
}

}  // namespace
}  // namespace backbeat::reverb
