// Fuzzes a real Server connection with hostile client bytes, in both modes, on the simulator's
// Env (fuzz/conn_fuzz.h: byte 0 picks the mode and limits, byte 1 the write pieces, the rest is
// what the client sends). The server serves FuzzRouter's handlers; the harness writes the bytes
// in pieces, reads whatever the server answers, then half-closes and finally closes. Checks:
//  * no crash, hang (deadlock, livelock) or leak (fibers, transports) — the simulator's oracles;
//  * after every piece, the server's connection stays within its memory budget (Server::usage:
//    streams, pending Invokes, queued bytes, pooled buffers) and the call budget is respected;
//  * once the client is gone the connection ends and gives back everything: no streams, no
//    calls held in the budget.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "fuzz/conn_fuzz.h"
#include "impl/server.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "sim/simulation.h"

namespace {

using drpc::Duration;
using drpc::Server;
using drpc::Transport;
using drpc::WaitGroup;
using drpc::fuzz::ConnFuzzInput;

void Serve(drpc::sim::SimContext& ctx, const ConnFuzzInput& in) {
  drpc::Env& env = ctx.env();
  const drpc::Router router = drpc::fuzz::FuzzRouter();
  Server server(env, router, in.options);
  auto pipe = ctx.network().Pipe("fuzz");
  std::unique_ptr<Transport> client = std::move(pipe.first);
  std::unique_ptr<Transport> server_end = std::move(pipe.second);
  WaitGroup fibers(env);
  fibers.Add(2);
  DRPC_CHECK_OK(env.scheduler().Spawn("server conn", [&, t = std::move(server_end)]() mutable {
    server.ServeConn(std::move(t)).IgnoreError();
    fibers.Done();
  }));
  DRPC_CHECK_OK(env.scheduler().Spawn("client reader", [&] {
    drpc::fuzz::Drain(*client);
    fibers.Done();
  }));
  const size_t calls_max = in.options.mux ? in.options.concurrent_streams_max_count : 1;
  auto check = [&] {
    drpc::fuzz::CheckBudget(server.usage(), in.options, calls_max, "server connection");
    DRPC_CHECK_LE(server.call_budget().in_use(), in.options.server_calls_max_count);
  };
  drpc::fuzz::FeedBytes(env, *client, in.peer_bytes, in.piece_seed, check);
  // The client stops sending: calls it completed may still be answered, then it goes away.
  client->CloseWrite().IgnoreError();
  drpc::SleepFor(env, Duration::Seconds(1), "fuzz: client lingers");
  check();
  client->Close();
  fibers.Wait("fuzz: joining the connection");
  DRPC_CHECK_EQ(server.active_connections(), 0u);
  DRPC_CHECK_EQ(server.call_budget().in_use(), 0u) << "a finished call kept its budget";
  server.Shutdown(env.clock().Now());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ConnFuzzInput in;
  if (!ConnFuzzInput::Parse(data, size, &in)) return 0;
  drpc::fuzz::RunOnSimulator([&](drpc::sim::SimContext& ctx) { Serve(ctx, in); }, "server_conn");
  return 0;
}
