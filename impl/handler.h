// Handler: what a Server dispatches each incoming call to. Router (impl/router.h) implements it;
// server middleware (auth, logging, metrics, panics-to-errors) implements it by wrapping another
// Handler:
//
//   class Logging final : public Handler {
//    public:
//     explicit Logging(const Handler& next) : next_(&next) {}
//     absl::Status HandleRpc(CallContext& ctx, absl::string_view rpc, RpcStream& s) const override {
//       absl::Status status = next_->HandleRpc(ctx, rpc, s);
//       Log(rpc, status);
//       return status;
//     }
//    private:
//     const Handler* next_;
//   };
//
// Contract: HandleRpc serves one call on `stream` — reads the requests and sends the replies the
// RPC's shape calls for — and returns how it ended. The server answers after it returns: a non-OK
// status becomes an Error for the client (code: RemoteErrorCode if attached, else the absl code
// number; text: the message), OK becomes CloseSend. A handler may also end the stream itself
// (the server's answer is then a no-op). `ctx` carries the client's metadata
// (ctx.incoming_metadata()) and is done when the call ends early (client cancel, connection loss,
// server shutdown). HandleRpc runs on its own fiber (mux) or the connection's (upstream), may
// block, is called concurrently for different calls, and must be safe to call from every
// connection of the server: `const` for that reason.
#ifndef DRPC_IMPL_HANDLER_H_
#define DRPC_IMPL_HANDLER_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "impl/context.h"
#include "impl/rpc_stream.h"

namespace drpc {

class Handler {
 public:
  virtual ~Handler() = default;
  virtual absl::Status HandleRpc(CallContext& ctx, absl::string_view rpc,
                                 RpcStream& stream) const = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_HANDLER_H_
