// Interceptors: chainable hooks around every call, on both sides — read or change metadata,
// short-circuit with a status, retry, time, wrap streams. (impl/app/standard_interceptors.h has
// ready ones: logging, auth tokens, retries of idempotent calls, deadlines from metadata, metrics.)
//
//   // Client: wraps any ClientConn (a Conn, a ReconnectingConn, a pool lease, drpc::Client).
//   ClientInterceptor tag{.name = "tag", .unary = [](CallContext& ctx, absl::string_view rpc,
//                                                    absl::string_view req, UnaryInvoker next) {
//     ctx.metadata()["x-tag"] = "1";
//     return next(ctx, rpc, req);
//   }};
//   InterceptedConn conn(raw_conn, {tag, LoggingInterceptor(...).client});
//
//   // Server: wraps any Handler (usually a Router; give its ShapeOf so unary hooks see requests).
//   InterceptedHandler handler(router, {RequireToken(...)}, RouterShapes(router));
//   Server server(env, handler);
//
// Order: the first interceptor of a chain is the outermost — it sees the call first and its
// result last. Which hook runs: `unary` for unary RPCs (client: ClientConn::Invoke; server: RPCs
// the shape lookup says are unary), `stream` for every other call (client: NewStream; server:
// streaming RPCs and RPCs of unknown shape). An interceptor that wants every call sets both; a
// missing hook passes the call on untouched.
//
// Contracts. An interceptor may: change ctx.metadata() before calling next (client), read
// ctx.incoming_metadata() (server), return a status without calling next (short-circuit; on the
// server the client gets it as an Error, on the client nothing is sent), call next more than once
// (client unary: retries), wrap the RpcStream it passes on or returns. It must keep the error
// classes of impl/errors.h (a cancelled call still reports ctx.err(), EOF stays EOF). Interceptors
// run on the call's fiber, like the call; they may block.
#ifndef DRPC_IMPL_APP_INTERCEPTORS_H_
#define DRPC_IMPL_APP_INTERCEPTORS_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/client_conn.h"
#include "impl/context.h"
#include "impl/handler.h"
#include "impl/router.h"
#include "impl/rpc_stream.h"

namespace drpc {

// --- Client side ---------------------------------------------------------------------------------

using UnaryInvoker = absl::FunctionRef<absl::StatusOr<std::string>(
    CallContext& ctx, absl::string_view rpc, absl::string_view request)>;
using StreamOpener = absl::FunctionRef<absl::StatusOr<std::shared_ptr<RpcStream>>(
    CallContext& ctx, absl::string_view rpc)>;

struct ClientInterceptor {
  std::string name;  // for diagnostics
  std::function<absl::StatusOr<std::string>(CallContext& ctx, absl::string_view rpc,
                                            absl::string_view request, UnaryInvoker next)>
      unary;
  std::function<absl::StatusOr<std::shared_ptr<RpcStream>>(CallContext& ctx,
                                                           absl::string_view rpc,
                                                           StreamOpener next)>
      stream;
};

// A ClientConn that runs every call through `chain` and then `next` (not owned; it must outlive
// this). Close and closed() are next's. Same threading as `next`.
class InterceptedConn final : public ClientConn {
 public:
  InterceptedConn(ClientConn& next, std::vector<ClientInterceptor> chain);

  absl::StatusOr<std::string> Invoke(CallContext& ctx, absl::string_view rpc,
                                     absl::string_view request) override;
  absl::StatusOr<std::shared_ptr<RpcStream>> NewStream(CallContext& ctx,
                                                       absl::string_view rpc) override;
  void Close() override { next_->Close(); }
  Signal& closed() override { return next_->closed(); }

 private:
  absl::StatusOr<std::string> InvokeFrom(size_t i, CallContext& ctx, absl::string_view rpc,
                                         absl::string_view request);
  absl::StatusOr<std::shared_ptr<RpcStream>> OpenFrom(size_t i, CallContext& ctx,
                                                      absl::string_view rpc);

  ClientConn* next_;
  std::vector<ClientInterceptor> chain_;
};

// --- Server side ---------------------------------------------------------------------------------

struct ServerCallInfo {
  absl::string_view rpc;
  std::optional<RpcShape> shape;  // nullopt: the lookup does not know the RPC
  uint64_t stream_id = 0;
};

using UnaryHandlerNext =
    absl::FunctionRef<absl::StatusOr<std::string>(CallContext& ctx, absl::string_view request)>;
using StreamHandlerNext = absl::FunctionRef<absl::Status(CallContext& ctx, RpcStream& stream)>;

struct ServerInterceptor {
  std::string name;
  // Unary RPCs: gets the request, returns the reply (or an error for the client).
  std::function<absl::StatusOr<std::string>(CallContext& ctx, const ServerCallInfo& call,
                                            absl::string_view request, UnaryHandlerNext next)>
      unary;
  // Every other call: the call's stream; returns how the call ended.
  std::function<absl::Status(CallContext& ctx, const ServerCallInfo& call, RpcStream& stream,
                             StreamHandlerNext next)>
      stream;
};

// What shape an RPC has (nullopt: unknown). RouterShapes(router) asks a Router.
using ShapeLookup = std::function<std::optional<RpcShape>(absl::string_view rpc)>;
ShapeLookup RouterShapes(const Router& router);

// A Handler that runs every call through `chain` and then `next` (not owned; must outlive this).
// For a unary RPC with unary hooks it reads the one request, runs the unary chain, and sends the
// reply with its CloseSend (SendLast), exactly as a Router does; `next` then serves the request
// from memory. Without `shapes` every call takes the stream hooks.
class InterceptedHandler final : public Handler {
 public:
  InterceptedHandler(const Handler& next, std::vector<ServerInterceptor> chain,
                     ShapeLookup shapes = nullptr);
  absl::Status HandleRpc(CallContext& ctx, absl::string_view rpc,
                         RpcStream& stream) const override;

 private:
  absl::Status StreamFrom(size_t i, CallContext& ctx, const ServerCallInfo& call,
                          RpcStream& stream) const;
  absl::Status ServeUnary(CallContext& ctx, const ServerCallInfo& call, RpcStream& stream) const;
  absl::StatusOr<std::string> UnaryFrom(size_t i, CallContext& ctx, const ServerCallInfo& call,
                                        absl::string_view request) const;
  absl::StatusOr<std::string> RunNextUnary(CallContext& ctx, const ServerCallInfo& call,
                                           absl::string_view request) const;
  bool HasUnaryHooks() const;

  const Handler* next_;
  std::vector<ServerInterceptor> chain_;
  ShapeLookup shapes_;
};

// --- Stream wrapping -----------------------------------------------------------------------------

// Forwards every operation to `inner`; derive from it to wrap a stream in an interceptor.
class ForwardingStream : public RpcStream {
 public:
  explicit ForwardingStream(std::shared_ptr<RpcStream> inner) : inner_(std::move(inner)) {}
  uint64_t id() const override { return inner_->id(); }
  absl::Status Send(absl::string_view message) override { return inner_->Send(message); }
  absl::Status SendLast(absl::string_view message) override { return inner_->SendLast(message); }
  absl::StatusOr<std::string> Recv() override { return inner_->Recv(); }
  absl::Status RecvInto(std::string* out) override { return inner_->RecvInto(out); }
  absl::Status CloseSend() override { return inner_->CloseSend(); }
  absl::Status Close() override { return inner_->Close(); }
  absl::Status SendError(const absl::Status& error) override { return inner_->SendError(error); }

 protected:
  RpcStream& inner() { return *inner_; }

 private:
  std::shared_ptr<RpcStream> inner_;
};

// A client stream that reports, once, how it ended: the first of Recv failing (EOF reports OK),
// Send failing with anything but EOF, SendError, Close (OK) or destruction (OK: abandoned).
class EndObservedStream final : public ForwardingStream {
 public:
  using OnEnd = std::function<void(const absl::Status& how)>;
  EndObservedStream(std::shared_ptr<RpcStream> inner, OnEnd on_end)
      : ForwardingStream(std::move(inner)), on_end_(std::move(on_end)) {}
  ~EndObservedStream() override { End(absl::OkStatus()); }

  absl::Status Send(absl::string_view message) override;
  absl::Status SendLast(absl::string_view message) override;
  absl::StatusOr<std::string> Recv() override;
  absl::Status RecvInto(std::string* out) override;
  absl::Status Close() override;
  absl::Status SendError(const absl::Status& error) override;

 private:
  void End(const absl::Status& how);
  absl::Status AfterSend(absl::Status s);
  OnEnd on_end_;
};

// A stream that keeps `owner` (the connection it runs on) alive as long as the stream lives: a
// stream must not outlive its connection, and a caller may hold a stream after the pool or the
// reconnecting client let the connection go.
class OwningStream final : public RpcStream {
 public:
  OwningStream(std::shared_ptr<RpcStream> inner, std::shared_ptr<void> owner)
      : owner_(std::move(owner)), inner_(std::move(inner)) {}
  uint64_t id() const override { return inner_->id(); }
  absl::Status Send(absl::string_view message) override { return inner_->Send(message); }
  absl::Status SendLast(absl::string_view message) override { return inner_->SendLast(message); }
  absl::StatusOr<std::string> Recv() override { return inner_->Recv(); }
  absl::Status RecvInto(std::string* out) override { return inner_->RecvInto(out); }
  absl::Status CloseSend() override { return inner_->CloseSend(); }
  absl::Status Close() override { return inner_->Close(); }
  absl::Status SendError(const absl::Status& error) override { return inner_->SendError(error); }

 private:
  std::shared_ptr<void> owner_;         // destroyed after inner_ (declared first)
  std::shared_ptr<RpcStream> inner_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_APP_INTERCEPTORS_H_
