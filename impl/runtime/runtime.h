// Runtime: the production runtime — N reactor threads (impl/runtime/reactor.h), each running
// fibers over epoll and the real monotonic clock, and the thread-safe way in for application
// threads.
//
//   absl::StatusOr<std::unique_ptr<Runtime>> rt = Runtime::Start({.reactor_count = 2});
//   // From any application thread: run a function on a fiber of reactor 0 and wait for its result.
//   absl::StatusOr<std::string> reply = (*rt)->Run(0, [&](Reactor& r) -> absl::StatusOr<std::string> {
//     absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, "127.0.0.1:7777");
//     ... Conn::Create(r.env(), *std::move(t)) ... Invoke ... Close ...
//   });
//   (*rt)->Post(1, [](Reactor& r) { ... fire and forget ... });
//   (*rt)->Stop();   // joins the threads
//
// Pinning: an object built on reactor i's Env (a Conn, a Server, a transport) lives on reactor i
// for good; only its fibers touch it, so the hot path never crosses threads. Spread work by
// choosing the reactor (e.g. NextReactorIndex() round-robin); hand results between reactors by
// posting a function to the reactor that owns the receiving object.
#ifndef DRPC_IMPL_RUNTIME_RUNTIME_H_
#define DRPC_IMPL_RUNTIME_RUNTIME_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "impl/runtime/reactor.h"

namespace drpc::runtime {

struct RuntimeOptions {
  // Reactor threads; 0 = one per CPU the process may run on.
  size_t reactor_count = 0;
  // Pin reactor i to the i-th CPU of the process's affinity mask (round-robin if fewer CPUs).
  bool pin_threads = false;
  ReactorOptions reactor;
};

namespace runtime_internal {
// Application threads wait on this for work that finishes on reactors.
class Latch {
 public:
  explicit Latch(size_t count) : count_(count) {}
  void CountDown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (count_ > 0 && --count_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return count_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t count_;
};
}  // namespace runtime_internal

class Runtime {
 public:
  // Creates the reactors and starts one thread per reactor.
  static absl::StatusOr<std::unique_ptr<Runtime>> Start(RuntimeOptions options = {});
  ~Runtime();  // Stop()
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  size_t reactor_count() const { return reactors_.size(); }
  Reactor& reactor(size_t index) { return *reactors_.at(index); }
  // A reactor index for new work, round-robin. Thread-safe.
  size_t NextReactorIndex() { return next_.fetch_add(1, std::memory_order_relaxed) % reactors_.size(); }

  // Runs fn(reactor) on a new fiber of reactor `index`. Thread-safe; never blocks (see
  // Reactor::Post: kResourceExhausted when its inbox is full, kFailedPrecondition once stopped).
  absl::Status Post(size_t index, absl::AnyInvocable<void(Reactor&)> fn);
  // Like Post, but waits for room in a full inbox. Application threads only.
  absl::Status PostWaiting(size_t index, absl::AnyInvocable<void(Reactor&)> fn);

  // Runs fn(reactor) on a new fiber of reactor `index`, blocks the calling thread until fn
  // returns, and returns fn's result. fn returns absl::Status or absl::StatusOr<T>; if the runtime
  // stops before fn starts, or the reactor has no fiber stack for it, the result is kCancelled
  // (kFailedPrecondition if already stopped).
  // Waits for room when the reactor's inbox is full. Must not be called on a reactor thread (it
  // would wait for itself), and fn must return before Stop() (Stop abandons parked fibers, and
  // the caller would then wait for ever).
  template <typename F>
  std::invoke_result_t<F&, Reactor&> Run(size_t index, F fn);

  // Stops every reactor (see Reactor::Loop for what happens to unfinished work) and joins the
  // threads. Idempotent. Not on a reactor thread.
  void Stop();

 private:
  Runtime() = default;

  std::vector<std::unique_ptr<Reactor>> reactors_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
  std::mutex stop_mu_;
  bool stopped_ = false;  // guarded by stop_mu_
};

template <typename F>
std::invoke_result_t<F&, Reactor&> Runtime::Run(size_t index, F fn) {
  using R = std::invoke_result_t<F&, Reactor&>;
  static_assert(std::is_constructible_v<R, absl::Status>,
                "Runtime::Run: fn must return absl::Status or absl::StatusOr<T>");
  struct State {
    runtime_internal::Latch done{1};
    std::optional<R> result;
  };
  // Finishes the call when the closure is destroyed: after fn ran, or unrun if the reactor
  // stopped first.
  struct Guard {
    std::shared_ptr<State> state;
    explicit Guard(std::shared_ptr<State> s) : state(std::move(s)) {}
    Guard(Guard&&) = default;
    ~Guard() {
      if (state == nullptr) return;
      if (!state->result.has_value()) {
        state->result.emplace(R(absl::CancelledError(
            "the call never ran: the runtime stopped first, or the reactor had no fiber stack")));
      }
      state->done.CountDown();
    }
  };
  auto state = std::make_shared<State>();
  absl::Status posted =
      PostWaiting(index, [guard = Guard(state), fn = std::move(fn)](Reactor& r) mutable {
        guard.state->result.emplace(fn(r));
      });
  if (!posted.ok()) return R(posted);
  state->done.Wait();
  return std::move(*state->result);
}

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_RUNTIME_H_
