// drpc::ServerBuilder: a production server in a few lines — addresses, TLS, mode, limits,
// interceptors, metrics, services — running on the production runtime without the user touching
// reactors.
//
//   drpc::ServerBuilder builder;
//   builder.ListenOn("0.0.0.0:7777")
//       .WithTls({.cert_chain_pem = cert, .private_key_pem = key})
//       .WithMux(false)
//       .AddInterceptor(drpc::RequireToken("authorization", check))
//       .WithMetrics(&metrics);
//   greeter::Greeter::Register(builder.router(), impl);     // generated services, or router() calls
//   absl::StatusOr<std::unique_ptr<drpc::RunningServer>> server = builder.Start();
//   ... (*server)->addresses() ...
//   (*server)->Shutdown(drpc::Duration::Seconds(5));          // graceful, then forced
//
// Start validates everything first (options, certificates, addresses) and returns the first
// error. Each address gets a runtime::TcpServer on the same runtime (by default one reactor per
// CPU). Interceptors run outermost first; with metrics a server metrics interceptor goes first,
// every connection is metered, and receive-queue waits are counted (impl/app/metrics.h). TLS
// handshakes run on the connection's reactor after accept, bounded by handshake_timeout; a
// failed one closes the connection, is counted in stats().handshake_failures and goes to
// OnHandshakeError. Start, Shutdown and the destructor are for application threads.
#ifndef DRPC_DRPC_SERVER_H_
#define DRPC_DRPC_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "impl/app/interceptors.h"
#include "impl/app/metrics.h"
#include "impl/handler.h"
#include "impl/options.h"
#include "impl/router.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp_server.h"
#include "impl/runtime/tls.h"
#include "impl/time.h"

namespace drpc {

class RunningServer;

class ServerBuilder {
 public:
  ServerBuilder();
  ~ServerBuilder();

  // Adds a listen address ("127.0.0.1:0" picks a free port; see RunningServer::addresses).
  ServerBuilder& ListenOn(std::string address);
  ServerBuilder& WithTls(runtime::TlsServerConfig tls);
  // Protocol options of every connection (mode, limits; Options::observer is set by metrics).
  ServerBuilder& WithOptions(Options options);
  ServerBuilder& WithMux(bool mux = true);
  // Connections served at once over all addresses of one TcpServer (more are closed at once).
  ServerBuilder& WithConnectionLimit(size_t connections_max);
  ServerBuilder& WithMigrateHeader(bool expect = true);
  // Reactor threads of a runtime the server starts (0: one per CPU). Ignored with WithRuntime.
  ServerBuilder& WithReactors(size_t count);
  ServerBuilder& WithRuntime(std::shared_ptr<runtime::Runtime> runtime);
  ServerBuilder& AddInterceptor(ServerInterceptor interceptor);
  ServerBuilder& WithMetrics(MetricsSink* sink);  // must outlive the server
  ServerBuilder& OnHandshakeError(std::function<void(const absl::Status&)> observer);
  // The services: register on router() (generated Register functions take it), or serve any
  // Handler instead (it must outlive the server; unary interceptors then see every call as a
  // stream unless it is a Router).
  Router& router();
  ServerBuilder& WithHandler(const Handler& handler);

  // Everything above is consumed: a builder starts one server.
  absl::StatusOr<std::unique_ptr<RunningServer>> Start();

 private:
  std::vector<std::string> addresses_;
  std::optional<runtime::TlsServerConfig> tls_;
  Options options_;
  size_t connections_max_ = 10000;
  bool migrate_header_ = false;
  size_t reactors_ = 0;
  std::shared_ptr<runtime::Runtime> runtime_;
  std::vector<ServerInterceptor> interceptors_;
  MetricsSink* metrics_ = nullptr;
  std::function<void(const absl::Status&)> on_handshake_error_;
  std::unique_ptr<Router> router_;
  const Handler* handler_ = nullptr;
};

class RunningServer {
 public:
  ~RunningServer();  // Shutdown(Duration::Zero()) unless already shut down
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  // The bound addresses with their real ports, in ListenOn order.
  const std::vector<std::string>& addresses() const { return addresses_; }
  // Stops accepting, lets running calls finish for `grace`, then cancels them and closes every
  // connection; returns when all have ended. Idempotent.
  void Shutdown(Duration grace);
  // Summed over the addresses. Thread-safe.
  runtime::TcpServer::Stats stats() const;
  runtime::Runtime& runtime() { return *runtime_; }

 private:
  friend class ServerBuilder;
  RunningServer() = default;

  std::shared_ptr<runtime::Runtime> runtime_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<MetricsObserver> observer_;
  std::unique_ptr<InterceptedHandler> handler_;
  std::shared_ptr<const runtime::TlsContext> tls_;
  std::vector<std::unique_ptr<runtime::TcpServer>> servers_;
  std::vector<std::string> addresses_;
  bool shut_down_ = false;
};

}  // namespace drpc

#endif  // DRPC_DRPC_SERVER_H_
