#include "impl/server.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "impl/errors.h"
#include "impl/situations.h"
#include "impl/manager_factory.h"
#include "impl/stream.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "proto/base/status.h"

namespace drpc {
namespace {

absl::Status ShuttingDownError() { return absl::UnavailableError("server is shutting down"); }

bool IsTemporaryAcceptError(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsResourceExhausted(s);
}

absl::Status CallsBusyError(const CallBudget& calls) {
  return ServerBusyError(absl::StrCat(calls.max_count(),
                                      " calls are running across all connections "
                                      "(Options::server_calls_max_count); try again later"));
}

// A mux handler fiber's name as traces show it, "handler <rpc> stream <id>": written in one go
// into a buffer of its exact size (every mux call names one).
std::string HandlerFiberName(absl::string_view rpc, uint64_t stream) {
  constexpr absl::string_view kHandler = "handler ";
  constexpr absl::string_view kStream = " stream ";
  const absl::AlphaNum id(stream);
  std::string name(kHandler.size() + rpc.size() + kStream.size() + id.size(), '\0');
  char* out = name.data();
  for (absl::string_view piece : {kHandler, rpc, kStream, id.Piece()}) {
    std::memcpy(out, piece.data(), piece.size());
    out += piece.size();
  }
  return name;
}

}  // namespace

struct Server::Connection {
  class Call;
  Connection(Env& env, CallContext& parent) : ctx(env, parent), calls(env) {
    cancel_calls = ctx.done_signal().OnSet([this](const absl::Status& reason) { Cancel(reason); });
  }
  ~Connection() { ctx.done_signal().RemoveCallback(cancel_calls); }
  inline void Cancel(const absl::Status& reason);

  Call* first_call = nullptr;  // running calls, in the order they started
  Call* last_call = nullptr;
  std::unique_ptr<Manager> manager;
  CallContext ctx;
  WaitGroup calls;  // mux: handler fibers in flight
  Signal::CallbackId cancel_calls = 0;
};

// A running call's handler context, listed for as long as the call runs. The connection's context
// cancels them with its reason (its one callback), in the order the calls started: what making
// each handler context a child of the connection's would do (nothing else watches that context),
// without a registration and a removal per call.
class Server::Connection::Call {
 public:
  Call(Connection& conn, CallContext& ctx) : conn_(&conn), ctx_(&ctx), prev_(conn.last_call) {
    (prev_ != nullptr ? prev_->next_ : conn.first_call) = this;
    conn.last_call = this;
    if (conn.ctx.done()) ctx.Cancel(conn.ctx.err());
  }
  ~Call() {
    (prev_ != nullptr ? prev_->next_ : conn_->first_call) = next_;
    (next_ != nullptr ? next_->prev_ : conn_->last_call) = prev_;
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

 private:
  friend struct Connection;
  Connection* conn_;
  CallContext* ctx_;
  Call* prev_;
  Call* next_ = nullptr;
};

void Server::Connection::Cancel(const absl::Status& reason) {
  // Cancelling runs callbacks, which never block: no call starts or ends meanwhile.
  for (Call* c = first_call; c != nullptr; c = c->next_) c->ctx_->Cancel(reason);
}

Manager::Usage Server::usage() const {
  Manager::Usage total;
  for (const auto& [id, conn] : connections_) {
    if (conn->manager != nullptr) total += conn->manager->usage();
  }
  return total;
}

Server::Server(Env& env, const Handler& handler, Options options, CallBudget* calls,
               ServerBuffers* buffers)
    : env_(&env),
      handler_(&handler),
      options_(std::move(options)),
      server_ctx_(env),
      connections_changed_(env),
      accept_backoff_(env),
      fibers_(env),
      own_calls_(calls == nullptr ? std::make_unique<CallBudget>(options_.server_calls_max_count)
                                  : nullptr),
      calls_(calls == nullptr ? own_calls_.get() : calls),
      own_buffers_(buffers == nullptr
                       ? std::make_unique<ServerBuffers>(options_.server_buffered_max_bytes)
                       : nullptr),
      buffers_(buffers == nullptr ? own_buffers_.get() : buffers) {}

Server::~Server() {
  DRPC_CHECK(connections_.empty()) << connections_.size() << " connection(s) still served";
  DRPC_CHECK_EQ(fibers_.count(), 0) << "connection fibers still running";
}

void Server::RunCall(Connection& conn, IncomingStream&& in) {
  // Our hold on the stream ends when the call is over, after its context.
  const std::shared_ptr<Stream> held = std::move(in.stream);
  Stream& stream = *held;
  {
    CallContext ctx(*env_);
    const Connection::Call listed(conn, ctx);
    // Read in place: the map goes back to the connection once the context is gone.
    ctx.set_incoming_metadata(&in.metadata);
    // The handler's context ends when its stream ends early (remote cancel, connection loss).
    stream.set_handler_context(&ctx);
    // Answer as Go's drpcserver does: the handler's error as an Error packet, success as
    // CloseSend (no-ops if the handler already ended the stream).
    if (absl::Status s = handler_->HandleRpc(ctx, in.rpc, stream); !s.ok()) {
      stream.SendError(s).IgnoreError();
      Observe(s, absl::StrCat("rpc ", in.rpc, ": "));
    } else {
      stream.CloseSend().IgnoreError();
    }
    // The client may still be sending; nobody will read it (docs/protocol.md §13 item 2).
    stream.StopReceiving();
    stream.set_handler_context(nullptr);
  }
  conn.manager->GiveBackIncomingMetadata(std::move(in.metadata));
}

void Server::Refuse(Connection& conn, Stream& stream, const absl::Status& why) {
  ++calls_refused_;
  env_->chaos().Reach(situations::kServerCallRefusedOverABudget);
  if (options_.mux) {
    conn.manager->RefuseStream(stream, why);  // never blocks the connection's accept loop
    return;
  }
  // Upstream: on the connection's fiber, which the call would have run on.
  stream.SendError(why).IgnoreError();
  stream.StopReceiving();
}

absl::Status Server::BuffersBusy(const Connection& conn) const {
  const ConnectionBuffers& b = conn.manager->buffers();
  if (!b.over_budget()) return absl::OkStatus();
  if (b.over_server_budget()) {
    return ServerBusyError(absl::StrCat(
        "the server's connections hold ", buffers_->used_bytes(),
        " buffered bytes beyond their reservations, its budget is ", buffers_->max_bytes(),
        " (Options::server_buffered_max_bytes); try again later"));
  }
  return ServerBusyError(absl::StrCat(
      "this connection holds ", b.held_bytes(), " buffered bytes, its budget is ",
      b.limits().max_bytes, " (Options::connection_buffered_max_bytes)"));
}

absl::Status Server::ServeUpstream(Connection& conn) {
  for (;;) {
    absl::StatusOr<IncomingStream> in =
        conn.manager->AcceptStream(env_->clock().Now() + options_.inactivity_timeout);
    if (!in.ok()) return in.status();
    if (absl::Status busy = BuffersBusy(conn); !busy.ok()) {
      Refuse(conn, *in->stream, busy);
      continue;
    }
    if (!calls_->TryAcquire()) {
      Refuse(conn, *in->stream, CallsBusyError(*calls_));
      continue;
    }
    RunCall(conn, *std::move(in));
    calls_->Release();
  }
}

void Server::StartMuxCall(Connection& conn, IncomingStream&& in) {
  // BuffersBusy's own test first: its status is built only for a refusal.
  if (conn.manager->buffers().over_budget()) {
    Refuse(conn, *in.stream, BuffersBusy(conn));
    return;
  }
  if (!calls_->TryAcquire()) {
    Refuse(conn, *in.stream, CallsBusyError(*calls_));
    return;
  }
  std::shared_ptr<Stream> stream = in.stream;
  conn.calls.Add();
  std::string name = HandlerFiberName(in.rpc, stream->id());
  // The closure owns the record, so a fiber that never runs (or a refused spawn) frees it.
  absl::Status spawned = env_->scheduler().Spawn(
      std::move(name), [call = TakeMuxCall(conn, std::move(in))]() mutable {
        Server* server = call->server;
        server->RunMuxCall(std::move(call));
      });
  if (spawned.ok()) return;
  calls_->Release();
  conn.calls.Done();
  Refuse(conn, *stream, ServerBusyError(absl::StrCat("no fiber for the call: ", spawned.message())));
}

std::unique_ptr<Server::MuxCall> Server::TakeMuxCall(Connection& conn, IncomingStream&& in) {
  std::unique_ptr<MuxCall> call;
  if (spare_mux_calls_.empty()) {
    call = std::make_unique<MuxCall>();
  } else {
    call = std::move(spare_mux_calls_.back());
    spare_mux_calls_.pop_back();
  }
  call->server = this;
  call->conn = &conn;
  call->in = std::move(in);
  return call;
}

void Server::GiveBackMuxCall(std::unique_ptr<MuxCall> owned) {
  // Nothing of the call outlives it: `in` was moved from (an empty stream pointer, name and map).
  DRPC_DCHECK(owned->in.stream == nullptr && owned->in.rpc.empty() && owned->in.metadata.empty());
  if (spare_mux_calls_.size() < tunables::kMuxCallSpareMaxCount) {
    spare_mux_calls_.push_back(std::move(owned));
  }
}

void Server::RunMuxCall(std::unique_ptr<MuxCall> call) {
  Connection& conn = *call->conn;
  IncomingStream in = std::move(call->in);
  GiveBackMuxCall(std::move(call));  // free again before the handler runs: records stay few
  RunCall(conn, std::move(in));
  calls_->Release();
  conn.calls.Done();
}

absl::Status Server::ServeMux(Connection& conn) {
  absl::Status end;
  for (;;) {
    const Instant deadline = env_->clock().Now() + options_.inactivity_timeout;
    absl::StatusOr<IncomingStream> in = conn.manager->AcceptStream(deadline);
    if (!in.ok()) {
      // The inactivity timeout applies to an idle connection only. A connection that ended (its
      // read timed out, also a DeadlineExceeded) is not waited on again: that would spin.
      if (absl::IsDeadlineExceeded(in.status()) && conn.calls.count() > 0 &&
          !conn.manager->closed().IsSet() && env_->clock().Now() >= deadline) {
        continue;
      }
      end = in.status();
      break;
    }
    StartMuxCall(conn, *std::move(in));
  }
  conn.calls.Wait("server: waiting for the connection's calls to finish");
  return end;
}

absl::Status Server::ServeConn(std::unique_ptr<Transport> transport) {
  if (shutting_down_) {
    transport->Close();
    return ShuttingDownError();
  }
  if (connections_.size() >= options_.connections_max_count) {
    const absl::Status refused = ServerBusyError(
        absl::StrCat("connection refused: ", connections_.size(),
                     " connections are served (Options::connections_max_count = ",
                     options_.connections_max_count, ")"));
    Observe(refused, "");
    RefuseConn(std::move(transport), refused);
    return refused;
  }
  Connection conn(*env_, server_ctx_);
  absl::StatusOr<std::unique_ptr<Manager>> m =
      CreateManager(*env_, std::move(transport), Manager::Role::kServer, options_, buffers_);
  if (!m.ok()) {
    // No fiber for the connection's reader or writer: it is closed before anything is read.
    ++connections_refused_;
    Observe(m.status(), "connection refused: ");
    return m.status();
  }
  conn.manager = *std::move(m);
  const uint64_t id = next_connection_id_++;
  connections_.emplace(id, &conn);
  absl::Status end = options_.mux ? ServeMux(conn) : ServeUpstream(conn);
  conn.manager->Close();
  connections_.erase(id);
  connections_changed_.WakeAll();
  // A connection the peer closed, or that shutdown closed, ended normally.
  if (GetTransportErrorKind(end) == TransportErrorKind::kEof || IsClosed(end) ||
      end == ShuttingDownError()) {
    return absl::OkStatus();
  }
  Observe(end, "connection: ");
  return end;
}

bool Server::RefuseConn(std::unique_ptr<Transport> transport, const absl::Status& why) {
  if (refusing_ >= tunables::kConnectionsRefusingMaxCount || shutting_down_) {
    transport->Close();
    return false;
  }
  ++refusing_;
  // A connection of its own small budget, read for its first Invoke only: the refusal costs a
  // connection's fibers for at most kRefusalReadTimeout.
  Options o = options_;
  o.first_frame_timeout = std::min(o.first_frame_timeout, tunables::kRefusalReadTimeout);
  absl::StatusOr<std::unique_ptr<Manager>> m =
      CreateManager(*env_, std::move(transport), Manager::Role::kServer, o);
  bool answered = false;
  if (m.ok()) {
    Manager& manager = **m;
    const TimerId limit = env_->clock().ScheduleAt(
        env_->clock().Now() + tunables::kRefusalReadTimeout,
        [&manager, why] { manager.Terminate(ClosedError("refused connection", why)); });
    absl::StatusOr<IncomingStream> in =
        manager.AcceptStream(env_->clock().Now() + tunables::kRefusalReadTimeout);
    if (in.ok() && in->stream->SendError(why).ok()) {
      ++connections_refused_with_error_;
      answered = true;
      env_->chaos().Reach(situations::kServerConnectionRefusedWithAnError);
    }
    env_->clock().Cancel(limit);
    manager.Close();
  }
  --refusing_;
  return answered;
}

void Server::Observe(const absl::Status& error, absl::string_view prefix) {
  if (error_observer_ == nullptr) return;
  // The code and payloads (the remote error code) stay.
  error_observer_(WithMessage(error, absl::StrCat(prefix, error.message())));
}

absl::Status Server::Serve(Listener& listener) {
  listener_ = &listener;
  Duration backoff = tunables::kAcceptBackoffMin;
  for (;;) {
    absl::StatusOr<std::unique_ptr<Transport>> t = listener.Accept();
    if (!t.ok() && !shutting_down_ && IsTemporaryAcceptError(t.status())) {
      Observe(t.status(), absl::StrCat("accept (retrying in ", backoff.ToString(), "): "));
      accept_backoff_.Wait("server: backing off after a temporary accept error",
                           env_->clock().Now() + backoff);
      backoff = std::min(backoff + backoff, tunables::kAcceptBackoffMax);
      continue;
    }
    if (!t.ok()) {
      listener_ = nullptr;
      return shutting_down_ ? absl::OkStatus() : t.status();
    }
    backoff = tunables::kAcceptBackoffMin;
    fibers_.Add();
    absl::Status spawned = env_->scheduler().Spawn(
        absl::StrCat("server connection ", next_connection_id_),
        [this, t = *std::move(t)]() mutable {
          ServeConn(std::move(t)).IgnoreError();
          fibers_.Done();
        });
    if (!spawned.ok()) {
      // The transport went with the unrun body: closed, like a connection over connections_max_count.
      fibers_.Done();
      ++connections_refused_;
      Observe(spawned, "connection refused: ");
    }
  }
}

void Server::Shutdown(Instant deadline) {
  shutting_down_ = true;
  if (listener_ != nullptr) listener_->Close();
  accept_backoff_.WakeAll();
  for (auto& [id, conn] : connections_) conn->manager->StopAccepting(ShuttingDownError());
  while (!connections_.empty()) {
    if (!connections_changed_.Wait("server shutdown: waiting for calls to finish", deadline)) break;
  }
  // Out of time: cancel what still runs and close every connection.
  server_ctx_.Cancel(ShuttingDownError());
  for (auto& [id, conn] : connections_) {
    conn->manager->Terminate(ClosedError("server shutting down"));
  }
  while (!connections_.empty()) connections_changed_.Wait("server shutdown: closing connections");
  fibers_.Wait("server shutdown: waiting for connection fibers");
}

}  // namespace drpc
