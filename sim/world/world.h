// Simulate your own service: a World of named nodes that serve and call each other over drpc on a
// simulated network — seeded fibers, virtual time, partitions, per-connection faults, crashes
// and restarts, all drawn from one decision tape, so every failing seed replays bit for bit.
//
//   void EchoUnderPartitions(World& world) {                 // one simulated run
//     world.AddNode("server", [](Node& node) {
//       drpc::Router& router = node.Make<drpc::Router>();
//       DRPC_CHECK_OK(interop::Echo::Register(router, node.Make<interop::EchoService>()));
//       DRPC_CHECK_OK(node.Serve(router));
//     });
//     int replies = 0;
//     world.AddNode("client", [&](Node& node) {
//       drpc::ClientConn& conn = node.Connect("server");
//       DRPC_CHECK_OK(node.Go("caller", [&] { ... calls with deadlines, ++replies ... }));
//     });
//     world.Cut("client", "server");                          // calls stall, deadlines fire
//     world.Sleep(drpc::Duration::Millis(50));
//     world.HealAll();                                        // and they get through again
//     world.Eventually("calls succeed after healing", [&] { return replies > 10; },
//                      drpc::Duration::Seconds(5));
//   }
//   DRPC_SIM_TEST(EchoSim, SurvivesPartitions) { EchoUnderPartitions(world); }   // sim_test.h
//
// The scenario body runs as the world's main fiber. When it returns the world ends: every link
// heals and per-connection faults stop, every node that serves must answer a fresh connection
// within `liveness_bound`, the invariants are checked a last time, and every node still up stops
// cleanly (node.h) — its fibers must end, or the run fails as a leak.
//
// Oracles, on by default in every run:
//   * the wire oracle (sim/drpc/wire_oracle.h) on every frame of every drpc connection made
//     through Node::Serve, Node::Connect and Node::DrpcDialer: the per-stream protocol model;
//   * your invariants (AddInvariant): checked while the run goes (each time a fiber of a node
//     parks, at most once per `invariant_period` of virtual time) and once at the end;
//   * liveness after healing: Eventually(), and every serving node answering after the heal;
//   * deadlock (nothing can run, the scenario unfinished: every parked fiber with its reason),
//     the virtual time limit, livelock;
//   * leaks: a node's fibers that outlive its stop, transports or listeners left open, timers
//     left pending;
//   * crashes: a failed DRPC_CHECK anywhere (yours or drpc-cpp's).
// A failure stops the run at once; the message says which oracle and why.
//
// Partitions hold bytes, they do not break connections (sim/world/links.h): across a cut link
// bytes wait in the network until it heals, writers block once the network's buffer is full, and
// new connections cannot be made (a dial waits until the link heals, its deadline, or
// `connect_timeout`). Crashes break connections at once (the peers see them end), like a killed
// process whose machine lives on.
#ifndef DRPC_SIM_WORLD_WORLD_H_
#define DRPC_SIM_WORLD_WORLD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "impl/app/backoff.h"
#include "impl/env.h"
#include "impl/options.h"
#include "impl/sync.h"
#include "impl/time.h"
#include "sim/drpc/wire_oracle.h"
#include "sim/network.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/tape.h"
#include "sim/world/links.h"
#include "sim/world/node.h"

namespace drpc::sim {

struct WorldOptions {
  // The drpc Options of Serve, Connect and DrpcDialer when they are not given their own (mux or
  // upstream mode, split sizes, windows, ...).
  Options drpc;
  // Each connection's link (latency, bandwidth, buffer, segmentation) is drawn from the tape
  // around `link` (sim/network.h); false: every connection gets `link` as it is.
  bool draw_links = true;
  LinkProfile link;
  // Chance (per mille) that a new connection gets a fault plan (a reset, FIN, I/O error or stall
  // at a byte offset; sim/network.h), until HealAll. World::SetConnectionFaults overrides it per
  // pair of nodes.
  uint32_t connection_fault_per_mille = 0;
  // A dial across a cut link gives up after this (or its own deadline, if earlier).
  Duration connect_timeout = Duration::Seconds(1);
  // Swarm the runtime per run, from the tape: BUGGIFY in impl/ (rare-but-legal paths), spurious
  // wake-ups from Park, late timers.
  bool swarm_runtime = true;
  // Invariants run when a node's fiber parks, at most once per this much virtual time
  // (0: at every park).
  Duration invariant_period = Duration::Zero();
  // After the end heals everything: how long serving nodes may take to answer a fresh
  // connection, and a stopping node's fibers to end.
  Duration liveness_bound = Duration::Seconds(30);
  // Grace a node's servers get from Shutdown at its clean stop.
  Duration stop_grace = Duration::Millis(50);
  // At the end, check that every serving node answers a fresh connection (any answer, an error
  // for the unknown method "/drpc.sim.World/Probe" included, proves it serves).
  bool probe_servers = true;
};

class LifeDialer;

class World {
 public:
  // Made by RunWorld / WorldScenario inside a run; `ctx` must outlive it.
  World(SimContext& ctx, WorldOptions options);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // --- Nodes ---

  // A node named `name` (unique; letters, digits, '_', '-', '.'), booted at once: `start` runs
  // on a fiber of the node now and after every restart (node.h). `start` must outlive the run.
  Node& AddNode(std::string name, std::function<void(Node&)> start);
  // The node named `name` (it must exist).
  Node& node(absl::string_view name);
  std::vector<std::string> node_names() const;

  // Kills the node where it stands (node.h); its peers see their connections end. A node may
  // crash itself (from its own fiber: then Crash does not return). No-op if it is down.
  void Crash(absl::string_view name);
  // Boots a crashed node again: its start function runs on a new life (boots() + 1).
  void Restart(absl::string_view name);

  // --- Partitions and faults ---

  // Cuts both directions between `a` and `b`.
  void Cut(absl::string_view a, absl::string_view b);
  // Cuts one direction: bytes from `from` to `to` are held; the other direction flows.
  void CutOneWay(absl::string_view from, absl::string_view to);
  // Heals both directions between `a` and `b`.
  void Heal(absl::string_view a, absl::string_view b);
  // Cuts every link between a node of `side_a` and a node of `side_b`, both ways.
  void Partition(const std::vector<std::string>& side_a, const std::vector<std::string>& side_b);
  // Heals every link, and stops per-connection faults for the rest of the run (new connections
  // get none, planned ones no longer strike).
  void HealAll();
  bool IsCut(absl::string_view from, absl::string_view to) const { return links_.IsCut(from, to); }
  // Per mille of connections between `a` and `b` (either way) that get a fault plan.
  void SetConnectionFaults(absl::string_view a, absl::string_view b, uint32_t per_mille);

  // --- Oracles ---

  // A named check of the system's state: OK, or what is wrong. Runs during the run (see the top
  // of the file) and at the end, from fibers: it must not block. Nodes may be down when it runs
  // (Node::up()).
  void AddInvariant(std::string name, std::function<absl::Status()> check);
  // Waits (polling each millisecond of virtual time) until `condition` holds; if it does not
  // within `within`, the run fails as a liveness failure naming `what` and every parked fiber.
  void Eventually(absl::string_view what, const std::function<bool()>& condition,
                  Duration within);
  // A correctness failure unless `condition` holds. From a fiber, a failure does not return.
  void Check(bool condition, absl::string_view message);
  void Fail(FailureClass failure, std::string message);

  // State that nodes and checks share and that must outlive the world's end — the disks nodes
  // keep across crashes, a history your invariants read: the end (Finish) runs after the
  // scenario body has returned, so the body's locals are gone by then, while the nodes still run
  // until they stop and the invariants are checked a last time. Destroyed after every node
  // stopped, in reverse order of making.
  template <typename T, typename... Args>
  T& Make(Args&&... args) {
    auto object = std::make_shared<T>(std::forward<Args>(args)...);
    T& ref = *object;
    kept_.push_back(std::move(object));
    return ref;
  }

  // --- Time, decisions, the world's own fibers ---

  Env& env() { return ctx_->env(); }
  Instant Now() const { return ctx_->now(); }
  void Sleep(Duration duration);
  // Decisions of the scenario go on the tape (so do the nodes' choices made through these).
  uint64_t Choose(absl::string_view site, uint64_t n) { return ctx_->Choose(site, n); }
  bool Chance(absl::string_view site, uint32_t per_mille) { return ctx_->Chance(site, per_mille); }
  // A fiber of the world (no node: never partitioned or crashed), e.g. a nemesis injecting
  // faults. The world's end waits for it.
  absl::Status Go(std::string name, absl::AnyInvocable<void()> body);
  // A line in the trace and the timeline ("client 2 writes x=5").
  void Note(absl::string_view text) { ctx_->Note(text); }
  // Marks a race situation as reached in this run: a sweep that must reach it
  // (SimTestOptions::situations) fails as blind if no seed does.
  void Reach(Situation situation) { ctx_->Reach(situation); }

  const WorldOptions& options() const { return options_; }
  // The run underneath (network statistics, the recorder): for tools, not for service code.
  SimContext& sim() { return *ctx_; }

  // Ends the world (see the top of the file). RunWorld calls it when the scenario returns.
  void Finish();

 private:
  friend class Node;
  friend class LifeDialer;
  class TapeJitter final : public RandomSource {
   public:
    explicit TapeJitter(SimContext& ctx) : ctx_(&ctx) {}
    uint64_t Below(uint64_t n) override { return n <= 1 ? 0 : ctx_->Choose("world.jitter", n); }

   private:
    SimContext* ctx_;
  };

  // Dials `address` from `life` (Node::dialer()).
  absl::StatusOr<std::unique_ptr<Transport>> DialFrom(Incarnation& life, absl::string_view address,
                                                      Instant deadline);
  std::optional<FaultPlan> FaultPlanFor(absl::string_view from, absl::string_view to);
  void LinksChanged();
  void MaybeCheckInvariants();
  void CheckInvariants(absl::string_view when);
  void ProbeServers();
  std::function<void()> ParkHook() {
    return [this] { MaybeCheckInvariants(); };
  }

  // A server Node::Serve started, for the probe at the end (only while that life is up).
  struct Served {
    Node* node;
    int boot;
    std::string address;
    Options options;
  };

  SimContext* ctx_;
  WorldOptions options_;
  LinkTable links_;
  WireOracle oracle_;
  TapeJitter jitter_;
  std::map<std::string, std::unique_ptr<Node>, std::less<>> nodes_;
  std::vector<Node*> order_;  // as added: stopped in reverse
  std::map<std::pair<std::string, std::string>, uint32_t> connection_faults_;
  std::vector<std::pair<std::string, std::function<absl::Status()>>> invariants_;
  bool checking_ = false;
  bool ending_ = false;
  Instant last_check_ = Instant();
  bool checked_once_ = false;
  std::vector<Served> served_;
  std::vector<std::shared_ptr<void>> kept_;  // World::Make; emptied by ~World, last first
  WaitGroup fibers_;
  bool finished_ = false;
};

// One run of `scenario` in a fresh World (what a sweep does per seed).
RunResult RunWorld(const std::function<void(World&)>& scenario, DecisionSource& decisions,
                   const WorldOptions& world = WorldOptions{}, const RunOptions& run = RunOptions{});

// The scenario for the sweep, tape and shrink machinery (sim/sweep.h, sim/shrink.h): runs
// `scenario` in a fresh World per seed.
ScenarioSpec WorldScenario(std::string name, std::function<void(World&)> scenario,
                           WorldOptions world = WorldOptions{});

}  // namespace drpc::sim

#endif  // DRPC_SIM_WORLD_WORLD_H_
