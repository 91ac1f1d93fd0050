#include "impl/runtime/tcp.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/migrate.h"

namespace drpc::runtime {
namespace {

// iovecs per sendmsg: the kernel's limit, bounded so the array stays a small stack buffer.
constexpr size_t kWriteIovMaxCount = IOV_MAX < 1024 ? IOV_MAX : 1024;
// iovecs per readv: the reader passes two (a frame's data, then its frame buffer); more spans are
// read by later calls (a read may return less than asked).
constexpr size_t kReadIovMaxCount = 8;

absl::Status SetNoDelay(int fd) {
  const int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    return ErrnoStatus(errno, "setsockopt(TCP_NODELAY)");
  }
  return absl::OkStatus();
}

// accept(2) on Linux passes pending network errors of the new connection through; the listener
// itself is fine and the next connection may be too.
bool IsRetryableAcceptError(int error) {
  switch (error) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

bool IsResourceAcceptError(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

}  // namespace

// --- TcpTransport ----------------------------------------------------------------------------------

TcpTransport::TcpTransport(Reactor& reactor, UniqueFd fd, std::string peer)
    : reactor_(&reactor), fd_(std::move(fd)), peer_(std::move(peer)) {}

absl::StatusOr<std::unique_ptr<TcpTransport>> TcpTransport::Adopt(Reactor& reactor, UniqueFd fd,
                                                                  std::string peer) {
  DRPC_CHECK(fd.valid());
  if (absl::Status s = MakeNonBlocking(fd.get()); !s.ok()) return s;
  if (absl::Status s = SetNoDelay(fd.get()); !s.ok()) return s;
  if (peer.empty()) {
    absl::StatusOr<SocketAddress> a = SocketAddress::Peer(fd.get());
    peer = a.ok() ? a->ToString() : "unconnected socket";
  }
  std::unique_ptr<TcpTransport> t(new TcpTransport(reactor, std::move(fd), std::move(peer)));
  if (absl::Status s = reactor.Watch(t->fd_.get(), &t->waiters_); !s.ok()) {
    t->closed_ = true;  // never registered: the destructor must not unwatch
    return s;
  }
  return t;
}

TcpTransport::~TcpTransport() {
  Close();
  DRPC_CHECK(waiters_.reader == nullptr && waiters_.writer == nullptr)
      << "TcpTransport " << peer_ << " destroyed with a fiber inside Read or Write";
}

bool TcpTransport::ReadWouldWait() const {
  // The last read emptied the socket (it returned less than asked) and the loop has reported no
  // input since: a recv now would be EAGAIN. The registration is edge-triggered, so bytes arriving
  // from now on queue an event; bytes that arrived earlier and whose event the loop already took
  // set input_seen. A short read can leave a FIN or an error behind it (recv reports data first):
  // once the loop has reported one (input_closed_seen) we always recv.
  return drained_ && !waiters_.input_seen && !waiters_.input_closed_seen && !closed_ &&
         read_error_.ok();
}

void TcpTransport::WaitReadable() {
  if (!ReadWouldWait()) return;
  reactor_->WaitReadable(waiters_, "tcp read: waiting for bytes");
  drained_ = false;  // woken: the next Read recvs at once
}

absl::StatusOr<size_t> TcpTransport::Read(char* buf, size_t size) {
  DRPC_CHECK_GT(size, 0u);
  const iovec iov{.iov_base = buf, .iov_len = size};
  return ReadSome(&iov, 1, size, /*wait=*/true);
}

absl::StatusOr<size_t> TcpTransport::ReadNow(char* buf, size_t size) {
  DRPC_CHECK_GT(size, 0u);
  const iovec iov{.iov_base = buf, .iov_len = size};
  return ReadSome(&iov, 1, size, /*wait=*/false);
}

absl::StatusOr<size_t> TcpTransport::ReadV(absl::Span<const absl::Span<char>> spans) {
  DRPC_CHECK(!spans.empty());
  iovec iov[kReadIovMaxCount];
  const size_t count = std::min(spans.size(), kReadIovMaxCount);
  size_t size = 0;
  for (size_t i = 0; i < count; ++i) {
    DRPC_CHECK(!spans[i].empty());
    iov[i] = iovec{.iov_base = spans[i].data(), .iov_len = spans[i].size()};
    size += spans[i].size();
  }
  return ReadSome(iov, static_cast<int>(count), size, /*wait=*/true);
}

absl::StatusOr<size_t> TcpTransport::ReadSome(const iovec* iov, int count, size_t size,
                                              bool wait) {
  // Wait for readiness first rather than make a recv that would be EAGAIN.
  if (wait) {
    WaitReadable();
  } else if (ReadWouldWait()) {
    return 0;
  }
  drained_ = false;
  for (;;) {
    if (closed_) return TransportError(TransportErrorKind::kClosedLocally, peer_);
    if (!read_error_.ok()) return read_error_;
    const ssize_t n = count == 1 ? recv(fd_.get(), iov[0].iov_base, iov[0].iov_len, 0)
                                 : readv(fd_.get(), iov, count);
    reactor_->CountSyscall();
    if (waiters_.woken_by_guess) {
      reactor_->ReportGuess(waiters_, n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK));
    }
    if (n >= 0 && waiters_.expect_listed) reactor_->ForgetInput(waiters_);
    if (n > 0) {
      drained_ = static_cast<size_t>(n) < size;
      if (drained_) waiters_.input_seen = false;  // later input events set it again
      // A peer that keeps the socket full would otherwise keep this fiber running for ever.
      reactor_->ChargeTurn(static_cast<size_t>(n));
      return static_cast<size_t>(n);
    }
    if (n == 0) {
      read_error_ = TransportError(TransportErrorKind::kEof, peer_);
      return read_error_;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait) {
        drained_ = true;  // empty now: later input events set input_seen again
        waiters_.input_seen = false;
        return 0;
      }
      reactor_->WaitReadable(waiters_, "tcp read: waiting for bytes");
      continue;
    }
    read_error_ = SocketTransportError(errno, "read", peer_);
    return read_error_;
  }
}

absl::Status TcpTransport::Write(absl::string_view data) {
  // One send path for both: a plain write is a gather write of one piece (the migrate prefix, if
  // still unsent, goes as its own piece rather than by concatenating).
  return WriteV(absl::MakeConstSpan(&data, 1));
}

absl::Status TcpTransport::WriteState() const {
  if (closed_) return TransportError(TransportErrorKind::kClosedLocally, peer_);
  if (!write_error_.ok()) return write_error_;
  if (write_closed_) return TransportError(TransportErrorKind::kWriteAfterClose, peer_);
  return absl::OkStatus();
}

absl::Status TcpTransport::WriteV(absl::Span<const absl::string_view> pieces) {
  // Copy the views (not the bytes): WriteAllV advances them as the kernel accepts bytes.
  absl::InlinedVector<absl::string_view, 4> rest;  // no allocation for the common few pieces
  rest.reserve(pieces.size() + 1);
  std::string prefix;
  if (!write_prefix_.empty() && !closed_ && !write_closed_) {
    prefix = std::move(write_prefix_);
    write_prefix_.clear();
    rest.push_back(prefix);
  }
  for (absl::string_view p : pieces) {
    if (!p.empty()) rest.push_back(p);
  }
  return WriteAllV(absl::MakeSpan(rest));
}

absl::StatusOr<size_t> TcpTransport::TryWriteV(absl::Span<const absl::string_view> pieces) {
  if (!write_prefix_.empty()) return Transport::TryWriteV(pieces);
  if (absl::Status s = WriteState(); !s.ok()) return s;
  iovec iov[kWriteIovMaxCount];
  size_t taken = 0;
  size_t first = 0;     // pieces before it are fully sent
  size_t skip = 0;      // bytes of pieces[first] already sent
  for (;;) {
    size_t count = 0;
    for (size_t i = first; i < pieces.size() && count < kWriteIovMaxCount; ++i) {
      const size_t from = i == first ? skip : 0;
      if (pieces[i].size() == from) continue;
      iov[count].iov_base = const_cast<char*>(pieces[i].data() + from);
      iov[count].iov_len = pieces[i].size() - from;
      ++count;
    }
    if (count == 0) break;
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    const ssize_t n = sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) {
      write_error_ = SocketTransportError(errno, "write", peer_);
      return write_error_;
    }
    taken += static_cast<size_t>(n);
    for (size_t sent = static_cast<size_t>(n); sent > 0;) {
      const size_t left = pieces[first].size() - skip;
      if (sent >= left) {
        sent -= left;
        ++first;
        skip = 0;
      } else {
        skip += sent;
        sent = 0;
      }
    }
  }
  // Charged after the last look at the pieces: the turn's end may let other fibers run.
  reactor_->ChargeTurn(taken);
  return taken;
}

absl::Status TcpTransport::WriteAllV(absl::Span<absl::string_view> pieces) {
  iovec iov[kWriteIovMaxCount];
  size_t first = 0;  // pieces before it are fully sent; empty pieces were dropped by the caller
  while (first < pieces.size()) {
    if (absl::Status s = WriteState(); !s.ok()) return s;
    size_t count = 0;
    for (size_t i = first; i < pieces.size() && count < kWriteIovMaxCount; ++i, ++count) {
      iov[count].iov_base = const_cast<char*>(pieces[i].data());
      iov[count].iov_len = pieces[i].size();
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    const ssize_t n = sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    reactor_->CountSyscall();
    if (n >= 0) {
      // A peer that reads as fast as we write never makes this block: the turn budget lets the
      // reactor's other fibers run (the loop re-checks the transport's state after it).
      reactor_->ChargeTurn(static_cast<size_t>(n));
      size_t sent = static_cast<size_t>(n);
      while (sent > 0) {
        absl::string_view& p = pieces[first];
        if (sent >= p.size()) {
          sent -= p.size();
          ++first;
        } else {
          p.remove_prefix(sent);
          sent = 0;
        }
      }
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      reactor_->WaitWritable(waiters_, "tcp write: socket buffer full");
      continue;
    }
    write_error_ = SocketTransportError(errno, "write", peer_);
    return write_error_;
  }
  // Nothing to send (all pieces empty) still reports the state, as an empty Write does.
  if (pieces.empty()) {
    if (closed_) return TransportError(TransportErrorKind::kClosedLocally, peer_);
    if (write_closed_) return TransportError(TransportErrorKind::kWriteAfterClose, peer_);
    return absl::OkStatus();
  }
  // Bytes went out: a reply may follow, which the reader then recvs without an epoll_wait first.
  reactor_->ExpectInput(waiters_);
  return absl::OkStatus();
}

absl::Status TcpTransport::CloseWrite() {
  if (closed_) return TransportError(TransportErrorKind::kClosedLocally, peer_);
  if (write_closed_) return absl::OkStatus();
  write_closed_ = true;
  if (waiters_.writer != nullptr) reactor_->Unpark(waiters_.writer);
  if (shutdown(fd_.get(), SHUT_WR) != 0) return SocketTransportError(errno, "shutdown", peer_);
  return absl::OkStatus();
}

void TcpTransport::Close() {
  if (closed_) {
    fd_.Reset();  // an Adopt that failed to register still owns its descriptor
    return;
  }
  closed_ = true;
  if (waiters_.reader != nullptr) reactor_->Unpark(waiters_.reader);
  if (waiters_.writer != nullptr) reactor_->Unpark(waiters_.writer);
  reactor_->ForgetInput(waiters_);
  reactor_->Unwatch(fd_.get());
  fd_.Reset();
}

absl::Status TcpTransport::WaitConnected(Instant deadline) {
  bool timed_out = false;
  Fiber* self = reactor_->Current();
  DRPC_CHECK(self != nullptr) << "Dial outside a fiber";
  const TimerId timer = reactor_->ScheduleAt(deadline, [this, &timed_out, self] {
    timed_out = true;
    reactor_->Unpark(self);
  });
  absl::Status result;
  for (;;) {
    int error = 0;
    socklen_t len = sizeof(error);
    if (getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    if (error != 0) {
      result = ErrnoStatus(error, absl::StrCat("dial ", peer_));
      break;
    }
    if (SocketAddress::Peer(fd_.get()).ok()) break;  // connected
    if (timed_out) {
      result = absl::DeadlineExceededError(absl::StrCat("dial ", peer_, ": timed out"));
      break;
    }
    reactor_->WaitWritable(waiters_, "tcp dial: connecting");
  }
  reactor_->Cancel(timer);
  return result;
}

absl::StatusOr<std::unique_ptr<TcpTransport>> Dial(Reactor& reactor, absl::string_view address,
                                                   const DialOptions& options) {
  absl::StatusOr<SocketAddress> addr = SocketAddress::Parse(address);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "socket");
  const bool pending = connect(fd.get(), addr->get(), addr->size()) != 0;
  if (pending && errno != EINPROGRESS) {
    return ErrnoStatus(errno, absl::StrCat("dial ", addr->ToString()));
  }
  absl::StatusOr<std::unique_ptr<TcpTransport>> t =
      TcpTransport::Adopt(reactor, std::move(fd), addr->ToString());
  if (!t.ok()) return t.status();
  if (pending) {
    if (absl::Status s = (*t)->WaitConnected(reactor.Now() + options.timeout); !s.ok()) return s;
  }
  if (options.migrate_header) (*t)->SetWritePrefix(std::string(kMigrateHeader));
  return t;
}

absl::StatusOr<std::unique_ptr<Transport>> TcpDialer::Dial(absl::string_view address,
                                                           Instant deadline) {
  DialOptions options = options_;
  options.timeout = std::min(options.timeout, std::max(deadline - reactor_->Now(), Duration::Zero()));
  absl::StatusOr<std::unique_ptr<TcpTransport>> t = runtime::Dial(*reactor_, address, options);
  if (!t.ok()) return t.status();
  return std::unique_ptr<Transport>(*std::move(t));
}

// --- TcpListener -----------------------------------------------------------------------------------

TcpListener::TcpListener(Reactor& reactor, UniqueFd fd, std::string address, ListenOptions options)
    : reactor_(&reactor),
      fd_(std::move(fd)),
      address_(std::move(address)),
      options_(std::move(options)),
      backoff_(options_.accept_backoff_min) {}

absl::StatusOr<std::unique_ptr<TcpListener>> TcpListener::Listen(Reactor& reactor,
                                                                absl::string_view address,
                                                                ListenOptions options) {
  if (options.backlog <= 0 || options.accept_backoff_min <= Duration::Zero() ||
      options.accept_backoff_max < options.accept_backoff_min) {
    return absl::InvalidArgumentError("listen: backlog and accept backoff must be positive");
  }
  absl::StatusOr<SocketAddress> addr = SocketAddress::Parse(address);
  if (!addr.ok()) return addr.status();
  UniqueFd fd(socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(errno, "socket");
  const int one = 1;
  if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
    return ErrnoStatus(errno, "setsockopt(SO_REUSEADDR)");
  }
  if (bind(fd.get(), addr->get(), addr->size()) != 0) {
    return ErrnoStatus(errno, absl::StrCat("bind ", addr->ToString()));
  }
  if (listen(fd.get(), options.backlog) != 0) {
    return ErrnoStatus(errno, absl::StrCat("listen ", addr->ToString()));
  }
  absl::StatusOr<SocketAddress> bound = SocketAddress::Local(fd.get());
  if (!bound.ok()) return bound.status();
  std::unique_ptr<TcpListener> l(
      new TcpListener(reactor, std::move(fd), bound->ToString(), std::move(options)));
  if (absl::Status s = reactor.Watch(l->fd_.get(), &l->waiters_); !s.ok()) {
    l->closed_ = true;
    return s;
  }
  return l;
}

TcpListener::~TcpListener() {
  Close();
  DRPC_CHECK(waiters_.reader == nullptr) << "TcpListener destroyed with a fiber inside Accept";
}

absl::StatusOr<TcpListener::AcceptedSocket> TcpListener::AcceptSocket() {
  for (;;) {
    if (closed_) return absl::CancelledError("listener closed");
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    UniqueFd fd(accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer), &len,
                        SOCK_NONBLOCK | SOCK_CLOEXEC));
    reactor_->CountSyscall();
    if (fd.valid()) {
      backoff_ = options_.accept_backoff_min;
      // A flood of connections takes turns with the connections already served.
      reactor_->ChargeTurn(0);
      absl::StatusOr<SocketAddress> a = SocketAddress::Peer(fd.get());
      return AcceptedSocket{std::move(fd), a.ok() ? a->ToString() : "unknown peer"};
    }
    const int error = errno;
    if (error == EAGAIN || error == EWOULDBLOCK) {
      reactor_->WaitReadable(waiters_, "tcp accept: waiting for connections");
      continue;
    }
    if (IsRetryableAcceptError(error)) continue;
    if (IsResourceAcceptError(error)) {
      const absl::Status status = ErrnoStatus(error, absl::StrCat("accept on ", address_));
      if (options_.on_accept_error) options_.on_accept_error(status);
      Pause(reactor_->Now() + backoff_);
      backoff_ = std::min(backoff_ * 2, options_.accept_backoff_max);
      continue;
    }
    return ErrnoStatus(error, absl::StrCat("accept on ", address_));
  }
}

absl::StatusOr<std::unique_ptr<Transport>> TcpListener::Accept() {
  absl::StatusOr<AcceptedSocket> s = AcceptSocket();
  if (!s.ok()) return s.status();
  absl::StatusOr<std::unique_ptr<TcpTransport>> t =
      TcpTransport::Adopt(*reactor_, std::move(s->fd), std::move(s->peer));
  if (!t.ok()) return t.status();
  return std::unique_ptr<Transport>(*std::move(t));
}

void TcpListener::Pause(Instant until) {
  Fiber* self = reactor_->Current();
  DRPC_CHECK(self != nullptr) << "Accept outside a fiber";
  const TimerId timer = reactor_->ScheduleAt(until, [this, self] { reactor_->Unpark(self); });
  // New connections also wake the waiter; they must not cut the pause short (that would turn a
  // descriptor shortage into a busy loop).
  while (!closed_ && reactor_->Now() < until) {
    reactor_->WaitReadable(waiters_, "tcp accept: backing off after a resource error");
  }
  reactor_->Cancel(timer);
}

void TcpListener::Close() {
  if (closed_) {
    fd_.Reset();
    return;
  }
  closed_ = true;
  if (waiters_.reader != nullptr) reactor_->Unpark(waiters_.reader);
  reactor_->Unwatch(fd_.get());
  fd_.Reset();
}

}  // namespace drpc::runtime
