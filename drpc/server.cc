#include "drpc/server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/app/standard_interceptors.h"
#include "impl/runtime/tcp.h"

namespace drpc {

ServerBuilder::ServerBuilder() : router_(std::make_unique<Router>()) {}
ServerBuilder::~ServerBuilder() = default;

ServerBuilder& ServerBuilder::ListenOn(std::string address) {
  addresses_.push_back(std::move(address));
  return *this;
}
ServerBuilder& ServerBuilder::WithTls(runtime::TlsServerConfig tls) {
  tls_ = std::move(tls);
  return *this;
}
ServerBuilder& ServerBuilder::WithOptions(Options options) {
  options_ = std::move(options);
  return *this;
}
ServerBuilder& ServerBuilder::WithMux(bool mux) {
  options_.mux = mux;
  return *this;
}
ServerBuilder& ServerBuilder::WithConnectionLimit(size_t connections_max) {
  connections_max_ = connections_max;
  return *this;
}
ServerBuilder& ServerBuilder::WithMigrateHeader(bool expect) {
  migrate_header_ = expect;
  return *this;
}
ServerBuilder& ServerBuilder::WithReactors(size_t count) {
  reactors_ = count;
  return *this;
}
ServerBuilder& ServerBuilder::WithRuntime(std::shared_ptr<runtime::Runtime> runtime) {
  runtime_ = std::move(runtime);
  return *this;
}
ServerBuilder& ServerBuilder::AddInterceptor(ServerInterceptor interceptor) {
  interceptors_.push_back(std::move(interceptor));
  return *this;
}
ServerBuilder& ServerBuilder::WithMetrics(MetricsSink* sink) {
  metrics_ = sink;
  return *this;
}
ServerBuilder& ServerBuilder::OnHandshakeError(std::function<void(const absl::Status&)> observer) {
  on_handshake_error_ = std::move(observer);
  return *this;
}
Router& ServerBuilder::router() { return *router_; }
ServerBuilder& ServerBuilder::WithHandler(const Handler& handler) {
  handler_ = &handler;
  return *this;
}

absl::StatusOr<std::unique_ptr<RunningServer>> ServerBuilder::Start() {
  if (addresses_.empty()) return absl::InvalidArgumentError("ServerBuilder: no ListenOn address");
  if (router_ == nullptr) return absl::FailedPreconditionError("ServerBuilder: already started");
  if (absl::Status s = options_.Validate(); !s.ok()) return s;
  std::unique_ptr<RunningServer> out(new RunningServer());
  if (tls_.has_value()) {
    absl::StatusOr<std::shared_ptr<const runtime::TlsContext>> t =
        runtime::TlsContext::ForServer(*tls_);
    if (!t.ok()) return t.status();
    out->tls_ = *std::move(t);
  }
  out->runtime_ = runtime_;
  if (out->runtime_ == nullptr) {
    absl::StatusOr<std::unique_ptr<runtime::Runtime>> rt =
        runtime::Runtime::Start({.reactor_count = reactors_});
    if (!rt.ok()) return rt.status();
    out->runtime_ = *std::move(rt);
  }
  out->router_ = std::move(router_);
  const Handler& inner = handler_ != nullptr ? *handler_ : *out->router_;
  std::vector<ServerInterceptor> chain;
  runtime::TcpServerOptions tcp;
  tcp.connection = options_;
  tcp.connection.connections_max_count = connections_max_;
  tcp.migrate_header = migrate_header_;
  tcp.on_handshake_error = on_handshake_error_;
  if (metrics_ != nullptr) {
    chain.push_back(ServerMetricsInterceptor(*metrics_));
    out->observer_ = std::make_unique<MetricsObserver>(*metrics_, Side::kServer);
    tcp.connection.observer = out->observer_.get();
  }
  for (ServerInterceptor& i : interceptors_) chain.push_back(std::move(i));
  out->handler_ = std::make_unique<InterceptedHandler>(
      inner, std::move(chain), handler_ != nullptr ? ShapeLookup() : RouterShapes(*out->router_));
  std::shared_ptr<const runtime::TlsContext> tls = out->tls_;
  MetricsSink* sink = metrics_;
  if (tls != nullptr || sink != nullptr) {
    tcp.accept_handshake = [tls, sink](runtime::Reactor& r, std::unique_ptr<Transport> t,
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
  }
  for (const std::string& address : addresses_) {
    tcp.address = address;
    absl::StatusOr<std::unique_ptr<runtime::TcpServer>> s =
        runtime::TcpServer::Start(*out->runtime_, *out->handler_, tcp);
    if (!s.ok()) return s.status();  // ~RunningServer shuts down the ones started
    out->addresses_.push_back((*s)->address());
    out->servers_.push_back(*std::move(s));
  }
  return out;
}

RunningServer::~RunningServer() { Shutdown(Duration::Zero()); }

void RunningServer::Shutdown(Duration grace) {
  if (shut_down_) return;
  shut_down_ = true;
  for (auto& s : servers_) s->Shutdown(grace);
}

runtime::TcpServer::Stats RunningServer::stats() const {
  runtime::TcpServer::Stats total;
  for (const auto& s : servers_) {
    const runtime::TcpServer::Stats one = s->stats();
    total.connections_accepted += one.connections_accepted;
    total.connections_refused += one.connections_refused;
    total.connections_refused_with_error += one.connections_refused_with_error;
    total.buffered_bytes += one.buffered_bytes;
    total.buffered_peak_bytes += one.buffered_peak_bytes;
    total.handshake_failures += one.handshake_failures;
    total.connections_active += one.connections_active;
  }
  return total;
}

}  // namespace drpc
