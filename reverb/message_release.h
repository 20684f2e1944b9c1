// Destroying received NATS messages off the claim path.
//
// cnats frees a destroyed message on its collector thread: each destroy
// takes the collector's lock and wakes it whenever it is asleep, which at
// hundreds of thousands of claims a second costs the delivery thread more
// than reading the claims does. Instead, each subscription gathers the
// messages it is done with in a ReleaseBatch, and hands them over a batch
// at a time (one lock per batch) to a MessageReleaser, whose own thread
// destroys them.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace backbeat::reverb {

// Thread-safe. Destroys what it is handed on its own thread. At most
// `max_pending` messages wait for it; past that, HandOver destroys the
// batch on the caller's thread (and counts it), so memory stays bounded if
// the releaser is starved of CPU.
class MessageReleaser {
 public:
  static constexpr size_t kMaxPending = 64 * 1024;

  explicit MessageReleaser(size_t max_pending = kMaxPending);
  // Destroys every message handed over, then stops the thread.
  ~MessageReleaser();
  MessageReleaser(const MessageReleaser&) = delete;
  MessageReleaser& operator=(const MessageReleaser&) = delete;

  // Takes every message in `*batch` and leaves it empty.
  void HandOver(std::vector<natsMsg*>* batch);

  // Messages destroyed so far.
  int64_t released() const { return released_.load(); }
  // Batches HandOver destroyed itself because too many were pending.
  int64_t overflowed_batches() const { return overflowed_.load(); }

 private:
  void Run();
  void Destroy(const std::vector<natsMsg*>& messages);

  const size_t max_pending_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<natsMsg*> pending_;  // Guarded by mu_.
  bool stopping_ = false;          // Guarded by mu_.
  std::atomic<int64_t> released_{0};
  std::atomic<int64_t> overflowed_{0};
  std::thread thread_;
};

// The messages one subscription is done with. Not thread-safe: used by the
// subscription's delivery thread. What it holds is bounded in count and in
// bytes; past either bound it hands the batch to the releaser.
class ReleaseBatch {
 public:
  static constexpr size_t kMaxMessages = 1024;
  static constexpr size_t kMaxBytes = 1 << 20;

  explicit ReleaseBatch(MessageReleaser* releaser);
  ~ReleaseBatch() { Flush(); }
  ReleaseBatch(const ReleaseBatch&) = delete;
  ReleaseBatch& operator=(const ReleaseBatch&) = delete;

  // Takes `msg`.
  void Add(natsMsg* msg);
  // Hands over whatever is held.
  void Flush();

  size_t held() const { return held_.size(); }

 private:
  MessageReleaser* releaser_;
  std::vector<natsMsg*> held_;
  size_t bytes_ = 0;
};

}  // namespace backbeat::reverb
