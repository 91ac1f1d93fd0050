// Router: RPC name -> handler, looked up by exact name like Go's drpcmux.
//
//   Router router;
//   router.Unary("/interop.Echo/Unary",
//                [](CallContext& ctx, absl::string_view req) -> absl::StatusOr<std::string> {
//                  return std::string(req);
//                });
//   router.Bidi("/interop.Echo/Bidi", [](CallContext& ctx, RpcStream& s) -> absl::Status { ... });
//
// Handler shapes and what the router puts on the wire around them (spec §9.2, §9.3):
//   Unary         reads exactly one request message, calls the handler, sends the reply message
//   ClientStream  the handler reads until EOF and returns the single reply message
//   ServerStream  reads one request message; the handler sends any number of messages
//   Bidi          the handler sends and receives freely
// Router is a Handler (impl/handler.h): the server turns a handler's error into an Error packet
// (code: RemoteErrorCode if attached, else the absl code number; text: the message) that never
// ends the connection, and success into CloseSend. An unknown name fails with code 0 and
// `protocol error: unknown rpc: "<name>"`, Go's drpcmux text.
// Handlers may block (they run on fibers). The Router must outlive the servers using it.
#ifndef DRPC_IMPL_ROUTER_H_
#define DRPC_IMPL_ROUTER_H_

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/context.h"
#include "impl/handler.h"
#include "impl/rpc_stream.h"

namespace drpc {

// The four RPC shapes (what a Router registration says about an RPC).
enum class RpcShape { kUnary, kClientStream, kServerStream, kBidi };

class Router final : public Handler {
 public:
  using UnaryFn = std::function<absl::StatusOr<std::string>(CallContext&, absl::string_view)>;
  using ClientStreamFn = std::function<absl::StatusOr<std::string>(CallContext&, RpcStream&)>;
  using ServerStreamFn = std::function<absl::Status(CallContext&, absl::string_view, RpcStream&)>;
  using BidiFn = std::function<absl::Status(CallContext&, RpcStream&)>;

  // Each returns kAlreadyExists if `rpc` is taken (the first registration stays).
  absl::Status Unary(std::string rpc, UnaryFn fn);
  absl::Status ClientStream(std::string rpc, ClientStreamFn fn);
  absl::Status ServerStream(std::string rpc, ServerStreamFn fn);
  absl::Status Bidi(std::string rpc, BidiFn fn);

  // Runs the handler registered for `rpc` on `stream` (for unary and client-streaming RPCs the
  // reply goes out with its CloseSend) and returns its status.
  absl::Status HandleRpc(CallContext& ctx, absl::string_view rpc,
                         RpcStream& stream) const override;

  bool Has(absl::string_view rpc) const { return handlers_.contains(rpc); }
  // The shape `rpc` was registered with; nullopt for an unknown name. (Server interceptors use it
  // to give unary hooks the request and reply of unary RPCs.)
  std::optional<RpcShape> ShapeOf(absl::string_view rpc) const;

 private:
  struct Entry {
    UnaryFn unary;
    ClientStreamFn client_stream;
    ServerStreamFn server_stream;
    BidiFn bidi;
  };
  absl::Status Add(std::string rpc, Entry entry);
  absl::Status Run(const Entry& h, CallContext& ctx, RpcStream& stream) const;

  std::map<std::string, Entry, std::less<>> handlers_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_ROUTER_H_
