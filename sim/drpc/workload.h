// RPC workloads for protocol scenarios: clients and a server built from impl/ (Conn, Server,
// Router) on the simulated network, driven by decisions on the tape, with every oracle active.
//
//   WorkloadConfig w;
//   w.mode = WorkloadMode::kMux;
//   w.connections = 2;
//   w.callers_per_connection = 4;
//   w.cancel_per_mille = 200;
//   RunWorkload(ctx, w);   // inside a scenario body; failures go to ctx.Fail
//
// What a run does: draws both ends' Options from their legal ranges (swarm testing, unless `swarm`
// is off) and the network's link and fault profiles; starts a server and the client connections,
// every transport tapped by the wire oracle (sim/drpc/wire_oracle.h); each caller fiber makes
// `rpcs_per_caller` calls of a random shape. Each call carries its plan — what the client will send
// and what the handler must answer — in its metadata, so both sides act out one plan. Every message
// carries (rpc, direction, index) and bytes derived from them, so the receiver can tell a message
// of the wrong stream, a duplicate, a reordering or a corruption.
//
// Oracles, on every run:
//   * the wire oracle on every frame both ends send and receive;
//   * isolation: each message is exactly the next one of its own RPC;
//   * outcomes: each call ends exactly once, with a status its own history allows (an RPC nothing
//     disturbed ends exactly as planned; Canceled only if it was cancelled; "closed" only if its
//     connection ended; a remote error after its handler failed only with exactly that handler's
//     code and text, whatever else disturbed the call), cross-checked with what the handler did;
//     in mux mode (and upstream with soft cancel) another call's cancel, error or close never
//     changes this call's outcome, and a connection ends only for a cause (a fault, a close, a
//     shutdown, an upstream hard cancel, a message over an upstream end's packet limit);
//   * liveness after healing: faults stop at `heal_after`; every call must end, none waiting
//     `liveness_bound` after that without another call starting or ending meanwhile, and a fresh
//     connection must then serve calls;
//   * leaks: every client stream object is released once the run is over (plus the simulator's
//     own fiber, timer and transport checks).
#ifndef DRPC_SIM_DRPC_WORKLOAD_H_
#define DRPC_SIM_DRPC_WORKLOAD_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "impl/options.h"
#include "impl/time.h"
#include "sim/simulation.h"

namespace drpc::sim {

enum class WorkloadMode {
  kUpstream,           // both ends in upstream-compatible mode
  kMux,                // both ends in mux mode
  kUpstreamClientMuxServer,  // an upstream client against a mux server (must work, docs/protocol.md §11.6)
};

absl::string_view WorkloadModeName(WorkloadMode mode);

struct WorkloadConfig {
  WorkloadMode mode = WorkloadMode::kMux;
  int connections = 1;
  int callers_per_connection = 2;
  int rpcs_per_caller = 4;
  // Relative weights of the four RPC shapes.
  uint32_t unary_weight = 1;
  uint32_t client_stream_weight = 1;
  uint32_t server_stream_weight = 1;
  uint32_t bidi_weight = 1;
  // Messages per direction of a streaming call: messages_min..messages_max.
  uint32_t messages_min = 0;
  uint32_t messages_max = 4;
  // Each call draws one of these as the largest message it sends either way; > 64 KiB makes
  // frames split at the default split size.
  std::vector<size_t> message_sizes = {0, 1, 16, 300, 4096};
  Duration think_max = Duration::Millis(2);

  // Per call, per mille.
  uint32_t cancel_per_mille = 0;            // the caller cancels at a random moment
  Duration cancel_at_max = Duration::Millis(20);  // ... within this long after the call starts
  Duration deadline_max = Duration::Millis(20);   // deadlines are 1 ns .. this
  uint32_t deadline_per_mille = 0;          // the call gets a short deadline
  uint32_t close_send_early_per_mille = 0;  // client/bidi: stop sending before the plan's end
  uint32_t abandon_per_mille = 0;           // the caller Close()s the stream midway
  uint32_t handler_error_per_mille = 0;     // the handler fails (after some messages)
  uint32_t wait_for_cancel_per_mille = 0;   // the handler waits for its context; the caller
                                            // then always cancels or sets a deadline
  uint32_t never_reads_per_mille = 0;       // client/bidi: the handler never reads a request
                                            // (Ending::kNeverReads); the caller then always
                                            // cancels or sets a deadline
  // Per connection: a fiber closes the connection at a random moment.
  uint32_t conn_close_per_mille = 0;
  // Per run: the server shuts down (gracefully, with a short grace) at a random moment.
  uint32_t server_shutdown_per_mille = 0;
  // Per connection: a fault plan (reset, FIN, read/write error, stall) at a random offset.
  uint32_t fault_per_mille = 0;
  // Segmentation, latency and bandwidth drawn per connection.
  bool draw_links = true;
  // Draw both ends' Options from their legal ranges; else use `client`/`server` as given.
  bool swarm = true;
  // After the Options: set both ends' message limit (mux: the stream's message maximum; upstream:
  // packet_max_bytes) at the largest of `message_sizes` (if >= 200 bytes) plus 1, exactly it, or
  // minus 1 — the last only where the receiving end is mux, whose oversize message fails just its
  // stream (an upstream end drops the connection on one, as Go does). Answer 0: the limit + 1.
  bool draw_size_limits = false;
  Options client;
  Options server;
  // Applied to both ends' Options after they were drawn or copied (a scenario pins what its
  // checks depend on, e.g. a stream limit above its concurrency).
  std::function<void(Options& client, Options& server)> adjust;
  // Every call must succeed (scenarios whose disturbances must leave every call intact).
  bool expect_all_ok = false;

  // Test-only: makes the handlers misbehave, so tests can prove that the oracles catch it.
  enum class Sabotage {
    kNone,
    kCorruptUnaryReply,    // flips a byte of every unary reply
    kIgnorePlannedError,   // handlers succeed where the plan says fail
    kWrongErrorCode,       // planned errors carry code + 1
    kDropLastResponse,     // server streams send one message fewer than planned
    // A planted race: unary handlers keep their call's ID in state all handlers share, pause
    // 20 µs, and reply from it, so a reply goes to the wrong call only when another unary handler
    // starts in between (concurrent calls in some interleavings; tests of the shrinker use it).
    kSharedReplyState,
    // The caller's cancels never reach the call (as if the client ignored its context): a call
    // cancelled while live then ends with whatever the server sent (the cancel rule catches it).
    kIgnoreCancels,
    // The server's Error for a failed handler carries other text than the handler returned
    // (the remote-error rule compares the two before any other rule looks at the call).
    kRewriteHandlerErrors,
  };
  Sabotage sabotage = Sabotage::kNone;

  Duration heal_after = Duration::Millis(300);
  Duration liveness_bound = Duration::Seconds(60);
  // After the load, a fresh connection must complete a unary and a streaming call.
  bool probe_after_heal = true;
};

struct WorkloadReport {
  uint64_t rpcs = 0;
  uint64_t ok = 0;
  uint64_t remote_errors = 0;
  uint64_t cancelled = 0;
  uint64_t closed = 0;
  uint64_t refused = 0;
  uint64_t stalled = 0;  // calls failed by a receive stall, or by mismatched flow control (ledger)
  uint64_t too_large = 0;  // calls failed by a message over the receiving end's limit
  uint64_t connections_ended = 0;  // connections that ended before the workload closed them
};

// Runs the workload inside a scenario (on the main fiber); violations go to ctx.Fail. Situations
// it can tell apart are reported with ctx.Reach ("workload.*").
WorkloadReport RunWorkload(SimContext& ctx, const WorkloadConfig& config);

// Transport failure at every byte offset of a small exchange (exhaustive, not sampled): first a
// clean connection measures the bytes of one unary and one bidi call; then, for each fault kind
// (reset, FIN, write error, read error), each direction and each offset from 0 to that length,
// a fresh connection with exactly that fault makes the same calls. Every oracle applies to each
// connection: no hang, outcomes only "closed" where the fault struck, the wire model, leaks.
WorkloadReport RunFaultAtEveryOffset(SimContext& ctx, WorkloadMode mode);

// Draws legal Options for both ends of `mode` (swarm testing). Split sizes, windows, queue
// bounds, batching and stream limits range from their smallest legal values to the defaults;
// with messages over 16 KiB (`message_max_bytes`) the smallest windows and splits are left out,
// since a 1-byte window moves a large message one round trip per byte.
void DrawOptions(SimContext& ctx, WorkloadMode mode, size_t message_max_bytes, Options& client,
                 Options& server);

}  // namespace drpc::sim

#endif  // DRPC_SIM_DRPC_WORKLOAD_H_
