#include "impl/router.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/errors.h"

namespace drpc {
namespace {

// Runs one call of each shape (docs/protocol.md §9.2, §9.3).
struct RunMethod {
  CallContext& ctx;
  RpcStream& stream;

  absl::Status operator()(const Router::BidiFn& fn) const { return fn(ctx, stream); }

  absl::Status operator()(const Router::ClientStreamFn& fn) const {
    absl::StatusOr<std::string> reply = fn(ctx, stream);
    if (!reply.ok()) return reply.status();
    // The reply and the CloseSend in one transport write (one batch in mux mode), as Go's
    // SendAndClose puts them on the wire back to back; the server's CloseSend is then a no-op.
    return stream.SendLast(*reply);
  }

  // Unary and server-streaming read exactly one request first.
  absl::Status operator()(const Router::ServerStreamFn& fn) const {
    absl::StatusOr<std::string> request = stream.Recv();
    if (!request.ok()) return request.status();
    return fn(ctx, *request, stream);
  }

  absl::Status operator()(const Router::UnaryFn& fn) const {
    absl::StatusOr<std::string> request = stream.Recv();
    if (!request.ok()) return request.status();
    absl::StatusOr<std::string> reply = fn(ctx, *request);
    if (!reply.ok()) return reply.status();
    return stream.SendLast(*reply);
  }
};

}  // namespace

absl::Status Router::Register(std::string rpc, Method method) {
  const bool empty = std::visit([](const auto& fn) { return fn == nullptr; }, method);
  if (empty) return absl::InvalidArgumentError(absl::StrCat("rpc ", rpc, ": empty handler"));
  auto [it, inserted] = methods_.emplace(std::move(rpc), std::move(method));
  if (!inserted) {
    return absl::AlreadyExistsError(absl::StrCat("rpc ", it->first, " is already registered"));
  }
  return absl::OkStatus();
}

absl::Status Router::Unary(std::string rpc, UnaryFn fn) {
  return Register(std::move(rpc), std::move(fn));
}
absl::Status Router::ClientStream(std::string rpc, ClientStreamFn fn) {
  return Register(std::move(rpc), std::move(fn));
}
absl::Status Router::ServerStream(std::string rpc, ServerStreamFn fn) {
  return Register(std::move(rpc), std::move(fn));
}
absl::Status Router::Bidi(std::string rpc, BidiFn fn) {
  return Register(std::move(rpc), std::move(fn));
}

std::optional<RpcShape> Router::ShapeOf(absl::string_view rpc) const {
  auto it = methods_.find(rpc);
  if (it == methods_.end()) return std::nullopt;
  const Method& m = it->second;
  if (std::holds_alternative<UnaryFn>(m)) return RpcShape::kUnary;
  if (std::holds_alternative<ClientStreamFn>(m)) return RpcShape::kClientStream;
  if (std::holds_alternative<ServerStreamFn>(m)) return RpcShape::kServerStream;
  return RpcShape::kBidi;
}

absl::Status Router::HandleRpc(CallContext& ctx, absl::string_view rpc, RpcStream& stream) const {
  auto it = methods_.find(rpc);
  if (it == methods_.end()) {
    // Go's drpcmux: code 0 and this exact text (docs/protocol.md §6.3).
    return WithRemoteErrorCode(
        absl::UnimplementedError(absl::StrCat("protocol error: unknown rpc: \"", rpc, "\"")), 0);
  }
  return std::visit(RunMethod{ctx, stream}, it->second);
}

}  // namespace drpc
