// CallBudget: how many calls may run at once across every connection of a server — the limit
// that keeps a crowd of ordinary clients (or one hostile peer with many connections) from
// spending a server's fibers and memory. At the budget a new stream is refused with
// kResourceExhausted "server busy: ..." (an Error packet; the connection and every running call go
// on), so other connections stay served.
//
//   CallBudget budget(tunables::kServerCallsDefaultMaxCount);
//   Server a(reactor0.env(), router, options, &budget);   // Servers on several reactors
//   Server b(reactor1.env(), router, options, &budget);   // share one budget
//
// Thread-safe (unlike the rest of impl/): the Servers of a TcpServer run on different reactor
// threads and share one budget. Acquiring never blocks.
#ifndef DRPC_IMPL_CALL_BUDGET_H_
#define DRPC_IMPL_CALL_BUDGET_H_

#include <atomic>
#include <cstddef>

namespace drpc {

class CallBudget {
 public:
  // max_count >= 1.
  explicit CallBudget(size_t max_count);
  ~CallBudget();  // requires every acquired call to have been released
  CallBudget(const CallBudget&) = delete;
  CallBudget& operator=(const CallBudget&) = delete;

  // Takes one call from the budget; false (nothing taken) when max_count calls are running.
  bool TryAcquire();
  // Gives back a call taken by TryAcquire.
  void Release();

  size_t in_use() const { return in_use_.load(std::memory_order_relaxed); }
  size_t max_count() const { return max_count_; }

 private:
  const size_t max_count_;
  std::atomic<size_t> in_use_{0};
};

}  // namespace drpc

#endif  // DRPC_IMPL_CALL_BUDGET_H_
