// The wire oracle: a per-stream protocol model checked on every frame each end of a connection
// sends and receives, in every simulated run.
//
// Scenarios wrap the transports they hand to impl/ (the dialled ones and the listener's
// accepted ones) in taps. A tap parses the bytes going through Write (what this end sends) and
// Read (what it receives) into frames and holds them against the rules of docs/protocol.md §2–§11 as drpc-cpp
// promises to follow them — stricter than what Go accepts, because our senders never need the
// latitude (a Go peer is never part of a simulated run):
//
//   every frame   known kind (WindowUpdate only in mux mode); the control bit on Cancel and
//                 WindowUpdate, never on Invoke/InvokeMetadata/Message/Close/CloseSend (a mux
//                 Error may carry it: an abortive one); stream ID != 0; message ID != 0 except
//                 WindowUpdate (== 0, one varint delta >= 1); Error/Cancel/Close/CloseSend are one
//                 frame; Close/CloseSend/Cancel are empty; an Error body decodes in the end's
//                 format; Invoke/InvokeMetadata/Message frames carry at most the sender's split size
//   packets       frames of a packet are contiguous per stream (upstream: on the whole
//                 connection) with one kind; a new packet's message ID is the previous + 1 on
//                 its stream (mux: a terminal packet may skip IDs of packets it dropped, and may
//                 abandon a partially sent Message); upstream: (stream, message) never decreases
//   client        nothing for a stream before its Invoke (optionally preceded by one
//                 InvokeMetadata); one Invoke; no Message after CloseSend; nothing after
//                 Close/Error/Cancel
//   server        never Invoke/InvokeMetadata; nothing for a stream it has not received a frame of;
//                 after CloseSend only a terminal packet; nothing after Close/Error/Cancel
//   flow control  (mux, this end's Options::flow) a message's first frame fits the sender's
//                 credit (the window plus the WindowUpdates it has read, minus the Message bytes
//                 it sent; later frames of the message may overdraw it); WindowUpdates only with
//                 flow control on, each at least the grant threshold, and never granting more
//                 than the Message bytes received on the stream
//
//   WireOracle oracle([&](std::string why) { ctx.Fail(FailureClass::kCorrectness, why); });
//   std::unique_ptr<Transport> t = oracle.Tap(std::move(dialled), "client 1", client_end);
//   std::unique_ptr<Listener> l = oracle.TapListener(std::move(listener), "server", server_end);
//
// The first violation is reported once (with the last frames of the stream concerned); the
// oracle then stops checking that end, so one bug does not cascade into a flood of reports.
//
// Each byte is parsed once. When both ends of a SimNetwork connection are tapped (with set_trace
// called, and no recorder on the run), the model of the writing end hands the frames it parsed to
// the reading end's model, which takes each one at the read that completes its bytes: the
// network delivers a prefix of what was written (faults stop or cut a direction short, never
// change, drop from the middle or reorder its bytes), so these are exactly the frames it would
// parse. A writing end that is poisoned keeps parsing for its peer; bytes that stop parsing are
// reported by the reader at the read that would have shown it the error; a reader tapped without
// its writer (or a writer without a tapped reader) parses as before. Taps must be made before
// the transport is used (as they always had to be: a model sees a stream from its first byte).
#ifndef DRPC_SIM_DRPC_WIRE_ORACLE_H_
#define DRPC_SIM_DRPC_WIRE_ORACLE_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "impl/env.h"
#include "impl/options.h"
#include "proto/error_codec.h"
#include "sim/simulation.h"

namespace drpc::sim {

// What the oracle must know about one end of a connection (from that end's impl Options).
struct WireEndConfig {
  bool client = true;                      // this end dialled: it sends Invokes
  bool mux = false;                        // Options::mux (both ends must agree)
  size_t split_bytes = 64 * 1024;          // Options::split_bytes of this end
  bool flow_control = false;               // mux and Options::flow.enabled of this end
  uint64_t stream_window_bytes = 2 << 20;  // Options::flow.stream_window_bytes of this end
  uint64_t grant_threshold_bytes = 1;      // Options::flow.grant_threshold_bytes of this end
  ErrorFormat error_format = ErrorFormat::kUpstream;  // Options::ErrorFormatOrDefault()

  // The configuration of an end that runs with `options`; `client`: it dialled.
  static WireEndConfig For(const Options& options, bool client);
};

class WireOracle {
 public:
  explicit WireOracle(absl::AnyInvocable<void(std::string)> on_violation);

  // Also logs every frame sent and received into `ctx`'s trace, when the trace is on (a replay
  // with --trace, or the ring of last lines a failing run prints), and feeds the run's recorder
  // (sim/recorder.h) when it has one: frames, stream labels, the stream a violation concerns.
  // Call before Tap: taps made earlier are not recorded.
  void set_trace(SimContext* ctx) { trace_ctx_ = ctx; }
  ~WireOracle();
  WireOracle(const WireOracle&) = delete;
  WireOracle& operator=(const WireOracle&) = delete;

  // Taps one end: a transport of the run's SimNetwork carries the model inside it and is
  // returned itself (SimNetwork::SetTap); any other transport is wrapped. The oracle must outlive
  // the returned transport.
  std::unique_ptr<Transport> Tap(std::unique_ptr<Transport> inner, std::string name,
                                 const WireEndConfig& config);
  // Wraps every transport `inner` accepts (named "<name>/<n>").
  std::unique_ptr<Listener> TapListener(std::unique_ptr<Listener> inner, std::string name,
                                        const WireEndConfig& config);

  struct Stats {
    uint64_t frames_sent = 0;
    uint64_t frames_received = 0;
    uint64_t window_updates_sent = 0;
    uint64_t flow_controlled_streams = 0;  // streams whose sends were held to a window
    uint64_t overdrafts = 0;               // Message frames that took a sender's credit below 0
    uint64_t violations = 0;
  };
  const Stats& stats() const { return stats_; }

  // Equivalence testing (wire_oracle_relay_test), process-wide: whether taps made from now on
  // relay frames between the two ends of a simulated connection (default true; see Tap), and a
  // probe into whose digest every model mixes every frame it checks as received (null: none).
  struct ReceivedProbe {
    uint64_t digest = 0;
    uint64_t relayed_frames = 0;  // of them, taken from a relay
    // Frames judged inline (set_full_checks_for_testing), sent and received.
    uint64_t inline_sent_frames = 0;
    uint64_t inline_received_frames = 0;
  };
  static void set_relay_for_testing(bool relay);
  static void set_received_probe_for_testing(ReceivedProbe* probe);
  // Whether models made from now on take the full checks for every frame (default false): no
  // inline judgement of a clean frame, sent or received. The fast paths promise the same
  // verdicts, state and reports; wire_oracle_full_checks_test holds them to it.
  static void set_full_checks_for_testing(bool full);

  // Internal (wire_end_model.h), public so that header can define them.
  class EndModel;
  struct Relay;

 private:
  friend class EndModel;
  void Violation(std::string why);

  // Relays of connections one end of which is tapped so far, by SimNetwork connection ID.
  struct ConnectionRelays {
    std::array<std::shared_ptr<Relay>, 2> direction;  // [end]: what that end writes
    int ends_tapped = 0;
  };
  std::map<uint64_t, ConnectionRelays> relays_;

  absl::AnyInvocable<void(std::string)> on_violation_;
  SimContext* trace_ctx_ = nullptr;
  Stats stats_;
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_DRPC_WIRE_ORACLE_H_
