#include "impl/runtime/net.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace drpc::runtime {

void UniqueFd::Reset() {
  if (fd_ >= 0) {
    // close() may fail with EINTR, but the descriptor is released either way on Linux; retrying
    // could close a descriptor another thread just received.
    ::close(fd_);
    fd_ = -1;
  }
}

absl::StatusOr<SocketAddress> SocketAddress::Parse(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", address, "\": want host:port (e.g. 127.0.0.1:7777)"));
  }
  std::string host(address.substr(0, colon));
  const absl::string_view port_text = address.substr(colon + 1);
  uint32_t port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("address \"", address, "\": bad port"));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  // Numeric-only lookups never touch DNS, so this does not block.
  const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address \"", address, "\": the host must be a numeric IP address or localhost (",
        gai_strerror(rc), ")"));
  }
  SocketAddress out;
  std::memcpy(&out.storage_, result->ai_addr, result->ai_addrlen);
  out.size_ = static_cast<socklen_t>(result->ai_addrlen);
  freeaddrinfo(result);
  return out;
}

absl::StatusOr<SocketAddress> SocketAddress::Local(int fd) {
  SocketAddress out;
  out.size_ = sizeof(out.storage_);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&out.storage_), &out.size_) != 0) {
    return ErrnoStatus(errno, "getsockname");
  }
  return out;
}

absl::StatusOr<SocketAddress> SocketAddress::Peer(int fd) {
  SocketAddress out;
  out.size_ = sizeof(out.storage_);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&out.storage_), &out.size_) != 0) {
    return ErrnoStatus(errno, "getpeername");
  }
  return out;
}

std::string SocketAddress::ToString() const {
  char host[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&storage_);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    return absl::StrCat(host, ":", ntohs(a->sin_port));
  }
  if (family() == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage_);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    return absl::StrCat("[", host, "]:", ntohs(a->sin6_port));
  }
  return "<unknown address>";
}

absl::Status ErrnoStatus(int error, absl::string_view what) {
  const std::string message = absl::StrCat(what, ": ", std::strerror(error));
  switch (error) {
    case ECONNREFUSED:
    case ECONNRESET:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ETIMEDOUT:
      return absl::UnavailableError(message);
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return absl::ResourceExhaustedError(message);
    case EADDRINUSE:
      return absl::AlreadyExistsError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EINVAL:
    case EAFNOSUPPORT:
    case EADDRNOTAVAIL:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status SocketTransportError(int error, absl::string_view op, absl::string_view detail) {
  const std::string text = absl::StrCat(detail, ": ", op, ": ", std::strerror(error));
  switch (error) {
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
    case ETIMEDOUT:
    case ENETRESET:
    case ENOTCONN:
      return TransportError(TransportErrorKind::kReset, text);
    default:
      return TransportError(TransportErrorKind::kIo, text);
  }
}

absl::Status MakeNonBlocking(int fd) {
  const int flags = fcntl(fd, F_GETFL, 0);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return ErrnoStatus(errno, "fcntl(O_NONBLOCK)");
  }
  if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) return ErrnoStatus(errno, "fcntl(FD_CLOEXEC)");
  return absl::OkStatus();
}

}  // namespace drpc::runtime
