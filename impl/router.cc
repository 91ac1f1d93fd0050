#include "impl/router.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/errors.h"

namespace drpc {

absl::Status Router::Add(std::string rpc, Entry entry) {
  auto [it, inserted] = handlers_.emplace(std::move(rpc), std::move(entry));
  if (!inserted) return absl::AlreadyExistsError(absl::StrCat("rpc ", it->first, " is already registered"));
  return absl::OkStatus();
}

absl::Status Router::Unary(std::string rpc, UnaryFn fn) {
  return Add(std::move(rpc), Entry{.unary = std::move(fn)});
}
absl::Status Router::ClientStream(std::string rpc, ClientStreamFn fn) {
  return Add(std::move(rpc), Entry{.client_stream = std::move(fn)});
}
absl::Status Router::ServerStream(std::string rpc, ServerStreamFn fn) {
  return Add(std::move(rpc), Entry{.server_stream = std::move(fn)});
}
absl::Status Router::Bidi(std::string rpc, BidiFn fn) {
  return Add(std::move(rpc), Entry{.bidi = std::move(fn)});
}

absl::Status Router::Run(const Entry& h, CallContext& ctx, RpcStream& stream) const {
  if (h.bidi) return h.bidi(ctx, stream);
  if (h.client_stream) {
    absl::StatusOr<std::string> reply = h.client_stream(ctx, stream);
    if (!reply.ok()) return reply.status();
    // The reply and the CloseSend in one transport write (one batch in mux mode), as Go's
    // SendAndClose puts them on the wire back to back; the server's CloseSend is then a no-op.
    return stream.SendLast(*reply);
  }
  // Unary and server-streaming read exactly one request first.
  absl::StatusOr<std::string> request = stream.Recv();
  if (!request.ok()) return request.status();
  if (h.server_stream) return h.server_stream(ctx, *request, stream);
  absl::StatusOr<std::string> reply = h.unary(ctx, *request);
  if (!reply.ok()) return reply.status();
  return stream.SendLast(*reply);
}

std::optional<RpcShape> Router::ShapeOf(absl::string_view rpc) const {
  auto it = handlers_.find(rpc);
  if (it == handlers_.end()) return std::nullopt;
  const Entry& e = it->second;
  if (e.unary) return RpcShape::kUnary;
  if (e.client_stream) return RpcShape::kClientStream;
  if (e.server_stream) return RpcShape::kServerStream;
  return RpcShape::kBidi;
}

absl::Status Router::HandleRpc(CallContext& ctx, absl::string_view rpc, RpcStream& stream) const {
  auto it = handlers_.find(rpc);
  if (it == handlers_.end()) {
    // Go's drpcmux: code 0 and this exact text (spec §6.3).
    return WithRemoteErrorCode(
        absl::UnimplementedError(absl::StrCat("protocol error: unknown rpc: \"", rpc, "\"")), 0);
  }
  return Run(it->second, ctx, stream);
}

}  // namespace drpc
