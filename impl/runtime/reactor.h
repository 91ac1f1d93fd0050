// A Reactor: the production implementation of Clock and Scheduler (impl/env.h) for one OS thread —
// fibers on pooled stacks, timers ordered by (deadline, sequence), and an epoll loop that wakes
// fibers parked on socket readiness. Its Chaos is NoChaos. The timer queue and each fiber's
// park/permit state are the simulator's own code (impl/fiber/timer_queue.h,
// impl/fiber/fiber_state.h); this class adds the real clock, epoll and the thread checks.
//
//   // on an application thread (thread-safe):
//   reactor.Post([&] { ... runs on a new fiber of the reactor ... });
//   // on a fiber of the reactor:
//   Conn::Create(reactor.env(), std::move(transport));
//
// Threading contract. A Reactor's loop runs on one thread (Runtime starts it). Everything here
// except Post(), RequestStop() and index() must be called on that thread: from its fibers, its
// timer callbacks, or code they call. Objects of impl/ built on `env()` belong to this reactor.
// The one way in from other threads is Post(), which appends to a bounded, mutex-protected inbox
// and wakes the loop through an eventfd; the posted function then runs on a new fiber.
//
// Loop order per iteration: run the fibers that are runnable now (FIFO; fibers made runnable by
// them wait for the next iteration, so timers are never starved), fire every timer that is due,
// then poll epoll: until the next timer when no fiber is runnable (unless readers expecting a reply
// can be woken on a guess instead, see ExpectInput), else without blocking but only
// every ReactorOptions::batches_per_poll-th iteration (a busy set of fibers waking each other does
// not pay an epoll_wait per hand-off; I/O readiness waits at most that many batches) or after a
// batch in which a fiber's turn ran out (ChargeTurn: a fiber whose socket never blocks yields
// after a bounded amount of I/O or time, so it cannot starve the others, the acceptor or timers).
// Timers fire at or after their deadline (epoll's millisecond resolution, rounded up).
#ifndef DRPC_IMPL_RUNTIME_REACTOR_H_
#define DRPC_IMPL_RUNTIME_REACTOR_H_

#include <sys/epoll.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "impl/fiber/stack_pool.h"
#include "impl/fiber/timer_queue.h"
#include "impl/runtime/memory_return.h"
#include "impl/runtime/net.h"
#include "impl/tunables.h"
#include "impl/time.h"
#include "proto/limits.h"

namespace drpc::runtime {

struct ReactorOptions {
  // Usable bytes per fiber stack (a guard page is added below each).
  size_t stack_bytes = tunables::kFiberStackDefaultBytes;
  // Free stacks whose memory is kept for reuse (impl/fiber/stack_pool.h).
  size_t stack_cache_max_count = tunables::kFiberStacksCachedDefaultMaxCount;
  // The reactor's fiber budget: stacks in use at once, and the kernel memory maps they may cost.
  // Beyond either, Spawn fails with kResourceExhausted (a refused call or connection, never an
  // abort).
  size_t stack_count_max = tunables::kFiberStacksDefaultMaxCount;
  size_t stack_mapping_count_max = tunables::kFiberMapsDefaultMaxCount;
  // Stacks beyond stack_count_max that only posted functions may take (Post, Runtime::Run: a
  // shutdown, an operator's call), so a reactor whose calls hold every other stack can still be
  // reached and shut down.
  size_t stack_reserve_count = tunables::kFiberStacksReservedCount;
  // Posted functions waiting for the loop; Post beyond this fails or waits (see PostMode).
  size_t inbox_max_count = 4096;
  // Readiness events taken from epoll per wait.
  size_t epoll_events_max_count = 256;
  // While fibers stay runnable, epoll is polled (without blocking) once per this many loop
  // iterations; with none runnable the loop always polls (blocking). >= 1; 1 polls every iteration.
  size_t batches_per_poll = 8;
  // One fiber's turn (see ChargeTurn): it yields once it has moved this many bytes through
  // sockets, or after this long, measured from its first socket operation of the turn.
  size_t turn_io_max_bytes = tunables::kTurnIoMaxBytes;
  Duration turn_max = tunables::kTurnMax;
  // Fibers parked at least this long (at most twice this) give back the stack pages below where
  // they wait (FiberContext::ReleaseStackBelowSuspension), once per wait.
  Duration stack_trim_idle_delay = tunables::kFiberStackTrimIdleDelay;
};

// The fibers waiting for one descriptor's readiness (see Reactor::Watch). A fiber records itself
// here only while parked in WaitReadable/WaitWritable.
struct IoWaiters {
  Fiber* reader = nullptr;
  Fiber* writer = nullptr;
  // Set by the loop on every input readiness event (whether or not a reader waits); cleared by the
  // owner. Lets a transport that saw the socket empty skip the recv that would fail with EAGAIN
  // when no event came since, without missing an edge consumed while it was not waiting.
  bool input_seen = false;
  // Set (for good) once the loop reported the peer's half-close, a hang-up or an error: a recv may
  // then report it even right after a read that returned less than asked.
  bool input_closed_seen = false;

  // Input expected soon (Reactor::ExpectInput; owned by the reactor): this descriptor's place in
  // the reactor's list of them, the reactor's write count at its hint (the reader is woken
  // without an event only once another descriptor was written since), and whether the reader's current wake-up was such a guess (the owner reports how it
  // went with Reactor::ReportGuess).
  IoWaiters* expect_prev = nullptr;
  IoWaiters* expect_next = nullptr;
  uint64_t expect_write = 0;
  bool expect_listed = false;
  bool woken_by_guess = false;
  // Guesses that found nothing make the next ones rarer: writes left unhinted, and the back-off.
  uint8_t guess_skip_count = 0;
  uint8_t guess_backoff_count = 0;
};

class Reactor final : public Clock, public Scheduler {
 public:
  // Creates the epoll instance and the wake-up eventfd. The loop does not run until Loop().
  static absl::StatusOr<std::unique_ptr<Reactor>> Create(size_t index, const ReactorOptions& options);
  // Requires the loop to have returned (or never run).
  ~Reactor() override;
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  // The Env to pass to impl/ objects that live on this reactor.
  Env& env() { return env_; }
  // Position in the Runtime (0-based). Thread-safe.
  size_t index() const { return index_; }
  // The reactor whose loop runs on the calling thread, or nullptr on any other thread.
  static Reactor* ForThisThread();
  bool InLoopThread() const { return ForThisThread() == this; }

  // --- Loop control ------------------------------------------------------------------------------
  // Runs the loop on the calling thread until RequestStop(). Then tears down: posted functions not
  // yet started are destroyed unrun, pending timers are dropped, fibers not yet started are
  // destroyed, and fibers still parked are abandoned (their stacks are never unwound, so whatever
  // they own — transports, file descriptors — leaks; shut servers and connections down first).
  void Loop();
  // Thread-safe; returns at once. The loop stops at its next iteration.
  void RequestStop();

  // --- The thread-safe entry point ----------------------------------------------------------------
  enum class PostMode {
    kFailIfFull,  // kResourceExhausted when the inbox is full (never blocks; use on reactors)
    kWaitIfFull,  // blocks the calling thread until there is room (application threads only)
  };
  // Runs `fn` on a new fiber of this reactor (named `name` in park reports), in posting order.
  // Thread-safe. kFailedPrecondition once the loop has stopped; then `fn` is destroyed unrun, on
  // the calling thread (so a closure that owns resources releases them). If the reactor has no
  // fiber stack left when it takes `fn` from the inbox (posted functions may also use
  // ReactorOptions::stack_reserve_count stacks that ordinary spawns may not), `fn` is destroyed
  // unrun on the reactor (counted in stats().posts_dropped).
  absl::Status Post(absl::AnyInvocable<void()> fn, PostMode mode = PostMode::kFailIfFull,
                    std::string name = "posted");

  // --- Clock ---------------------------------------------------------------------------------------
  // CLOCK_MONOTONIC (the same timeline on every reactor of the process).
  Instant Now() const override;
  TimerId ScheduleAt(Instant deadline, absl::AnyInvocable<void()> callback) override;
  bool Cancel(TimerId id) override;

  // --- Scheduler -----------------------------------------------------------------------------------
  [[nodiscard]] absl::Status Spawn(std::string name, absl::AnyInvocable<void()> body) override;
  void Yield() override;
  void Park(absl::string_view reason) override;
  void Unpark(Fiber* fiber) override;
  Fiber* Current() override;

  // --- Descriptor readiness (for this package's transports and listeners) ------------------------
  // Registers `fd` edge-triggered for input, output, peer half-close and errors; readiness wakes
  // the fibers recorded in `*waiters`, which must stay valid until Unwatch(fd).
  absl::Status Watch(int fd, IoWaiters* waiters);
  // Removes the registration; no event for it is delivered afterwards.
  void Unwatch(int fd);
  // Fairness: charges `bytes` moved by a socket operation (0 for one that moves none, e.g. an
  // accept) to the calling fiber's turn; once the turn has moved turn_io_max_bytes or lasted
  // turn_max, the fiber yields — the loop runs the other runnable fibers, fires due timers and
  // polls epoll before it continues. This package's transports and listener call it after every
  // successful operation, so a fiber whose socket never blocks (a peer that keeps up) cannot
  // monopolise the reactor. From a fiber of this reactor only.
  void ChargeTurn(size_t bytes);
  // Parks the calling fiber until `waiters`' descriptor may be readable (or writable), or
  // spuriously: callers retry the system call in a loop.
  void WaitReadable(IoWaiters& waiters, absl::string_view reason);
  void WaitWritable(IoWaiters& waiters, absl::string_view reason);

  // Latency: `waiters`' descriptor was just written to, so a reply may come. When the loop next
  // runs out of runnable fibers after another descriptor of this reactor was written to (a peer
  // on this thread may have answered), it wakes the descriptor's parked reader (marking
  // woken_by_guess) instead of calling epoll_wait to learn that the reply came: a peer on the
  // same thread costs one system call per message instead of two, and a peer elsewhere that a
  // single connection talks to never costs a guess. The reader retries
  // its recv and reports the outcome (ReportGuess); guesses that find nothing back off (a write is
  // hinted again only after 1, 2, 4, ... 64 unhinted writes), so an idle or slow peer costs at
  // most one wasted recv per write and far fewer once they keep missing. Readiness is still
  // polled every batches_per_poll batches, so other descriptors are not starved by guesses.
  void ExpectInput(IoWaiters& waiters);
  // The reader got bytes (or found the socket closed) by any route: its expectation is met.
  void ForgetInput(IoWaiters& waiters);
  // After a wake-up with woken_by_guess: whether the recv found bytes (or EOF/an error).
  void ReportGuess(IoWaiters& waiters, bool found);
  // Counts one system call of this package's transports and listeners (recv, sendmsg, accept,
  // ...); the loop counts its own epoll_waits. Thread-safe to read (syscall_count), for the
  // benchmark's system calls per call.
  void CountSyscall() {
    syscalls_.store(syscalls_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  uint64_t syscall_count() const { return syscalls_.load(std::memory_order_relaxed); }

  struct Stats {
    uint64_t fibers_spawned = 0;
    uint64_t switches = 0;
    uint64_t polls = 0;
    uint64_t guesses = 0;          // readers woken by ExpectInput without a readiness event
    uint64_t guesses_missed = 0;   // ... whose recv found nothing
    uint64_t timers_fired = 0;
    uint64_t posts_run = 0;
    uint64_t posts_dropped = 0;    // no fiber stack for a posted function: destroyed unrun
    uint64_t turns_ended = 0;      // fibers made to yield by ChargeTurn
    uint64_t spawns_failed = 0;    // Spawn returned kResourceExhausted
    uint64_t stacks_trimmed = 0;   // parked fibers whose unused stack pages were given back
    uint64_t stack_trimmed_bytes = 0;
    size_t live_fibers = 0;
    size_t pending_timers = 0;
    size_t stacks_in_use = 0;
    size_t stack_maps = 0;           // kernel maps the fiber stacks cost (an upper bound)
    bool page_table_guards = false;  // stack guards without extra maps (Linux >= 6.13)
  };
  // Loop thread only (post a function to read it from elsewhere).
  Stats stats() const;

  struct ParkedFiber {
    std::string name;
    std::string reason;
  };
  // Fibers alive but not runnable (loop thread only): for diagnostics and teardown reports.
  std::vector<ParkedFiber> ParkedFibers() const;

 private:
  class ReactorFiber;
  struct Posted {
    std::string name;
    absl::AnyInvocable<void()> fn;
  };

  Reactor(size_t index, const ReactorOptions& options, UniqueFd epoll_fd, UniqueFd wake_fd);
  // Spawn, failing once `stacks_max` stacks are in use.
  absl::Status SpawnWithin(size_t stacks_max, std::string name, absl::AnyInvocable<void()> body);
  void RunReadyFibers();
  void RunFiber(ReactorFiber* fiber);
  void FireDueTimers();
  int PollTimeoutMillis() const;
  void Poll(int timeout_ms);
  void DrainInbox();
  // Stack trimming of long-parked fibers: a timer armed while some parked fiber is untrimmed.
  void ArmStackTrim();
  void TrimParkedStacks();
  // Wakes the parked readers of the expected descriptors that another write may have answered;
  // false if none.
  bool WakeExpectedReaders();
  void Unlist(IoWaiters& waiters);
  void TearDown();
  void CheckLoopThread(const char* what) const;

  const size_t index_;
  const ReactorOptions options_;
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;
  NoChaos chaos_;
  // Before env_, which refers to it.
  ReactorMemoryReturn memory_return_;
  Env env_;
  StackPool stacks_;

  // Loop-thread state.
  ReactorFiber* current_ = nullptr;
  ReactorFiber* live_head_ = nullptr;  // intrusive list of live fibers
  std::deque<ReactorFiber*> run_queue_;
  size_t batches_since_poll_ = 0;
  // ExpectInput calls (writes) so far, and the list of expected descriptors in hint order.
  uint64_t writes_ = 0;
  IoWaiters* expect_head_ = nullptr;
  IoWaiters* expect_tail_ = nullptr;
  // The running fiber's turn: bytes charged, and when its first charge came (Instant() = none
  // yet, so a turn costs a clock read only if it does I/O).
  size_t turn_bytes_ = 0;
  Instant turn_started_;
  bool turn_ended_in_batch_ = false;  // a fiber yielded by ChargeTurn: poll after this batch
  TimerQueue timers_;
  // Stack trim rounds so far (a fiber parked in round r is trimmed from round r + 2 on), and
  // whether the next one is scheduled.
  uint64_t trim_round_ = 0;
  bool trim_armed_ = false;
  std::vector<epoll_event> events_;
  std::vector<Posted> draining_;
  Stats stats_;

  // Cross-thread state.
  std::atomic<uint64_t> syscalls_{0};  // written by the loop thread only
  std::atomic<bool> stop_requested_{false};
  std::mutex inbox_mu_;
  std::condition_variable inbox_space_;
  std::vector<Posted> inbox_;       // guarded by inbox_mu_
  bool inbox_closed_ = false;       // guarded by inbox_mu_
  size_t blocked_posters_ = 0;      // guarded by inbox_mu_
};

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_REACTOR_H_
