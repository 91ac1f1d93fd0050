#include "impl/testing/harness.h"

#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc::testing {

Router EchoRouter() {
  Router r;
  DRPC_CHECK_OK(r.Unary("/echo.Echo/Unary",
                        [](CallContext&, absl::string_view req) -> absl::StatusOr<std::string> {
                          return std::string(req);
                        }));
  DRPC_CHECK_OK(r.Unary("/echo.Echo/Fail",
                        [](CallContext&, absl::string_view) -> absl::StatusOr<std::string> {
                          return WithRemoteErrorCode(absl::UnknownError("boom"), 42);
                        }));
  DRPC_CHECK_OK(r.Bidi("/echo.Echo/Bidi", [](CallContext&, RpcStream& s) -> absl::Status {
    for (;;) {
      absl::StatusOr<std::string> m = s.Recv();
      if (IsEof(m.status())) return absl::OkStatus();
      if (!m.ok()) return m.status();
      if (absl::Status st = s.Send(*m); !st.ok()) return st;
    }
  }));
  DRPC_CHECK_OK(
      r.ServerStream("/echo.Echo/ServerStream",
                     [](CallContext&, absl::string_view req, RpcStream& s) -> absl::Status {
                       int n = 0;
                       if (!absl::SimpleAtoi(req, &n) || n < 0) {
                         return WithRemoteErrorCode(absl::InvalidArgumentError("bad count"), 3);
                       }
                       for (int i = 0; i < n; ++i) {
                         if (absl::Status st = s.Send(absl::StrCat("msg-", i)); !st.ok()) return st;
                       }
                       return absl::OkStatus();
                     }));
  DRPC_CHECK_OK(r.ClientStream("/echo.Echo/ClientStream",
                               [](CallContext&, RpcStream& s) -> absl::StatusOr<std::string> {
                                 size_t total = 0;
                                 for (;;) {
                                   absl::StatusOr<std::string> m = s.Recv();
                                   if (IsEof(m.status())) return absl::StrCat(total);
                                   if (!m.ok()) return m.status();
                                   total += m->size();
                                 }
                               }));
  DRPC_CHECK_OK(r.Unary("/echo.Echo/Meta",
                        [](CallContext& ctx, absl::string_view) -> absl::StatusOr<std::string> {
                          std::vector<std::string> kv;
                          for (const auto& [k, v] : ctx.incoming_metadata()) {
                            kv.push_back(absl::StrCat(k, "=", v));
                          }
                          return absl::StrJoin(kv, ";");
                        }));
  DRPC_CHECK_OK(r.Unary("/echo.Echo/Slow",
                        [](CallContext& ctx, absl::string_view) -> absl::StatusOr<std::string> {
                          ctx.done_signal().Wait("slow handler: waiting for cancellation");
                          return ctx.err();
                        }));
  return r;
}

sim::RunResult RunPair(const Options& client_options, const Options& server_options,
                       std::function<void(Pair&, sim::SimContext&)> body, uint64_t seed,
                       const Handler* handler, std::optional<sim::FaultPlan> plan,
                       const sim::NetworkOptions& network) {
  const Router echo = EchoRouter();
  if (handler == nullptr) handler = &echo;
  sim::RunOptions options;
  options.trace = {.echo = false, .ring_max_lines = 100};
  return sim::RunSeed(
      [&](sim::SimContext& sim) {
        Env& env = sim.env();
        sim.network().set_options(network);
        auto [client_end, server_end] = sim.network().Pipe("conn", plan);
        Pair pair;
        pair.sim_ = &sim;
        pair.server_ = std::make_unique<Server>(env, *handler, server_options);
        WaitGroup served(env);
        served.Add();
        DRPC_CHECK_OK(env.scheduler().Spawn("server conn", [&, t = std::move(server_end)]() mutable {
          pair.server_->ServeConn(std::move(t)).IgnoreError();
          served.Done();
        }));
        absl::StatusOr<std::unique_ptr<Conn>> conn =
            Conn::Create(env, std::move(client_end), client_options);
        sim.Check(conn.ok(), absl::StrCat("Conn::Create: ", conn.status().ToString()));
        pair.conn_ = *std::move(conn);
        pair.ctx_ = std::make_unique<CallContext>(env);
        body(pair, sim);
        pair.ctx_.reset();
        pair.conn_->Close();
        pair.server_->Shutdown(env.clock().Now() + Duration::Seconds(1));
        served.Wait("test: waiting for the server connection");
        pair.conn_.reset();
        pair.server_.reset();
      },
      seed, options);
}

}  // namespace drpc::testing
