// Server: serves a Handler (impl/handler.h; usually a Router) over connections.
//
//   Router router;  ... register handlers ...
//   Server server(env, router, Options{});
//   DRPC_CHECK_OK(env.scheduler().Spawn("accept", [&] { server.Serve(*listener).IgnoreError(); }));
//   ...
//   server.Shutdown(env.clock().Now() + Duration::Seconds(5));  // graceful, then forced
//
// Per connection: in upstream mode calls run one after another on the connection's fiber (as Go's
// ServeOne); in mux mode each call runs on its own fiber. A handler's error becomes an Error packet
// and never ends the connection. Handlers see the client's metadata in ctx.incoming_metadata()
// (ctx.metadata(), the outgoing metadata of calls the handler makes, starts empty), and ctx is
// done when the call ends early (the client cancelled, the connection dropped, the server gave up
// at its shutdown deadline).
//
// Serve retries temporary accept errors (kUnavailable, kResourceExhausted — e.g. EMFILE) after a
// backoff doubling from 5 ms to at most 500 ms (Go sleeps 500 ms), so it never spins, and returns
// when the listener is closed. At most Options::connections_max_count connections are served at
// once (docs/protocol.md §13 item 18); a connection beyond it is told why where the mode allows:
// its first Invoke is answered with an Error "server busy: connection refused: ..." (read for at
// most kRefusalReadTimeout), then it is closed. At most kConnectionsRefusingMaxCount connections
// are answered so at once; beyond that they are closed before anything is read.
//
// Time limits (Options, all finite by default): a connection must deliver its first frame within
// first_frame_timeout, each started frame must complete within frame_timeout, and a connection
// with no call running is closed after inactivity_timeout without an Invoke. A client that
// half-closes (read EOF) still gets the replies of the calls it had sent completely, for up to
// half_close_grace; calls still expecting messages end at once.
//
// Budgets: at most Options::server_calls_max_count calls run at once across all the server's
// connections (a CallBudget, which Servers on several reactors may share); a call beyond it, one
// for which no fiber can be spawned (the scheduler's stack budget is spent), or one arriving on a
// connection over its buffer budget (or over its reservation while the server's buffer budget —
// a ServerBuffers, shareable like the CallBudget — is spent; impl/buffer_budget.h) is refused
// with an Error — kResourceExhausted "server busy: ..." — and the connection and its other calls
// go on (mux: only that stream gets the Error; upstream: the call fails and the next one is served).
// A connection for which no fiber can be spawned is closed at once. Running out of stacks, maps
// or memory is never an abort.
//
// Errors that end nothing visible to the caller are given to the error observer, if one is set:
// a handler's error (message prefixed "rpc <name>: ", code and payloads kept), the error that
// ended a connection (prefixed "connection: "; not for a clean close by the peer or by Shutdown),
// a temporary accept error being retried, and a connection refused over connections_max_count. The
// observer runs on the server's fibers and must not block.
//
// Shutdown: stop accepting connections and calls (new calls are refused with an Error), let
// running calls finish until the deadline, then cancel them and close every connection. It returns
// when every connection fiber has ended. Call it from a fiber.
#ifndef DRPC_IMPL_SERVER_H_
#define DRPC_IMPL_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "impl/buffer_budget.h"
#include "impl/call_budget.h"
#include "impl/context.h"
#include "impl/env.h"
#include "impl/handler.h"
#include "impl/manager.h"
#include "impl/options.h"
#include "impl/sync.h"

namespace drpc {

class Server {
 public:
  // `handler` must outlive the server. `calls` bounds the calls running at once; null: the
  // server's own budget of options.server_calls_max_count. `buffers` bounds the bytes all its
  // connections hold; null: the server's own budget of options.server_buffered_max_bytes. A
  // shared budget (thread-safe) must outlive every server using it.
  Server(Env& env, const Handler& handler, Options options = Options{},
         CallBudget* calls = nullptr, ServerBuffers* buffers = nullptr);
  ~Server();  // requires no connection to be running (Shutdown first)
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves one connection on the calling fiber until it ends; returns why it ended (OK for a
  // clean close by the peer or by Shutdown).
  absl::Status ServeConn(std::unique_ptr<Transport> transport);

  // Refuses a connection on the calling fiber: answers its first Invoke (read for at most
  // kRefusalReadTimeout) with an Error carrying `why`, then closes it; beyond
  // kConnectionsRefusingMaxCount refusals at once it is closed at once. True if the Error went
  // out.
  bool RefuseConn(std::unique_ptr<Transport> transport, const absl::Status& why);

  // Accepts connections until the listener is closed (Shutdown closes it) or fails for good,
  // serving each on its own fiber; temporary accept errors are retried after a backoff. Returns OK
  // after Shutdown, else the listener's error.
  absl::Status Serve(Listener& listener);

  using ErrorObserver = absl::AnyInvocable<void(const absl::Status&)>;
  // See the top of this file. Set it before serving.
  void set_error_observer(ErrorObserver observer) { error_observer_ = std::move(observer); }

  void Shutdown(Instant deadline);

  size_t active_connections() const { return connections_.size(); }
  // What the live connections hold together (Manager::Usage).
  Manager::Usage usage() const;
  // Calls refused because a budget was spent (calls or fibers).
  uint64_t calls_refused() const { return calls_refused_; }
  // Connections closed at once because no fiber could be spawned for them.
  uint64_t connections_refused() const { return connections_refused_; }
  // Connections over connections_max_count whose first Invoke got the refusal's Error.
  uint64_t connections_refused_with_error() const { return connections_refused_with_error_; }
  const CallBudget& call_budget() const { return *calls_; }
  const ServerBuffers& server_buffers() const { return *buffers_; }

 private:
  struct Connection;
  void RunCall(Connection& conn, IncomingStream&& in);
  // Answers `stream` with `why` instead of running it; the connection goes on.
  void Refuse(Connection& conn, Stream& stream, const absl::Status& why);
  // ServeMux: runs the call on a fiber of its own, or refuses it.
  void StartMuxCall(Connection& conn, IncomingStream&& in);
  // A mux call on its way to its fiber. The fiber's closure holds only an owning pointer to it, so
  // it fits the closure's inline storage (no allocation per call); records are recycled.
  struct MuxCall {
    Server* server;
    Connection* conn;
    IncomingStream in;
  };
  std::unique_ptr<MuxCall> TakeMuxCall(Connection& conn, IncomingStream&& in);
  void GiveBackMuxCall(std::unique_ptr<MuxCall> call);
  // The handler fiber's body.
  void RunMuxCall(std::unique_ptr<MuxCall> call);
  // OK, or why a new call on `conn` is refused: its buffer budget, or the server's, is spent.
  absl::Status BuffersBusy(const Connection& conn) const;
  absl::Status ServeUpstream(Connection& conn);
  absl::Status ServeMux(Connection& conn);
  void Observe(const absl::Status& error, absl::string_view prefix);

  Env* env_;
  const Handler* handler_;
  Options options_;
  CallContext server_ctx_;  // cancelled when shutdown gives up waiting
  bool shutting_down_ = false;
  Listener* listener_ = nullptr;
  uint64_t next_connection_id_ = 1;
  std::map<uint64_t, Connection*> connections_;
  std::vector<std::unique_ptr<MuxCall>> spare_mux_calls_;  // at most kMuxCallSpareMaxCount
  WaitList connections_changed_;
  WaitList accept_backoff_;  // Serve sleeping after a temporary accept error; Shutdown wakes it
  WaitGroup fibers_;  // connection fibers spawned by Serve
  std::unique_ptr<CallBudget> own_calls_;
  CallBudget* calls_;
  std::unique_ptr<ServerBuffers> own_buffers_;
  ServerBuffers* buffers_;
  uint64_t calls_refused_ = 0;
  uint64_t connections_refused_ = 0;
  uint64_t connections_refused_with_error_ = 0;
  size_t refusing_ = 0;  // connections in RefuseConn
  ErrorObserver error_observer_;
};

}  // namespace drpc

#endif  // DRPC_IMPL_SERVER_H_
