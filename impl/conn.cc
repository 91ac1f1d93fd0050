#include "impl/conn.h"

#include <utility>

#include "impl/errors.h"
#include "impl/manager_factory.h"
#include "impl/situations.h"

namespace drpc {
namespace {

// A cancelled call reports the cancellation, not the EOF or "closed" it caused (docs/protocol.md §11.3).
absl::Status CallError(CallContext& ctx, absl::Status error) {
  if (ctx.done() && (IsEof(error) || IsClosed(error) || absl::IsCancelled(error))) return ctx.err();
  return error;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Conn>> Conn::Create(Env& env, std::unique_ptr<Transport> transport,
                                                   const Options& options) {
  absl::StatusOr<std::unique_ptr<Manager>> m =
      CreateManager(env, std::move(transport), Manager::Role::kClient, options);
  if (!m.ok()) return m.status();
  return std::unique_ptr<Conn>(new Conn(*std::move(m)));
}

Conn::~Conn() = default;

absl::StatusOr<std::string> Conn::Invoke(CallContext& ctx, absl::string_view rpc,
                                         absl::string_view request) {
  absl::StatusOr<std::shared_ptr<Stream>> stream = manager_->NewClientStream(ctx, rpc);
  if (!stream.ok()) return stream.status();
  Stream& s = **stream;
  absl::Status status = s.SendLast(request);
  std::string reply;
  // EOF from a send means the stream already ended; Recv tells how (a reply, or the remote
  // error), as in Go.
  const bool eof = !status.ok() && IsEof(status);  // IsEof reads a payload even of an OK status
  if (eof) ctx.env().chaos().Reach(situations::kConnUnarySendMetTheEndOfItsStream);
  if (status.ok() || eof) status = s.RecvInto(&reply);
  // Close sends nothing if the stream already ended (the server's CloseSend or Error came first).
  s.Close().IgnoreError();
  if (!status.ok()) return CallError(ctx, status);
  return reply;
}

absl::StatusOr<std::shared_ptr<RpcStream>> Conn::NewStream(CallContext& ctx,
                                                           absl::string_view rpc) {
  absl::StatusOr<std::shared_ptr<Stream>> stream = manager_->NewClientStream(ctx, rpc);
  if (!stream.ok()) return stream.status();
  return std::shared_ptr<RpcStream>(*std::move(stream));
}

absl::StatusOr<std::shared_ptr<Stream>> Conn::OpenStream(CallContext& ctx, absl::string_view rpc) {
  return manager_->NewClientStream(ctx, rpc);
}

void Conn::Close() { manager_->Close(); }

}  // namespace drpc
