// ClientConn: what a caller needs from a client connection. Conn (one DRPC connection) implements
// it; typed stubs take it; a pool, a reconnecting client or a chain of client interceptors
// implements it by wrapping another ClientConn, so the caller's code does not change.
//
//   absl::StatusOr<std::string> Greet(ClientConn& cc, CallContext& ctx) {
//     return cc.Invoke(ctx, "/hello.Greeter/Greet", "world");
//   }
//
// Contract for every implementation (the tests of Conn pin it down for the real one):
//   * a call on a context that is already done fails with ctx.err() before anything is sent;
//   * a cancelled call reports Canceled or DeadlineExceeded (ctx.err()), never EOF or "closed";
//   * a remote Error becomes a status with the remote text and code (impl/errors.h);
//   * a dead connection gives "closed: connection closed: <why>" (IsClosed).
// Threading: like Conn, a ClientConn belongs to one Scheduler (impl/env.h) unless its header says
// otherwise; every method is called from that scheduler's fibers.
#ifndef DRPC_IMPL_CLIENT_CONN_H_
#define DRPC_IMPL_CLIENT_CONN_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/context.h"
#include "impl/rpc_stream.h"
#include "impl/sync.h"

namespace drpc {

class ClientConn {
 public:
  virtual ~ClientConn() = default;

  // A unary call: sends `request` with ctx.metadata(), returns the single reply. A server that
  // ends the call without a reply gives EOF (as in Go).
  virtual absl::StatusOr<std::string> Invoke(CallContext& ctx, absl::string_view rpc,
                                             absl::string_view request) = 0;

  // A streaming call (client, server or bidi). The caller sends and receives, half-closes with
  // CloseSend, and ends the call by reading until EOF or with Close(). Cancelling ctx cancels it.
  virtual absl::StatusOr<std::shared_ptr<RpcStream>> NewStream(CallContext& ctx,
                                                               absl::string_view rpc) = 0;

  // Ends every call and releases the connection(s). Idempotent.
  virtual void Close() = 0;

  // Set once the connection has ended for good, with the reason. (A reconnecting implementation
  // sets it only when it stops reconnecting, e.g. after Close.)
  virtual Signal& closed() = 0;
};

}  // namespace drpc

#endif  // DRPC_IMPL_CLIENT_CONN_H_
