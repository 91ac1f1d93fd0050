// echo_server: serves the interop.Echo test service (impl/testing/echo_service.h) over TCP on the
// production runtime, until SIGINT or SIGTERM.
//
//   bazel run //tools:echo_server -- --addr=127.0.0.1:7777 [--mux] [--migrate_header]
//                                    [--connections_max_count=N] [--calls_max_count=N]
//   ... [--connection_buffered_max_bytes=N] [--server_buffered_max_bytes=N]
//   ... [--first_frame_timeout=D] [--frame_timeout=D] [--idle_timeout=D] [--half_close_grace=D]
//   ... [--tls_cert=server.pem --tls_key=server.key [--tls_client_ca=ca.pem]] [--stats]
//   ... [--fork | --flow_control=on|off --stream_window=N ... --error_format=F --max_streams=N]
//
// Prints "READY <addr>" (the real bound address, useful with port 0) on stdout once listening.
// On SIGINT/SIGTERM: stops accepting, lets running calls finish for --shutdown_grace, closes
// everything and exits 0. Exit codes: 0 clean shutdown, 1 could not serve, 2 usage error.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "impl/app/interceptors.h"
#include "impl/app/metrics.h"
#include "impl/app/standard_interceptors.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/signals.h"
#include "impl/runtime/tcp_server.h"
#include "impl/runtime/tls.h"
#include "impl/testing/echo_service.h"
#include "impl/tunables.h"
#include "proto/limits.h"
#include "tools/cli_flags.h"
#include "tools/mux_flags.h"
#include "tools/prod_flags.h"

namespace drpc {
namespace {

// The buffer budgets and connection timeouts (impl/options.h), a block of their own.
std::string BudgetUsage() {
  return absl::StrCat(
      "buffer budgets and timeouts (durations like 500ms, 10s, 5m; \"inf\" for none):\n"
      "  --connection_buffered_max_bytes  bytes one connection may hold for its peer over all\n"
      "                    its streams; at it the connection stops reading (default ",
      tunables::kConnectionBufferedDefaultMaxBytes,
      ")\n"
      "  --server_buffered_max_bytes  bytes all connections may hold beyond ",
      tunables::kConnectionBufferedReservedDefaultBytes,
      " each;\n"
      "                    at it busy connections stop reading and new calls on them are refused\n"
      "                    (default ",
      tunables::kServerBufferedDefaultMaxBytes,
      ")\n"
      "  --first_frame_timeout  a new connection must send its first frame within this (default ",
      tunables::kFirstFrameTimeoutDefault.ToString(),
      ")\n"
      "  --frame_timeout   a started frame must be complete within this (default ",
      tunables::kFrameTimeoutDefault.ToString(),
      ")\n"
      "  --idle_timeout    a connection without calls is closed after this without an Invoke\n"
      "                    (default ",
      tunables::kInactivityTimeoutDefault.ToString(),
      ")\n"
      "  --half_close_grace  after a client half-closes, how long its finished calls may still\n"
      "                    write their replies (default ",
      tunables::kHalfCloseGraceDefault.ToString(), ")\n");
}

// Applies one flag of BudgetUsage's block; false if `f` is not one of them or its value is bad.
bool ApplyBudgetFlag(const cli::CliFlag& f, Options& o) {
  const std::string value = f.value.value_or("");
  const struct {
    const char* name;
    size_t* field;
  } sizes[] = {{"connection_buffered_max_bytes", &o.connection_buffered_max_bytes},
               {"server_buffered_max_bytes", &o.server_buffered_max_bytes}};
  for (const auto& z : sizes) {
    if (f.name == z.name) return absl::SimpleAtoi(value, z.field);
  }
  const struct {
    const char* name;
    Duration* field;
  } durations[] = {{"first_frame_timeout", &o.first_frame_timeout},
                   {"frame_timeout", &o.frame_timeout},
                   {"idle_timeout", &o.inactivity_timeout},
                   {"half_close_grace", &o.half_close_grace}};
  for (const auto& d : durations) {
    if (f.name != d.name) continue;
    if (value == "inf") {
      *d.field = Duration::Infinite();
      return true;
    }
    absl::StatusOr<Duration> parsed = cli::ParseCliDuration(value);
    if (!parsed.ok()) return false;
    *d.field = *parsed;
    return true;
  }
  return false;
}

std::string Usage() {
  return absl::StrCat(
      "usage: echo_server [--addr=HOST:PORT] [--mux] [--migrate_header] [--reactors=N]\n"
      "                   [--shutdown_grace=DURATION] [--connections_max_count=N]\n"
      "                   [--calls_max_count=N] [--fibers_max_count=N]\n"
      "  --addr            listen address (default 127.0.0.1:7777; port 0 picks a free port)\n"
      "  --mux             multiplexed mode (clients must use --mux too); default: upstream drpc\n"
      "  --migrate_header  expect the drpcmigrate header DRPC!!!1 on every connection\n"
      "  --reactors        reactor threads (default: one per CPU)\n"
      "  --shutdown_grace  how long running calls may finish after SIGINT/SIGTERM (default 5s)\n"
      "  --connections_max_count  connections served at once across all reactors; more are\n"
      "                    closed right after accept (default ",
      tunables::kConnectionsDefaultMaxCount,
      ")\n"
      "  --calls_max_count calls served at once across all connections; more are refused with\n"
      "                    \"server busy\" (default ",
      tunables::kServerCallsDefaultMaxCount,
      ")\n"
      "  --fibers_max_count  fiber stacks per reactor; a call without one is refused (default ",
      tunables::kFiberStacksDefaultMaxCount, ")\n", BudgetUsage(),
      "mux (the cockroachdb/drpc fork's wire):\n", cli::MuxFlags::kServerUsage,
      "production (TLS, metrics):\n");
}

struct Config {
  cli::ProdFlags prod;
  cli::MuxFlags mux{/*client=*/false};
  runtime::TcpServerOptions server;
  runtime::ReactorOptions reactor;
  size_t reactors = 0;
  Duration grace = Duration::Seconds(5);
};

// Returns false (after printing why) on a usage error.
bool ParseArgs(int argc, char** argv, Config* config) {
  config->server.address = "127.0.0.1:7777";
  for (int i = 1; i < argc; ++i) {
    std::optional<cli::CliFlag> f = cli::ParseCliFlag(argv[i]);
    if (!f) {
      std::fprintf(stderr, "echo_server: unexpected argument \"%s\"\n%s", argv[i], Usage().c_str());
      return false;
    }
    const std::string value = f->value.value_or("");
    if (config->prod.Apply(*f)) {
      if (!config->prod.error().ok()) {
        std::fprintf(stderr, "echo_server: %s\n%s%s", config->prod.error().ToString().c_str(),
                     Usage().c_str(), cli::ProdFlags::kServerUsage);
        return false;
      }
    } else if (config->mux.Apply(*f)) {
      if (!config->mux.error().ok()) {
        std::fprintf(stderr, "echo_server: %s\n%s", config->mux.error().ToString().c_str(),
                     Usage().c_str());
        return false;
      }
    } else if (f->name == "help" || f->name == "h") {
      std::printf("%s%s", Usage().c_str(), cli::ProdFlags::kServerUsage);
      std::exit(0);
    } else if (f->name == "addr" && f->value) {
      config->server.address = value;
    } else if (f->name == "mux" && !f->value) {
      config->server.connection.mux = true;
    } else if (f->name == "migrate_header" && !f->value) {
      config->server.migrate_header = true;
    } else if (f->name == "reactors" && absl::SimpleAtoi(value, &config->reactors)) {
    } else if (f->name == "connections_max_count" &&
               absl::SimpleAtoi(value, &config->server.connection.connections_max_count)) {
    } else if (f->name == "calls_max_count" &&
               absl::SimpleAtoi(value, &config->server.connection.server_calls_max_count) &&
               config->server.connection.server_calls_max_count > 0) {
    } else if (f->name == "fibers_max_count" &&
               absl::SimpleAtoi(value, &config->reactor.stack_count_max) &&
               config->reactor.stack_count_max > 0) {
    } else if (f->name == "shutdown_grace" && cli::ParseCliDuration(value).ok()) {
      config->grace = *cli::ParseCliDuration(value);
    } else if (ApplyBudgetFlag(*f, config->server.connection)) {
    } else {
      std::fprintf(stderr, "echo_server: bad flag \"%s\"\n%s", argv[i], Usage().c_str());
      return false;
    }
  }
  if (absl::Status s = config->mux.ApplyTo(config->server.connection); !s.ok()) {
    std::fprintf(stderr, "echo_server: %s\n%s", s.ToString().c_str(), Usage().c_str());
    return false;
  }
  return true;
}

// "mux mode, flow control 2097152/524288/67108864, grpc-status errors" and the like.
std::string ModeText(const Options& o) {
  if (!o.mux) return "upstream mode";
  std::string text = "mux mode, flow control ";
  absl::StrAppend(&text, o.flow.enabled ? absl::StrCat("on (window ", o.flow.stream_window_bytes,
                                                         ", threshold ", o.flow.grant_threshold_bytes,
                                                         ", messages up to ",
                                                         o.flow.message_max_bytes, ")")
                                        : "off",
                  ", ", ErrorFormatName(o.ErrorFormatOrDefault()), " errors");
  return text;
}

// The production block: TLS on accepted connections, metrics (interceptor, metered transports,
// receive-queue waits) with --stats.
absl::Status AddProduction(Config& config, MetricsRegistry& metrics, MetricsObserver& observer,
                           std::vector<ServerInterceptor>& chain) {
  std::shared_ptr<const runtime::TlsContext> tls;
  if (config.prod.server_tls()) {
    absl::StatusOr<runtime::TlsServerConfig> tls_config = config.prod.ServerTls();
    if (!tls_config.ok()) return tls_config.status();
    absl::StatusOr<std::shared_ptr<const runtime::TlsContext>> made =
        runtime::TlsContext::ForServer(*tls_config);
    if (!made.ok()) return made.status();
    tls = *std::move(made);
  }
  MetricsSink* sink = nullptr;
  if (config.prod.stats()) {
    sink = &metrics;
    chain.push_back(ServerMetricsInterceptor(metrics));
    config.server.connection.observer = &observer;
  }
  if (tls == nullptr && sink == nullptr) return absl::OkStatus();
  config.server.accept_handshake = [tls, sink](runtime::Reactor& r, std::unique_ptr<Transport> t,
                                 const std::string& peer)
      -> absl::StatusOr<std::unique_ptr<Transport>> {
    if (sink != nullptr) {
      t = std::make_unique<MeteredTransport>(r.env(), std::move(t), *sink, Side::kServer);
    }
    if (tls == nullptr) return t;
    absl::StatusOr<std::unique_ptr<runtime::TlsTransport>> secured =
        runtime::TlsTransport::Accept(r.env(), std::move(t), *tls, peer);
    if (!secured.ok()) return secured.status();
    return std::unique_ptr<Transport>(*std::move(secured));
  };
  config.server.on_handshake_error = [](const absl::Status& s) {
    std::fprintf(stderr, "echo_server: connection refused: %s\n", s.ToString().c_str());
  };
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  Config config;
  if (!ParseArgs(argc, argv, &config)) return 2;
  // Before any thread exists, so every thread inherits the blocked mask.
  absl::StatusOr<std::unique_ptr<runtime::TerminationSignals>> signals =
      runtime::TerminationSignals::Install();
  if (!signals.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", signals.status().ToString().c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<runtime::Runtime>> rt =
      runtime::Runtime::Start({.reactor_count = config.reactors, .reactor = config.reactor});
  if (!rt.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", rt.status().ToString().c_str());
    return 1;
  }
  const Router router = testing::EchoRouter();
  MetricsRegistry metrics;
  MetricsObserver observer(metrics, Side::kServer);
  std::vector<ServerInterceptor> chain;
  if (absl::Status s = AddProduction(config, metrics, observer, chain); !s.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", s.ToString().c_str());
    return 2;
  }
  const InterceptedHandler handler(router, std::move(chain), RouterShapes(router));
  absl::StatusOr<std::unique_ptr<runtime::TcpServer>> server =
      runtime::TcpServer::Start(**rt, handler, config.server);
  if (!server.ok()) {
    std::fprintf(stderr, "echo_server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("READY %s\n", (*server)->address().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "echo_server: serving interop.Echo on %s (%s%s%s, %zu reactors)\n",
               (*server)->address().c_str(), ModeText(config.server.connection).c_str(),
               config.server.migrate_header ? ", drpcmigrate header" : "",
               config.prod.server_tls() ? ", TLS" : "", (*rt)->reactor_count());
  const int sig = (*signals)->Wait();
  std::fprintf(stderr, "echo_server: signal %d, shutting down (grace %s)\n", sig,
               config.grace.ToString().c_str());
  (*server)->Shutdown(config.grace);
  const runtime::TcpServer::Stats stats = (*server)->stats();
  server->reset();
  (*rt)->Stop();
  if (config.prod.stats()) {
    const std::string text = RenderPrometheus(metrics.Read());
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
  std::fprintf(stderr, "echo_server: served %llu connection(s); bye\n",
               static_cast<unsigned long long>(stats.connections_accepted));
  return 0;
}

}  // namespace
}  // namespace drpc

int main(int argc, char** argv) { return drpc::Main(argc, argv); }
