// RpcStream: the application's view of one call's message stream — what a handler and a client
// caller use, and what interceptors, typed stubs and test doubles implement or wrap.
//
//   absl::StatusOr<std::shared_ptr<RpcStream>> s = conn.NewStream(ctx, "/interop.Echo/Bidi");
//   (*s)->Send("one");
//   absl::StatusOr<std::string> m = (*s)->Recv();   // EOF once the peer finished sending
//   (*s)->CloseSend();
//   (*s)->Close();
//
// The protocol core's implementation is Stream (impl/stream.h), whose header gives the state
// machine: which error each operation returns after each local or remote event. A wrapper must
// keep those results (an interceptor may add a status of its own, but must not turn an error into
// success or EOF into an error). Like Stream, an RpcStream belongs to one Scheduler (impl/env.h);
// at most one fiber sends and one receives at a time.
#ifndef DRPC_IMPL_RPC_STREAM_H_
#define DRPC_IMPL_RPC_STREAM_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace drpc {

class RpcStream {
 public:
  virtual ~RpcStream() = default;

  // The stream's ID on its connection (for logs; IDs are reused across connections).
  virtual uint64_t id() const = 0;

  // Sends one message. Blocks for transport back-pressure and flow control.
  virtual absl::Status Send(absl::string_view message) = 0;
  // Sends one message and half-closes (a unary reply, a client stream's last message): one
  // transport write where the mode allows.
  virtual absl::Status SendLast(absl::string_view message) = 0;
  // The next message; EOF (impl/errors.h IsEof) once the peer finished sending; else the error
  // that ended the stream.
  virtual absl::StatusOr<std::string> Recv() = 0;
  // Like Recv, but swaps the message into *out, so a loop over one string allocates nothing per
  // message. *out is untouched on error.
  virtual absl::Status RecvInto(std::string* out) = 0;
  // Half close: no more messages from this side.
  virtual absl::Status CloseSend() = 0;
  // Ends the stream and tells the peer. No-op once the stream ended.
  virtual absl::Status Close() = 0;
  // Ends the stream with an Error for the peer carrying `error` (its code and text).
  virtual absl::Status SendError(const absl::Status& error) = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_RPC_STREAM_H_
