#include "impl/app/interceptors.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/errors.h"
#include "proto/base/check.h"

namespace drpc {
namespace {

// The stream a unary handler sees behind unary server interceptors: the request from memory,
// then EOF; the reply is captured for the chain to return.
class UnaryMemoryStream final : public RpcStream {
 public:
  UnaryMemoryStream(uint64_t id, absl::string_view request) : id_(id), request_(request) {}

  uint64_t id() const override { return id_; }
  absl::Status Send(absl::string_view message) override { return Capture(message); }
  absl::Status SendLast(absl::string_view message) override { return Capture(message); }
  absl::StatusOr<std::string> Recv() override {
    std::string out;
    if (absl::Status s = RecvInto(&out); !s.ok()) return s;
    return out;
  }
  absl::Status RecvInto(std::string* out) override {
    if (request_taken_) return EofError();
    request_taken_ = true;
    out->assign(request_.data(), request_.size());
    return absl::OkStatus();
  }
  absl::Status CloseSend() override { return absl::OkStatus(); }
  absl::Status Close() override { return absl::OkStatus(); }
  absl::Status SendError(const absl::Status& error) override {
    if (error_.ok()) error_ = error.ok() ? absl::UnknownError("handler sent an OK error") : error;
    return absl::OkStatus();
  }

  // The handler's reply, or why there is none.
  absl::StatusOr<std::string> Result(const absl::Status& handler_status) {
    if (!handler_status.ok()) return handler_status;
    if (!error_.ok()) return error_;
    if (!reply_.has_value()) return EofError();  // a unary handler that sent nothing: EOF, as Go
    return std::move(*reply_);
  }

 private:
  absl::Status Capture(absl::string_view message) {
    if (reply_.has_value()) {
      return absl::FailedPreconditionError("unary handler sent a second reply");
    }
    reply_.emplace(message);
    return absl::OkStatus();
  }

  uint64_t id_;
  absl::string_view request_;
  bool request_taken_ = false;
  std::optional<std::string> reply_;
  absl::Status error_;
};

}  // namespace

// --- Client --------------------------------------------------------------------------------------

InterceptedConn::InterceptedConn(ClientConn& next, std::vector<ClientInterceptor> chain)
    : next_(&next), chain_(std::move(chain)) {}

absl::StatusOr<std::string> InterceptedConn::Invoke(CallContext& ctx, absl::string_view rpc,
                                                    absl::string_view request) {
  return InvokeFrom(0, ctx, rpc, request);
}

absl::StatusOr<std::string> InterceptedConn::InvokeFrom(size_t i, CallContext& ctx,
                                                        absl::string_view rpc,
                                                        absl::string_view request) {
  while (i < chain_.size() && !chain_[i].unary) ++i;
  if (i == chain_.size()) return next_->Invoke(ctx, rpc, request);
  auto next = [this, i](CallContext& c, absl::string_view r, absl::string_view req) {
    return InvokeFrom(i + 1, c, r, req);
  };
  return chain_[i].unary(ctx, rpc, request, next);
}

absl::StatusOr<std::shared_ptr<RpcStream>> InterceptedConn::NewStream(CallContext& ctx,
                                                                      absl::string_view rpc) {
  return OpenFrom(0, ctx, rpc);
}

absl::StatusOr<std::shared_ptr<RpcStream>> InterceptedConn::OpenFrom(size_t i, CallContext& ctx,
                                                                     absl::string_view rpc) {
  while (i < chain_.size() && !chain_[i].stream) ++i;
  if (i == chain_.size()) return next_->NewStream(ctx, rpc);
  auto next = [this, i](CallContext& c, absl::string_view r) { return OpenFrom(i + 1, c, r); };
  absl::StatusOr<std::shared_ptr<RpcStream>> s = chain_[i].stream(ctx, rpc, next);
  DRPC_CHECK(!s.ok() || *s != nullptr) << "interceptor " << chain_[i].name
                                        << " returned a null stream";
  return s;
}

// --- Server --------------------------------------------------------------------------------------

ShapeLookup RouterShapes(const Router& router) {
  return [&router](absl::string_view rpc) { return router.ShapeOf(rpc); };
}

InterceptedHandler::InterceptedHandler(const Handler& next, std::vector<ServerInterceptor> chain,
                                       ShapeLookup shapes)
    : next_(&next), chain_(std::move(chain)), shapes_(std::move(shapes)) {}

bool InterceptedHandler::HasUnaryHooks() const {
  for (const ServerInterceptor& i : chain_) {
    if (i.unary) return true;
  }
  return false;
}

absl::Status InterceptedHandler::HandleRpc(CallContext& ctx, absl::string_view rpc,
                                           RpcStream& stream) const {
  ServerCallInfo call{.rpc = rpc, .shape = std::nullopt, .stream_id = stream.id()};
  if (shapes_) call.shape = shapes_(rpc);
  if (call.shape == RpcShape::kUnary) {
    if (!HasUnaryHooks()) return next_->HandleRpc(ctx, rpc, stream);
    return ServeUnary(ctx, call, stream);
  }
  return StreamFrom(0, ctx, call, stream);
}

absl::Status InterceptedHandler::StreamFrom(size_t i, CallContext& ctx, const ServerCallInfo& call,
                                            RpcStream& stream) const {
  while (i < chain_.size() && !chain_[i].stream) ++i;
  if (i == chain_.size()) return next_->HandleRpc(ctx, call.rpc, stream);
  auto next = [this, i, &call](CallContext& c, RpcStream& s) { return StreamFrom(i + 1, c, call, s); };
  return chain_[i].stream(ctx, call, stream, next);
}

absl::Status InterceptedHandler::ServeUnary(CallContext& ctx, const ServerCallInfo& call,
                                            RpcStream& stream) const {
  // What a Router does for a unary RPC: one request, then the reply with the CloseSend.
  absl::StatusOr<std::string> request = stream.Recv();
  if (!request.ok()) return request.status();
  absl::StatusOr<std::string> reply = UnaryFrom(0, ctx, call, *request);
  if (!reply.ok()) return reply.status();
  return stream.SendLast(*reply);
}

absl::StatusOr<std::string> InterceptedHandler::UnaryFrom(size_t i, CallContext& ctx,
                                                          const ServerCallInfo& call,
                                                          absl::string_view request) const {
  while (i < chain_.size() && !chain_[i].unary) ++i;
  if (i == chain_.size()) return RunNextUnary(ctx, call, request);
  auto next = [this, i, &call](CallContext& c, absl::string_view req) {
    return UnaryFrom(i + 1, c, call, req);
  };
  return chain_[i].unary(ctx, call, request, next);
}

absl::StatusOr<std::string> InterceptedHandler::RunNextUnary(CallContext& ctx,
                                                             const ServerCallInfo& call,
                                                             absl::string_view request) const {
  UnaryMemoryStream memory(call.stream_id, request);
  absl::Status handled = next_->HandleRpc(ctx, call.rpc, memory);
  return memory.Result(handled);
}

// --- EndObservedStream ---------------------------------------------------------------------------

void EndObservedStream::End(const absl::Status& how) {
  if (!on_end_) return;
  OnEnd on_end = std::move(on_end_);
  on_end_ = nullptr;
  on_end(how);
}

absl::Status EndObservedStream::AfterSend(absl::Status s) {
  if (!s.ok() && !IsEof(s)) End(s);
  return s;
}

absl::Status EndObservedStream::Send(absl::string_view message) {
  return AfterSend(ForwardingStream::Send(message));
}

absl::Status EndObservedStream::SendLast(absl::string_view message) {
  return AfterSend(ForwardingStream::SendLast(message));
}

absl::StatusOr<std::string> EndObservedStream::Recv() {
  absl::StatusOr<std::string> m = ForwardingStream::Recv();
  if (!m.ok()) End(IsEof(m.status()) ? absl::OkStatus() : m.status());
  return m;
}

absl::Status EndObservedStream::RecvInto(std::string* out) {
  absl::Status s = ForwardingStream::RecvInto(out);
  if (!s.ok()) End(IsEof(s) ? absl::OkStatus() : s);
  return s;
}

absl::Status EndObservedStream::Close() {
  absl::Status s = ForwardingStream::Close();
  End(absl::OkStatus());
  return s;
}

absl::Status EndObservedStream::SendError(const absl::Status& error) {
  absl::Status s = ForwardingStream::SendError(error);
  End(error);
  return s;
}

}  // namespace drpc
