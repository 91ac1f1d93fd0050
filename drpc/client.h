// drpc::Client: a connection to one server that any thread can use — the production client.
//
//   absl::StatusOr<std::unique_ptr<drpc::Client>> client = drpc::Client::Dial(
//       "127.0.0.1:7777", {.tls = runtime::TlsClientConfig{.ca_pem = ca}});
//   // Blocking, from any application thread:
//   absl::StatusOr<std::string> reply = (*client)->Call("/pkg.Svc/Method", "req", {.timeout = 2s});
//   // Callback style (the callback runs on the client's reactor thread; it must not block):
//   (*client)->CallAsync("/pkg.Svc/Method", "req", {}, [](absl::StatusOr<std::string> r) { ... });
//   // A stream used from the calling thread:
//   auto s = (*client)->OpenStream("/pkg.Svc/Chat");  (*s)->Send("hi"); (*s)->Recv(); ...
//   // Generated stubs (they take a ClientConn and a CallContext):
//   (*client)->Run([&](drpc::ClientConn& conn, drpc::CallContext& ctx) {
//     return greeter::Greeter::Client(conn).SayHello(ctx, request);
//   });
//
// Inside a fiber of the client's runtime (a handler calling another service, or code posted to a
// reactor), the Client is a ClientConn: Invoke/NewStream park the calling fiber — never the
// reactor — while the call runs on the client's own reactor, and generated stubs take it
// directly. The caller's context is honoured: its deadline and metadata go with the call, and
// cancelling it cancels the call.
//
// Underneath, on one reactor of the runtime, runs a ReconnectingConn (impl/app/reconnecting_conn.h:
// lazy dialing, redial with capped exponential backoff and jitter after the connection breaks,
// fail-fast or wait_for_ready) behind the client interceptors (impl/app/interceptors.h). Calls on
// other threads hop onto that reactor (~tens of µs per hop); code that makes many small calls
// runs faster as a function on the reactor (Run) or on the reactor's own fibers.
//
// Re-dialling a different server: every new connection is verified like the first (TLS checks
// the certificate; `on_connect` can check an identity), and `reconnect = false` gives a client
// that never re-dials (see ReconnectingConn).
//
// Lifetime: Close() (or destruction) ends every call and the connection; streams must be
// destroyed before the Client. With `runtime` null the client starts a private one-reactor
// runtime and stops it when destroyed; never destroy a Client on one of its runtime's reactor
// threads.
#ifndef DRPC_DRPC_CLIENT_H_
#define DRPC_DRPC_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "drpc/hop.h"
#include "impl/app/backoff.h"
#include "impl/app/interceptors.h"
#include "impl/app/metrics.h"
#include "impl/client_conn.h"
#include "impl/context.h"
#include "impl/options.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tls.h"
#include "proto/metadata.h"

namespace drpc {

struct CallOptions {
  Duration timeout = Duration::Infinite();
  Metadata metadata;
};

struct ClientOptions {
  Options connection;                  // protocol options; `mux` must match the server
  std::optional<runtime::TlsClientConfig> tls;
  bool migrate_header = false;         // send "DRPC!!!1" first (drpcmigrate servers)
  Duration dial_timeout = Duration::Seconds(10);
  BackoffPolicy backoff;
  Duration stable_after = Duration::Seconds(1);
  bool wait_for_ready = false;
  bool reconnect = true;
  // Dial: connect before returning (and fail with the dial's error); false: on the first call.
  bool connect_now = true;
  std::function<absl::Status(ClientConn& conn, CallContext& ctx)> on_connect;
  std::vector<ClientInterceptor> interceptors;  // outermost first
  // Streams, bytes, connections, dials (Side::kClient). Must outlive the client.
  MetricsSink* metrics = nullptr;
  // The runtime to live on (one of its reactors); null: a private one-reactor runtime.
  std::shared_ptr<runtime::Runtime> runtime;
};

// A call's stream used from any thread (each operation hops to the client's reactor). One thread
// sends and one receives at a time. Destroying it closes the stream.
class BlockingStream final : public RpcStream {
 public:
  ~BlockingStream() override;
  uint64_t id() const override { return id_; }
  absl::Status Send(absl::string_view message) override;
  absl::Status SendLast(absl::string_view message) override;
  absl::StatusOr<std::string> Recv() override;
  absl::Status RecvInto(std::string* out) override;
  absl::Status CloseSend() override;
  absl::Status Close() override;
  absl::Status SendError(const absl::Status& error) override;

  struct HomeSide;  // on the client's reactor (internal)

 private:
  friend class Client;
  BlockingStream(runtime::Runtime& rt, size_t home, std::shared_ptr<HomeSide> side, uint64_t id)
      : rt_(&rt), home_(home), side_(std::move(side)), id_(id) {}
  template <typename R>
  R OnHome(absl::AnyInvocable<R(RpcStream&)> op);

  runtime::Runtime* rt_;
  size_t home_;
  std::shared_ptr<HomeSide> side_;
  uint64_t id_;
};

class Client final : public ClientConn {
 public:
  // Validates the options, places the client on a reactor and (with connect_now) connects.
  // Callable from any thread.
  static absl::StatusOr<std::unique_ptr<Client>> Dial(std::string address,
                                                     ClientOptions options = {});
  ~Client() override;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // --- Any thread ---------------------------------------------------------------------------------
  absl::StatusOr<std::string> Call(absl::string_view rpc, absl::string_view request,
                                   const CallOptions& options = {});
  using Done = absl::AnyInvocable<void(absl::StatusOr<std::string>)>;
  // `done` runs once, on the client's reactor (or on the calling thread if the client is closed
  // or its runtime stopped); it must not block.
  void CallAsync(std::string rpc, std::string request, CallOptions options, Done done);
  absl::StatusOr<std::unique_ptr<BlockingStream>> OpenStream(absl::string_view rpc,
                                                             const CallOptions& options = {});
  // Runs fn(ClientConn&, CallContext&) on the client's reactor and returns its result
  // (absl::Status or absl::StatusOr<T>): the way to use generated stubs from any thread.
  template <typename F>
  std::invoke_result_t<F&, ClientConn&, CallContext&> Run(F fn, CallOptions options = {});

  // --- Fibers of the client's runtime (ClientConn) ------------------------------------------------
  absl::StatusOr<std::string> Invoke(CallContext& ctx, absl::string_view rpc,
                                     absl::string_view request) override;
  absl::StatusOr<std::shared_ptr<RpcStream>> NewStream(CallContext& ctx,
                                                       absl::string_view rpc) override;
  // Any thread. Idempotent.
  void Close() override;
  // Set once the client is closed (or, without reconnect, its connection ended). Belongs to the
  // client's reactor: wait on it only from that reactor's fibers.
  Signal& closed() override;

  const std::string& address() const { return address_; }
  runtime::Runtime& runtime() { return *rt_; }
  size_t reactor_index() const { return home_; }
  // Connections made so far (each redial adds one). Any thread.
  uint64_t generation();

  struct Home;  // what lives on the client's reactor (internal)
  class CallGuard;

 private:
  Client(std::string address, std::shared_ptr<runtime::Runtime> rt, size_t home, bool owns);
  // A CallContext on the home reactor for `options` (call on the home reactor).
  std::unique_ptr<CallContext> HomeContext(runtime::Reactor& r, const CallOptions& options);
  absl::StatusOr<std::unique_ptr<BlockingStream>> OpenOnHome(std::string rpc,
                                                             CallOptions options);
  // Runs body as a counted call (on the home reactor).
  template <typename R, typename B>
  R RunGuarded(B body) {
    BeginCall();
    R r = body();
    EndCall();
    return r;
  }
  void BeginCall();
  void EndCall();

  std::string address_;
  std::shared_ptr<runtime::Runtime> rt_;
  size_t home_;
  bool owns_runtime_;
  std::unique_ptr<Home> home_side_;  // created, used and destroyed on the home reactor
  bool closed_ = false;              // guarded by the home reactor (set there)
};

// --- Implementation details ----------------------------------------------------------------------

template <typename F>
std::invoke_result_t<F&, ClientConn&, CallContext&> Client::Run(F fn, CallOptions options) {
  using R = std::invoke_result_t<F&, ClientConn&, CallContext&>;
  static_assert(std::is_constructible_v<R, absl::Status>,
                "Client::Run: fn must return absl::Status or absl::StatusOr<T>");
  return hop::RunOn<R>(*rt_, home_, [&]() -> R {
    runtime::Reactor& r = rt_->reactor(home_);
    std::unique_ptr<CallContext> ctx = HomeContext(r, options);
    if (closed_) return R(ClosedError("client closed"));
    ClientConn& self = *this;
    return RunGuarded<R>([&] { return fn(self, *ctx); });
  });
}

}  // namespace drpc

#endif  // DRPC_DRPC_CLIENT_H_
