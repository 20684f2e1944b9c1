// Destroying received NATS messages in batches.
//
// cnats frees a destroyed message on its collector thread, and wakes that
// thread whenever it is asleep: once per message when messages arrive one
// at a time, which at hundreds of thousands of claims a second costs more
// than reading them. A ReleaseBatch holds the messages one subscription is
// done with and destroys them together, so the collector wakes once per
// batch. What it holds is bounded in count and in bytes.
#pragma once

#include <nats/nats.h>

#include <cstddef>
#include <vector>

namespace backbeat::reverb {

// Not thread-safe: one per subscription, used by its delivery thread.
class ReleaseBatch {
 public:
  static constexpr size_t kMaxMessages = 1024;
  static constexpr size_t kMaxBytes = 1 << 20;

  ReleaseBatch() { held_.reserve(kMaxMessages); }
  ~ReleaseBatch() { Release(); }
  ReleaseBatch(const ReleaseBatch&) = delete;
  ReleaseBatch& operator=(const ReleaseBatch&) = delete;

  // Takes `msg`; destroys the batch once it reaches either bound.
  void Add(natsMsg* msg) {
    held_.push_back(msg);
    bytes_ += static_cast<size_t>(natsMsg_GetDataLength(msg));
    if (held_.size() >= kMaxMessages || bytes_ >= kMaxBytes) {
      Release();
    }
  }

  // Destroys every message held.
  void Release() {
    for (natsMsg* msg : held_) {
      natsMsg_Destroy(msg);
    }
    held_.clear();
    bytes_ = 0;
  }

  size_t held() const { return held_.size(); }

 private:
  std::vector<natsMsg*> held_;
  size_t bytes_ = 0;
};

}  // namespace backbeat::reverb
