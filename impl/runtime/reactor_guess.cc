// Reactor's reply guesses (see Reactor::ExpectInput in reactor.h): the list of descriptors a
// reply is expected on, the wake-ups that replace an epoll_wait, and the back-off of guesses that
// keep finding nothing. Loop-thread state only, like the rest of the reactor.
#include <algorithm>
#include <cstdint>

#include "impl/runtime/reactor.h"
#include "impl/tunables.h"

namespace drpc::runtime {

bool Reactor::WakeExpectedReaders() {
  bool woke = false;
  IoWaiters* next = nullptr;
  for (IoWaiters* w = expect_head_; w != nullptr; w = next) {
    next = w->expect_next;
    // Nothing was written here since its own write: a peer on this thread has not answered.
    if (w->expect_write == writes_) continue;
    Unlist(*w);
    w->woken_by_guess = true;
    ++stats_.guesses;
    if (w->reader == nullptr) {
      w->input_seen = true;  // busy elsewhere: its next read recvs before it waits
      continue;
    }
    Unpark(w->reader);
    woke = true;
  }
  return woke;
}

void Reactor::Unlist(IoWaiters& waiters) {
  if (waiters.expect_prev != nullptr) {
    waiters.expect_prev->expect_next = waiters.expect_next;
  } else {
    expect_head_ = waiters.expect_next;
  }
  if (waiters.expect_next != nullptr) {
    waiters.expect_next->expect_prev = waiters.expect_prev;
  } else {
    expect_tail_ = waiters.expect_prev;
  }
  waiters.expect_prev = waiters.expect_next = nullptr;
  waiters.expect_listed = false;
}

void Reactor::ExpectInput(IoWaiters& waiters) {
  ++writes_;
  if (waiters.guess_skip_count > 0) {
    --waiters.guess_skip_count;
    return;
  }
  waiters.expect_write = writes_;
  if (waiters.expect_listed) return;
  waiters.expect_listed = true;
  waiters.expect_prev = expect_tail_;
  waiters.expect_next = nullptr;
  if (expect_tail_ != nullptr) {
    expect_tail_->expect_next = &waiters;
  } else {
    expect_head_ = &waiters;
  }
  expect_tail_ = &waiters;
}

void Reactor::ForgetInput(IoWaiters& waiters) {
  if (waiters.expect_listed) Unlist(waiters);
}

void Reactor::ReportGuess(IoWaiters& waiters, bool found) {
  waiters.woken_by_guess = false;
  if (found) {
    waiters.guess_backoff_count = 0;
    return;
  }
  ++stats_.guesses_missed;
  waiters.guess_backoff_count = waiters.guess_backoff_count == 0
                                    ? 1
                                    : std::min<uint8_t>(waiters.guess_backoff_count * 2,
                                                        tunables::kReadGuessBackoffMaxCount);
  waiters.guess_skip_count = waiters.guess_backoff_count;
}

}  // namespace drpc::runtime
