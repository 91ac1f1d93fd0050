// The workload's ledger: what each call and each connection went through, written by the client
// callers and the server handlers as it happens, and the outcome oracle that judges each call
// against its own history (sim/drpc/workload.h explains the rules).
#ifndef DRPC_SIM_DRPC_WORKLOAD_LEDGER_H_
#define DRPC_SIM_DRPC_WORKLOAD_LEDGER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "impl/conn.h"
#include "impl/env.h"
#include "impl/stream.h"
#include "sim/drpc/workload.h"
#include "sim/drpc/workload_plan.h"

namespace drpc::sim {

// RpcTable::Add default-initialises records (no zero-fill first): every scalar member, here and
// in the structs it holds (RpcPlan, at_deadline), needs its own initialiser, or it holds garbage.
struct RpcRecord {
  RpcPlan plan;
  // EncodePlanInto(plan) as the client sent it in the call's metadata (the plan never changes
  // after): the handler checks the text it got against this, byte for byte. Left uninitialised on
  // purpose: only the first plan_text_bytes are ever read.
  char plan_text[kPlanTextMaxBytes];
  uint8_t plan_text_bytes = 0;
  static_assert(kPlanTextMaxBytes <= UINT8_MAX);
  absl::string_view PlanText() const { return absl::string_view(plan_text, plan_text_bytes); }
  // Encodes `plan` into plan_text (by `encoder`, which gives EncodePlanInto's text); returns it.
  absl::string_view EncodePlanText(PlanTextEncoder& encoder) {
    plan_text_bytes = static_cast<uint8_t>(encoder.Encode(plan, plan_text).size());
    return PlanText();
  }
  size_t conn = 0;  // index into Ledger::conns
  // Client side.
  // What the caller is doing (liveness reports): a phrase, and the message it concerns if any
  // ("sending request 3"); no string is built per step.
  absl::string_view step = "not started";
  std::optional<uint32_t> step_message;
  void SetStep(absl::string_view what, std::optional<uint32_t> message = std::nullopt) {
    step = what;
    step_message = message;
  }
  bool finished = false;
  absl::Status status;               // the call's outcome
  uint32_t sent = 0;                 // request messages Send accepted
  uint32_t received = 0;             // response messages received and verified
  bool cancel_requested = false;     // the caller cancelled the call's context
  // The caller watches the context's end (Ledger::OnContextEnded); every call it may cancel is.
  bool context_watched = false;
  // At the caller's cancel: the handler had already returned, or the call's connection was
  // already broken (so its end may be on its way: the cancel may find the stream ended).
  bool ended_before_cancel = false;
  bool outcome_decided = false;      // the caller had its last answer (it may still be tidying up)
  // Streaming calls: the client's stream while the call runs (released when it returns), and
  // whether the caller's cancel reached it (Stream::cancelled_locally: it had not finished).
  std::shared_ptr<Stream> stream;
  bool stream_opened = false;
  bool cancel_reached_stream = false;
  bool decided_before_cancel = false;  // outcome_decided at the caller's cancel
  bool cancel_noticed_late = false;    // the manager reacted from a timer (a reply may come first)
  // When the deadline ended the context (before any cancel): what had already ended the call, and
  // the count of late notices just before the manager saw the context end (it sees it after the
  // workload does). A later cancel changes nothing and is judged as of this moment.
  struct {
    bool fired = false;
    bool ended = false;
    bool decided = false;
    uint64_t late_notices = 0;
  } at_deadline;
  bool deadline_set = false;
  bool abandoned = false;            // the caller Close()d the stream midway
  bool closed_send_early = false;
  bool send_refused = false;         // a live stream refused a Send; the caller closed it
  bool conn_ended_first = false;     // its connection had ended when the outcome came
  // Server side.
  int handler_runs = 0;
  bool handler_done = false;
  absl::Status handler_status;
  uint32_t handler_received = 0;
  uint32_t handler_sent = 0;

  std::string Describe() const;
};

struct ConnRecord {
  std::unique_ptr<Conn> conn;
  Transport* endpoint = nullptr;   // the simulated endpoint under the taps (fault queries)
  bool closed_by_workload = false;
  bool cancels_may_close = false;  // upstream: a cancel on it may close it (docs/protocol.md §7.7)
  // A call on it sends a message over the packet limit of an upstream end, which drops the
  // connection for it (Go's "data overflow").
  bool overflow_may_close = false;
};

// The calls by ID (1, 2, ...) in chunks: a record never moves (callers and handlers keep
// references to theirs) and a new call allocates once per kChunkCount calls, not once each.
class RpcTable {
 public:
  static constexpr size_t kChunkCount = 64;

  // The record of the next ID, which is size() afterwards.
  RpcRecord& Add() {
    // `new Chunk` default-initialises: each record runs its own initialisers, and the chunk is
    // not zero-filled first (make_unique value-initialises: a memset of the whole chunk).
    if (size_ % kChunkCount == 0) chunks_.push_back(std::unique_ptr<Chunk>(new Chunk));
    return (*chunks_.back())[size_++ % kChunkCount];
  }
  // The record of call `id`, or null if there is none.
  RpcRecord* Find(uint64_t id) { return id == 0 || id > size_ ? nullptr : &At(id - 1); }
  size_t size() const { return size_; }

  // In ID order.
  template <typename Table, typename Record>
  class Iterator {
   public:
    Iterator(Table* table, size_t index) : table_(table), index_(index) {}
    Record& operator*() const { return table_->At(index_); }
    Iterator& operator++() {
      ++index_;
      return *this;
    }
    bool operator!=(const Iterator& other) const { return index_ != other.index_; }

   private:
    Table* table_;
    size_t index_;
  };
  Iterator<RpcTable, RpcRecord> begin() { return {this, 0}; }
  Iterator<RpcTable, RpcRecord> end() { return {this, size_}; }
  Iterator<const RpcTable, const RpcRecord> begin() const { return {this, 0}; }
  Iterator<const RpcTable, const RpcRecord> end() const { return {this, size_}; }

 private:
  using Chunk = std::array<RpcRecord, kChunkCount>;
  RpcRecord& At(size_t index) { return (*chunks_[index / kChunkCount])[index % kChunkCount]; }
  const RpcRecord& At(size_t index) const {
    return (*chunks_[index / kChunkCount])[index % kChunkCount];
  }

  std::vector<std::unique_ptr<Chunk>> chunks_;
  size_t size_ = 0;
};

class Ledger {
 public:
  Ledger(SimContext& ctx, const WorkloadConfig& config, const Options& client,
         const Options& server);

  // NewRpc and Planned are inline: every call pays for them, and their frames cost as much as
  // their bodies.
  RpcRecord& NewRpc(size_t conn) {
    RpcRecord& rec = rpcs_.Add();
    rec.plan.id = rpcs_.size();
    rec.conn = conn;
    ++report_.rpcs;
    // Counted as each call is made: a failed run stops inside the workload and still reports them.
    if (rpcs_counted_ == nullptr) rpcs_counted_ = &ctx_->Counter("rpcs");
    ++*rpcs_counted_;
    return rec;
  }
  // The caller drew `rec`'s plan (before its first message goes out).
  void Planned(const RpcRecord& rec) {
    if (OverflowsAnUpstreamEnd(rec.plan)) conns_[rec.conn].overflow_may_close = true;
  }
  RpcRecord* Find(uint64_t id) { return rpcs_.Find(id); }
  std::vector<ConnRecord>& conns() { return conns_; }
  const RpcTable& rpcs() const { return rpcs_; }

  void set_shutdown_started() { shutdown_started_ = true; }
  bool shutdown_started() const { return shutdown_started_; }

  // The caller cancels `rec` now (call.Cancel()), recording what had already ended it and whether
  // its connection's manager noticed the cancel late (the chaos sites *.notice_cancel_late).
  void CancelCall(RpcRecord& rec, CallContext& call);
  // The call's context ended (its deadline, or the caller's cancel): called by the workload's own
  // callback on the context, which runs before the manager's.
  void OnContextEnded(RpcRecord& rec);
  // Judges a finished call (from its caller's fiber, right after the outcome). Inline for the
  // common case, an undisturbed OK call: what the full rules come to for it (no cancel rule
  // applies, no size boundary is counted, the size rule holds), without their calls.
  void CheckOutcome(RpcRecord& rec) {
    if (rec.status.ok() && !rec.abandoned && !rec.cancel_requested && !rec.at_deadline.fired &&
        !config_.draw_size_limits && !OkCallPassedALimit(rec)) {
      return JudgeOk(rec);
    }
    CheckOutcomeInFull(rec);
  }
  // Judges what the handlers did, once every call has finished.
  void CheckHandlers();
  // A connection that ended before the workload closed it must have had a cause.
  void CheckConnectionEnd(size_t index);

  // Whether `status` is what flow control may do to a call under this run's configuration: a
  // credit stall (mismatched ends, or a stall timeout that races grants) or a receive queue over
  // its cap (mismatched ends). Then even an undisturbed call may fail so.
  bool ExplainedByFlowControl(const absl::Status& status) const;

  // A violation naming the call, with its history.
  void Fail(const RpcRecord& rec, absl::string_view why);

  WorkloadReport& report() { return report_; }

  // Whether the server's stream limit may refuse a call of this workload: a server stream
  // outlives its client call by the time the client's last packet takes to arrive.
  bool RefusalPossible() const;
  // Whether `status` is the server's receive stall, failing a call whose handler reads: with a
  // stall timeout shorter than the longest a scheduler may pass a runnable fiber over (a policy's
  // interleave window), a handler that reads can look like one that does not.
  bool StallOfAReadingHandlerPossible(const absl::Status& status) const;

 private:
  bool ConnectionBroken(size_t index) const;
  // Whether something other than the plan may have failed the call's handler: the caller, a
  // fault, a shutdown, a stall, flow control or a message over a limit.
  bool Disturbed(const RpcRecord& rec) const;
  uint64_t LateCancelNotices() const;
  // The handler had returned or the call's connection was broken or closed.
  bool EndedAlready(const RpcRecord& rec) const;
  // The cancel rule: a call cancelled before it returned ends Canceled unless its stream had
  // already ended. Returns false (after Fail) when the outcome breaks it.
  bool CheckCancelRule(const RpcRecord& rec);
  // Judges a call that ended with a remote error of DRPC code `code`: a refusal, a stall the
  // server reported, or (the remote-error rule) exactly the error its handler returned.
  void CheckRemoteError(const RpcRecord& rec, uint64_t code);
  // The cause rule for "closed": a call whose own connection a fault broke says so.
  void CheckClosedCause(const RpcRecord& rec);
  // Whether a receive stall can legitimately fail a call (no flow control on the streams).
  bool StallPossible() const;
  // Whether the server's stall timeout may fail this call because its handler never reads.
  bool NeverReadStallPossible(const RpcRecord& rec) const;
  // Whether the server's stall timeout is short enough to fail a stream whose handler is merely
  // blocked in Send (a slow link), with no cycle.
  bool ServerStallPossible() const;
  // Only one end runs flow control (docs/protocol.md §17.5): a sender may stall for credit, a
  // flow-controlled receiver may see its queue overrun.
  bool FlowMismatch() const;
  // Whether one of the call's messages is over the limit of the end that receives it.
  bool OverSizeLimit(const RpcPlan& plan) const;
  // Whether one of them is over the packet limit of an upstream end (which then drops the
  // connection, rather than failing only the stream as a mux end does).
  bool OverflowsAnUpstreamEnd(const RpcPlan& p) const {
    return (!server_.mux && SendsRequests(p) && p.request_size_max > server_.packet_max_bytes) ||
           (!client_.mux && SendsResponses(p) && p.response_size_max > client_.packet_max_bytes);
  }
  // Unary and server-stream calls send one request; a bidi handler echoes each request.
  static bool SendsRequests(const RpcPlan& p) { return p.requests > 0; }
  static bool SendsResponses(const RpcPlan& p) {
    return p.type == RpcType::kBidi ? p.requests > 0 : p.responses > 0;
  }
  // Whether `status` is an upstream end's "data overflow" (its reader's, or the server's seen as
  // the connection's end) on a connection that one of its calls overflowed.
  bool ExplainedByOverflow(const RpcRecord& rec) const;
  // Judges the call against the message limits, and counts the boundaries it met. Returns true
  // when the outcome was the size error (then judged).
  bool CheckSizeLimits(const RpcRecord& rec);
  // CheckOutcome's rules, every case.
  void CheckOutcomeInFull(RpcRecord& rec);
  // For an OK call: whether one of its messages was over the limit of the end that received it.
  bool OkCallPassedALimit(const RpcRecord& rec) const {
    const RpcPlan& p = rec.plan;
    // An OK call sent rec.sent requests, and got a response to each (bidi) or its planned ones.
    const bool responded = p.type == RpcType::kBidi ? rec.sent > 0 : p.responses > 0;
    return (responded && p.response_size_max > client_receive_limit_) ||
           (rec.sent > 0 && p.request_size_max > server_receive_limit_);
  }
  // The verdict on a call that ended OK once no other rule applies: counted, and a failure if its
  // handler was planned to fail. Shared by CheckOutcome's fast path and its full rules.
  void JudgeOk(RpcRecord& rec) {
    ++report_.ok;
    if (rec.plan.ending != Ending::kOk) {
      Fail(rec, "succeeded although its handler was planned to fail");
    }
  }

  SimContext* ctx_;
  WorkloadConfig config_;
  Options client_;
  Options server_;
  // ReceiveLimit of each end (workload_ledger.cc), fixed with the Options: checked on every call.
  size_t client_receive_limit_;
  size_t server_receive_limit_;
  RpcTable rpcs_;
  std::vector<ConnRecord> conns_;
  bool shutdown_started_ = false;
  WorkloadReport report_;
  uint64_t* rpcs_counted_ = nullptr;  // the run's counter "rpcs", once the first call is made
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_DRPC_WORKLOAD_LEDGER_H_
