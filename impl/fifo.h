// Fifo: a first-in first-out queue on a power-of-two ring with its first slot inline, for the
// per-stream and per-primitive queues of impl/ (fiber wait lists, receive queues). std::deque
// allocates a 512-byte block and a map on construction, which made every idle stream and every
// unary call pay for queues that usually stay empty; and most of these queues never hold more
// than one element at a time (a unary call's one message, the one fiber waiting for it), so the
// ring spills to the heap only beyond its kInlineCount inline slots (1 or 2: a queue that
// usually holds a pair, like a stream's metadata and Invoke, keeps two).
//
//   Fifo<Fiber*> waiters;
//   waiters.push_back(f);
//   Fiber* next = waiters.front();
//   waiters.pop_front();
//
// Not thread-safe (like everything a scheduler's fibers share). Elements must be
// default-constructible and movable; a popped slot is reset to T() at once, so it holds no
// resources. Capacity doubles as needed (kInlineCount inline; then 4, 8, ... on the heap) and
// is kept while the queue is in use; a queue that empties with more than kKeepMaxCount slots
// gives them back and is inline again.
#ifndef DRPC_IMPL_FIFO_H_
#define DRPC_IMPL_FIFO_H_

#include <cstddef>
#include <memory>
#include <utility>

#include "proto/base/check.h"

namespace drpc {

template <typename T, size_t kInlineCount = 1>
class Fifo {
  static_assert(kInlineCount == 1 || kInlineCount == 2, "a power of two below the first heap ring");

 public:
  // Slots kept by a queue that just emptied; beyond this they are freed.
  static constexpr size_t kKeepMaxCount = 1024;

  Fifo() = default;
  Fifo(const Fifo&) = delete;
  Fifo& operator=(const Fifo&) = delete;

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  // kInlineCount (the inline slots) or the heap ring's power of two.
  size_t capacity() const { return capacity_; }
  // Whether the slots are on the heap (the queue once held more than kInlineCount elements).
  bool spilled() const { return heap_ != nullptr; }

  T& front() {
    DRPC_DCHECK(size_ > 0);
    return slots_[head_];
  }
  const T& front() const {
    DRPC_DCHECK(size_ > 0);
    return slots_[head_];
  }
  // The i-th element from the front.
  T& operator[](size_t i) {
    DRPC_DCHECK(i < size_);
    return slots_[(head_ + i) & (capacity_ - 1)];
  }
  const T& operator[](size_t i) const {
    DRPC_DCHECK(i < size_);
    return slots_[(head_ + i) & (capacity_ - 1)];
  }

  void push_back(T value) {
    if (size_ == capacity_) Grow();
    slots_[(head_ + size_) & (capacity_ - 1)] = std::move(value);
    ++size_;
  }

  void pop_front() {
    DRPC_DCHECK(size_ > 0);
    slots_[head_] = T();
    head_ = (head_ + 1) & (capacity_ - 1);
    if (--size_ == 0) Emptied();
  }

  // Removes the first element equal to `value`, keeping the order of the others. False if none.
  bool EraseFirst(const T& value) {
    for (size_t i = 0; i < size_; ++i) {
      if ((*this)[i] == value) {
        for (size_t j = i; j + 1 < size_; ++j) (*this)[j] = std::move((*this)[j + 1]);
        (*this)[size_ - 1] = T();
        if (--size_ == 0) Emptied();
        return true;
      }
    }
    return false;
  }

  void clear() {
    for (size_t i = 0; i < size_; ++i) (*this)[i] = T();
    size_ = 0;
    Emptied();
  }

  // Frees the heap slots of an empty queue (one that is usually empty, and whose owners are
  // many: it then costs nothing but its inline slot while it waits). No-op when not empty.
  void ReleaseIfEmpty() {
    if (size_ != 0) return;
    Unspill();
    head_ = 0;
  }

 private:
  void Grow() {
    const size_t capacity = heap_ == nullptr ? 4 : 2 * capacity_;
    std::unique_ptr<T[]> heap(new T[capacity]);
    for (size_t i = 0; i < size_; ++i) heap[i] = std::move((*this)[i]);
    if (heap_ == nullptr) {
      for (T& slot : inline_) slot = T();
    }
    heap_ = std::move(heap);
    slots_ = heap_.get();
    capacity_ = capacity;
    head_ = 0;
  }

  void Emptied() {
    head_ = 0;
    if (capacity_ > kKeepMaxCount) Unspill();
  }

  void Unspill() {
    heap_.reset();
    slots_ = inline_;
    capacity_ = kInlineCount;
  }

  T inline_[kInlineCount]{};
  std::unique_ptr<T[]> heap_;
  T* slots_ = inline_;    // inline_ or heap_
  size_t capacity_ = kInlineCount;  // a power of two
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_FIFO_H_
