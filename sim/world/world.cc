#include "sim/world/world.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "proto/base/check.h"

namespace drpc::sim {
namespace {

constexpr char kProbeRpc[] = "/drpc.sim.World/Probe";

bool ValidNodeName(absl::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

std::pair<std::string, std::string> Ordered(absl::string_view a, absl::string_view b) {
  return a < b ? std::make_pair(std::string(a), std::string(b))
               : std::make_pair(std::string(b), std::string(a));
}

// Rare-but-legal runtime behaviour, drawn per run.
void DrawRuntime(SimContext& ctx) {
  ctx.chaos().set_enabled(ctx.Chance("world.chaos", 750));
  SimScheduler::Options& sched = ctx.scheduler().options();
  sched.spurious_wakeup_per_mille = ctx.Chance("world.spurious_wakeups", 300) ? 30 : 0;
  sched.timer_jitter_max =
      ctx.Chance("world.timer_jitter", 300) ? Duration::Micros(200) : Duration::Zero();
}

}  // namespace

World::World(SimContext& ctx, WorldOptions options)
    : ctx_(&ctx),
      options_(std::move(options)),
      oracle_([&ctx](std::string why) { ctx.Fail(FailureClass::kCorrectness, std::move(why)); }),
      jitter_(ctx),
      fibers_(ctx.env()) {
  DRPC_CHECK_OK(options_.drpc.Validate());
  oracle_.set_trace(&ctx);
  NetworkOptions net;
  net.link = options_.link;
  net.draw_link_per_connection = options_.draw_links;
  // The world decides per connection whether it gets a fault (FaultPlanFor); the network then
  // draws the plan itself.
  net.fault_per_mille = 1000;
  ctx.network().set_options(net);
  if (options_.swarm_runtime) DrawRuntime(ctx);
}

World::~World() {
  for (Node* n : order_) {
    DRPC_CHECK(!n->up()) << "World destroyed before Finish stopped node " << n->name();
  }
  while (!kept_.empty()) kept_.pop_back();
}

Node& World::AddNode(std::string name, std::function<void(Node&)> start) {
  DRPC_CHECK(!finished_) << "AddNode after the world ended";
  DRPC_CHECK(ValidNodeName(name)) << "bad node name \"" << name
                                  << "\": use letters, digits, '_', '-' and '.'";
  DRPC_CHECK(!nodes_.contains(name)) << "two nodes named " << name;
  auto node = std::unique_ptr<Node>(new Node(*this, name, std::move(start)));
  Node& ref = *node;
  nodes_.emplace(std::move(name), std::move(node));
  order_.push_back(&ref);
  ref.Boot();
  return ref;
}

Node& World::node(absl::string_view name) {
  auto it = nodes_.find(name);
  DRPC_CHECK(it != nodes_.end()) << "no node named " << name;
  return *it->second;
}

std::vector<std::string> World::node_names() const {
  std::vector<std::string> out;
  for (const Node* n : order_) out.push_back(n->name());
  return out;
}

void World::Crash(absl::string_view name) { node(name).Crash(); }

void World::Restart(absl::string_view name) {
  Node& n = node(name);
  DRPC_CHECK(!n.up()) << "Restart(" << name << "): the node is up; Crash it first";
  n.Boot();
}

// --- Partitions -----------------------------------------------------------------------------------

void World::Cut(absl::string_view a, absl::string_view b) {
  CutOneWay(a, b);
  CutOneWay(b, a);
}

void World::CutOneWay(absl::string_view from, absl::string_view to) {
  node(from);
  node(to);
  Note(absl::StrCat("cut ", from, " -> ", to));
  links_.Cut(from, to);
}

void World::Heal(absl::string_view a, absl::string_view b) {
  Note(absl::StrCat("heal ", a, " <-> ", b));
  links_.Heal(a, b);
  links_.Heal(b, a);
  LinksChanged();
}

void World::Partition(const std::vector<std::string>& side_a,
                      const std::vector<std::string>& side_b) {
  for (const std::string& a : side_a) {
    for (const std::string& b : side_b) Cut(a, b);
  }
}

void World::HealAll() {
  Note("heal all");
  links_.HealAll();
  ctx_->network().Heal();
  LinksChanged();
}

void World::LinksChanged() {
  for (Node* n : order_) {
    if (n->up()) n->life().links_changed().WakeAll();
  }
}

void World::SetConnectionFaults(absl::string_view a, absl::string_view b, uint32_t per_mille) {
  connection_faults_[Ordered(a, b)] = per_mille;
}

std::optional<FaultPlan> World::FaultPlanFor(absl::string_view from, absl::string_view to) {
  uint32_t per_mille = options_.connection_fault_per_mille;
  if (auto it = connection_faults_.find(Ordered(from, to)); it != connection_faults_.end()) {
    per_mille = it->second;
  }
  if (per_mille == 0 || ctx_->network().healed()) return FaultPlan::None();
  if (!ctx_->Chance("world.connection_fault", per_mille)) return FaultPlan::None();
  return std::nullopt;  // the network draws the plan
}

absl::StatusOr<std::unique_ptr<Transport>> World::DialFrom(Incarnation& life,
                                                           absl::string_view address,
                                                           Instant deadline) {
  std::string addr(address);
  if (addr.find(':') == std::string::npos) absl::StrAppend(&addr, ":drpc");
  const std::string target = addr.substr(0, addr.find(':'));
  if (!nodes_.contains(target)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dial ", addr, " from ", life.node(), ": the world has no node ", target));
  }
  const Instant give_up = std::min(deadline, Now() + options_.connect_timeout);
  while (links_.IsCutEitherWay(life.node(), target)) {
    if (Now() >= give_up) {
      return absl::DeadlineExceededError(absl::StrCat("dial ", addr, " from ", life.node(),
                                                      ": timed out (the link is cut)"));
    }
    life.links_changed().Wait("dial: the link is cut", give_up);
  }
  absl::StatusOr<std::unique_ptr<Transport>> t =
      ctx_->network().Dial(addr, FaultPlanFor(life.node(), target));
  if (!t.ok()) return t.status();
  std::optional<SimNetwork::EndpointId> id = ctx_->network().IdentifyEndpoint(**t);
  DRPC_CHECK(id.has_value());
  links_.SetOrigin(id->connection, life.node());
  return std::make_unique<GatedTransport>(links_, life, life.node(), target, *std::move(t));
}

// --- Oracles --------------------------------------------------------------------------------------

void World::AddInvariant(std::string name, std::function<absl::Status()> check) {
  invariants_.emplace_back(std::move(name), std::move(check));
}

void World::CheckInvariants(absl::string_view when) {
  if (checking_) return;
  checking_ = true;
  for (const auto& [name, check] : invariants_) {
    absl::Status s = check();
    if (!s.ok()) {
      checking_ = false;
      Fail(FailureClass::kCorrectness,
           absl::StrCat("invariant \"", name, "\" ", when, ": ", s.message()));
      return;
    }
  }
  checking_ = false;
}

void World::MaybeCheckInvariants() {
  if (ending_ || invariants_.empty()) return;
  if (checked_once_ && Now() - last_check_ < options_.invariant_period &&
      options_.invariant_period > Duration::Zero()) {
    return;
  }
  checked_once_ = true;
  last_check_ = Now();
  CheckInvariants("broken during the run");
}

void World::Eventually(absl::string_view what, const std::function<bool()>& condition,
                       Duration within) {
  const Instant deadline = Now() + within;
  while (!condition()) {
    if (Now() >= deadline) {
      Fail(FailureClass::kLiveness,
           absl::StrCat("not within ", within.ToString(), ": ", what,
                        links_.Describe().empty()
                            ? ""
                            : absl::StrCat(" (cut: ", absl::StrJoin(links_.Describe(), ", "), ")")));
      return;
    }
    SleepFor(env(), std::min(Duration::Millis(1), deadline - Now()), "world: eventually");
  }
}

void World::Check(bool condition, absl::string_view message) { ctx_->Check(condition, message); }

void World::Fail(FailureClass failure, std::string message) { ctx_->Fail(failure, std::move(message)); }

// --- Time and fibers ------------------------------------------------------------------------------

void World::Sleep(Duration duration) { SleepFor(env(), duration, "world: sleep"); }

absl::Status World::Go(std::string name, absl::AnyInvocable<void()> body) {
  fibers_.Add();
  absl::Status s = env().scheduler().Spawn(
      absl::StrCat("world/", name), [this, body = std::move(body)]() mutable {
        {
          absl::AnyInvocable<void()> run = std::move(body);
          run();
        }
        fibers_.Done();
      });
  if (!s.ok()) fibers_.Done();
  return s;
}

// --- The end --------------------------------------------------------------------------------------

void World::ProbeServers() {
  for (const Served& served : served_) {
    if (!served.node->up() || served.node->boots() != served.boot) continue;
    absl::StatusOr<std::unique_ptr<Transport>> t =
        ctx_->network().Dial(served.address, FaultPlan::None());
    if (!t.ok()) {
      Fail(FailureClass::kLiveness, absl::StrCat("after healing, ", served.address,
                                                 " refuses a fresh connection: ",
                                                 t.status().ToString()));
      return;
    }
    absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(
        env(), oracle_.Tap(*std::move(t), absl::StrCat("probe->", served.address),
                           WireEndConfig{.client = true,
                                         .mux = served.options.mux,
                                         .split_bytes = served.options.split_bytes,
                                         .window_initial_bytes =
                                             served.options.window_initial_bytes}),
        served.options);
    DRPC_CHECK_OK(conn.status());
    CallContext ctx(env());
    ctx.SetTimeout(options_.liveness_bound);
    absl::StatusOr<std::string> reply = (*conn)->Invoke(ctx, kProbeRpc, "");
    (*conn)->Close();
    if (!reply.ok() && !RemoteErrorCode(reply.status()).has_value()) {
      Fail(FailureClass::kLiveness,
           absl::StrCat("after healing, ", served.address, " did not answer a fresh connection within ",
                        options_.liveness_bound.ToString(), ": ", reply.status().ToString()));
      return;
    }
  }
}

void World::Finish() {
  DRPC_CHECK(!finished_) << "World::Finish called twice";
  fibers_.Wait("world: waiting for the world's fibers");
  HealAll();
  if (options_.probe_servers) ProbeServers();
  CheckInvariants("broken at the end");
  ending_ = true;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    if (!(*it)->Stop()) return;
  }
  finished_ = true;
}

RunResult RunWorld(const std::function<void(World&)>& scenario, DecisionSource& decisions,
                   const WorldOptions& world, const RunOptions& run) {
  return RunSimulation(
      [&](SimContext& ctx) {
        World w(ctx, world);
        scenario(w);
        w.Finish();
      },
      decisions, run);
}

ScenarioSpec WorldScenario(std::string name, std::function<void(World&)> scenario,
                           WorldOptions world) {
  ScenarioSpec spec;
  spec.name = std::move(name);
  spec.description = "a World scenario (sim/world/world.h)";
  spec.body = [scenario = std::move(scenario), world = std::move(world)](SimContext& ctx) {
    World w(ctx, world);
    scenario(w);
    w.Finish();
  };
  return spec;
}

}  // namespace drpc::sim
