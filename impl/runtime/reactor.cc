#include "impl/runtime/reactor.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "impl/fiber/fiber_context.h"
#include "impl/fiber/fiber_state.h"
#include "impl/runtime/memory_return.h"
#include "proto/base/check.h"

namespace drpc::runtime {
namespace {

thread_local Reactor* tls_reactor = nullptr;

// epoll_event.data.ptr of the wake-up eventfd; every other registration carries an IoWaiters*.
constexpr void* kWakeTag = nullptr;

// Longest single epoll wait: the loop re-computes its timeout afterwards, so this only bounds how
// stale a far-future deadline's rounding can get.
constexpr int kPollTimeoutMaxMillis = 60 * 1000;

}  // namespace

class Reactor::ReactorFiber final : public Fiber {
 public:
  ReactorFiber(std::string name, StackPool& pool, FiberStack stack,
               absl::AnyInvocable<void()> body)
      : name_(std::move(name)), context_(pool, stack, std::move(body)) {}
  absl::string_view name() const override { return name_; }

  std::string name_;
  FiberContext context_;
  FiberState state_;
  uint64_t parked_round_ = 0;  // trim_round_ when it last parked
  bool stack_trimmed_ = false;  // in this wait
  ReactorFiber* prev_ = nullptr;
  ReactorFiber* next_ = nullptr;
};

absl::StatusOr<std::unique_ptr<Reactor>> Reactor::Create(size_t index,
                                                         const ReactorOptions& options) {
  if (options.inbox_max_count == 0 || options.epoll_events_max_count == 0 ||
      options.batches_per_poll == 0 || options.turn_io_max_bytes == 0 ||
      options.turn_max <= Duration::Zero() || options.stack_count_max == 0 ||
      options.stack_trim_idle_delay <= Duration::Zero()) {
    return absl::InvalidArgumentError(
        "reactor: inbox and epoll batch sizes, batches_per_poll, the turn budget, "
        "stack_count_max and stack_trim_idle_delay must be positive");
  }
  UniqueFd epoll_fd(epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd.valid()) return ErrnoStatus(errno, "epoll_create1");
  UniqueFd wake_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd.valid()) return ErrnoStatus(errno, "eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = kWakeTag;
  if (epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, wake_fd.get(), &ev) != 0) {
    return ErrnoStatus(errno, "epoll_ctl(eventfd)");
  }
  return std::unique_ptr<Reactor>(
      new Reactor(index, options, std::move(epoll_fd), std::move(wake_fd)));
}

Reactor::Reactor(size_t index, const ReactorOptions& options, UniqueFd epoll_fd, UniqueFd wake_fd)
    : index_(index),
      options_(options),
      epoll_fd_(std::move(epoll_fd)),
      wake_fd_(std::move(wake_fd)),
      env_(*this, *this, chaos_, memory_return_),
      stacks_(StackPool::Options{.stack_bytes = options.stack_bytes,
                                 .stack_count_max =
                                     options.stack_count_max + options.stack_reserve_count,
                                 .mapping_count_max = options.stack_mapping_count_max,
                                 .cached_max_count = options.stack_cache_max_count}),
      events_(options.epoll_events_max_count) {}

Reactor::~Reactor() {
  DRPC_CHECK(tls_reactor != this) << "a reactor cannot destroy itself";
  DRPC_CHECK(live_head_ == nullptr) << "reactor destroyed with live fibers (loop not torn down)";
}

Reactor* Reactor::ForThisThread() { return tls_reactor; }

void Reactor::CheckLoopThread(const char* what) const {
  DRPC_CHECK(tls_reactor == this) << what << " called off reactor " << index_
                                  << "'s thread (use Post from other threads)";
}

// --- Loop ------------------------------------------------------------------------------------------

void Reactor::Loop() {
  DRPC_CHECK(tls_reactor == nullptr) << "a thread runs at most one reactor loop";
  tls_reactor = this;
  while (!stop_requested_.load(std::memory_order_acquire)) {
    RunReadyFibers();
    FireDueTimers();
    // Fibers that woke each other (a reply handed from the reader to its caller) run on without an
    // epoll_wait per hand-off; readiness is still collected every batches_per_poll iterations.
    // A turn that ran out moved a lot of bytes or took long: readiness is collected right away.
    // A reply expected on a descriptor is looked for with its recv before epoll_wait is asked.
    if (run_queue_.empty() && expect_head_ != nullptr) WakeExpectedReaders();
    if (run_queue_.empty()) {
      Poll(PollTimeoutMillis());
      batches_since_poll_ = 0;
    } else if (++batches_since_poll_ >= options_.batches_per_poll || turn_ended_in_batch_) {
      Poll(0);
      batches_since_poll_ = 0;
    }
    turn_ended_in_batch_ = false;
  }
  TearDown();
  tls_reactor = nullptr;
}

void Reactor::RequestStop() {
  stop_requested_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  // A full eventfd counter (impossible in practice) still leaves the loop readable.
  [[maybe_unused]] ssize_t n = write(wake_fd_.get(), &one, sizeof(one));
}

void Reactor::RunReadyFibers() {
  // Only the fibers runnable now: fibers they wake run after the next poll, which bounds the time
  // I/O and timers wait behind a busy set of fibers.
  for (size_t n = run_queue_.size(); n > 0 && !run_queue_.empty(); --n) {
    ReactorFiber* fiber = run_queue_.front();
    run_queue_.pop_front();
    RunFiber(fiber);
  }
}

void Reactor::RunFiber(ReactorFiber* fiber) {
  fiber->state_.Resume();
  current_ = fiber;
  turn_bytes_ = 0;
  turn_started_ = Instant();
  ++stats_.switches;
  fiber->context_.Resume();
  current_ = nullptr;
  if (!fiber->context_.finished()) {
    DRPC_CHECK(!fiber->state_.running()) << "fiber suspended without parking";
    return;
  }
  if (fiber->prev_ != nullptr) fiber->prev_->next_ = fiber->next_;
  if (fiber->next_ != nullptr) fiber->next_->prev_ = fiber->prev_;
  if (live_head_ == fiber) live_head_ = fiber->next_;
  --stats_.live_fibers;
  delete fiber;
}

void Reactor::FireDueTimers() {
  if (timers_.empty()) return;
  stats_.timers_fired += timers_.RunDue(Now());
}

int Reactor::PollTimeoutMillis() const {
  if (timers_.empty()) return -1;
  const Duration wait = timers_.next_deadline() - Now();
  if (wait <= Duration::Zero()) return 0;
  // Round up: waking early would spin until the deadline.
  const int64_t millis = (wait.nanos() + 999'999) / 1'000'000;
  return millis > kPollTimeoutMaxMillis ? kPollTimeoutMaxMillis : static_cast<int>(millis);
}

void Reactor::Poll(int timeout_ms) {
  const int n = epoll_wait(epoll_fd_.get(), events_.data(), static_cast<int>(events_.size()),
                           timeout_ms);
  ++stats_.polls;
  CountSyscall();
  if (n < 0) {
    DRPC_CHECK(errno == EINTR) << "epoll_wait: " << std::strerror(errno);
    return;
  }
  // Handlers only mark fibers runnable; no fiber runs (and so no registration is removed and its
  // IoWaiters freed) until every event of this batch is handled.
  for (int i = 0; i < n; ++i) {
    const epoll_event& ev = events_[static_cast<size_t>(i)];
    if (ev.data.ptr == kWakeTag) {
      DrainInbox();
      continue;
    }
    auto* waiters = static_cast<IoWaiters*>(ev.data.ptr);
    if (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      waiters->input_seen = true;
      if (ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) waiters->input_closed_seen = true;
      // A reader already woken on a guess is runnable and recvs anyway; a second Unpark would
      // leave it a permit, and its next wait would return at once into a recv that finds nothing.
      if (waiters->reader != nullptr && !waiters->woken_by_guess) Unpark(waiters->reader);
    }
    if ((ev.events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && waiters->writer != nullptr) {
      Unpark(waiters->writer);
    }
  }
}

void Reactor::DrainInbox() {
  uint64_t count = 0;
  [[maybe_unused]] ssize_t r = read(wake_fd_.get(), &count, sizeof(count));
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    draining_.swap(inbox_);
    if (blocked_posters_ > 0) inbox_space_.notify_all();
  }
  for (Posted& p : draining_) {
    // Posted functions (shutdowns, operator calls) may also use the reserved stacks, so a
    // reactor whose calls took every ordinary stack can still be shut down. Out of those too, the
    // function is destroyed unrun (a Runtime::Run caller then sees kCancelled; a hand-off's
    // closure releases what it owns).
    if (SpawnWithin(options_.stack_count_max + options_.stack_reserve_count, std::move(p.name),
                    std::move(p.fn))
            .ok()) {
      ++stats_.posts_run;
    } else {
      ++stats_.posts_dropped;
    }
  }
  draining_.clear();
}

void Reactor::TearDown() {
  std::vector<Posted> unrun;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    inbox_closed_ = true;
    unrun.swap(inbox_);
    inbox_space_.notify_all();
  }
  unrun.clear();  // destroyed unrun, on this thread
  const std::vector<ParkedFiber> parked = ParkedFibers();
  if (!parked.empty()) {
    std::fprintf(stderr, "drpc reactor %zu: stopped with %zu parked fiber(s), abandoned:\n", index_,
                 parked.size());
    for (size_t i = 0; i < parked.size() && i < 10; ++i) {
      std::fprintf(stderr, "  %s (%s)\n", parked[i].name.c_str(), parked[i].reason.c_str());
    }
  }
  timers_.Clear();
  run_queue_.clear();
  while (live_head_ != nullptr) {
    ReactorFiber* fiber = live_head_;
    live_head_ = fiber->next_;
    delete fiber;  // not started: destroyed; suspended: abandoned (see FiberContext)
  }
  stats_.live_fibers = 0;
}

// --- Thread-safe entry point -------------------------------------------------------------------------

absl::Status Reactor::Post(absl::AnyInvocable<void()> fn, PostMode mode, std::string name) {
  bool was_empty = false;
  {
    std::unique_lock<std::mutex> lock(inbox_mu_);
    for (;;) {
      if (inbox_closed_) {
        return absl::FailedPreconditionError(absl::StrCat("reactor ", index_, " has stopped"));
      }
      if (inbox_.size() < options_.inbox_max_count) break;
      if (mode == PostMode::kFailIfFull) {
        return absl::ResourceExhaustedError(
            absl::StrCat("reactor ", index_, ": inbox full (", options_.inbox_max_count, ")"));
      }
      DRPC_CHECK(tls_reactor != this) << "a reactor cannot wait for room in its own inbox";
      ++blocked_posters_;
      inbox_space_.wait(lock);
      --blocked_posters_;
    }
    was_empty = inbox_.empty();
    inbox_.push_back(Posted{std::move(name), std::move(fn)});
  }
  // One wake-up per batch: the loop takes the whole inbox at once.
  if (was_empty) {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_.get(), &one, sizeof(one));
  }
  return absl::OkStatus();
}

// --- Clock -----------------------------------------------------------------------------------------

Instant Reactor::Now() const {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Instant::FromNanos(static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec);
}

TimerId Reactor::ScheduleAt(Instant deadline, absl::AnyInvocable<void()> callback) {
  CheckLoopThread("ScheduleAt");
  return timers_.Add(deadline, std::move(callback));
}

bool Reactor::Cancel(TimerId id) {
  CheckLoopThread("Cancel");
  return timers_.Cancel(id);
}

// --- Scheduler -------------------------------------------------------------------------------------

absl::Status Reactor::Spawn(std::string name, absl::AnyInvocable<void()> body) {
  return SpawnWithin(options_.stack_count_max, std::move(name), std::move(body));
}

absl::Status Reactor::SpawnWithin(size_t stacks_max, std::string name,
                                  absl::AnyInvocable<void()> body) {
  CheckLoopThread("Spawn");
  absl::StatusOr<FiberStack> stack =
      stacks_.outstanding_count() >= stacks_max
          ? absl::ResourceExhaustedError(absl::StrCat(
                "out of fiber stacks: all ", options_.stack_count_max, " stacks of reactor ",
                index_, " are in use (ReactorOptions::stack_count_max)"))
          : stacks_.Allocate();
  if (!stack.ok()) {
    ++stats_.spawns_failed;
    return absl::Status(stack.status().code(),
                        absl::StrCat("spawn ", name, ": ", stack.status().message()));
  }
  auto* fiber = new ReactorFiber(std::move(name), stacks_, *stack, std::move(body));
  fiber->next_ = live_head_;
  if (live_head_ != nullptr) live_head_->prev_ = fiber;
  live_head_ = fiber;
  ++stats_.fibers_spawned;
  ++stats_.live_fibers;
  run_queue_.push_back(fiber);
  return absl::OkStatus();
}

void Reactor::Yield() {
  ReactorFiber* self = current_;
  DRPC_CHECK(self != nullptr) << "Yield outside a fiber";
  self->state_.Yield();
  run_queue_.push_back(self);
  self->context_.Suspend();
}

void Reactor::Park(absl::string_view reason) {
  ReactorFiber* self = current_;
  DRPC_CHECK(self != nullptr) << "Park outside a fiber: " << reason;
  if (self->state_.TakePermit()) return;
  self->parked_round_ = trim_round_;
  self->stack_trimmed_ = false;
  if (!trim_armed_) ArmStackTrim();
  self->state_.Park(reason);
  self->context_.Suspend();
  self->state_.Unparked();
}

void Reactor::Unpark(Fiber* fiber) {
  CheckLoopThread("Unpark");
  DRPC_CHECK(fiber != nullptr);
  auto* f = static_cast<ReactorFiber*>(fiber);
  if (f->state_.Unpark()) run_queue_.push_back(f);
}

Fiber* Reactor::Current() { return current_; }

void Reactor::ArmStackTrim() {
  trim_armed_ = true;
  timers_.Add(Now() + options_.stack_trim_idle_delay, [this] { TrimParkedStacks(); });
}

void Reactor::TrimParkedStacks() {
  trim_armed_ = false;
  ++trim_round_;
  bool waiting = false;  // parked fibers not yet trimmed: another round is needed
  for (ReactorFiber* f = live_head_; f != nullptr; f = f->next_) {
    if (!f->state_.parked() || f->stack_trimmed_) continue;
    if (f->parked_round_ + 2 > trim_round_) {
      waiting = true;  // parked within the last delay
      continue;
    }
    f->stack_trimmed_ = true;
    ++stats_.stacks_trimmed;
    stats_.stack_trimmed_bytes += f->context_.ReleaseStackBelowSuspension();
  }
  if (waiting) ArmStackTrim();
}

// --- Descriptor readiness --------------------------------------------------------------------------

absl::Status Reactor::Watch(int fd, IoWaiters* waiters) {
  CheckLoopThread("Watch");
  DRPC_CHECK(waiters != nullptr);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = waiters;
  if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    return ErrnoStatus(errno, "epoll_ctl(ADD)");
  }
  return absl::OkStatus();
}

void Reactor::Unwatch(int fd) {
  CheckLoopThread("Unwatch");
  // ENOENT/EBADF would mean a double unwatch: the caller's bookkeeping is broken.
  DRPC_CHECK_EQ(epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr), 0)
      << "epoll_ctl(DEL): " << std::strerror(errno);
}

void Reactor::ChargeTurn(size_t bytes) {
  DRPC_CHECK(current_ != nullptr) << "ChargeTurn outside a fiber";
  const Instant now = Now();
  if (turn_started_ == Instant()) turn_started_ = now;
  turn_bytes_ += bytes;
  if (turn_bytes_ < options_.turn_io_max_bytes && now - turn_started_ < options_.turn_max) return;
  ++stats_.turns_ended;
  turn_ended_in_batch_ = true;
  Yield();
}

void Reactor::WaitReadable(IoWaiters& waiters, absl::string_view reason) {
  DRPC_CHECK(waiters.reader == nullptr) << "two fibers reading one descriptor";
  waiters.reader = current_;
  Park(reason);
  waiters.reader = nullptr;
}

void Reactor::WaitWritable(IoWaiters& waiters, absl::string_view reason) {
  DRPC_CHECK(waiters.writer == nullptr) << "two fibers writing one descriptor";
  waiters.writer = current_;
  Park(reason);
  waiters.writer = nullptr;
}

Reactor::Stats Reactor::stats() const {
  Stats s = stats_;
  s.pending_timers = timers_.size();
  s.stacks_in_use = stacks_.outstanding_count();
  s.stack_maps = stacks_.mapping_count();
  s.page_table_guards = stacks_.page_table_guards();
  return s;
}

std::vector<Reactor::ParkedFiber> Reactor::ParkedFibers() const {
  std::vector<ParkedFiber> out;
  for (const ReactorFiber* f = live_head_; f != nullptr; f = f->next_) {
    if (f->state_.parked()) {
      out.push_back({f->name_, std::string(f->state_.park_reason())});
    }
  }
  return out;
}

}  // namespace drpc::runtime
