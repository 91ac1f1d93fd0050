// The workload's two sides: the handlers a server runs (a Router for "/sim.Load/*") and the
// client calls, each acting out the RpcPlan in the call's metadata and writing the Ledger.
#ifndef DRPC_SIM_DRPC_WORKLOAD_CALLS_H_
#define DRPC_SIM_DRPC_WORKLOAD_CALLS_H_

#include <memory>
#include <vector>

#include "proto/metadata.h"

#include "impl/router.h"
#include "impl/stream.h"
#include "sim/drpc/workload.h"
#include "sim/drpc/workload_ledger.h"
#include "sim/simulation.h"

namespace drpc::sim {

// Handlers for the four shapes. They verify every request, act out the plan, and record what
// they did in `ledger` (which must outlive the router's use).
Router LoadRouter(SimContext& ctx, Ledger& ledger,
                  WorkloadConfig::Sabotage sabotage = WorkloadConfig::Sabotage::kNone);

class Caller {
 public:
  Caller(SimContext& ctx, const WorkloadConfig& config, Ledger& ledger)
      : ctx_(&ctx), config_(&config), ledger_(&ledger) {}

  // Draws a plan for a new call on connection `conn` and makes the call; judges its outcome.
  void MakeCall(size_t conn);

  // A call with no disturbance and an OK ending, which must succeed within `bound` (liveness
  // after healing): a timeout is a liveness failure, any other failure a correctness failure.
  void MakeCleanCall(size_t conn, RpcType type, Duration bound);
  // A call with no disturbance of its own whose outcome the ordinary oracle judges (its
  // connection may carry a fault); it must end within `bound` (else a liveness failure).
  void MakeUndisturbedCall(size_t conn, RpcType type, Duration bound);

  // Client streams handed out during the run (leak check: all expire once the run is over).
  std::vector<std::weak_ptr<Stream>>& streams() { return streams_; }

 private:
  // DrawPlan, AttachPlan, TakePlanBack and CallByType are inline in the calls they serve
  // (workload_calls.cc): each call pays for them, and their frames cost as much as their bodies.
  // Draws the plan of a new call into `plan`, which holds its ID and every other field's default.
  void DrawPlan(RpcPlan& plan);
  absl::Status Unary(Conn& conn, CallContext& call, RpcRecord& rec);
  absl::Status ClientStream(Conn& conn, CallContext& call, RpcRecord& rec);
  absl::Status ServerStream(Conn& conn, CallContext& call, RpcRecord& rec);
  absl::Status Bidi(Conn& conn, CallContext& call, RpcRecord& rec);
  absl::Status CallByType(Conn& conn, CallContext& call, RpcRecord& rec);
  // Sends the plan's requests (fewer if the caller stops early). Returns the first failure;
  // EOF means the stream ended and Recv tells why.
  absl::Status SendRequests(Stream& s, CallContext& call, RpcRecord& rec);
  // Receives responses until EOF, verifying each; OK at a clean EOF.
  absl::Status ReceiveAll(Stream& s, RpcRecord& rec, uint32_t first_index);
  // A disturbance the caller may inflict before a step: cancel, abandon. True if abandoned.
  bool MaybeDisturb(Stream& s, CallContext& call, RpcRecord& rec);
  // The chance, per step of a stream, that MaybeDisturb cancels the call; 0 means it never does
  // (then a call without a cancel timer or deadline has no context end to watch).
  uint32_t InlineCancelPerMille() const { return config_->cancel_per_mille / 4; }
  void Think();
  // Puts `rec`'s plan text into the call's metadata, moving in a spare map when there is one:
  // its one node and a value whose buffer already fits most texts, so a call's metadata costs no
  // allocation. TakePlanBack keeps the map for the next call (before `call` ends).
  void AttachPlan(CallContext& call, RpcRecord& rec);
  void TakePlanBack(CallContext& call);

  SimContext* ctx_;
  const WorkloadConfig* config_;
  Ledger* ledger_;
  std::vector<std::weak_ptr<Stream>> streams_;
  // At most one per call in flight at once (one per caller fiber).
  std::vector<Metadata> spare_plan_metadata_;
  PlanTextEncoder plan_encoder_;
  // A call without disturbances of its own, ending within `bound`.
  RpcRecord& RunFixedCall(size_t conn, RpcType type, Duration bound);
  bool clean_ = false;  // no disturbances (MakeCleanCall)
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_DRPC_WORKLOAD_CALLS_H_
