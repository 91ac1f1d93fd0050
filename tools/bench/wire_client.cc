#include "tools/bench/wire_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/limits.h"

namespace drpc::bench {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

FrameParser::Options ParserOptions() {
  return FrameParser::Options{.frame_data_max_bytes = limits::kPacketLimitMaxBytes};
}

}  // namespace

std::string FrameBytes(uint64_t stream, uint64_t message, Kind kind, absl::string_view data) {
  std::string out;
  AppendFrame(out, Frame{.id = {stream, message}, .kind = kind, .done = true, .data = data});
  return out;
}

std::string UnaryCallBytes(uint64_t stream, absl::string_view rpc, absl::string_view payload) {
  return FrameBytes(stream, 1, Kind::kInvoke, rpc) +
         FrameBytes(stream, 2, Kind::kMessage, payload) + FrameBytes(stream, 3, Kind::kCloseSend);
}

WireClient::WireClient(int fd) : fd_(fd), parser_(ParserOptions()) {}

WireClient::WireClient(WireClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), parser_(std::move(other.parser_)) {}

WireClient& WireClient::operator=(WireClient&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    parser_ = std::move(other.parser_);
  }
  return *this;
}

WireClient::~WireClient() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<WireClient> WireClient::Connect(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(absl::StrCat("bad address ", address));
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("bad address ", address));
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  WireClient c(fd);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) != 0) {
    return Errno("connect");
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return c;
}

absl::Status WireClient::Send(absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("send");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> WireClient::ReadReply(uint64_t stream, absl::Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  std::string message;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(
        deadline - std::chrono::steady_clock::now());
    absl::StatusOr<OwnedFrame> f = ReadFrame(absl::Nanoseconds(std::max<int64_t>(0, left.count())));
    if (!f.ok()) return f.status();
    if (f->stream != stream) continue;
    switch (f->kind) {
      case Kind::kMessage:
        message.append(f->data);
        break;
      case Kind::kError:
        return absl::UnknownError(absl::StrCat("Error packet: ", f->data));
      case Kind::kCloseSend:
      case Kind::kClose:
        parser_.Shrink(0);  // an idle client keeps no read buffer (the bench measures servers)
        return message;
      default:
        break;
    }
  }
}

absl::StatusOr<WireClient::OwnedFrame> WireClient::ReadFrame(absl::Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  for (;;) {
    absl::StatusOr<std::optional<Frame>> f = parser_.Next();
    if (!f.ok()) return f.status();
    if (f->has_value()) {
      const Frame& frame = **f;
      return OwnedFrame{.stream = frame.id.stream, .kind = frame.kind,
                        .data = std::string(frame.data.data(), frame.data.size())};
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return absl::DeadlineExceededError("no reply in time");
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char* buf = parser_.PrepareAppend(16 * 1024);
    const ssize_t n = recv(fd_, buf, 16 * 1024, 0);
    if (n == 0) {
      parser_.CommitAppend(0);
      return absl::UnavailableError("connection closed by the server");
    }
    if (n < 0) {
      parser_.CommitAppend(0);
      if (errno == EINTR || errno == EAGAIN) continue;
      return Errno("recv");
    }
    parser_.CommitAppend(static_cast<size_t>(n));
  }
}

bool WireClient::Drain() {
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  }
}

bool WireClient::WaitClosed(absl::Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout);
  for (;;) {
    if (!Drain()) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    poll(&p, 1, static_cast<int>(left.count()));
  }
}

void WireClient::ShutdownWrite() { shutdown(fd_, SHUT_WR); }

}  // namespace drpc::bench
