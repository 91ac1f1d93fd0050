// Fuzzes a client Conn with calls in flight against hostile server bytes, in both modes, on the
// simulator's Env (fuzz/conn_fuzz.h: byte 0 picks the mode and limits, byte 1 the write pieces,
// the rest is what the server sends). Four calls run while the bytes arrive — a unary call, a
// server stream, a client stream and a bidi stream (streams 1-4 in that order) — each with a
// deadline, so every call ends whatever the server does. Checks:
//  * no crash, hang or leak (the simulator's oracles); every call ends (its fiber returns);
//  * after every piece, the connection stays within its memory budget (Manager::usage);
//  * after Close no stream is left, and destroying the Conn frees the rest (LeakSanitizer).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fuzz/conn_fuzz.h"
#include "impl/conn.h"
#include "impl/context.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "sim/simulation.h"

namespace {

using drpc::CallContext;
using drpc::Conn;
using drpc::Duration;
using drpc::WaitGroup;
using drpc::fuzz::ConnFuzzInput;

constexpr size_t kCalls = 4;

// One call of each shape; what it returns does not matter, only that it ends.
void Call(Conn& conn, drpc::Env& env, size_t which) {
  CallContext ctx(env);
  ctx.SetTimeout(Duration::Seconds(5));
  if (which == 0) {
    conn.Invoke(ctx, drpc::fuzz::kUnaryRpc, "hello").IgnoreError();
    return;
  }
  const char* rpc = which == 1   ? drpc::fuzz::kServerStreamRpc
                    : which == 2 ? drpc::fuzz::kClientStreamRpc
                                 : drpc::fuzz::kBidiRpc;
  absl::StatusOr<std::shared_ptr<drpc::RpcStream>> s = conn.NewStream(ctx, rpc);
  if (!s.ok()) return;
  if (which != 1) {
    for (int i = 0; i < 2; ++i) (*s)->Send(absl::StrCat("c", i)).IgnoreError();
  } else {
    (*s)->Send("\x03").IgnoreError();
  }
  (*s)->CloseSend().IgnoreError();
  for (int i = 0; i < 16 && (*s)->Recv().ok(); ++i) {
  }
  (*s)->Close().IgnoreError();
}

void Client(drpc::sim::SimContext& ctx, const ConnFuzzInput& in) {
  drpc::Env& env = ctx.env();
  auto pipe = ctx.network().Pipe("fuzz");
  std::unique_ptr<drpc::Transport> client_end = std::move(pipe.first);
  std::unique_ptr<drpc::Transport> server = std::move(pipe.second);
  absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(env, std::move(client_end), in.options);
  DRPC_CHECK_OK(conn.status());
  WaitGroup fibers(env);
  fibers.Add(static_cast<int>(kCalls) + 1);
  for (size_t i = 0; i < kCalls; ++i) {
    DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("call ", i), [&, i] {
      Call(**conn, env, i);
      fibers.Done();
    }));
  }
  DRPC_CHECK_OK(env.scheduler().Spawn("server reader", [&] {
    drpc::fuzz::Drain(*server);
    fibers.Done();
  }));
  auto check = [&] {
    drpc::fuzz::CheckBudget((*conn)->manager().usage(), in.options, kCalls, "client connection");
  };
  drpc::fuzz::FeedBytes(env, *server, in.peer_bytes, in.piece_seed, check);
  // The server goes quiet; the calls' deadlines end whatever is still waiting for it.
  drpc::SleepFor(env, Duration::Seconds(6), "fuzz: server lingers");
  check();
  server->Close();
  (*conn)->Close();
  fibers.Wait("fuzz: joining the calls");
  // Messages received before the end may wait to be read until the Conn is destroyed (the
  // application may still drain them); within the budget, and freed with the Conn.
  const drpc::Manager::Usage left = (*conn)->manager().usage();
  DRPC_CHECK_EQ(left.streams, 0u) << "a stream outlived its closed connection";
  drpc::fuzz::CheckBudget(left, in.options, kCalls, "closed client connection");
  conn->reset();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ConnFuzzInput in;
  if (!ConnFuzzInput::Parse(data, size, &in)) return 0;
  drpc::fuzz::RunOnSimulator([&](drpc::sim::SimContext& ctx) { Client(ctx, in); }, "client_conn");
  return 0;
}
