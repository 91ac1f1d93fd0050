// A node of a simulated World (world.h): one process of your system — its servers, its clients,
// its own fibers — running on the node's Env, so the same service code runs here and in
// production.
//
//   world.AddNode("backup1", [&](Node& node) {          // runs at boot and after every restart
//     kv::Store& store = node.Make<kv::Store>(node.env());
//     kv::KvService& service = node.Make<kv::KvService>(store);
//     drpc::Router& router = node.Make<drpc::Router>();
//     DRPC_CHECK_OK(kv::KeyValue::Register(router, service));
//     DRPC_CHECK_OK(node.Serve(router));                 // listens at "backup1:drpc"
//     drpc::ClientConn& primary = node.Connect("primary"); // reconnects after faults and crashes
//     DRPC_CHECK_OK(node.Go("follow", [&] { ... uses primary, store; ends when node.context() is done ... }));
//   });
//
// What your service code gets from a node is drpc's own seams: `env()` (clock, timers, fibers),
// a Handler served with `Serve`, a ClientConn from `Connect`, a Dialer. Nothing in it needs to
// know it is simulated.
//
// A node's life: it boots (the start function runs on a fiber of the node), runs, and either
// stops cleanly when the world ends — `context()` is cancelled, OnStop hooks run (servers shut
// down, connections close), every fiber of the node must then end within the world's
// liveness bound (or the run fails as a leak), and the objects it made are destroyed in reverse
// order — or crashes (World::Crash): its fibers are killed where they stand, its timers
// cancelled, its connections and listeners closed (peers see the connection end), and everything
// it made is kept but never touched again. World::Restart boots it again: the start function runs
// anew with `boots()` one higher; state that must survive a crash (a disk, a log) is state your
// test keeps outside the node and hands back to the start function.
//
// Contract for code running on a node: use only `env()` (never real clocks, threads, sleeps or
// global randomness: the run would no longer replay; see docs/simulation.md); block only through
// drpc's primitives (impl/sync.h, calls, transports); share nothing with other nodes but the
// network (test-side bookkeeping such as a history of operations may be shared as plain data).
// Every method is called from a fiber of the world (a node's or the world's own), except name(),
// up() and boots().
#ifndef DRPC_SIM_WORLD_NODE_H_
#define DRPC_SIM_WORLD_NODE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/app/reconnecting_conn.h"
#include "impl/client_conn.h"
#include "impl/context.h"
#include "impl/env.h"
#include "impl/handler.h"
#include "impl/options.h"
#include "proto/base/check.h"
#include "sim/world/incarnation.h"

namespace drpc::sim {

class World;

class Node {
 public:
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();

  const std::string& name() const { return name_; }
  // False after a crash until the restart.
  bool up() const { return life_ != nullptr; }
  // 1 during the first life, one more after each restart.
  int boots() const { return boots_; }
  World& world() { return *world_; }

  // The Env of this life. Requires up().
  Env& env() { return life().env(); }
  // Done when this life stops cleanly (the world's end): long-running fibers and calls of the
  // node should end with it (make calls with a child: CallContext ctx(node.env(), node.context())).
  CallContext& context();

  // A fiber of this node ("<node>/<name>"). Errors as Scheduler::Spawn (kUnavailable after a
  // crash, kResourceExhausted without a stack).
  absl::Status Go(std::string name, absl::AnyInvocable<void()> body) {
    return env().scheduler().Spawn(std::move(name), std::move(body));
  }

  // An object this life owns: destroyed (in reverse order of making) at a clean stop after every
  // fiber of the node ended; never destroyed after a crash.
  template <typename T, typename... Args>
  T& Make(Args&&... args) {
    auto object = std::make_shared<T>(std::forward<Args>(args)...);
    T& ref = *object;
    life().Own(std::move(object));
    return ref;
  }
  // Runs at a clean stop (last added first), after context() is cancelled and before the stop
  // waits for the node's fibers. Not run after a crash.
  void OnStop(absl::AnyInvocable<void()> hook) { life().OnStop(std::move(hook)); }

  // --- The network. Addresses are "<node>:<port>"; "<node>" alone means "<node>:drpc". ---

  // A raw listener at "<this node>:<port>" (no wire oracle: for non-drpc bytes). kAlreadyExists
  // if taken.
  absl::StatusOr<std::unique_ptr<Listener>> Listen(absl::string_view port);
  // Raw dials from this node (see World for partitions and faults). kInvalidArgument for a node
  // the world does not have; kUnavailable "connection refused" when nothing listens (the node is
  // down, or not serving); kDeadlineExceeded when a cut link outlasts the deadline or the world's
  // connect_timeout.
  Dialer& dialer();

  // Serves `handler` at "<this node>:<port>" with a drpc Server (`options`, else the world's),
  // every connection checked by the wire oracle. Shut down at a clean stop (with the world's
  // stop_grace); the world's end also checks, after healing, that it answers a fresh connection.
  // `handler` must outlive the stop (Make it on this node before calling Serve).
  absl::Status Serve(const Handler& handler, std::optional<Options> options = std::nullopt,
                     absl::string_view port = "drpc");

  // A Dialer whose connections are checked by the wire oracle as drpc connections with
  // `options` (else the world's): for your own ReconnectingConn or Pool. Owned by this life.
  Dialer& DrpcDialer(std::optional<Options> options = std::nullopt);

  // A reconnecting client connection to `target` ("node" or "node:port") over DrpcDialer:
  // it dials on the first call and again after the connection breaks (faults, the peer's
  // crash), with the world's drpc Options unless `options.connection` says otherwise
  // (options.random defaults to jitter from the tape). Owned by this life, closed at its stop.
  ClientConn& Connect(absl::string_view target,
                      std::optional<ReconnectOptions> options = std::nullopt);

 private:
  friend class World;
  struct Extras;
  Node(World& world, std::string name, std::function<void(Node&)> start);
  Incarnation& life() {
    DRPC_CHECK(life_ != nullptr) << "node " << name_ << " is down (crashed, not restarted)";
    return *life_;
  }
  void Boot();
  void Crash();
  // A clean stop (the world's end); false if the run failed.
  bool Stop();

  World* world_;
  std::string name_;
  std::function<void(Node&)> start_;
  int boots_ = 0;
  std::unique_ptr<Incarnation> life_;
  std::unique_ptr<Extras> extras_;  // per life: context, dialers, what it serves
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_WORLD_NODE_H_
