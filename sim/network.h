// The simulated network: ordered, reliable (TCP-like) duplex byte streams between fibers of one
// SimScheduler, with a per-connection fault plan drawn from the decision tape.
//
//   SimNetwork net(env, decisions, trace, NetworkOptions{...});
//   auto listener = net.Listen("server:1");            // Listener from impl/env.h
//   auto client = net.Dial("server:1");                // Transport; the server end is Accept()ed
//   auto [a, b] = net.Pipe("p", FaultPlan::ResetAt(Direction::kForward, 17));
//
// What the network does to bytes (all decided by the tape):
//   * a write is cut into segments of 1..segment_max bytes (1-byte pieces split frame headers
//     and varints; at most 16 pieces per write), delivered in order after a latency, at a
//     bandwidth;
//   * a read returns any prefix of what has arrived;
//   * the writer blocks while `buffer_bytes` are written but unread (back-pressure);
//   * faults strike at byte offsets of a direction: RST (the writer sees "connection reset" at the
//     offset; the RST travels behind the bytes before it), FIN (reader sees a clean EOF at the
//     offset; the writer later sees a reset), write error (the writer gets an I/O error; an RST
//     follows as for RST), read error (the reader's reads fail from that offset), stall
//     (delivery pauses for a while);
//   * when an RST arrives, both ends see kReset from then on, and bytes that had arrived but were
//     not yet read are discarded (as Linux TCP does): a reader gets the bytes before the RST only
//     if it reads them before the RST arrives.
// Every delivered segment's bytes are mixed into the trace hash.
// Faults strike only before `heal_at`; connections made after it get no fault plan.
#ifndef DRPC_SIM_NETWORK_H_
#define DRPC_SIM_NETWORK_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "impl/env.h"
#include "impl/time.h"
#include "sim/recorder.h"
#include "sim/scheduler.h"
#include "sim/tape.h"
#include "sim/trace.h"

namespace drpc::sim {

// kForward: from the dialer (or Pipe's first end) to the acceptor; kBackward: the reverse.
enum class Direction { kForward = 0, kBackward = 1 };

struct FaultPlan {
  enum class Kind { kNone, kReset, kFin, kWriteError, kReadError, kStall };
  Kind kind = Kind::kNone;
  Direction direction = Direction::kForward;
  uint64_t offset_bytes = 0;  // bytes of that direction before the fault
  Duration stall = Duration::Zero();

  static FaultPlan None() { return {}; }
  static FaultPlan ResetAt(Direction d, uint64_t offset) { return {Kind::kReset, d, offset}; }
  static FaultPlan FinAt(Direction d, uint64_t offset) { return {Kind::kFin, d, offset}; }
  static FaultPlan WriteErrorAt(Direction d, uint64_t offset) {
    return {Kind::kWriteError, d, offset};
  }
  static FaultPlan ReadErrorAt(Direction d, uint64_t offset) {
    return {Kind::kReadError, d, offset};
  }
  static FaultPlan StallAt(Direction d, uint64_t offset, Duration how_long) {
    return {Kind::kStall, d, offset, how_long};
  }
  std::string ToString() const;  // "none", "reset@17 fwd", "stall@3 bwd for 20ms", ...
};

struct LinkProfile {
  Duration latency_min = Duration::Zero();
  Duration latency_max = Duration::Zero();
  uint64_t bandwidth_bytes_per_second = 0;  // 0: unlimited
  size_t buffer_bytes = 256 * 1024;         // per direction: written but not yet read
  // 0: writes are delivered whole; else the first pieces of each write are cut at random sizes
  // up to this (at most 16 pieces per write).
  size_t segment_max_bytes = 0;
  bool cut_reads = false;                   // reads may return a shorter prefix
};

struct NetworkOptions {
  LinkProfile link;
  // Swarm testing: draw each connection's link profile from the tape (latency, bandwidth, buffer,
  // segmentation) around `link`.
  bool draw_link_per_connection = false;
  // Chance (per mille) that a new connection gets a random fault plan (only before heal_at).
  uint32_t fault_per_mille = 0;
  Instant heal_at = Instant::Infinite();
  // Pending connections per listener before Dial is refused.
  size_t listen_backlog_max_count = 128;
};

class SimNetwork final : public Dialer {
 public:
  SimNetwork(Env& env, DecisionSource& decisions, Trace& trace, NetworkOptions options);
  ~SimNetwork() override;
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // A connected pair. `plan`, if given, replaces the drawn fault plan (exhaustive fault tests).
  std::pair<std::unique_ptr<Transport>, std::unique_ptr<Transport>> Pipe(
      absl::string_view name, std::optional<FaultPlan> plan = std::nullopt);

  // kAlreadyExists if the address is taken by an open listener.
  absl::StatusOr<std::unique_ptr<Listener>> Listen(absl::string_view address);

  // kUnavailable "connection refused" without an open listener or with a full backlog.
  absl::StatusOr<std::unique_ptr<Transport>> Dial(absl::string_view address,
                                                  std::optional<FaultPlan> plan = std::nullopt);

  // The Dialer (impl/env.h) view: connects at once (or is refused at once); the deadline never
  // matters.
  absl::StatusOr<std::unique_ptr<Transport>> Dial(absl::string_view address,
                                                  Instant deadline) override;

  // Replaces the options; allowed only before the first connection (scenarios configure the
  // network at the start of a run, drawing parameters from the tape).
  void set_options(const NetworkOptions& options);
  const NetworkOptions& options() const { return options_; }

  // From now on no fault strikes and new connections get none (liveness after healing).
  void Heal();
  bool healed() const;

  // The fault that has struck the connection of `endpoint` (a transport Pipe, Dial or a listener
  // of this network returned), or nullopt if none has (yet).
  std::optional<FaultPlan> StruckFault(const Transport& endpoint) const;

  // Sees every byte an endpoint sends and receives (the wire oracle of sim/drpc): OnWrite before
  // a write is attempted, with everything the caller meant to send (even if a fault cuts it
  // short); OnRead after a successful read, with the bytes it returned (a vectored read's spans
  // as one run). Observing inside the endpoint instead of wrapping it keeps a frame off the
  // path between impl/'s reader or writer and its park: after a fiber switch every return up
  // the call chain is mispredicted, so each frame costs on every wake-up.
  class EndpointTap {
   public:
    virtual ~EndpointTap() = default;
    virtual void OnWrite(absl::string_view bytes) = 0;
    virtual void OnRead(absl::string_view bytes) = 0;
    // OnRead for a vectored read of `n` bytes: the spans filled in order, so their first `n`
    // bytes are one run.
    void OnReadV(absl::Span<const absl::Span<char>> spans, size_t n) {
      for (size_t i = 0; i < spans.size() && n > 0; ++i) {
        const size_t part = std::min(n, spans[i].size());
        OnRead(absl::string_view(spans[i].data(), part));
        n -= part;
      }
    }
  };
  // Installs `tap` on `endpoint` (destroyed with it). Returns false, and leaves `tap` alone, if
  // `endpoint` is not a transport of a SimNetwork or already has a tap.
  static bool SetTap(Transport& endpoint, std::unique_ptr<EndpointTap>& tap);

  // Which connection and end `endpoint` is (a transport Pipe, Dial or a listener of this network
  // returned); nullopt for any other transport.
  struct EndpointId {
    uint64_t connection = 0;
    int end = 0;  // 0: the dialer (Pipe's first), 1: the acceptor
    std::string connection_name;
  };
  std::optional<EndpointId> IdentifyEndpoint(const Transport& endpoint) const;

  // Connections, writes, faults and closes are also reported to `recorder` (null: not recorded).
  void set_recorder(Recorder* recorder) { recorder_ = recorder; }

  // Leak report: endpoints and listeners not closed, by name.
  std::vector<std::string> OpenEndpoints() const;

  struct Stats {
    uint64_t connections = 0;
    uint64_t bytes_written = 0;
    uint64_t segments = 0;
    uint64_t faults_planned = 0;
    uint64_t faults_struck = 0;
  };
  const Stats& stats() const { return stats_; }

  // Internal types, public so the .cc's helpers can name them.
  struct Connection;
  class Endpoint;
  class SimListener;

 private:
  friend class Endpoint;
  friend class SimListener;
  std::unique_ptr<Connection> NewConnection(absl::string_view name, std::optional<FaultPlan> plan);
  FaultPlan DrawFaultPlan();
  LinkProfile DrawLink();

  Env* env_;
  SimScheduler* scheduler_;  // env_'s scheduler: readers and writers park through it inline
  DecisionSource* decisions_;
  Trace* trace_;
  NetworkOptions options_;
  uint64_t next_connection_id_ = 1;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::map<std::string, SimListener*, std::less<>> listeners_;
  std::vector<SimListener*> all_listeners_;
  Stats stats_;
  Recorder* recorder_ = nullptr;
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_NETWORK_H_
