#include "reverb/message_release.h"

#include <utility>

namespace backbeat::reverb {

MessageReleaser::MessageReleaser(size_t max_pending)
    : max_pending_(max_pending), thread_([this] { Run(); }) {}

MessageReleaser::~MessageReleaser() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void MessageReleaser::HandOver(std::vector<natsMsg*>* batch) {
  if (batch->empty()) {
    return;
  }
  bool was_empty = false;
  bool taken = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pending_.size() < max_pending_) {
      was_empty = pending_.empty();
      pending_.insert(pending_.end(), batch->begin(), batch->end());
      taken = true;
    }
  }
  if (!taken) {
    overflowed_.fetch_add(1);
    Destroy(*batch);
  }
  batch->clear();
  if (was_empty) {
    wake_.notify_one();
  }
}

void MessageReleaser::Destroy(const std::vector<natsMsg*>& messages) {
  for (natsMsg* msg : messages) {
    natsMsg_Destroy(msg);
  }
  released_.fetch_add(static_cast<int64_t>(messages.size()));
}

// Takes everything pending at once and destroys it outside the lock; stops
// only once nothing is left.
void MessageReleaser::Run() {
  std::vector<natsMsg*> taken;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) {
        return;  // Stopping, and nothing left.
      }
      taken.swap(pending_);
    }
    Destroy(taken);
    taken.clear();
  }
}

ReleaseBatch::ReleaseBatch(MessageReleaser* releaser) : releaser_(releaser) {
  held_.reserve(kMaxMessages);
}

void ReleaseBatch::Add(natsMsg* msg) {
  held_.push_back(msg);
  bytes_ += static_cast<size_t>(natsMsg_GetDataLength(msg));
  if (held_.size() >= kMaxMessages || bytes_ >= kMaxBytes) {
    Flush();
  }
}

void ReleaseBatch::Flush() {
  releaser_->HandOver(&held_);
  bytes_ = 0;
}

}  // namespace backbeat::reverb
