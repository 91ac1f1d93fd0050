// Router: RPC name -> handler, looked up by exact name like Go's drpcmux.
//
//   Router router;
//   absl::Status s = router.Unary(
//       "/interop.Echo/Unary",
//       [](CallContext& ctx, absl::string_view req) -> absl::StatusOr<std::string> {
//         return std::string(req);
//       });
//   if (s.ok()) s = router.Bidi("/interop.Echo/Bidi", [](CallContext&, RpcStream&) { ... });
//   if (!s.ok()) return s;   // a name registered twice, or an empty handler
//
// Handler shapes and what the router puts on the wire around them (docs/protocol.md §9.2, §9.3):
//   Unary         reads exactly one request message, calls the handler, sends the reply message
//   ClientStream  the handler reads until EOF and returns the single reply message
//   ServerStream  reads one request message; the handler sends any number of messages
//   Bidi          the handler sends and receives freely
// Router is a Handler (impl/handler.h): the server turns a handler's error into an Error packet
// (code: RemoteErrorCode if attached, else the absl code number; text: the message) that never
// ends the connection, and success into CloseSend. An unknown name fails with code 0 and
// `protocol error: unknown rpc: "<name>"`, Go's drpcmux text.
// Handlers may block (they run on fibers). The Router must outlive the servers using it.
// Registration returns a status that must be used: kAlreadyExists for a name already taken (the
// first registration stays), kInvalidArgument for an empty handler.
#ifndef DRPC_IMPL_ROUTER_H_
#define DRPC_IMPL_ROUTER_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>

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
  // A handler of any of the four shapes (what generated service code registers).
  using Method = std::variant<UnaryFn, ClientStreamFn, ServerStreamFn, BidiFn>;

  // Registers `method` for `rpc`. kAlreadyExists if `rpc` is taken (the first registration
  // stays); kInvalidArgument if the handler is empty.
  [[nodiscard]] absl::Status Register(std::string rpc, Method method);
  // Register for one shape.
  [[nodiscard]] absl::Status Unary(std::string rpc, UnaryFn fn);
  [[nodiscard]] absl::Status ClientStream(std::string rpc, ClientStreamFn fn);
  [[nodiscard]] absl::Status ServerStream(std::string rpc, ServerStreamFn fn);
  [[nodiscard]] absl::Status Bidi(std::string rpc, BidiFn fn);

  // Runs the handler registered for `rpc` on `stream` (for unary and client-streaming RPCs the
  // reply goes out with its CloseSend) and returns its status.
  absl::Status HandleRpc(CallContext& ctx, absl::string_view rpc,
                         RpcStream& stream) const override;

  // Whether `rpc` is registered (generated Register functions check all their names first).
  bool Has(absl::string_view rpc) const { return methods_.contains(rpc); }
  // The shape `rpc` was registered with; nullopt for an unknown name. (Server interceptors use it
  // to give unary hooks the request and reply of unary RPCs.)
  std::optional<RpcShape> ShapeOf(absl::string_view rpc) const;

 private:
  std::map<std::string, Method, std::less<>> methods_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_ROUTER_H_
