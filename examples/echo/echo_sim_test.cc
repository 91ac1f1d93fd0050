// The interop.Echo service (echo_service.h, unchanged) simulated under partitions: one server,
// three clients calling it through the generated stubs while a nemesis cuts links — both ways,
// one way, whole partitions — and crashes and restarts the server. Every reply must belong to
// its own request (an echo of the wrong call would be a protocol bug), every server stream must
// arrive complete and in order or fail as a whole, and once the network heals every client must
// finish its calls.
//
//   bazel test //examples/echo:echo_sim_test
//   bazel test //examples/echo:echo_sim_test --test_filter=EchoSim.Mux --test_output=streamed
//       --test_arg=--seed=7 --test_arg=--trace          # one run, every event
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/echo/echo.drpc.h"
#include "examples/echo/echo_service.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "proto/base/check.h"
#include "sim/world/sim_test.h"

namespace interop {
namespace {

using drpc::CallContext;
using drpc::Duration;
using drpc::sim::Node;
using drpc::sim::World;

constexpr int kClients = 3;
constexpr int kCallsPerClient = 12;
constexpr drpc::Situation kCallFailedDuringAFault("echo_sim.call_failed_during_a_fault");
constexpr drpc::Situation kServerRestarted("echo_sim.server_restarted");

void ServeEcho(Node& node) {
  EchoService& service = node.Make<EchoService>();
  drpc::Router& router = node.Make<drpc::Router>();
  DRPC_CHECK_OK(Echo::Register(router, service));
  DRPC_CHECK_OK(node.Serve(router));
}

// One client's calls: unary echoes and server streams, each retried until it succeeds. Returns
// when all are done or the node stops.
void Client(World& world, Node& node, drpc::ClientConn& conn, int id, int* done) {
  const Echo::Client echo(conn);
  for (int k = 0; k < kCallsPerClient && !node.context().done();) {
    CallContext ctx(node.env(), node.context());
    ctx.SetTimeout(Duration::Millis(30));
    absl::Status result;
    if (k % 3 != 2) {
      EchoMessage request;
      request.set_text(absl::StrCat("client ", id, " call ", k));
      request.set_sequence(id * 1000 + k);
      absl::StatusOr<EchoMessage> reply = echo.Unary(ctx, request);
      result = reply.status();
      if (reply.ok()) {
        world.Check(reply->text() == request.text() && reply->sequence() == request.sequence(),
                    absl::StrCat("client ", id, " call ", k, " got the echo of another call: ",
                                 reply->ShortDebugString()));
      }
    } else {
      CountRequest request;
      request.set_count(1 + k % 5);
      absl::StatusOr<drpc::ServerStreamCall<EchoMessage>> stream = echo.ServerStream(ctx, request);
      result = stream.status();
      for (int i = 0; result.ok(); ++i) {
        absl::StatusOr<EchoMessage> m = stream->Recv();
        if (drpc::IsEof(m.status())) {
          world.Check(i == request.count(), absl::StrCat("client ", id, " call ", k, ": a stream of ",
                                                         request.count(), " ended after ", i));
          break;
        }
        result = m.status();
        if (m.ok()) {
          world.Check(m->sequence() == i, absl::StrCat("client ", id, " call ", k, ": message ", i,
                                                       " is ", m->ShortDebugString()));
        }
      }
    }
    if (result.ok()) {
      ++k;
    } else {
      world.Reach(kCallFailedDuringAFault);
      drpc::SleepFor(node.env(), Duration::Millis(5), "client: backing off");
    }
  }
  ++*done;
}

// Cuts and heals links, and crashes and restarts the server, for `rounds` rounds.
void Nemesis(World& world, int rounds) {
  const std::vector<std::string> clients = {"client0", "client1", "client2"};
  for (int round = 0; round < rounds; ++round) {
    const std::string& c = clients[world.Choose("nemesis.client", clients.size())];
    switch (world.Choose("nemesis.fault", 5)) {
      case 0:
        world.Cut(c, "server");
        break;
      case 1:
        world.CutOneWay("server", c);  // requests arrive, replies are held
        break;
      case 2:
        world.CutOneWay(c, "server");
        break;
      case 3:
        world.Partition({"server"}, clients);
        break;
      case 4:
        world.Crash("server");
        world.Sleep(Duration::Millis(1 + world.Choose("nemesis.down_ms", 20)));
        world.Restart("server");
        world.Reach(kServerRestarted);
        break;
    }
    world.Sleep(Duration::Millis(1 + world.Choose("nemesis.fault_ms", 60)));
    world.HealAll();
    world.Sleep(Duration::Millis(world.Choose("nemesis.calm_ms", 30)));
  }
}

void EchoUnderPartitions(World& world) {
  int& done = world.Make<int>(0);  // the clients' fibers use it until the world's end
  world.AddNode("server", ServeEcho);
  for (int id = 0; id < kClients; ++id) {
    world.AddNode(absl::StrCat("client", id), [&world, &done, id](Node& node) {
      drpc::ClientConn& conn = node.Connect("server");
      DRPC_CHECK_OK(node.Go("calls", [&world, &node, &conn, &done, id] {
        Client(world, node, conn, id, &done);
      }));
    });
  }
  Nemesis(world, 1 + static_cast<int>(world.Choose("nemesis.rounds", 4)));
  world.Eventually("every client finishes its calls after the network healed",
                   [&] { return done == kClients; }, Duration::Seconds(10));
}

drpc::Options Mux() {
  drpc::Options o;
  o.mux = true;
  return o;
}

DRPC_SIM_TEST(EchoSim, Upstream, .seeds = 60, .world = {.connection_fault_per_mille = 50},
              .situations = {kCallFailedDuringAFault, kServerRestarted}) {
  EchoUnderPartitions(world);
}

DRPC_SIM_TEST(EchoSim, Mux, .seeds = 60,
              .world = {.drpc = Mux(), .connection_fault_per_mille = 50},
              .situations = {kCallFailedDuringAFault, kServerRestarted}) {
  EchoUnderPartitions(world);
}

}  // namespace
}  // namespace interop
