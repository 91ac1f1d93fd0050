// The Env seam: the only doorway through which impl/ reaches time, scheduling, chaos, bytes and
// the allocator's cache.
//
// impl/ is plain blocking code running on fibers. Everything nondeterministic comes through the
// small interfaces below, passed in by constructor; two runtimes implement them:
//   * sim/           one OS thread, virtual clock, every choice drawn from a decision tape;
//   * impl/runtime/  epoll reactors and the real monotonic clock (production).
//
// Threading contract (both runtimes): a Scheduler runs its fibers one at a time on one OS thread.
// Objects in impl/ belong to one Scheduler and are touched only by its fibers and timer callbacks;
// nothing in impl/ is thread-safe unless its header says so. impl/runtime/ offers the thread-safe
// entry point for application threads.
//
//   void Serve(Env& env, Transport& t) {
//     absl::Status spawned = env.scheduler().Spawn("reader", [&] { ... t.Read(buf, n) ... });
//     Instant deadline = env.clock().Now() + Duration::Seconds(1);
//   }
#ifndef DRPC_IMPL_ENV_H_
#define DRPC_IMPL_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "impl/time.h"

namespace drpc {

// --- Clock and timers ---------------------------------------------------------------------------

using TimerId = uint64_t;

class Clock {
 public:
  virtual ~Clock() = default;

  // Monotonic; never goes backwards. Within one fiber run (between two parks) it may not advance.
  virtual Instant Now() const = 0;

  // Runs `callback` once, at or after `deadline`, on this clock's scheduler thread *outside* any
  // fiber: a callback must not block or park; it may unpark fibers, set signals and schedule
  // timers. Callbacks due at the same instant run in scheduling order. Returns a nonzero id.
  virtual TimerId ScheduleAt(Instant deadline, absl::AnyInvocable<void()> callback) = 0;

  // ScheduleAt for a callback that is a plain function of a context, `fn(context)`: the same
  // contract (and ids), for a caller that sets a timer per wait (impl/sync.h's timed waits).
  // `context` must stay valid until the timer fires or is cancelled. A clock with a timer queue
  // (the simulator's) stores it without the AnyInvocable the default wraps it in.
  using PlainTimerCallback = void (*)(void* context);
  virtual TimerId ScheduleAtPlain(Instant deadline, PlainTimerCallback fn, void* context) {
    return ScheduleAt(deadline, [fn, context] { fn(context); });
  }

  // Cancels a timer. After this returns, its callback never runs (it may already have run).
  // Returns true if the timer was pending and is now cancelled; false if it already ran, was
  // already cancelled, or the id is unknown. Safe to call from the timer's own callback.
  virtual bool Cancel(TimerId id) = 0;
};

// --- Scheduler ----------------------------------------------------------------------------------

// An opaque handle to a fiber, valid until that fiber's body returns.
class Fiber {
 public:
  virtual ~Fiber() = default;
  virtual absl::string_view name() const = 0;
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;

  // Creates a fiber that will run `body` later (the caller keeps running). `name` appears in
  // traces and deadlock reports ("conn 3 reader"). Callers track completion with a WaitGroup
  // (impl/sync.h); a fiber's body must return before the objects it uses are destroyed.
  // Fails with kResourceExhausted when there is no stack for the fiber (the scheduler's stack or
  // kernel-map budget is spent, or the system is out of memory or maps): then `body` is destroyed
  // unrun before Spawn returns, and a caller that would wait for the fiber must not.
  [[nodiscard]] virtual absl::Status Spawn(std::string name, absl::AnyInvocable<void()> body) = 0;

  // Lets other runnable fibers run; the caller stays runnable. Must be called from a fiber.
  virtual void Yield() = 0;

  // Blocks the calling fiber until Unpark() is called for it. Unpark before Park is not lost: it
  // leaves a permit and the next Park returns at once. Park may also return spuriously, so callers
  // re-check their condition in a loop. `reason` ("waiting for stream 3 window") is kept for
  // deadlock reports; it must stay valid until Park returns. Must be called from a fiber.
  virtual void Park(absl::string_view reason) = 0;

  // Makes `fiber` runnable (or leaves a permit if it is running). Callable from fibers and timer
  // callbacks of this scheduler. `fiber` must be alive.
  virtual void Unpark(Fiber* fiber) = 0;

  // The calling fiber, or nullptr when called from a timer callback or outside any fiber.
  virtual Fiber* Current() = 0;
};

// --- Chaos (BUGGIFY) ----------------------------------------------------------------------------

// A named race situation ("stream.cancel_during_an_operation"): a rare moment the code reports
// reaching, so simulator sweeps can prove their schedules still get there (FoundationDB's code
// probes). Every situation is a constant (impl/situations.h for impl/'s, sim/ for the
// workloads'), so a scenario that lists one it expects cannot misspell it.
class Situation {
 public:
  constexpr explicit Situation(absl::string_view name) : name_(name) {}
  constexpr absl::string_view name() const { return name_; }
  friend constexpr bool operator==(Situation a, Situation b) { return a.name_ == b.name_; }

 private:
  absl::string_view name_;  // a string literal
};

// Rare-but-legal behaviour on demand. In production every answer is "no"; in simulation the
// decision tape decides, so each run explores different corner cases reproducibly.
class Chaos {
 public:
  virtual ~Chaos() = default;
  // True if the code at `site` should take its rare path now ("writer.flush_early"). Sites are
  // string literals; the simulator enables a random subset of sites per run. Inline: a Chaos
  // that never fires (production's, a simulation with chaos off) answers with a flag check
  // instead of a virtual call, and impl/ asks on every lock and write.
  bool Buggify(absl::string_view site) { return may_fire_ && BuggifyDrawn(site); }
  // A value in [0, n) for a buggified choice (n >= 1); 0 in production.
  virtual uint64_t ChooseRare(absl::string_view site, uint64_t n) = 0;
  // Notes that the code reached `situation`. Cheap and side-effect free; production ignores it.
  virtual void Reach(Situation situation) { (void)situation; }

 protected:
  explicit Chaos(bool may_fire) : may_fire_(may_fire) {}
  // Whether Buggify may answer yes: false makes every answer "no" without calling BuggifyDrawn.
  void set_may_fire(bool may_fire) { may_fire_ = may_fire; }
  // Buggify's answer when the Chaos may fire.
  virtual bool BuggifyDrawn(absl::string_view site) = 0;

 private:
  bool may_fire_;
};

// Production's chaos: never fires.
class NoChaos final : public Chaos {
 public:
  NoChaos() : Chaos(/*may_fire=*/false) {}
  uint64_t ChooseRare(absl::string_view, uint64_t) override { return 0; }

 private:
  bool BuggifyDrawn(absl::string_view) override { return false; }
};

// --- Transport ----------------------------------------------------------------------------------

// Why a transport operation failed. Carried in the status (see TransportError below).
enum class TransportErrorKind {
  kEof,              // the peer closed its sending side; all its bytes were delivered
  kReset,            // the connection broke (peer reset, broken pipe)
  kClosedLocally,    // Close() was called on this transport (possibly by another fiber)
  kWriteAfterClose,  // Write after CloseWrite()
  kIo,               // any other I/O failure
};

absl::string_view TransportErrorKindName(TransportErrorKind kind);

// Builds a status for `kind` (EOF -> kOutOfRange, reset/io -> kUnavailable, closed locally ->
// kCancelled, write after close -> kFailedPrecondition) with `detail` in the message and the kind
// attached as a payload.
absl::Status TransportError(TransportErrorKind kind, absl::string_view detail);

// The kind of a status made by TransportError, or nullopt for any other status.
std::optional<TransportErrorKind> GetTransportErrorKind(const absl::Status& status);

// An ordered, reliable, bidirectional byte stream (TCP-like), used from fibers.
// Concurrency: at most one fiber in Read and one in Write at a time; Close and CloseWrite may be
// called from any fiber of the scheduler, at any time, any number of times.
class Transport {
 public:
  virtual ~Transport() = default;

  // Blocks until at least one byte is available, then copies up to `size` (> 0) bytes into `buf`
  // and returns the count (>= 1). Reads may return fewer bytes than are available (partial reads
  // at arbitrary boundaries are normal). After the peer's last byte: kEof. Errors: kEof, kReset,
  // kClosedLocally, kIo. Once an error is returned, later reads return an error too.
  virtual absl::StatusOr<size_t> Read(char* buf, size_t size) = 0;

  // Scattering read: blocks as Read until at least one byte is available, then fills `spans` in
  // order, a span only once every span before it is full, with up to their total size, and
  // returns the count (>= 1). A reader that knows how many bytes belong where (the rest of a large
  // frame's data goes to its message, what follows to the frame buffer) gets both in one call
  // instead of one read per destination. `spans` is not empty and no span is empty; errors as
  // Read. The default reads into the first span only (a transport where vectored reads are not
  // natural, e.g. TLS, which decrypts into its own buffer); the simulator's transport scatters
  // what it delivers across the spans; TcpTransport uses readv.
  virtual absl::StatusOr<size_t> ReadV(absl::Span<const absl::Span<char>> spans);

  // Whether a Read now would wait for the peer (the transport knows its last read emptied it and
  // nothing arrived since). With WaitReadable, a reader can give its buffer back before it waits,
  // so a connection waiting for its peer holds none. The default (false: unknown) keeps readers
  // waiting inside Read, with their buffer.
  virtual bool ReadWouldWait() const { return false; }
  // Waits until a Read may find bytes, the end of the stream or an error (a Read may still wait,
  // e.g. after a spurious wake-up). The default returns at once.
  virtual void WaitReadable() {}
  // Read without waiting: 0 when no byte is there now (otherwise as Read). After WaitReadable, a
  // reader that finds nothing can give its buffer back and wait again. The default is Read.
  virtual absl::StatusOr<size_t> ReadNow(char* buf, size_t size) { return Read(buf, size); }

  // Blocks until all of `data` is accepted by the transport (partial progress is internal). On
  // error, an unknown prefix of `data` may have been sent; the connection is then unusable for
  // writing. Errors: kReset, kClosedLocally, kWriteAfterClose, kIo.
  virtual absl::Status Write(absl::string_view data) = 0;

  // Gathering write: writes the concatenation of `pieces` (any of them may be empty), with the
  // same contract as Write. Lets a caller send frame headers and slices of a large message
  // without first copying the message into one buffer. The pieces must stay valid until it
  // returns. The default concatenates the pieces and calls Write once, so a transport that does
  // not override it (the simulator's, test doubles) sees exactly one Write with the same bytes;
  // TcpTransport overrides it with sendmsg.
  virtual absl::Status WriteV(absl::Span<const absl::string_view> pieces);

  // Gathering write for a caller whose pieces may go away as soon as its fiber waits (another
  // fiber may then free them): reads `pieces` only until the transport would block. Returns how
  // many leading bytes of their concatenation it took — all of them, or fewer (possibly none)
  // when taking more would block; the caller then writes the rest itself, from a copy. Never
  // reads the pieces after it returns. Errors as Write. The default copies the pieces into one
  // buffer and writes that with Write (so it may block, but only once the pieces are copied),
  // taking everything: the simulator's transports keep exactly their Write behaviour;
  // TcpTransport overrides it with non-blocking sendmsg.
  virtual absl::StatusOr<size_t> TryWriteV(absl::Span<const absl::string_view> pieces);

  // Half close: the peer reads kEof after the bytes already written; reading here continues.
  virtual absl::Status CloseWrite() = 0;

  // Closes both directions. Fibers blocked in Read/Write return kClosedLocally; the peer sees
  // kEof (after in-flight bytes) or kReset. Idempotent; never blocks.
  virtual void Close() = 0;
};

// Accepts incoming transports (a TCP listener, a simulated address).
class Listener {
 public:
  virtual ~Listener() = default;
  // Blocks until a connection arrives. After Close(): kCancelled "listener closed".
  virtual absl::StatusOr<std::unique_ptr<Transport>> Accept() = 0;
  // Stops accepting; a fiber blocked in Accept returns. Idempotent; never blocks.
  virtual void Close() = 0;
};

// Opens outgoing transports (a TCP connect, a simulated address): Listener's counterpart, so a
// client that reconnects or pools connections runs unchanged in production and in simulation.
class Dialer {
 public:
  virtual ~Dialer() = default;
  // Connects to `address` (in the implementation's syntax: "127.0.0.1:7777", "server:1"),
  // blocking the calling fiber until the connection is up. Errors: kUnavailable (refused,
  // unreachable, reset during set-up), kDeadlineExceeded (`deadline` passed first),
  // kInvalidArgument (a malformed address), kResourceExhausted (out of descriptors or memory).
  // Must be called from a fiber.
  virtual absl::StatusOr<std::unique_ptr<Transport>> Dial(absl::string_view address,
                                                          Instant deadline) = 0;
};

// --- Memory given back ---------------------------------------------------------------------------

// An Env implementation's way to give memory the process's allocator keeps cached (freed by the
// program, still resident) back to the system, at once: production trims the allocator (glibc's
// malloc_trim), the simulator counts. impl/ never calls it directly: it asks the Env
// (Env::memory(), a MemoryReturnThrottle, impl/trim_throttle.h), which decides when a trim is due
// — when a connection that released much memory after a burst has gone idle (impl/tunables.h,
// "Memory given back"), at most once per tunables::kMemoryReturnMinInterval per Env, a request in
// between leading to one trim at the interval's end. Called from fibers and timer callbacks of
// the Env's scheduler; must not block.
class MemoryReturn {
 public:
  virtual ~MemoryReturn() = default;
  virtual void Trim() = 0;
};

// Gives nothing back (an Env built without a MemoryReturn).
class NoMemoryReturn final : public MemoryReturn {
 public:
  void Trim() override {}
};

class MemoryReturnThrottle;  // impl/trim_throttle.h

// --- Env: the bundle passed to impl/ constructors -----------------------------------------------

// Copies share one MemoryReturnThrottle: they are the same Env.
class Env {
 public:
  Env(Clock& clock, Scheduler& scheduler, Chaos& chaos);
  Env(Clock& clock, Scheduler& scheduler, Chaos& chaos, MemoryReturn& memory);

  Clock& clock() const { return *clock_; }
  Scheduler& scheduler() const { return *scheduler_; }
  Chaos& chaos() const { return *chaos_; }
  // Where impl/ asks for memory to be given back: spaces the MemoryReturn's trims.
  MemoryReturnThrottle& memory() const { return *memory_; }

 private:
  // Stateless: one for every Env built without a MemoryReturn.
  static inline NoMemoryReturn no_memory_return_;
  Clock* clock_;
  Scheduler* scheduler_;
  Chaos* chaos_;
  std::shared_ptr<MemoryReturnThrottle> memory_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_ENV_H_
