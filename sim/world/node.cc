#include "sim/world/node.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "impl/conn.h"
#include "impl/server.h"
#include "sim/drpc/wire_oracle.h"
#include "sim/world/links.h"
#include "sim/world/world.h"

namespace drpc::sim {
namespace {

// Objects of crashed lives: never destroyed (see incarnation.h).
std::vector<std::shared_ptr<void>>* Graveyard() {
  static auto* graveyard = new std::vector<std::shared_ptr<void>>();
  return graveyard;
}

// Node::DrpcDialer(): the life's dialer, each connection tapped by the wire oracle.
class TappedDialer final : public Dialer {
 public:
  TappedDialer(Dialer& inner, WireOracle& oracle, std::string node, const Options& options)
      : inner_(&inner),
        oracle_(&oracle),
        node_(std::move(node)),
        config_(WireEndConfig::For(options, /*client=*/true)) {}
  absl::StatusOr<std::unique_ptr<Transport>> Dial(absl::string_view address,
                                                  Instant deadline) override {
    absl::StatusOr<std::unique_ptr<Transport>> t = inner_->Dial(address, deadline);
    if (!t.ok()) return t.status();
    return oracle_->Tap(*std::move(t), absl::StrCat(node_, "->", address, " #", ++dials_), config_);
  }

 private:
  Dialer* inner_;
  WireOracle* oracle_;
  std::string node_;
  WireEndConfig config_;
  uint64_t dials_ = 0;
};

}  // namespace

// Node::dialer(): dials through the world from one life.
class LifeDialer final : public Dialer {
 public:
  LifeDialer(World& world, Incarnation& life) : world_(&world), life_(&life) {}
  absl::StatusOr<std::unique_ptr<Transport>> Dial(absl::string_view address,
                                                  Instant deadline) override;

 private:
  World* world_;
  Incarnation* life_;
};

// What one life has besides its Incarnation: destroyed after the life's own objects at a clean
// stop, kept with the Incarnation after a crash.
struct Node::Extras {
  std::unique_ptr<CallContext> context;
  std::unique_ptr<Dialer> dialer;
  std::vector<std::unique_ptr<Dialer>> drpc_dialers;
};

Node::Node(World& world, std::string name, std::function<void(Node&)> start)
    : world_(&world), name_(std::move(name)), start_(std::move(start)) {}

Node::~Node() {
  DRPC_CHECK(life_ == nullptr) << "node " << name_ << " destroyed while up (World::Finish stops it)";
}

CallContext& Node::context() {
  life();
  return *extras_->context;
}

Dialer& Node::dialer() {
  life();
  return *extras_->dialer;
}

absl::StatusOr<std::unique_ptr<Transport>> LifeDialer::Dial(absl::string_view address,
                                                            Instant deadline) {
  return world_->DialFrom(*life_, address, deadline);
}

void Node::Boot() {
  DRPC_CHECK(life_ == nullptr) << "node " << name_ << " is already up";
  ++boots_;
  life_ = std::make_unique<Incarnation>(world_->sim().scheduler(), world_->sim().chaos(), name_,
                                        boots_, world_->ParkHook());
  extras_ = std::make_unique<Extras>();
  extras_->context = std::make_unique<CallContext>(life_->env());
  extras_->dialer = std::make_unique<LifeDialer>(*world_, *life_);
  world_->Note(absl::StrCat("node ", name_, boots_ > 1 ? " restarts" : " boots"));
  DRPC_CHECK_OK(life_->Spawn("start", [this] { start_(*this); }));
}

void Node::Crash() {
  if (life_ == nullptr) return;
  world_->Note(absl::StrCat("node ", name_, " crashes"));
  Incarnation* life = life_.get();
  Graveyard()->push_back(std::shared_ptr<Extras>(std::move(extras_)));
  Graveyard()->push_back(std::shared_ptr<Incarnation>(std::move(life_)));
  life->Crash();  // does not return if called from one of the life's fibers
}

bool Node::Stop() {
  if (life_ == nullptr) return true;
  Incarnation& life = *life_;
  extras_->context->Cancel(absl::CancelledError(absl::StrCat("node ", name_, " stops")));
  life.RunStopHooks();
  const Instant deadline = world_->Now() + world_->options().liveness_bound;
  while (life.fibers() > 0) {
    if (world_->Now() >= deadline) {
      world_->Fail(FailureClass::kLeak,
                   absl::StrCat("node ", name_, ": ", life.fibers(), " fiber(s) still running ",
                                world_->options().liveness_bound.ToString(),
                                " after it stopped (its context was cancelled, its servers shut "
                                "down, its connections closed)"));
      return false;
    }
    life.fiber_exits().Wait("world: waiting for a stopping node's fibers to end", deadline);
  }
  life.DestroyOwned();
  extras_.reset();
  if (std::vector<std::string> open = life.Registered(); !open.empty()) {
    world_->Fail(FailureClass::kLeak,
                 absl::StrCat("node ", name_, " stopped, its objects destroyed, yet still open: ",
                              absl::StrJoin(open, ", ")));
    return false;
  }
  life_.reset();
  return true;
}

absl::StatusOr<std::unique_ptr<Listener>> Node::Listen(absl::string_view port) {
  Incarnation& life = this->life();
  const std::string address = absl::StrCat(name_, ":", port);
  absl::StatusOr<std::unique_ptr<Listener>> l = world_->sim().network().Listen(address);
  if (!l.ok()) return l.status();
  return std::make_unique<GatedListener>(world_->links_, world_->sim().network(), life, name_,
                                         *std::move(l), address);
}

absl::Status Node::Serve(const Handler& handler, std::optional<Options> options,
                         absl::string_view port) {
  const Options o = options.value_or(world_->options().drpc);
  if (absl::Status s = o.Validate(); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<Listener>> raw = Listen(port);
  if (!raw.ok()) return raw.status();
  const std::string address = absl::StrCat(name_, ":", port);
  Listener& listener = *Make<std::unique_ptr<Listener>>(
      world_->oracle_.TapListener(*std::move(raw), address, WireEndConfig::For(o, /*client=*/false)));
  Server& server = Make<Server>(env(), handler, o);
  Signal& served = Make<Signal>(env());
  if (absl::Status s = Go(absl::StrCat("serve ", port), [&server, &listener, &served] {
        server.Serve(listener).IgnoreError();
        listener.Close();
        served.Set();
      });
      !s.ok()) {
    listener.Close();
    return s;
  }
  OnStop([this, &server, &listener, &served] {
    server.Shutdown(world_->Now() + world_->options().stop_grace);
    listener.Close();
    served.Wait("node stop: joining Serve");
  });
  world_->served_.push_back({this, boots_, address, o});
  return absl::OkStatus();
}

Dialer& Node::DrpcDialer(std::optional<Options> options) {
  life();
  extras_->drpc_dialers.push_back(std::make_unique<TappedDialer>(
      *extras_->dialer, world_->oracle_, name_, options.value_or(world_->options().drpc)));
  return *extras_->drpc_dialers.back();
}

ClientConn& Node::Connect(absl::string_view target, std::optional<ReconnectOptions> options) {
  ReconnectOptions o;
  if (options.has_value()) {
    o = *std::move(options);
  } else {
    o.connection = world_->options().drpc;
  }
  if (o.random == nullptr) o.random = &world_->jitter_;
  std::string address(target);
  if (address.find(':') == std::string::npos) absl::StrAppend(&address, ":drpc");
  ReconnectingConn& conn = Make<ReconnectingConn>(env(), DrpcDialer(o.connection), address, o);
  OnStop([&conn] { conn.Close(); });
  return conn;
}

}  // namespace drpc::sim
