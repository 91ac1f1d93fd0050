// The single-node key-value service (store.h, kv_service.h — the code examples/kv/server.cc runs
// in production) simulated with sim/world: a server, two writers and a watcher on their own
// nodes, while links are cut and heal and connections fail. The first steps of
// docs/simulation.md.
//
// Checked on every run, besides drpc-cpp's own oracles:
//   * read-your-writes: a writer's Get after its acknowledged Put sees that revision or a later
//     one;
//   * the watcher sees every change exactly once, in revision order — across broken connections
//     too, by watching again from the revision after the last one it saw;
//   * after healing, the writers finish and the watcher catches up with the store.
//
//   bazel test //examples/kv:kv_sim_test
//   bazel test //examples/kv:kv_sim_test --test_output=streamed --test_arg=--seed=7 --test_arg=--trace
#include <string>

#include "absl/strings/str_cat.h"
#include "examples/kv/kv.drpc.h"
#include "examples/kv/kv_service.h"
#include "examples/kv/store.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "proto/base/check.h"
#include "sim/world/sim_test.h"

namespace kv {
namespace {

using drpc::CallContext;
using drpc::Duration;
using drpc::sim::Node;
using drpc::sim::World;

constexpr int kWriters = 2;
constexpr int kPutsPerWriter = 10;
constexpr drpc::Situation kWatchResumed("kv_sim.watch_resumed_after_a_failure");

// What the test and the nodes share; made with world.Make, so it outlives the scenario body.
struct Shared {
  Store* store = nullptr;  // the server's, for the final check
  int writers_done = 0;
  int64_t watched = 0;     // the last revision the watcher saw
};

// --- The server: the production service code, on the node's Env. ---
void StartServer(Node& node, Shared& shared) {
  Store& store = node.Make<Store>(node.env());
  KvService& service = node.Make<KvService>(store);
  drpc::Router& router = node.Make<drpc::Router>();
  DRPC_CHECK_OK(KeyValue::Register(router, service));
  DRPC_CHECK_OK(node.Serve(router));  // at "server:drpc"
  shared.store = &store;
}

// --- A writer: puts, then reads its own writes back. ---
void Writer(World& world, Node& node, drpc::ClientConn& conn, int id, Shared& shared) {
  const KeyValue::Client kv(conn);
  for (int i = 0; i < kPutsPerWriter && !node.context().done();) {
    CallContext ctx(node.env(), node.context());  // ends when the node stops
    ctx.SetTimeout(Duration::Millis(50));
    PutRequest put;
    put.set_key(absl::StrCat("w", id, "/", i % 3));
    put.set_value(absl::StrCat(i));
    absl::StatusOr<PutResponse> written = kv.Put(ctx, put);
    if (!written.ok()) {  // a cut link or a broken connection: try again
      drpc::SleepFor(node.env(), Duration::Millis(5), "writer: backing off");
      continue;
    }
    GetRequest get;
    get.set_key(put.key());
    absl::StatusOr<GetResponse> read = kv.Get(ctx, get);
    if (read.ok()) {
      world.Check(read->found() && read->entry().revision() >= written->revision(),
                  absl::StrCat("writer ", id, " put ", put.key(), " at revision ",
                               written->revision(), " and read back ",
                               read->ShortDebugString()));
    }
    ++i;
  }
  ++shared.writers_done;
}

// --- The watcher: every change, once, in order, across failures. ---
void Watcher(World& world, Node& node, drpc::ClientConn& conn, Shared& shared) {
  const KeyValue::Client kv(conn);
  while (!node.context().done()) {
    CallContext ctx(node.env(), node.context());
    WatchRequest request;
    request.set_start_revision(shared.watched + 1);
    absl::StatusOr<drpc::ServerStreamCall<Event>> watch = kv.Watch(ctx, request);
    while (watch.ok()) {
      absl::StatusOr<Event> event = watch->Recv();
      if (!event.ok()) break;  // a broken connection, or the node stops
      world.Check(event->entry().revision() == shared.watched + 1,
                  absl::StrCat("the watcher saw revision ", event->entry().revision(),
                               " after ", shared.watched));
      shared.watched = event->entry().revision();
    }
    if (!node.context().done()) {
      world.Reach(kWatchResumed);
      drpc::SleepFor(node.env(), Duration::Millis(5), "watcher: backing off");
    }
  }
}

// --- The nemesis: cuts and heals links while the clients work. ---
void Nemesis(World& world) {
  for (int round = 0; round < 3; ++round) {
    world.Sleep(Duration::Millis(world.Choose("nemesis.calm_ms", 20)));
    const std::string client = world.Chance("nemesis.watcher", 300)
                                   ? "watcher"
                                   : absl::StrCat("writer", world.Choose("nemesis.writer", kWriters));
    if (world.Chance("nemesis.one_way", 500)) {
      world.CutOneWay("server", client);  // requests arrive, replies are held
    } else {
      world.Cut("server", client);
    }
    world.Sleep(Duration::Millis(1 + world.Choose("nemesis.cut_ms", 60)));
    world.HealAll();
  }
}

void WatchedStore(World& world) {
  Shared& shared = world.Make<Shared>();
  world.AddNode("server", [&shared](Node& node) { StartServer(node, shared); });
  for (int id = 0; id < kWriters; ++id) {
    world.AddNode(absl::StrCat("writer", id), [&world, &shared, id](Node& node) {
      drpc::ClientConn& conn = node.Connect("server");  // redials after failures
      DRPC_CHECK_OK(node.Go("puts", [&world, &node, &conn, &shared, id] {
        Writer(world, node, conn, id, shared);
      }));
    });
  }
  world.AddNode("watcher", [&world, &shared](Node& node) {
    drpc::ClientConn& conn = node.Connect("server");
    DRPC_CHECK_OK(node.Go("watch", [&world, &node, &conn, &shared] {
      Watcher(world, node, conn, shared);
    }));
  });
  Nemesis(world);
  world.Eventually("the writers finish after the network healed",
                   [&] { return shared.writers_done == kWriters; }, Duration::Seconds(10));
  world.Eventually("the watcher catches up with the store",
                   [&] { return shared.watched == shared.store->revision(); },
                   Duration::Seconds(5));
}

DRPC_SIM_TEST(KvSim, WatchedStoreUnderPartitions, .seeds = 60,
              .world = {.connection_fault_per_mille = 100}, .situations = {kWatchResumed}) {
  WatchedStore(world);
}

}  // namespace
}  // namespace kv
