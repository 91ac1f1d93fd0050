// Router: RPC name -> handler, looked up by exact name like Go's drpcmux.
//
//   Router router;
//   router.Unary("/interop.Echo/Unary",
//                [](CallContext& ctx, absl::string_view req) -> absl::StatusOr<std::string> {
//                  return std::string(req);
//                });
//   router.Bidi("/interop.Echo/Bidi", [](CallContext& ctx, Stream& s) -> absl::Status { ... });
//
// Handler shapes and what the router puts on the wire around them (spec §9.2, §9.3):
//   Unary         reads exactly one request message, calls the handler, sends the reply message
//   ClientStream  the handler reads until EOF and returns the single reply message
//   ServerStream  reads one request message; the handler sends any number of messages
//   Bidi          the handler sends and receives freely
// A handler's error becomes an Error packet (code: RemoteErrorCode if attached, else the absl
// code number; text: the message) and never ends the connection; success ends with CloseSend. An
// unknown name gets code 0 and `protocol error: unknown rpc: "<name>"`.
// Handlers may block (they run on fibers). The Router must outlive the servers using it.
#ifndef DRPC_IMPL_ROUTER_H_
#define DRPC_IMPL_ROUTER_H_

#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/context.h"
#include "impl/stream.h"

namespace drpc {

class Router {
 public:
  using UnaryFn = std::function<absl::StatusOr<std::string>(CallContext&, absl::string_view)>;
  using ClientStreamFn = std::function<absl::StatusOr<std::string>(CallContext&, Stream&)>;
  using ServerStreamFn = std::function<absl::Status(CallContext&, absl::string_view, Stream&)>;
  using BidiFn = std::function<absl::Status(CallContext&, Stream&)>;

  // Each returns kAlreadyExists if `rpc` is taken (the first registration stays).
  absl::Status Unary(std::string rpc, UnaryFn fn);
  absl::Status ClientStream(std::string rpc, ClientStreamFn fn);
  absl::Status ServerStream(std::string rpc, ServerStreamFn fn);
  absl::Status Bidi(std::string rpc, BidiFn fn);

  // Runs the handler for `rpc` on `stream` and answers: Error for a failure, CloseSend (after the
  // reply, for unary and client-streaming) for success. Returns the handler's status.
  absl::Status Dispatch(CallContext& ctx, absl::string_view rpc, Stream& stream) const;

  bool Has(absl::string_view rpc) const { return handlers_.contains(rpc); }

 private:
  struct Handler {
    UnaryFn unary;
    ClientStreamFn client_stream;
    ServerStreamFn server_stream;
    BidiFn bidi;
  };
  absl::Status Add(std::string rpc, Handler handler);
  absl::Status Run(const Handler& h, CallContext& ctx, Stream& stream) const;

  std::map<std::string, Handler, std::less<>> handlers_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_ROUTER_H_
