#include "reverb/release_batch.h"

#include <string>

#include "gtest/gtest.h"

namespace backbeat::reverb {
namespace {

// The library must be open for cnats to free messages.
class ReleaseBatchTest : public ::testing::Test {
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

TEST_F(ReleaseBatchTest, DestroysOnceFullByCount) {
  ReleaseBatch batch;
  for (size_t i = 0; i + 1 < ReleaseBatch::kMaxMessages; ++i) {
    batch.Add(NewMessage(16));
  }
  EXPECT_EQ(batch.held(), ReleaseBatch::kMaxMessages - 1);
  batch.Add(NewMessage(16));
  EXPECT_EQ(batch.held(), 0u);
}

TEST_F(ReleaseBatchTest, DestroysOnceFullByBytes) {
  ReleaseBatch batch;
  const size_t size = ReleaseBatch::kMaxBytes / 4;
  for (int i = 0; i < 3; ++i) batch.Add(NewMessage(size));
  EXPECT_EQ(batch.held(), 3u);
  batch.Add(NewMessage(size));
  EXPECT_EQ(batch.held(), 0u);
}

// What is still held goes at Release and at destruction (the sanitizer
// build would report a leak otherwise).
TEST_F(ReleaseBatchTest, ReleasesTheRest) {
  ReleaseBatch batch;
  batch.Add(NewMessage(16));
  batch.Add(NewMessage(16));
  batch.Release();
  EXPECT_EQ(batch.held(), 0u);
  batch.Add(NewMessage(16));
  EXPECT_EQ(batch.held(), 1u);
}

}  // namespace
}  // namespace backbeat::reverb
