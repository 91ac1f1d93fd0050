// TCP for the production runtime: the Transport and Listener of impl/env.h over non-blocking
// sockets. A fiber that would block (EAGAIN) parks; the reactor's epoll wakes it.
//
//   // on a fiber of reactor r:
//   absl::StatusOr<std::unique_ptr<TcpListener>> l = TcpListener::Listen(r, "127.0.0.1:0");
//   (*l)->address();                                  // "127.0.0.1:40123", the real port
//   absl::StatusOr<std::unique_ptr<Transport>> server_side = (*l)->Accept();
//   absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, "127.0.0.1:40123");
//
// Every object here belongs to the reactor it was created on (see reactor.h): use it only from
// that reactor's fibers. A connection can move to another reactor only as a bare descriptor
// (TcpListener::AcceptSocket, then TcpTransport::Adopt there).
//
// Error mapping (Transport contract of impl/env.h):
//   Read: 0 bytes from the socket -> kEof (sticky); ECONNRESET, ETIMEDOUT, ... -> kReset;
//         after Close() -> kClosedLocally; anything else -> kIo. Once an error is returned, every
//         later Read returns an error.
//   Write: EPIPE, ECONNRESET, ... -> kReset (sticky); after CloseWrite() -> kWriteAfterClose;
//          after Close() -> kClosedLocally. SIGPIPE is never raised (MSG_NOSIGNAL).
//   Close() wakes a fiber blocked in Read or Write at once; it returns kClosedLocally.
#ifndef DRPC_IMPL_RUNTIME_TCP_H_
#define DRPC_IMPL_RUNTIME_TCP_H_

#include <sys/uio.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "impl/runtime/net.h"
#include "impl/runtime/reactor.h"
#include "impl/time.h"
#include "impl/tunables.h"

namespace drpc::runtime {

struct DialOptions {
  // Connection set-up must finish within this (kDeadlineExceeded otherwise).
  Duration timeout = tunables::kDialTimeoutDefault;
  // Send the drpcmigrate header "DRPC!!!1" in front of the first write (docs/protocol.md §10).
  bool migrate_header = false;
};

class TcpTransport final : public Transport {
 public:
  // Takes ownership of a connected socket, makes it non-blocking, sets TCP_NODELAY and registers
  // it with `reactor` (call on that reactor's thread). `peer` names the connection in errors
  // (default: the socket's peer address).
  static absl::StatusOr<std::unique_ptr<TcpTransport>> Adopt(Reactor& reactor, UniqueFd fd,
                                                            std::string peer = "");
  // Closes the socket. No fiber may be inside Read or Write (join them first).
  ~TcpTransport() override;

  absl::StatusOr<size_t> Read(char* buf, size_t size) override;
  bool ReadWouldWait() const override;
  void WaitReadable() override;
  absl::StatusOr<size_t> ReadNow(char* buf, size_t size) override;
  // readv over the spans (at most 8 per call), waiting as Read.
  absl::StatusOr<size_t> ReadV(absl::Span<const absl::Span<char>> spans) override;
  absl::Status Write(absl::string_view data) override;
  // sendmsg over the pieces (at most IOV_MAX per call; empty pieces skipped), resuming after
  // partial sends and waiting for writability on EAGAIN, like Write. The write prefix, if still
  // pending, goes out in front of the pieces in the same call.
  absl::Status WriteV(absl::Span<const absl::string_view> pieces) override;
  // Non-blocking sendmsg over the pieces until the socket buffer is full: returns the bytes the
  // kernel took. With a write prefix still pending it is WriteV's copy-then-write default.
  absl::StatusOr<size_t> TryWriteV(absl::Span<const absl::string_view> pieces) override;
  // shutdown(SHUT_WR): the peer reads EOF after the bytes already written. A fiber blocked in
  // Write returns kWriteAfterClose. kClosedLocally after Close(); idempotent otherwise.
  absl::Status CloseWrite() override;
  // Idempotent, never blocks; also safe from a timer callback of the owning reactor.
  void Close() override;

  // `prefix` goes out once, in front of the first Write's bytes and in the same system call
  // (the drpcmigrate header, docs/protocol.md §10); a connection that never writes never sends it.
  void SetWritePrefix(std::string prefix) { write_prefix_ = std::move(prefix); }
  // "127.0.0.1:7777".
  const std::string& peer() const { return peer_; }
  // The socket, for socket options only (reading, writing or closing it breaks the transport).
  // -1 after Close().
  int native_handle() const { return fd_.get(); }

 private:
  friend absl::StatusOr<std::unique_ptr<TcpTransport>> Dial(Reactor&, absl::string_view,
                                                           const DialOptions&);
  TcpTransport(Reactor& reactor, UniqueFd fd, std::string peer);
  // Read and ReadV (wait) or ReadNow (!wait), into `count` buffers of `size` bytes in all.
  absl::StatusOr<size_t> ReadSome(const iovec* iov, int count, size_t size, bool wait);
  // Sends every piece in order; `pieces` is consumed (views are advanced past sent bytes).
  absl::Status WriteAllV(absl::Span<absl::string_view> pieces);
  // The state a write must report before (or instead of) sending: ok if writing may proceed.
  absl::Status WriteState() const;
  // Waits for a non-blocking connect() to finish, at most until `deadline`.
  absl::Status WaitConnected(Instant deadline);

  Reactor* reactor_;
  UniqueFd fd_;
  std::string peer_;
  IoWaiters waiters_;
  bool closed_ = false;
  bool write_closed_ = false;
  // The last recv returned less than asked for: the socket was empty right after it.
  bool drained_ = false;
  absl::Status read_error_;
  absl::Status write_error_;
  std::string write_prefix_;
};

// Connects to `address` (numeric, see net.h) from a fiber of `reactor`. Errors: kInvalidArgument
// (bad address), kUnavailable "dial ADDR: Connection refused" (and other connect failures),
// kDeadlineExceeded (options.timeout), kResourceExhausted (out of descriptors).
absl::StatusOr<std::unique_ptr<TcpTransport>> Dial(Reactor& reactor, absl::string_view address,
                                                   const DialOptions& options = DialOptions{});

// The Dialer (impl/env.h) of one reactor: Dial with `options`, finishing by the earlier of the
// caller's deadline and options.timeout. Use it from that reactor's fibers.
class TcpDialer final : public Dialer {
 public:
  explicit TcpDialer(Reactor& reactor, DialOptions options = DialOptions{})
      : reactor_(&reactor), options_(std::move(options)) {}
  absl::StatusOr<std::unique_ptr<Transport>> Dial(absl::string_view address,
                                                  Instant deadline) override;

 private:
  Reactor* reactor_;
  DialOptions options_;
};

struct ListenOptions {
  // Connections the kernel queues before Accept takes them (capped by net.core.somaxconn).
  int backlog = tunables::kListenBacklogDefaultCount;
  // Transient accept failures (out of descriptors or memory: EMFILE, ENFILE, ENOBUFS, ENOMEM)
  // are retried after a pause that doubles from min to max, never in a busy loop.
  Duration accept_backoff_min = tunables::kAcceptBackoffMin;
  Duration accept_backoff_max = tunables::kAcceptBackoffMax;
  // Called (on the reactor, outside any lock) with each transient failure before the pause; for
  // logs. May be empty.
  std::function<void(const absl::Status&)> on_accept_error;
};

class TcpListener final : public Listener {
 public:
  // Binds (SO_REUSEADDR) and listens on `address` ("127.0.0.1:0" picks a free port); call on
  // `reactor`'s thread. Errors: kInvalidArgument, kAlreadyExists (address in use), ...
  static absl::StatusOr<std::unique_ptr<TcpListener>> Listen(Reactor& reactor,
                                                            absl::string_view address,
                                                            ListenOptions options = ListenOptions{});
  ~TcpListener() override;  // Close(); no fiber may be inside Accept

  // A connection as a TcpTransport on this listener's reactor. After Close(): kCancelled
  // "listener closed". Other errors are permanent (the listener is unusable).
  absl::StatusOr<std::unique_ptr<Transport>> Accept() override;

  struct AcceptedSocket {
    UniqueFd fd;       // connected, non-blocking, close-on-exec
    std::string peer;  // "127.0.0.1:53122"
  };
  // Like Accept, but returns the bare socket, for adoption by any reactor.
  absl::StatusOr<AcceptedSocket> AcceptSocket();

  // Stops listening; a fiber blocked in Accept returns kCancelled. Idempotent, never blocks.
  void Close() override;

  // The bound address with the real port, e.g. "127.0.0.1:40123".
  const std::string& address() const { return address_; }
  int native_handle() const { return fd_.get(); }

 private:
  TcpListener(Reactor& reactor, UniqueFd fd, std::string address, ListenOptions options);
  // Parks until `until` passes or the listener is closed.
  void Pause(Instant until);

  Reactor* reactor_;
  UniqueFd fd_;
  std::string address_;
  ListenOptions options_;
  IoWaiters waiters_;
  bool closed_ = false;
  Duration backoff_;
};

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_TCP_H_
