// A blocking loopback TCP socket that speaks drpc frames by hand (proto/ only, no drpc-cpp client
// code): the idle-connection rows of tools/bench and the hostile soak drive the production server
// with it exactly as a peer would — including peers that never read, stop one byte short of a
// frame or flood control frames.
//
//   absl::StatusOr<WireClient> c = WireClient::Connect(server.address());
//   c->Send(UnaryCallBytes(/*stream=*/1, "/interop.Echo/Unary", "hi"));
//   absl::StatusOr<std::string> reply = c->ReadReply(1, absl::Seconds(1));   // "hi"
#ifndef DRPC_TOOLS_BENCH_WIRE_CLIENT_H_
#define DRPC_TOOLS_BENCH_WIRE_CLIENT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "proto/frame.h"

namespace drpc::bench {

// One frame of `kind` for (stream, message), done, with `data`.
std::string FrameBytes(uint64_t stream, uint64_t message, Kind kind, absl::string_view data = "");
// A whole unary call on `stream`: Invoke(rpc), Message(payload), CloseSend (message IDs 1..3).
std::string UnaryCallBytes(uint64_t stream, absl::string_view rpc, absl::string_view payload);

class WireClient {
 public:
  // Connects to "host:port" (IPv4) with TCP_NODELAY.
  static absl::StatusOr<WireClient> Connect(const std::string& address);
  WireClient(WireClient&& other) noexcept;
  WireClient& operator=(WireClient&& other) noexcept;
  ~WireClient();

  // Writes all of `bytes` (blocking).
  absl::Status Send(absl::string_view bytes);
  // Reads frames until `stream` ends (CloseSend, Close or Error) and returns its Message data; an
  // Error becomes a status carrying its body; kDeadlineExceeded after `timeout`; frames of other
  // streams are skipped.
  absl::StatusOr<std::string> ReadReply(uint64_t stream, absl::Duration timeout);
  // The next frame from the server (its data copied), waiting up to `timeout`.
  struct OwnedFrame {
    uint64_t stream = 0;
    Kind kind = Kind::kMessage;
    std::string data;
  };
  absl::StatusOr<OwnedFrame> ReadFrame(absl::Duration timeout);
  // Reads and discards whatever has arrived, without blocking. False once the peer has closed.
  bool Drain();
  // Waits up to `timeout` for the server to close the connection (reading and discarding).
  bool WaitClosed(absl::Duration timeout);
  void ShutdownWrite();
  int fd() const { return fd_; }

 private:
  explicit WireClient(int fd);
  int fd_ = -1;
  FrameParser parser_;
};

}  // namespace drpc::bench

#endif  // DRPC_TOOLS_BENCH_WIRE_CLIENT_H_
