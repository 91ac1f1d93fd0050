#include "sim/network.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/strings/str_cat.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc::sim {
namespace {

int Dir(Direction d) { return static_cast<int>(d); }

absl::string_view FaultKindName(FaultPlan::Kind kind) {
  switch (kind) {
    case FaultPlan::Kind::kNone:
      return "none";
    case FaultPlan::Kind::kReset:
      return "reset";
    case FaultPlan::Kind::kFin:
      return "fin";
    case FaultPlan::Kind::kWriteError:
      return "write-error";
    case FaultPlan::Kind::kReadError:
      return "read-error";
    case FaultPlan::Kind::kStall:
      return "stall";
  }
  return "?";
}

}  // namespace

std::string FaultPlan::ToString() const {
  if (kind == Kind::kNone) return "none";
  std::string s = absl::StrCat(FaultKindName(kind), "@", offset_bytes,
                               direction == Direction::kForward ? " fwd" : " bwd");
  if (kind == Kind::kStall) absl::StrAppend(&s, " for ", stall.ToString());
  return s;
}

// --- Connection -----------------------------------------------------------------------------------

// Fibers waiting on a pipe (its reader, its writers): WaitList's semantics — woken in FIFO order,
// callers loop on their condition — parking through the SimScheduler inline, so no frame sits
// between the network's Read or Write and the switch.
class PipeWaiters {
 public:
  explicit PipeWaiters(SimScheduler& scheduler) : scheduler_(&scheduler) {}
  ~PipeWaiters() { DRPC_CHECK(waiters_.empty()) << "destroyed with parked fibers"; }
  PipeWaiters(const PipeWaiters&) = delete;
  PipeWaiters& operator=(const PipeWaiters&) = delete;

  ABSL_ATTRIBUTE_ALWAYS_INLINE void Wait(absl::string_view reason) {
    Fiber* self = scheduler_->Current();
    DRPC_CHECK(self != nullptr) << "the network's Read and Write are called from a fiber";
    waiters_.push_back(self);
    scheduler_->ParkInline(reason);
    // Still listed after a spurious wake-up (a fiber is listed at most once).
    if (!waiters_.empty()) {
      if (auto it = std::find(waiters_.begin(), waiters_.end(), self); it != waiters_.end()) {
        waiters_.erase(it);
      }
    }
  }
  // Unpark only marks a fiber runnable (none runs before this returns): exactly the fibers
  // waiting now are woken.
  void WakeAll() {
    if (waiters_.empty()) return;
    for (Fiber* f : waiters_) scheduler_->Unpark(f);
    waiters_.clear();
  }

 private:
  SimScheduler* scheduler_;
  // In wait order. A pipe has one reader and one writer at a time (Transport's contract), so the
  // list is short: a vector's search beats a deque's, and it allocates once.
  std::vector<Fiber*> waiters_;
};

struct SimNetwork::Connection {
  // A piece of a write on its way: its bytes are the next `length` bytes of the pipe's buffer
  // after those of the segments ahead of it.
  struct Segment {
    Instant deliver_at;
    size_t length = 0;
    bool fin = false;
    bool rst = false;
  };
  // Bytes flowing in one direction, in one buffer: [read_pos, delivered) arrived and is readable,
  // [delivered, bytes.size()) is in flight, described by `in_flight` in order. Only the first
  // segment in flight has a delivery timer; when it fires it arms the next one (TCP delivers in
  // order, so a late timer holds back the segments behind it).
  struct Pipe {
    Pipe(Connection& c, int d, SimScheduler& scheduler)
        : connection(&c), direction(d), readers(scheduler), writers(scheduler) {}
    Connection* connection;
    int direction;
    uint64_t written = 0;  // offset of the next byte accepted from the writer
    bool fin_queued = false;
    bool closed_by_writer = false;  // CloseWrite/Close (vs a FIN fault)
    std::string bytes;
    size_t read_pos = 0;
    size_t delivered = 0;
    std::deque<Segment> in_flight;
    Instant last_delivery;
    TimerId timer = 0;  // the delivery timer of in_flight.front(); 0: none armed
    uint64_t read_total = 0;
    bool fin_received = false;
    Duration stall_pending = Duration::Zero();
    PipeWaiters readers;
    PipeWaiters writers;
    size_t buffered() const { return bytes.size() - read_pos; }
    size_t readable() const { return delivered - read_pos; }
    // Drops what arrived but was not read (the reader closed, or an RST arrived).
    void DiscardReadable() {
      bytes.erase(0, delivered);
      read_pos = delivered = 0;
    }
  };

  Connection(SimNetwork* n, uint64_t i, std::string nm, LinkProfile l, FaultPlan p)
      : net(n), id(i), name(std::move(nm)), link(l), plan(p) {
    pipes[0] = std::make_unique<Pipe>(*this, 0, *n->scheduler_);
    pipes[1] = std::make_unique<Pipe>(*this, 1, *n->scheduler_);
  }

  std::string EndpointName(int e) const { return absl::StrCat(name, e == 0 ? ":dialer" : ":acceptor"); }
  bool FaultArmed(int direction, FaultPlan::Kind kind) const {
    return !fault_struck && plan.kind == kind && Dir(plan.direction) == direction &&
           net->scheduler_->Now() < net->options_.heal_at;
  }
  // A fault that strikes at a byte offset of what `direction`'s writer writes is armed.
  bool WriteFaultArmed(int direction) const {
    switch (plan.kind) {
      case FaultPlan::Kind::kReset:
      case FaultPlan::Kind::kFin:
      case FaultPlan::Kind::kWriteError:
      case FaultPlan::Kind::kStall:
        return FaultArmed(direction, plan.kind);
      case FaultPlan::Kind::kReadError:
      case FaultPlan::Kind::kNone:
        break;
    }
    return false;
  }

  // The error a write on endpoint `e` fails with now, or OK. Inline for the common case (checked
  // before and after every wait of a write).
  absl::Status WriteStatus(int e) const {
    if (open[e] && !write_error[e].has_value() && !reset && !pipes[e]->closed_by_writer &&
        open[1 - e]) {
      return absl::OkStatus();
    }
    return WriteError(e);
  }
  absl::Status WriteError(int e) const;
  absl::Status Write(int e, absl::string_view data);
  // Scatters what it reads across `spans` in order (Transport::ReadV).
  absl::StatusOr<size_t> Read(int e, absl::Span<const absl::Span<char>> spans);
  absl::Status CloseWrite(int e);
  void Close(int e);

  void Send(int d, absl::string_view bytes);
  // Send on a link that cuts writes into pieces.
  void SendPieces(int d, absl::string_view bytes);
  void Enqueue(int d, absl::string_view data, bool fin, bool rst);
  void ArmDelivery(int d);
  static void OnDeliveryTimer(void* pipe);  // the delivery timer of `pipe` (a Pipe*) fired
  void Deliver(int d);
  void Strike(int d);
  void Log(absl::string_view what) {
    if (net->trace_->enabled()) net->trace_->Log(net->scheduler_->Now(), absl::StrCat(name, ": ", what));
  }

  SimNetwork* net;
  uint64_t id;
  std::string name;
  LinkProfile link;
  FaultPlan plan;
  bool fault_struck = false;
  std::unique_ptr<Pipe> pipes[2];  // pipes[d] carries direction d; endpoint e writes pipes[e]
  bool open[2] = {true, true};
  bool reset = false;
  // Nothing has closed, broken or faulted the connection yet (no end closed or closed for
  // writing, no reset, no fault struck): reads and writes skip their error checks, which would
  // all pass. Cleared for good by the first such event.
  bool calm = true;
  std::optional<absl::Status> write_error[2];
  std::optional<absl::Status> read_error[2];
};

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SimNetwork::Connection::ArmDelivery(int d) {
  Pipe& p = *pipes[d];
  DRPC_DCHECK(p.timer == 0 && !p.in_flight.empty());
  // A plain timer: one per segment, so no AnyInvocable to store, move and destroy.
  p.timer = net->scheduler_->ScheduleAtPlain(p.in_flight.front().deliver_at, &OnDeliveryTimer, &p);
}


// Inline into Send, as ArmDelivery into Enqueue and Deliver (one of each per segment): each
// call boundary costs register saves.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SimNetwork::Connection::Enqueue(int d,
                                                                        absl::string_view data,
                                                                        bool fin, bool rst) {
  Pipe& p = *pipes[d];
  Duration latency = link.latency_min;
  if (link.latency_max > link.latency_min) {
    latency = latency + (link.latency_max - link.latency_min) *
                            static_cast<int64_t>(net->decisions_->Choose("net.latency", 101)) / 100;
  }
  Duration transmit = Duration::Zero();
  if (link.bandwidth_bytes_per_second > 0) {
    transmit = Duration::Nanos(static_cast<int64_t>(data.size() * 1000000000ull /
                                                    link.bandwidth_bytes_per_second));
  }
  const Instant deliver_at =
      std::max(p.last_delivery, net->scheduler_->Now() + latency) + transmit + p.stall_pending;
  p.stall_pending = Duration::Zero();
  p.last_delivery = deliver_at;
  p.bytes.append(data.data(), data.size());
  // Filled in place: a Segment built on the stack is stored in pieces and copied as a whole,
  // which stalls on store forwarding.
  Segment& s = p.in_flight.emplace_back();
  s.deliver_at = deliver_at;
  s.length = data.size();
  s.fin = fin;
  s.rst = rst;
  ++net->stats_.segments;
  if (p.timer == 0) ArmDelivery(d);
}

// A write becomes at most kPiecesPerWriteMax segments: the first ones are cut at random sizes up
// to segment_max (1-byte pieces split frame headers and varints), the last carries the rest. A
// bounded count keeps large writes cheap to simulate without losing the interesting cuts.
constexpr int kPiecesPerWriteMax = 16;

// Inline into Write: a link that delivers writes whole (every clean run's) sends one segment
// without the call and the loop.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SimNetwork::Connection::Send(int d,
                                                                     absl::string_view bytes) {
  if (link.segment_max_bytes == 0) {
    if (bytes.empty()) return;
    Enqueue(d, bytes, /*fin=*/false, /*rst=*/false);
    pipes[d]->written += bytes.size();
    net->stats_.bytes_written += bytes.size();
    return;
  }
  SendPieces(d, bytes);
}

void SimNetwork::Connection::SendPieces(int d, absl::string_view bytes) {
  Pipe& p = *pipes[d];
  for (int piece = 1; !bytes.empty(); ++piece) {
    size_t n = bytes.size();
    if (link.segment_max_bytes > 0 && piece < kPiecesPerWriteMax) {
      n = 1 + net->decisions_->Choose("net.segment", std::min(link.segment_max_bytes, bytes.size()));
    }
    Enqueue(d, bytes.substr(0, n), /*fin=*/false, /*rst=*/false);
    p.written += n;
    net->stats_.bytes_written += n;
    bytes.remove_prefix(n);
  }
}

// Delivers the first segment in flight, then arms the timer of the next one. Inline into its
// timer's function (the only caller).
ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SimNetwork::Connection::Deliver(int d) {
  Pipe& p = *pipes[d];
  DRPC_CHECK(!p.in_flight.empty());
  if (reset) {  // everything behind a reset is lost
    p.bytes.resize(p.delivered);
    p.in_flight.clear();
    return;
  }
  const Segment s = p.in_flight.front();
  p.in_flight.pop_front();
  if (!p.in_flight.empty()) ArmDelivery(d);
  if (s.rst) {
    Log(absl::StrCat("reset arrives (", d == 0 ? "fwd" : "bwd", ")"));
    reset = true;
    calm = false;
    for (auto& pipe : pipes) {
      pipe->readers.WakeAll();
      pipe->writers.WakeAll();
    }
    return;
  }
  if (s.fin) {
    p.fin_received = true;
  } else {
    // The bytes themselves go into the trace hash, so a run that delivers different data (not
    // just different amounts) at the same moments is told apart.
    net->trace_->MixBytes(0xde, id * 2 + static_cast<uint64_t>(d),
                          absl::string_view(p.bytes).substr(p.delivered, s.length));
    p.delivered += s.length;
    if (!open[1 - d]) p.DiscardReadable();  // nobody will read them
  }
  p.readers.WakeAll();
}

void SimNetwork::Connection::OnDeliveryTimer(void* pipe) {
  Pipe& p = *static_cast<Pipe*>(pipe);
  p.timer = 0;
  p.connection->Deliver(p.direction);
}

void SimNetwork::Connection::Strike(int d) {
  fault_struck = true;
  calm = false;
  ++net->stats_.faults_struck;
  net->trace_->Mix(0xfa);
  net->trace_->Mix(id);
  Log(absl::StrCat("fault strikes: ", plan.ToString()));
  if (net->recorder_ != nullptr) net->recorder_->Fault(net->scheduler_->Now(), id, d, plan.ToString());
  const int writer = d;
  switch (plan.kind) {
    case FaultPlan::Kind::kReset:
      write_error[writer] = TransportError(TransportErrorKind::kReset, "connection reset (fault)");
      Enqueue(d, "", /*fin=*/false, /*rst=*/true);
      pipes[d]->fin_queued = true;
      break;
    case FaultPlan::Kind::kFin:
      write_error[writer] = TransportError(TransportErrorKind::kReset, "peer went away (fault)");
      Enqueue(d, "", /*fin=*/true, /*rst=*/false);
      pipes[d]->fin_queued = true;
      break;
    case FaultPlan::Kind::kWriteError:
      write_error[writer] = TransportError(TransportErrorKind::kIo, "write failed (fault)");
      Enqueue(d, "", /*fin=*/false, /*rst=*/true);
      pipes[d]->fin_queued = true;
      break;
    case FaultPlan::Kind::kStall:
      pipes[d]->stall_pending = plan.stall;
      break;
    case FaultPlan::Kind::kReadError:
      read_error[1 - d] = TransportError(TransportErrorKind::kIo, "read failed (fault)");
      break;
    case FaultPlan::Kind::kNone:
      break;
  }
}

absl::Status SimNetwork::Connection::WriteError(int e) const {
  if (!open[e]) return TransportError(TransportErrorKind::kClosedLocally, EndpointName(e));
  if (write_error[e].has_value()) return *write_error[e];
  if (reset) return TransportError(TransportErrorKind::kReset, EndpointName(e));
  if (pipes[e]->closed_by_writer) {
    return TransportError(TransportErrorKind::kWriteAfterClose, EndpointName(e));
  }
  if (!open[1 - e]) {
    return TransportError(TransportErrorKind::kReset, absl::StrCat(EndpointName(e), ": peer closed"));
  }
  return absl::OkStatus();
}

// Inlined into its Endpoint's (the only caller): a frame less between a blocked fiber and its
// switch is a mispredicted return less on every wake-up.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline
absl::Status SimNetwork::Connection::Write(int e, absl::string_view data) {
  if (net->recorder_ != nullptr) net->recorder_->Write(net->scheduler_->Now(), id, e, data.size());
  Pipe& p = *pipes[e];
  size_t done = 0;
  for (;;) {
    // Checked before the first byte too, so an empty write reports a closed or broken connection.
    if (!calm) {
      if (absl::Status s = WriteStatus(e); !s.ok()) return s;
    }
    if (done == data.size()) return absl::OkStatus();
    if (p.buffered() >= link.buffer_bytes) {
      p.writers.Wait("net write: peer's receive buffer full");
      continue;
    }
    size_t chunk = std::min(data.size() - done, link.buffer_bytes - p.buffered());
    if (WriteFaultArmed(e) && plan.offset_bytes < p.written + chunk) {
      const size_t before = plan.offset_bytes > p.written ? plan.offset_bytes - p.written : 0;
      Send(e, data.substr(done, before));
      done += before;
      Strike(e);
      continue;
    }
    Send(e, data.substr(done, chunk));
    done += chunk;
  }
}

// Inlined into its Endpoint's (the only caller): a frame less between a blocked fiber and its
// switch is a mispredicted return less on every wake-up.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline
absl::StatusOr<size_t> SimNetwork::Connection::Read(int e, absl::Span<const absl::Span<char>> spans) {
  DRPC_CHECK(!spans.empty());
  size_t size = 0;
  for (absl::Span<char> span : spans) {
    DRPC_CHECK(!span.empty());
    size += span.size();
  }
  Pipe& p = *pipes[1 - e];
  for (;;) {
    if (!calm) {
      if (!open[e]) return TransportError(TransportErrorKind::kClosedLocally, EndpointName(e));
      if (read_error[e].has_value()) return *read_error[e];
      if (reset) return TransportError(TransportErrorKind::kReset, EndpointName(e));
    }
    const size_t available = p.readable();
    if (available > 0) {
      size_t n = std::min(size, available);
      if (link.cut_reads && n > 1 && net->decisions_->Choose("net.read_cut", 2) == 1) {
        n = 1 + net->decisions_->Choose("net.read_len", n);
      }
      if (FaultArmed(1 - e, FaultPlan::Kind::kReadError) &&
          plan.offset_bytes < p.read_total + n) {
        n = plan.offset_bytes > p.read_total ? plan.offset_bytes - p.read_total : 0;
        if (n == 0) {
          Strike(1 - e);
          continue;
        }
      }
      // A cut read may end in any span, at any byte: the reader sees every split.
      for (size_t i = 0, copied = 0; copied < n; ++i) {
        const size_t part = std::min(n - copied, spans[i].size());
        std::memcpy(spans[i].data(), p.bytes.data() + p.read_pos + copied, part);
        copied += part;
      }
      p.read_pos += n;
      p.read_total += n;
      if (p.read_pos * 2 >= p.bytes.size()) {  // keep the buffer from growing without bound
        p.bytes.erase(0, p.read_pos);
        p.delivered -= p.read_pos;
        p.read_pos = 0;
      }
      p.writers.WakeAll();
      return n;
    }
    if (p.fin_received) return TransportError(TransportErrorKind::kEof, EndpointName(e));
    p.readers.Wait("net read: waiting for bytes");
  }
}

absl::Status SimNetwork::Connection::CloseWrite(int e) {
  if (!open[e]) return TransportError(TransportErrorKind::kClosedLocally, EndpointName(e));
  Pipe& p = *pipes[e];
  p.closed_by_writer = true;
  calm = false;
  if (!p.fin_queued && !reset) {
    p.fin_queued = true;
    Enqueue(e, "", /*fin=*/true, /*rst=*/false);
  }
  p.writers.WakeAll();
  return absl::OkStatus();
}

void SimNetwork::Connection::Close(int e) {
  if (!open[e]) return;
  open[e] = false;
  calm = false;
  Log(absl::StrCat(EndpointName(e), " closed"));
  if (net->recorder_ != nullptr) net->recorder_->Close(net->scheduler_->Now(), id, e);
  Pipe& out = *pipes[e];
  Pipe& in = *pipes[1 - e];
  if (!out.fin_queued && !reset) {
    out.fin_queued = true;
    Enqueue(e, "", /*fin=*/true, /*rst=*/false);
  }
  in.DiscardReadable();
  // Wake our own blocked reader/writer (they see kClosedLocally) and the peer's blocked writer
  // (it sees the reset of writing to a closed socket).
  out.writers.WakeAll();
  in.readers.WakeAll();
  in.writers.WakeAll();
}

// --- Endpoint and listener ------------------------------------------------------------------------

class SimNetwork::Endpoint final : public Transport {
 public:
  Endpoint(Connection* c, int e) : c_(c), e_(e) {}
  ~Endpoint() override { c_->Close(e_); }
  absl::StatusOr<size_t> Read(char* buf, size_t size) override {
    DRPC_CHECK_GT(size, 0u);
    const absl::Span<char> span(buf, size);
    absl::StatusOr<size_t> n = c_->Read(e_, absl::MakeConstSpan(&span, 1));
    if (tap_ != nullptr && n.ok()) tap_->OnRead(absl::string_view(buf, *n));
    return n;
  }
  absl::StatusOr<size_t> ReadV(absl::Span<const absl::Span<char>> spans) override {
    absl::StatusOr<size_t> n = c_->Read(e_, spans);
    if (tap_ != nullptr && n.ok()) tap_->OnReadV(spans, *n);
    return n;
  }
  absl::Status Write(absl::string_view data) override {
    if (tap_ != nullptr) tap_->OnWrite(data);
    return c_->Write(e_, data);
  }
  absl::Status CloseWrite() override { return c_->CloseWrite(e_); }
  void Close() override { c_->Close(e_); }
  const Connection& connection() const { return *c_; }
  int end() const { return e_; }
  bool SetTap(std::unique_ptr<EndpointTap>& tap) {
    if (tap_ != nullptr) return false;
    tap_ = std::move(tap);
    return true;
  }

 private:
  Connection* c_;
  int e_;
  std::unique_ptr<EndpointTap> tap_;
};

namespace {

// `t` as a simulated endpoint, or null. Endpoint is final, so comparing the dynamic type is the
// whole test: cheaper than dynamic_cast's walk of the hierarchy (the workload's oracles ask for
// every call).
const SimNetwork::Endpoint* AsEndpoint(const Transport& t) {
  return typeid(t) == typeid(SimNetwork::Endpoint) ? static_cast<const SimNetwork::Endpoint*>(&t)
                                                   : nullptr;
}
SimNetwork::Endpoint* AsEndpoint(Transport& t) {
  return typeid(t) == typeid(SimNetwork::Endpoint) ? static_cast<SimNetwork::Endpoint*>(&t)
                                                   : nullptr;
}

}  // namespace

bool SimNetwork::SetTap(Transport& endpoint, std::unique_ptr<EndpointTap>& tap) {
  Endpoint* e = AsEndpoint(endpoint);
  return e != nullptr && tap != nullptr && e->SetTap(tap);
}

std::optional<FaultPlan> SimNetwork::StruckFault(const Transport& endpoint) const {
  const Endpoint* e = AsEndpoint(endpoint);
  DRPC_CHECK(e != nullptr) << "StruckFault: not an endpoint of this network";
  if (!e->connection().fault_struck) return std::nullopt;
  return e->connection().plan;
}

std::optional<SimNetwork::EndpointId> SimNetwork::IdentifyEndpoint(const Transport& endpoint) const {
  const Endpoint* e = AsEndpoint(endpoint);
  if (e == nullptr) return std::nullopt;
  return EndpointId{e->connection().id, e->end(), e->connection().name};
}

class SimNetwork::SimListener final : public Listener {
 public:
  SimListener(SimNetwork* net, std::string address)
      : net_(net), address_(std::move(address)), waiters_(*net->env_) {}
  ~SimListener() override { Close(); }

  absl::StatusOr<std::unique_ptr<Transport>> Accept() override {
    while (!closed_ && pending_.empty()) waiters_.Wait("accept: waiting for a connection");
    if (closed_) return absl::CancelledError(absl::StrCat("listener ", address_, " closed"));
    std::unique_ptr<Transport> t = std::move(pending_.front());
    pending_.pop_front();
    return t;
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    net_->listeners_.erase(address_);
    pending_.clear();  // unaccepted connections close; their dialers see EOF or reset
    waiters_.WakeAll();
  }

  bool Offer(std::unique_ptr<Transport> t) {
    if (closed_ || pending_.size() >= net_->options_.listen_backlog_max_count) return false;
    pending_.push_back(std::move(t));
    waiters_.WakeOne();
    return true;
  }

 private:
  SimNetwork* net_;
  std::string address_;
  WaitList waiters_;
  bool closed_ = false;
  std::deque<std::unique_ptr<Transport>> pending_;
};

// --- SimNetwork -----------------------------------------------------------------------------------

SimNetwork::SimNetwork(Env& env, DecisionSource& decisions, Trace& trace, NetworkOptions options)
    : env_(&env),
      scheduler_(dynamic_cast<SimScheduler*>(&env.scheduler())),
      decisions_(&decisions),
      trace_(&trace),
      options_(options) {
  DRPC_CHECK(scheduler_ != nullptr) << "a SimNetwork runs on a SimScheduler";
}

SimNetwork::~SimNetwork() {
  for (auto& c : connections_) {
    for (auto& pipe : c->pipes) {
      if (pipe->timer != 0) env_->clock().Cancel(pipe->timer);
    }
  }
}

void SimNetwork::set_options(const NetworkOptions& options) {
  DRPC_CHECK(connections_.empty()) << "network options must be set before the first connection";
  options_ = options;
}

void SimNetwork::Heal() { options_.heal_at = std::min(options_.heal_at, scheduler_->Now()); }

bool SimNetwork::healed() const { return scheduler_->Now() >= options_.heal_at; }

LinkProfile SimNetwork::DrawLink() {
  LinkProfile link = options_.link;
  if (!options_.draw_link_per_connection) return link;
  static constexpr size_t kSegments[] = {0, 1, 3, 7, 64, 1500, 65536};
  link.segment_max_bytes = kSegments[decisions_->Choose("net.link.segment", std::size(kSegments))];
  // A tiny buffer turns every large write into thousands of park/unpark cycles: valuable
  // back-pressure coverage, so it stays, but in one connection of eight.
  static constexpr size_t kBuffers[] = {16, 4096, 4096, 65536, 65536, 65536, 1 << 20, 1 << 20};
  link.buffer_bytes = kBuffers[decisions_->Choose("net.link.buffer", std::size(kBuffers))];
  link.cut_reads = decisions_->Choose("net.link.cut_reads", 2) == 1;
  link.latency_min = Duration::Micros(static_cast<int64_t>(decisions_->Choose("net.link.lat", 4)) * 50);
  link.latency_max = link.latency_min + Duration::Micros(
                                            static_cast<int64_t>(decisions_->Choose("net.link.jit", 3)) * 100);
  static constexpr uint64_t kBandwidths[] = {0, 10'000'000, 1'000'000'000};
  link.bandwidth_bytes_per_second =
      kBandwidths[decisions_->Choose("net.link.bw", std::size(kBandwidths))];
  return link;
}

FaultPlan SimNetwork::DrawFaultPlan() {
  if (options_.fault_per_mille == 0 || healed()) return FaultPlan::None();
  if (!ChooseChance(*decisions_, "net.fault", options_.fault_per_mille)) return FaultPlan::None();
  FaultPlan plan;
  plan.kind = static_cast<FaultPlan::Kind>(1 + decisions_->Choose("net.fault.kind", 5));
  plan.direction = static_cast<Direction>(decisions_->Choose("net.fault.dir", 2));
  // Log-uniform offsets: faults land in headers of the first frames as often as deep in a stream.
  const uint64_t exponent = decisions_->Choose("net.fault.exp", 21);
  const uint64_t low = exponent == 0 ? 0 : (uint64_t{1} << (exponent - 1));
  plan.offset_bytes = low + decisions_->Choose("net.fault.off", low == 0 ? 1 : low);
  if (plan.kind == FaultPlan::Kind::kStall) {
    plan.stall = Duration::Millis(1 + static_cast<int64_t>(decisions_->Choose("net.fault.stall", 200)));
  }
  ++stats_.faults_planned;
  return plan;
}

std::unique_ptr<SimNetwork::Connection> SimNetwork::NewConnection(absl::string_view name,
                                                                  std::optional<FaultPlan> plan) {
  const uint64_t id = next_connection_id_++;
  LinkProfile link = DrawLink();
  FaultPlan fault = plan.has_value() ? *plan : DrawFaultPlan();
  ++stats_.connections;
  trace_->Mix(0xc0);
  trace_->Mix(id);
  auto c = std::make_unique<Connection>(this, id, absl::StrCat(name, "#", id), link, fault);
  c->Log(absl::StrCat("connected; fault plan ", fault.ToString()));
  if (recorder_ != nullptr) recorder_->Connect(scheduler_->Now(), id, c->name, fault.ToString());
  return c;
}

std::pair<std::unique_ptr<Transport>, std::unique_ptr<Transport>> SimNetwork::Pipe(
    absl::string_view name, std::optional<FaultPlan> plan) {
  connections_.push_back(NewConnection(name, plan));
  Connection* c = connections_.back().get();
  return {std::make_unique<Endpoint>(c, 0), std::make_unique<Endpoint>(c, 1)};
}

absl::StatusOr<std::unique_ptr<Listener>> SimNetwork::Listen(absl::string_view address) {
  if (listeners_.contains(address)) {
    return absl::AlreadyExistsError(absl::StrCat("address ", address, " already in use"));
  }
  auto l = std::make_unique<SimListener>(this, std::string(address));
  listeners_.emplace(std::string(address), l.get());
  return l;
}

absl::StatusOr<std::unique_ptr<Transport>> SimNetwork::Dial(absl::string_view address,
                                                            Instant /*deadline*/) {
  return Dial(address, std::nullopt);
}

absl::StatusOr<std::unique_ptr<Transport>> SimNetwork::Dial(absl::string_view address,
                                                            std::optional<FaultPlan> plan) {
  auto it = listeners_.find(address);
  if (it == listeners_.end()) {
    return TransportError(TransportErrorKind::kReset,
                          absl::StrCat("connection refused: nothing listens on ", address));
  }
  auto [client, server] = Pipe(address, plan);
  if (!it->second->Offer(std::move(server))) {
    return TransportError(TransportErrorKind::kReset,
                          absl::StrCat("connection refused: backlog of ", address, " is full"));
  }
  return std::move(client);
}

std::vector<std::string> SimNetwork::OpenEndpoints() const {
  std::vector<std::string> out;
  for (const auto& [address, l] : listeners_) out.push_back(absl::StrCat("listener ", address));
  for (const auto& c : connections_) {
    for (int e = 0; e < 2; ++e) {
      if (c->open[e]) out.push_back(c->EndpointName(e));
    }
  }
  return out;
}

}  // namespace drpc::sim
