// Socket plumbing for the production runtime: an owning file descriptor, numeric socket addresses,
// and the mapping from errno to the transport error kinds of impl/env.h.
//
//   absl::StatusOr<SocketAddress> a = SocketAddress::Parse("127.0.0.1:7777");
//   UniqueFd fd(socket(a->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
//   a->ToString() == "127.0.0.1:7777"
//
// Addresses are numeric only ("1.2.3.4:80", "[::1]:80", ":80" for every interface) plus the name
// "localhost" (= 127.0.0.1): name resolution would block a reactor thread, so it is the caller's
// job (on an application thread) if it needs one.
#ifndef DRPC_IMPL_RUNTIME_NET_H_
#define DRPC_IMPL_RUNTIME_NET_H_

#include <sys/socket.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"

namespace drpc::runtime {

// Owns one file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int Release() { return std::exchange(fd_, -1); }
  // Closes the descriptor now (if any).
  void Reset();

 private:
  int fd_ = -1;
};

class SocketAddress {
 public:
  SocketAddress() = default;
  // "host:port" with a numeric IPv4 host, "[v6]:port", ":port" (IPv4 any) or "localhost:port".
  // kInvalidArgument with the reason otherwise.
  static absl::StatusOr<SocketAddress> Parse(absl::string_view address);
  // The address a socket is bound to (getsockname) or connected to (getpeername).
  static absl::StatusOr<SocketAddress> Local(int fd);
  static absl::StatusOr<SocketAddress> Peer(int fd);

  int family() const { return storage_.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const { return size_; }
  // "127.0.0.1:7777", "[::1]:7777".
  std::string ToString() const;

 private:
  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

// An absl::Status for a failed system call: "<what>: <strerror>" with a code chosen from errno.
absl::Status ErrnoStatus(int error, absl::string_view what);

// The transport error for a failed read/write/shutdown on a connected socket:
// ECONNRESET, EPIPE, ECONNABORTED, ETIMEDOUT, ENETRESET, ENOTCONN -> kReset (the connection broke);
// anything else -> kIo. `detail` names the connection.
absl::Status SocketTransportError(int error, absl::string_view op, absl::string_view detail);

// Sets O_NONBLOCK and FD_CLOEXEC on `fd`.
absl::Status MakeNonBlocking(int fd);

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_NET_H_
