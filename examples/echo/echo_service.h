// EchoService: the interop.Echo service (examples/echo/echo.proto) implemented on the generated
// interop::Echo::Server interface. Serve it on any drpc server by registering it on a Router:
//
//   interop::EchoService service;
//   drpc::Router router;
//   absl::Status registered = interop::Echo::Register(router, service);
//   // runtime::TcpServer::Start(rt, router, options), or a simulated drpc::Server
//
// Stateless: one instance may serve every connection and reactor at once.
#ifndef DRPC_EXAMPLES_ECHO_ECHO_SERVICE_H_
#define DRPC_EXAMPLES_ECHO_ECHO_SERVICE_H_

#include "examples/echo/echo.drpc.h"

namespace interop {

class EchoService final : public Echo::Server {
 public:
  // ServerStream refuses larger counts (InvalidArgument, code 3): a reply stream is bounded.
  static constexpr int kServerStreamCountMax = 100000;

  absl::StatusOr<EchoMessage> Unary(drpc::CallContext& ctx, const EchoMessage& request) override;
  absl::Status ServerStream(drpc::CallContext& ctx, const CountRequest& request,
                            drpc::ServerStreamWriter<EchoMessage>& stream) override;
  absl::StatusOr<CountReply> ClientStream(drpc::CallContext& ctx,
                                          drpc::ClientStreamReader<EchoMessage>& stream) override;
  absl::Status Bidi(drpc::CallContext& ctx,
                    drpc::BidiStreamServer<EchoMessage, EchoMessage>& stream) override;
  absl::StatusOr<EchoMessage> Fail(drpc::CallContext& ctx, const EchoMessage& request) override;
  absl::StatusOr<MetaReply> Meta(drpc::CallContext& ctx,
                                 const google::protobuf::Empty& request) override;
  absl::StatusOr<google::protobuf::Empty> Slow(drpc::CallContext& ctx,
                                               const google::protobuf::Empty& request) override;
};

}  // namespace interop

#endif  // DRPC_EXAMPLES_ECHO_ECHO_SERVICE_H_
