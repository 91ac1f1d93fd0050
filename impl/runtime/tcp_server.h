// TcpServer: serves a Router over TCP on every reactor of a Runtime — what a production drpc-cpp
// server runs (tools/echo_server is one).
//
//   Router router = ...;
//   absl::StatusOr<std::unique_ptr<TcpServer>> s =
//       TcpServer::Start(runtime, router, {.address = "127.0.0.1:0"});
//   std::cout << (*s)->address();                      // "127.0.0.1:40123"
//   ...
//   (*s)->Shutdown(Duration::Seconds(5));             // graceful, then forced
//
// Threading: reactor 0 accepts; each new connection is handed, once and as a bare socket, to the
// next reactor round-robin (or stays on reactor 0 if that reactor's inbox is full) and is served
// there for its whole life by that reactor's drpc::Server (impl/server.h): every read, write and
// handler call of the connection runs on one thread. Start, Shutdown and the destructor are for
// application threads (they wait for the reactors); address() and stats() are thread-safe.
//
// Limits: at most connection.connections_max_count connections are served at once, across all
// reactors; a connection beyond it is told why — its first Invoke is answered with an Error
// "server busy: connection refused: ..." before it is closed (stats().connections_refused_with_error)
// — or, while kConnectionsRefusingMaxCount refusals are already under way, closed right after
// accept (stats().connections_refused). Buffered bytes: every connection's beyond its reservation
// count against one budget of connection.server_buffered_max_bytes across all reactors
// (impl/buffer_budget.h). With migrate_header, a connection that does not send "DRPC!!!1"
// within migrate_header_timeout is closed. At most connection.server_calls_max_count calls run at
// once across all reactors; calls beyond it are refused with an Error ("server busy: ..."), as
// are calls for which a reactor has no fiber stack left (ReactorOptions::stack_count_max).
#ifndef DRPC_IMPL_RUNTIME_TCP_SERVER_H_
#define DRPC_IMPL_RUNTIME_TCP_SERVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "impl/buffer_budget.h"
#include "impl/call_budget.h"
#include "impl/options.h"
#include "impl/handler.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp.h"
#include "impl/time.h"
#include "impl/tunables.h"

namespace drpc::runtime {

struct TcpServerOptions {
  std::string address = "127.0.0.1:0";
  // Per-connection protocol options (Options::mux selects the mode; clients must agree), and the
  // server's connection limit (Options::connections_max_count, across all reactors).
  Options connection;
  ListenOptions listen;
  // Expect and strip the drpcmigrate header on every connection (docs/protocol.md §10).
  bool migrate_header = false;
  Duration migrate_header_timeout = tunables::kMigrateHeaderTimeoutDefault;
  // Runs on the connection's reactor right after accept (and the drpcmigrate header), with the
  // peer's address ("127.0.0.1:53122"), and may
  // replace the transport — a TLS handshake (impl/runtime/tls.h) — or refuse the connection with
  // an error (counted in stats().handshake_failures, given to on_handshake_error). Shutdown closes
  // connections still in it. It must bound its own waiting (TLS: handshake_timeout).
  std::function<absl::StatusOr<std::unique_ptr<Transport>>(
      Reactor&, std::unique_ptr<Transport>, const std::string& peer)>
      accept_handshake;
  // Told (on the reactor; must not block) why a connection's handshake failed; may be empty.
  std::function<void(const absl::Status&)> on_handshake_error;
};

class TcpServer {
 public:
  // Validates the options, listens, and starts serving. `handler` (usually a Router) must
  // outlive the server.
  static absl::StatusOr<std::unique_ptr<TcpServer>> Start(Runtime& runtime, const Handler& handler,
                                                         TcpServerOptions options);
  // Shutdown(Duration::Zero()) unless already shut down. Shut the server down before stopping
  // its Runtime.
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  // The bound address with the real port.
  const std::string& address() const { return address_; }

  // Stops accepting connections and calls (new calls are refused with an Error), gives running
  // calls `grace` to finish, then cancels them and closes every connection. Returns once every
  // connection has ended. Idempotent.
  void Shutdown(Duration grace);

  struct Stats {
    uint64_t connections_accepted = 0;
    uint64_t connections_refused = 0;   // closed at once: over the limit, or no fiber stack
    uint64_t connections_refused_with_error = 0;  // over the limit, told so with an Error
    uint64_t handshake_failures = 0;    // drpcmigrate header or accept_handshake failed
    size_t connections_active = 0;
    size_t buffered_bytes = 0;        // held beyond reservations, all connections (now)
    size_t buffered_peak_bytes = 0;   // the most held at once
  };
  Stats stats() const;

 private:
  struct Shard;
  struct Accepted;
  TcpServer(Runtime& runtime, const Handler& handler, TcpServerOptions options);
  void AcceptLoop();
  // Hands an accepted socket to a reactor (or serves it on reactor 0).
  void Dispatch(TcpListener::AcceptedSocket socket, bool refuse);
  // Serves the socket on reactor `shard`, or refuses it with an Error (over the limit).
  void ServeSocket(size_t shard, TcpListener::AcceptedSocket socket, bool refuse);
  // Adopts the socket and runs the drpcmigrate header and accept_handshake, if configured.
  absl::StatusOr<std::unique_ptr<Transport>> Handshake(Shard& shard,
                                                       TcpListener::AcceptedSocket socket);
  void ShutdownShards(Duration grace);

  Runtime* runtime_;
  const Handler* handler_;
  const TcpServerOptions options_;
  // Calls running across every reactor (Options::server_calls_max_count), shared by the shards' Servers.
  CallBudget calls_;
  // Bytes held beyond reservations across every reactor (Options::server_buffered_max_bytes).
  ServerBuffers buffers_;
  std::string address_;
  std::vector<std::unique_ptr<Shard>> shards_;  // one per reactor, each touched only there
  std::unique_ptr<TcpListener> listener_;       // reactor 0
  bool shut_down_ = false;                      // application-thread state

  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> handshake_failures_{0};
  std::atomic<uint64_t> refused_with_error_{0};
  std::atomic<size_t> active_{0};
  std::atomic<size_t> refusing_{0};  // over-limit connections being answered
};

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_TCP_SERVER_H_
