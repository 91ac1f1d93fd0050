// Conn: the client side of one DRPC connection.
//
//   absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(env, std::move(transport), Options{});
//   CallContext ctx(env);
//   ctx.metadata()["trace-id"] = "abc";
//   absl::StatusOr<std::string> reply = (*conn)->Invoke(ctx, "/interop.Echo/Unary", "hello");
//
//   absl::StatusOr<std::shared_ptr<RpcStream>> s = (*conn)->NewStream(ctx, "/interop.Echo/Bidi");
//   (*s)->Send("one"); (*s)->Recv(); (*s)->CloseSend(); ... until Recv returns EOF; (*s)->Close();
//
//   (*conn)->Close();
//
// Conn implements ClientConn (impl/client_conn.h), the interface stubs, pools and interceptors
// take. Errors (impl/errors.h): a remote Error packet becomes a status with the remote text and code
// (RemoteErrorCode); a cancelled call returns ctx.err() (Canceled or DeadlineExceeded), never
// EOF; a call on a context that is already done fails before anything is sent; a dead connection
// gives "closed: connection closed: ...".
#ifndef DRPC_IMPL_CONN_H_
#define DRPC_IMPL_CONN_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/client_conn.h"
#include "impl/context.h"
#include "impl/env.h"
#include "impl/manager.h"
#include "impl/options.h"
#include "impl/stream.h"

namespace drpc {

class Conn final : public ClientConn {
 public:
  // Starts the connection over `transport` (kInvalidArgument for bad options).
  static absl::StatusOr<std::unique_ptr<Conn>> Create(Env& env, std::unique_ptr<Transport> transport,
                                                     const Options& options = Options{});
  ~Conn() override;  // requires Close()

  // A unary call: [InvokeMetadata] Invoke Message CloseSend (one write in upstream mode), then one
  // reply Message; afterwards a Close unless the stream already ended. If the server ends the
  // call with CloseSend and no message, the result is EOF (as in Go).
  absl::StatusOr<std::string> Invoke(CallContext& ctx, absl::string_view rpc,
                                     absl::string_view request) override;

  // A streaming call. The caller sends/receives, half-closes with CloseSend, and ends the call by
  // reading until EOF or with Close().
  absl::StatusOr<std::shared_ptr<RpcStream>> NewStream(CallContext& ctx,
                                                       absl::string_view rpc) override;
  // The same, as the protocol core's Stream (its state is visible: tests, tools).
  absl::StatusOr<std::shared_ptr<Stream>> OpenStream(CallContext& ctx, absl::string_view rpc);

  // Closes the connection (every open stream ends) and joins its fibers.
  void Close() override;
  // Set once the connection has ended, with the reason.
  Signal& closed() override { return manager_->closed(); }
  Manager& manager() { return *manager_; }

 private:
  explicit Conn(std::unique_ptr<Manager> manager) : manager_(std::move(manager)) {}
  std::unique_ptr<Manager> manager_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_CONN_H_
