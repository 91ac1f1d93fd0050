#include "drpc/client.h"

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "impl/app/reconnecting_conn.h"
#include "impl/app/standard_interceptors.h"
#include "impl/errors.h"
#include "impl/runtime/tcp.h"
#include "proto/base/check.h"

namespace drpc {
namespace {

// Backoff jitter from the operating system's entropy; used on one reactor only.
class SystemRandom final : public RandomSource {
 public:
  SystemRandom() : engine_(std::random_device{}()) {}
  uint64_t Below(uint64_t n) override {
    return n <= 1 ? 0 : std::uniform_int_distribution<uint64_t>(0, n - 1)(engine_);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace

struct Client::Home {
  explicit Home(Env& env) : calls(env) {}
  WaitGroup calls;  // calls running on the home reactor; the Client is destroyed after them
  std::unique_ptr<Dialer> dialer;
  SystemRandom random;
  std::unique_ptr<MetricsObserver> observer;
  std::unique_ptr<ReconnectingConn> core;
  std::unique_ptr<InterceptedConn> top;
};

struct BlockingStream::HomeSide {
  std::unique_ptr<CallContext> ctx;
  std::shared_ptr<RpcStream> stream;
};

Client::Client(std::string address, std::shared_ptr<runtime::Runtime> rt, size_t home, bool owns)
    : address_(std::move(address)), rt_(std::move(rt)), home_(home), owns_runtime_(owns) {}

absl::StatusOr<std::unique_ptr<Client>> Client::Dial(std::string address, ClientOptions options) {
  if (absl::Status s = options.connection.Validate(); !s.ok()) return s;
  if (absl::Status s = options.backoff.Validate(); !s.ok()) return s;
  std::shared_ptr<const runtime::TlsContext> tls;
  if (options.tls.has_value()) {
    absl::StatusOr<std::shared_ptr<const runtime::TlsContext>> t =
        runtime::TlsContext::ForClient(*options.tls);
    if (!t.ok()) return t.status();
    tls = *std::move(t);
  }
  const bool owns = options.runtime == nullptr;
  std::shared_ptr<runtime::Runtime> rt = options.runtime;
  if (owns) {
    absl::StatusOr<std::unique_ptr<runtime::Runtime>> started =
        runtime::Runtime::Start({.reactor_count = 1});
    if (!started.ok()) return started.status();
    rt = *std::move(started);
  }
  const size_t home = rt->NextReactorIndex();
  std::unique_ptr<Client> client(new Client(std::move(address), rt, home, owns));
  Client* self = client.get();
  absl::Status built = hop::RunOn<absl::Status>(*rt, home, [&]() -> absl::Status {
    runtime::Reactor& r = rt->reactor(home);
    auto h = std::make_unique<Home>(r.env());
    runtime::DialOptions dial{.timeout = options.dial_timeout,
                              .migrate_header = options.migrate_header};
    if (tls != nullptr) {
      h->dialer = std::make_unique<runtime::TlsDialer>(r, tls, dial);
    } else {
      h->dialer = std::make_unique<runtime::TcpDialer>(r, dial);
    }
    ReconnectOptions ro{.connection = options.connection,
                        .backoff = options.backoff,
                        .dial_timeout = options.dial_timeout,
                        .stable_after = options.stable_after,
                        .wait_for_ready = options.wait_for_ready,
                        .reconnect = options.reconnect,
                        .on_connect = options.on_connect,
                        .metrics = options.metrics,
                        .random = &h->random};
    std::vector<ClientInterceptor> chain;
    if (MetricsSink* sink = options.metrics; sink != nullptr) {
      h->observer = std::make_unique<MetricsObserver>(*sink, Side::kClient);
      ro.connection.observer = h->observer.get();
      ro.wrap_transport = [&r, sink](std::unique_ptr<Transport> t) -> std::unique_ptr<Transport> {
        return std::make_unique<MeteredTransport>(r.env(), std::move(t), *sink, Side::kClient);
      };
      chain.push_back(ClientMetricsInterceptor(*sink));
    }
    for (ClientInterceptor& i : options.interceptors) chain.push_back(std::move(i));
    if (absl::Status s = ro.Validate(); !s.ok()) return s;
    h->core = std::make_unique<ReconnectingConn>(r.env(), *h->dialer, self->address_, ro);
    h->top = std::make_unique<InterceptedConn>(*h->core, std::move(chain));
    self->home_side_ = std::move(h);
    if (!options.connect_now) return absl::OkStatus();
    CallContext ctx(r.env());
    return self->home_side_->core->Connect(ctx);
  });
  if (!built.ok()) return built;  // the destructor closes what was made
  return client;
}

Client::~Client() {
  Close();
  absl::Status destroyed = hop::RunOn<absl::Status>(*rt_, home_, [this]() -> absl::Status {
    if (home_side_ != nullptr) home_side_->calls.Wait("client: waiting for calls to return");
    home_side_.reset();
    return absl::OkStatus();
  });
  // A runtime stopped under the client: its objects belong to a dead reactor; leak them rather
  // than destroy them on the wrong thread.
  if (!destroyed.ok()) (void)home_side_.release();
  if (owns_runtime_) {
    DRPC_CHECK(runtime::Reactor::ForThisThread() == nullptr)
        << "a Client with a private runtime must not be destroyed on its reactor";
    rt_->Stop();
  }
}

void Client::Close() {
  hop::RunOn<absl::Status>(*rt_, home_, [this]() -> absl::Status {
    if (closed_ || home_side_ == nullptr) return absl::OkStatus();
    closed_ = true;
    home_side_->core->Close();
    return absl::OkStatus();
  }).IgnoreError();
}

Signal& Client::closed() {
  DRPC_CHECK(home_side_ != nullptr);
  return home_side_->core->closed();
}

uint64_t Client::generation() {
  absl::StatusOr<uint64_t> g = hop::RunOn<absl::StatusOr<uint64_t>>(
      *rt_, home_, [this]() -> absl::StatusOr<uint64_t> {
        if (home_side_ == nullptr) return uint64_t{0};
        return home_side_->core->generation();
      });
  return g.value_or(0);
}

// Counts a call running on the home reactor (so the Client outlives it).
class Client::CallGuard {
 public:
  explicit CallGuard(Home& home) : home_(&home) { home_->calls.Add(); }
  ~CallGuard() { home_->calls.Done(); }

 private:
  Home* home_;
};

void Client::BeginCall() { home_side_->calls.Add(); }
void Client::EndCall() { home_side_->calls.Done(); }

std::unique_ptr<CallContext> Client::HomeContext(runtime::Reactor& r, const CallOptions& options) {
  auto ctx = std::make_unique<CallContext>(r.env());
  if (!options.timeout.is_infinite()) ctx->SetTimeout(options.timeout);
  ctx->metadata() = options.metadata;
  return ctx;
}

absl::StatusOr<std::string> Client::Call(absl::string_view rpc, absl::string_view request,
                                         const CallOptions& options) {
  return hop::RunOn<absl::StatusOr<std::string>>(
      *rt_, home_, [&]() -> absl::StatusOr<std::string> {
        if (closed_) return ClosedError("client closed");
        CallGuard guard(*home_side_);
        std::unique_ptr<CallContext> ctx = HomeContext(rt_->reactor(home_), options);
        return home_side_->top->Invoke(*ctx, rpc, request);
      });
}

void Client::CallAsync(std::string rpc, std::string request, CallOptions options, Done done) {
  auto shared_done = std::make_shared<Done>(std::move(done));
  absl::Status posted = hop::Post(
      *rt_, home_,
      [this, rpc = std::move(rpc), request = std::move(request), options = std::move(options),
       shared_done]() mutable {
        absl::StatusOr<std::string> result = ClosedError("client closed");
        if (!closed_) {
          CallGuard guard(*home_side_);
          std::unique_ptr<CallContext> ctx = HomeContext(rt_->reactor(home_), options);
          result = home_side_->top->Invoke(*ctx, rpc, request);
        }
        (*shared_done)(std::move(result));
        *shared_done = nullptr;
      });
  if (!posted.ok() && *shared_done) (*shared_done)(posted);
}

absl::StatusOr<std::unique_ptr<BlockingStream>> Client::OpenOnHome(std::string rpc,
                                                                   CallOptions options) {
  using Result = absl::StatusOr<std::unique_ptr<BlockingStream>>;
  return hop::RunOn<Result>(*rt_, home_, [&]() -> Result {
    if (closed_) return ClosedError("client closed");
    CallGuard guard(*home_side_);
    auto side = std::make_shared<BlockingStream::HomeSide>();
    side->ctx = HomeContext(rt_->reactor(home_), options);
    absl::StatusOr<std::shared_ptr<RpcStream>> s = home_side_->top->NewStream(*side->ctx, rpc);
    if (!s.ok()) return s.status();
    side->stream = *std::move(s);
    const uint64_t id = side->stream->id();
    return std::unique_ptr<BlockingStream>(new BlockingStream(*rt_, home_, std::move(side), id));
  });
}

absl::StatusOr<std::unique_ptr<BlockingStream>> Client::OpenStream(absl::string_view rpc,
                                                                   const CallOptions& options) {
  return OpenOnHome(std::string(rpc), options);
}

absl::StatusOr<std::string> Client::Invoke(CallContext& ctx, absl::string_view rpc,
                                           absl::string_view request) {
  runtime::Reactor& home = rt_->reactor(home_);
  if (runtime::Reactor::ForThisThread() == &home) {
    if (closed_) return ClosedError("client closed");
    CallGuard guard(*home_side_);
    return home_side_->top->Invoke(ctx, rpc, request);
  }
  if (ctx.done()) return ctx.err();
  // Another reactor's fiber: the call runs on the home reactor with the caller's deadline and
  // metadata; cancelling the caller's context cancels it there.
  CallOptions options{.timeout = ctx.deadline() == Instant::Infinite()
                                     ? Duration::Infinite()
                                     : ctx.deadline() - ctx.env().clock().Now(),
                      .metadata = ctx.metadata()};
  struct Bridge {
    CallContext* home_ctx = nullptr;  // touched on the home reactor only
  };
  auto bridge = std::make_shared<Bridge>();
  const Signal::CallbackId cancel = ctx.done_signal().OnSet([this, bridge](const absl::Status& why) {
    hop::Post(*rt_, home_, [bridge, why] {
      if (bridge->home_ctx != nullptr) bridge->home_ctx->Cancel(why);
    }).IgnoreError();
  });
  absl::StatusOr<std::string> result = hop::RunOn<absl::StatusOr<std::string>>(
      *rt_, home_, [&]() -> absl::StatusOr<std::string> {
        if (closed_) return ClosedError("client closed");
        CallGuard guard(*home_side_);
        std::unique_ptr<CallContext> home_ctx = HomeContext(home, options);
        bridge->home_ctx = home_ctx.get();
        absl::StatusOr<std::string> r = home_side_->top->Invoke(*home_ctx, rpc, request);
        bridge->home_ctx = nullptr;
        return r;
      });
  ctx.done_signal().RemoveCallback(cancel);
  if (!result.ok() && ctx.done()) return ctx.err();
  return result;
}

absl::StatusOr<std::shared_ptr<RpcStream>> Client::NewStream(CallContext& ctx,
                                                             absl::string_view rpc) {
  runtime::Reactor& home = rt_->reactor(home_);
  if (runtime::Reactor::ForThisThread() == &home) {
    if (closed_) return ClosedError("client closed");
    CallGuard guard(*home_side_);
    return home_side_->top->NewStream(ctx, rpc);
  }
  if (ctx.done()) return ctx.err();
  CallOptions options{.timeout = ctx.deadline() == Instant::Infinite()
                                     ? Duration::Infinite()
                                     : ctx.deadline() - ctx.env().clock().Now(),
                      .metadata = ctx.metadata()};
  absl::StatusOr<std::unique_ptr<BlockingStream>> s = OpenOnHome(std::string(rpc), options);
  if (!s.ok()) return s.status();
  return std::shared_ptr<RpcStream>(*std::move(s));
}

// --- BlockingStream ------------------------------------------------------------------------------

template <typename R>
R BlockingStream::OnHome(absl::AnyInvocable<R(RpcStream&)> op) {
  std::shared_ptr<HomeSide> side = side_;
  return hop::RunOn<R>(*rt_, home_, [side, op = std::move(op)]() mutable -> R {
    return op(*side->stream);
  });
}

BlockingStream::~BlockingStream() {
  // The stream and its context are closed and destroyed on their reactor; if that reactor has
  // stopped they are leaked rather than destroyed on the wrong thread.
  auto* side = new std::shared_ptr<HomeSide>(std::move(side_));
  hop::Post(*rt_, home_, [side] {
    (*side)->stream->Close().IgnoreError();
    delete side;
  }).IgnoreError();
}

absl::Status BlockingStream::Send(absl::string_view message) {
  return OnHome<absl::Status>([m = std::string(message)](RpcStream& s) { return s.Send(m); });
}

absl::Status BlockingStream::SendLast(absl::string_view message) {
  return OnHome<absl::Status>([m = std::string(message)](RpcStream& s) { return s.SendLast(m); });
}

absl::StatusOr<std::string> BlockingStream::Recv() {
  return OnHome<absl::StatusOr<std::string>>([](RpcStream& s) { return s.Recv(); });
}

absl::Status BlockingStream::RecvInto(std::string* out) {
  absl::StatusOr<std::string> m = Recv();
  if (!m.ok()) return m.status();
  *out = *std::move(m);
  return absl::OkStatus();
}

absl::Status BlockingStream::CloseSend() {
  return OnHome<absl::Status>([](RpcStream& s) { return s.CloseSend(); });
}

absl::Status BlockingStream::Close() {
  return OnHome<absl::Status>([](RpcStream& s) { return s.Close(); });
}

absl::Status BlockingStream::SendError(const absl::Status& error) {
  return OnHome<absl::Status>([error](RpcStream& s) { return s.SendError(error); });
}

}  // namespace drpc
