#include "impl/call_budget.h"

#include "proto/base/check.h"

namespace drpc {

CallBudget::CallBudget(size_t max_count) : max_count_(max_count) {
  DRPC_CHECK_GE(max_count_, 1u);
}

CallBudget::~CallBudget() {
  DRPC_CHECK_EQ(in_use_.load(), 0u) << "call budget destroyed while calls hold it";
}

bool CallBudget::TryAcquire() {
  size_t n = in_use_.load(std::memory_order_relaxed);
  do {
    if (n >= max_count_) return false;
  } while (!in_use_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
  return true;
}

void CallBudget::Release() {
  const size_t before = in_use_.fetch_sub(1, std::memory_order_relaxed);
  DRPC_CHECK_GT(before, 0u) << "call budget released more often than acquired";
}

}  // namespace drpc
