// Buffered bytes, counted against budgets: what one connection holds in memory on behalf of its
// peer (ConnectionBuffers) and what a whole server holds across its connections (ServerBuffers).
//
//   ServerBuffers server(Options{}.server_buffered_max_bytes);          // shared by a server
//   auto conn = std::make_shared<ConnectionBuffers>(env, ConnectionBuffers::Limits{
//       .max_bytes = 16 << 20, .reserved_bytes = 256 << 10, .server = &server});
//   conn->Add(ConnectionBuffers::Kind::kQueued, n);   // a message waits in a receive queue
//   ...
//   while (conn->over_budget()) conn->WaitForRoom(deadline);  // the reader stops reading
//   conn->Sub(ConnectionBuffers::Kind::kQueued, n);   // the application took it
//
// What a connection counts (Kind): messages waiting in its streams' receive queues; bytes of
// frames and packets still being assembled (the frame parser's buffer, partial packets, the
// metadata of streams whose Invoke has not arrived); copies waiting in its writer. Each is bounded
// on its own elsewhere; the budget bounds their sum over all the connection's streams, so a peer
// that opens many streams and reads none of them cannot make the connection hold more than
// `max_bytes` (plus what one read brings in: the check comes before each read).
//
// The server budget counts, for every connection, what it holds beyond its `reserved_bytes`. A
// connection is over budget when it holds `max_bytes`, or when it holds more than its reservation
// while the server budget is spent: so one connection holding much never keeps another from
// reading its first `reserved_bytes` (small calls stay served), and the server's total stays
// below server_max_bytes + connections * reserved_bytes (plus one read per connection).
//
// Threading: ConnectionBuffers belongs to one Scheduler (its connection's); ServerBuffers is
// thread-safe (the Servers of a TcpServer's reactors share one). A reader waiting for the server
// budget re-checks every kBufferRoomPoll, since other reactors release bytes without waking it.
#ifndef DRPC_IMPL_BUFFER_BUDGET_H_
#define DRPC_IMPL_BUFFER_BUDGET_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/functional/any_invocable.h"

#include "impl/env.h"
#include "impl/sync.h"
#include "impl/time.h"
#include "proto/base/check.h"

namespace drpc {

class ServerBuffers {
 public:
  explicit ServerBuffers(size_t max_bytes);
  ~ServerBuffers();  // requires every byte to have been released
  ServerBuffers(const ServerBuffers&) = delete;
  ServerBuffers& operator=(const ServerBuffers&) = delete;

  void Add(size_t n);
  void Sub(size_t n);
  size_t used_bytes() const { return used_.load(std::memory_order_relaxed); }
  size_t max_bytes() const { return max_bytes_; }
  bool spent() const { return used_bytes() >= max_bytes_; }
  // The most bytes used at once since construction (observability: the hostile soak).
  size_t peak_bytes() const { return peak_.load(std::memory_order_relaxed); }

 private:
  const size_t max_bytes_;
  std::atomic<size_t> used_{0};
  std::atomic<size_t> peak_{0};
};

class ConnectionBuffers {
 public:
  enum class Kind {
    kQueued,      // received messages in the streams' receive queues
    kAssembling,  // the frame parser's unconsumed bytes and partial packets
    kPending,     // metadata of streams whose Invoke has not arrived (mux server)
    kWriting,     // copies queued in the writer
  };
  static constexpr size_t kKindCount = 4;

  struct Limits {
    // The connection's budget; 0 = none (a client connection).
    size_t max_bytes = 0;
    // Bytes the connection may always hold, whatever the server budget says.
    size_t reserved_bytes = 0;
    // The server's budget, shared with its other connections; may be null.
    ServerBuffers* server = nullptr;
  };

  ConnectionBuffers(Env& env, Limits limits);
  ~ConnectionBuffers();  // gives the server budget back what is still counted
  ConnectionBuffers(const ConnectionBuffers&) = delete;
  ConnectionBuffers& operator=(const ConnectionBuffers&) = delete;

  // Counts what this connection holds beyond its reservation against `server` from now on.
  // Only while nothing is counted.
  void AttachServer(ServerBuffers* server);

  // Inline, and small enough to stay so: every copy a writer queues and every message a stream
  // queues is counted here; the server budget's share, the waiting reader and the empty
  // connection are looked at only when there are any.
  void Add(Kind kind, size_t n) {
    by_kind_[static_cast<size_t>(kind)] += n;
    held_ += n;
    if (held_ > peak_) peak_ = held_;
    if (SharesWithServer()) Reconcile();
  }
  // Wakes the reader waiting in WaitForRoom once the connection is back under its budget.
  void Sub(Kind kind, size_t n) {
    if (n == 0) return;
    size_t& count = by_kind_[static_cast<size_t>(kind)];
    DRPC_CHECK_COLD(n <= count, [&](std::ostream& os) {
      os << "(" << n << " vs. " << count << ") connection buffers: released more than was counted";
    });
    count -= n;
    held_ -= n;
    if (SharesWithServer()) Reconcile();
    if (!room_.empty() && !over_budget()) room_.WakeAll();
    if (held_ == 0 && on_empty_) on_empty_();
  }
  // Sets what `kind` counts (for amounts the reader measures rather than tracks).
  void Set(Kind kind, size_t n) {
    if (n != by_kind_[static_cast<size_t>(kind)]) SetChanged(kind, n);
  }

  size_t held_bytes() const { return held_; }
  size_t held_bytes(Kind kind) const { return by_kind_[static_cast<size_t>(kind)]; }
  // Whether the connection's reader must stop reading (see the top of this file).
  bool over_budget() const {
    if (limits_.max_bytes != 0 && held_ >= limits_.max_bytes) return true;
    return over_server_budget();
  }
  // Over budget because of the server's budget rather than its own.
  bool over_server_budget() const {
    return limits_.server != nullptr && held_ > limits_.reserved_bytes && limits_.server->spent();
  }
  // Bytes that will leave without the reader's help: queued messages (the application takes
  // them) and writer copies (the peer reads them).
  size_t releasable_bytes() const {
    return held_bytes(Kind::kQueued) + held_bytes(Kind::kWriting);
  }
  // Blocks the calling fiber until the connection is under budget, `deadline` passes, or Wake()
  // is called. Returns !over_budget(). May return early; callers loop.
  bool WaitForRoom(Instant deadline, const char* reason);
  // Wakes a fiber in WaitForRoom (the connection is ending).
  void Wake() { room_.WakeAll(); }
  // Called (it must not block) each time a Sub leaves the connection holding nothing: its
  // Manager starts counting idle time (the memory it kept for a burst may go back). Null: none.
  void set_on_empty(absl::AnyInvocable<void()> on_empty) { on_empty_ = std::move(on_empty); }

  const Limits& limits() const { return limits_; }
  // The most this connection held at once (observability, tests).
  size_t peak_bytes() const { return peak_; }

 private:
  // Whether Reconcile has anything to do: the server's share is 0 while the connection holds no
  // more than its reservation and was charged nothing.
  bool SharesWithServer() const {
    return limits_.server != nullptr && (held_ > limits_.reserved_bytes || charged_to_server_ != 0);
  }
  // Moves the server budget's share of this connection to what it holds now.
  void Reconcile();
  void SetChanged(Kind kind, size_t n);

  Env* env_;
  Limits limits_;
  std::array<size_t, kKindCount> by_kind_{};
  size_t held_ = 0;
  size_t peak_ = 0;
  size_t charged_to_server_ = 0;
  WaitList room_;
  absl::AnyInvocable<void()> on_empty_;
};

// Counts `bytes` of `kind` in a ConnectionBuffers for as long as it lives (a copy waiting in a
// queue: whichever way it leaves, the count goes with it). Movable; a default one counts nothing.
class BufferCharge {
 public:
  BufferCharge() = default;
  BufferCharge(ConnectionBuffers* buffers, ConnectionBuffers::Kind kind, size_t bytes)
      : buffers_(buffers), kind_(kind), bytes_(bytes) {
    if (buffers_ != nullptr) buffers_->Add(kind_, bytes_);
  }
  // Inline: queues move their entries (and a charge with each) on every push and pop, and most
  // charges are empty (a packet the writer did not copy).
  BufferCharge(BufferCharge&& other) noexcept
      : buffers_(std::exchange(other.buffers_, nullptr)),
        kind_(other.kind_),
        bytes_(std::exchange(other.bytes_, 0)) {}
  BufferCharge& operator=(BufferCharge&& other) noexcept {
    if (this != &other) {
      Release();
      buffers_ = std::exchange(other.buffers_, nullptr);
      kind_ = other.kind_;
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }
  ~BufferCharge() { Release(); }

 private:
  void Release() {
    if (buffers_ != nullptr) buffers_->Sub(kind_, bytes_);
    buffers_ = nullptr;
    bytes_ = 0;
  }
  ConnectionBuffers* buffers_ = nullptr;
  ConnectionBuffers::Kind kind_ = ConnectionBuffers::Kind::kWriting;
  size_t bytes_ = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_BUFFER_BUDGET_H_
