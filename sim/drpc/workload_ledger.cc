#include "sim/drpc/workload_ledger.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "impl/errors.h"
#include "proto/base/check.h"
#include "sim/drpc/workload_situations.h"

namespace drpc::sim {

std::string RpcRecord::Describe() const {
  std::string d = absl::StrCat("rpc ", plan.id, " (", RpcTypeName(plan.type), ", conn ", conn,
                               ") plan {", EncodePlan(plan), "}\n    client: step \"", step);
  if (step_message.has_value()) absl::StrAppend(&d, " ", *step_message);
  absl::StrAppend(&d, "\", sent ", sent, ", received ", received);
  if (cancel_requested) d += ", cancelled";
  if (deadline_set) d += ", deadline set";
  if (abandoned) d += ", abandoned";
  if (closed_send_early) d += ", closed send early";
  if (send_refused) d += ", a Send refused (stream closed)";
  if (conn_ended_first) d += ", connection ended first";
  if (finished) absl::StrAppend(&d, ", outcome ", status.ToString());
  absl::StrAppend(&d, "\n    handler: runs ", handler_runs, ", received ", handler_received,
                  ", sent ", handler_sent);
  if (handler_done) absl::StrAppend(&d, ", returned ", handler_status.ToString());
  return d;
}

namespace {

// The largest message an end receives: its stream's message maximum (mux), or its packet limit.
size_t ReceiveLimit(const Options& o) { return o.mux ? o.MuxMessageMaxBytes() : o.packet_max_bytes; }

}  // namespace

Ledger::Ledger(SimContext& ctx, const WorkloadConfig& config, const Options& client,
               const Options& server)
    : ctx_(&ctx),
      config_(config),
      client_(client),
      server_(server),
      client_receive_limit_(ReceiveLimit(client)),
      server_receive_limit_(ReceiveLimit(server)) {}

void Ledger::Fail(const RpcRecord& rec, absl::string_view why) {
  // The call's stream is known to the recorder by the plan in its metadata.
  if (Recorder* r = ctx_->recorder(); r != nullptr) r->FocusMetadata(kPlanMetadataKey, EncodePlan(rec.plan));
  ctx_->Fail(FailureClass::kCorrectness,
             absl::StrCat("outcome oracle: ", why, "\n  ", rec.Describe(), "\n  modes: client ",
                          client_.mux ? "mux" : "upstream", client_.soft_cancel ? " soft-cancel" : "",
                          ", server ", server_.mux ? "mux" : "upstream"));
}

bool Ledger::ConnectionBroken(size_t index) const {
  const ConnRecord& c = conns_[index];
  if (c.closed_by_workload || shutdown_started_ || c.overflow_may_close) return true;
  std::optional<FaultPlan> fault = ctx_->network().StruckFault(*c.endpoint);
  return fault.has_value() && fault->kind != FaultPlan::Kind::kStall;
}

namespace {

// The error impl/stream.cc gives a stream whose receive queue stayed full for recv_stall_timeout.
constexpr absl::string_view kReceiveStallText = "receive queue full for";

bool IsReceiveStall(const absl::Status& s) {
  return absl::IsResourceExhausted(s) && absl::StrContains(s.message(), kReceiveStallText);
}

// What flow control may do to a call, here or (as a remote error) at the other end: a sender
// stalled for credit (impl/mux_flow.cc), a receive queue over its cap (impl/stream.cc).
bool IsCreditStall(const absl::Status& s) {
  return absl::IsResourceExhausted(s) && absl::StartsWith(s.message(), "flow-control credit stall");
}
bool IsCapOverrun(const absl::Status& s) {
  return absl::IsResourceExhausted(s) && absl::StartsWith(s.message(), "receive queue cap exceeded");
}

// The stream-scoped error of a message over the receiving end's limit, here or from the peer
// (proto/error_codec.cc MessageTooLargeErrorText; the mux sender's own check says the same).
// The error an upstream end's reader fails its connection with for a packet over its limit
// (proto/frame.cc, proto/upstream_assembler.cc).
constexpr absl::string_view kDataOverflowText = "data overflow";

bool IsMessageTooLarge(const absl::Status& s) {
  return absl::StrContains(s.message(), "message too large");
}

// A credit-stall timeout this short can fire while a grant is merely on its way.
constexpr Duration kStallTimeoutRacesGrants = Duration::Millis(100);

}  // namespace

bool Ledger::StallPossible() const {
  // Without flow control every buffer on the path is bounded but nothing stops a sender, so two
  // streams can block each other across the connection: A's handler blocks in Send (the client's
  // reader is not reading the transport), the client's reader waits for room in B's full queue,
  // B's caller blocks in Send (the server's reader is not reading), and the server's reader waits
  // for room in A's full queue. The receive stall timeout is what breaks such a cycle (impl/
  // README.md, "Receive buffering"); with tiny swarm-drawn queues it happens. An end with flow
  // control on never makes its reader wait for a stream (its queues fail over their cap), so no reader ever
  // waits; so a cycle needs both ends without it, and a stall with either end on is a bug.
  return !(client_.mux && (client_.flow.enabled || server_.flow.enabled));
}

bool Ledger::NeverReadStallPossible(const RpcRecord& rec) const {
  // A handler that never reads needs no cycle: its own queue fills, and the server's reader
  // waits for it unless the server's streams are flow-controlled (then the client's sender is
  // held to a window, or overruns the cap when it ignores flow control: ExplainedByFlowControl).
  return rec.plan.ending == Ending::kNeverReads && !(server_.mux && server_.flow.enabled);
}

bool Ledger::ServerStallPossible() const {
  // A handler blocked in Send behind a slow link stops reading its stream; with a stall timeout
  // shorter than such a wait, the server's reader fails the stream (no cycle needed). Only ends
  // whose streams are not flow-controlled make their reader wait.
  return !(server_.mux && server_.flow.enabled) &&
         server_.recv_stall_timeout < kStallTimeoutRacesGrants;
}

bool Ledger::StallOfAReadingHandlerPossible(const absl::Status& status) const {
  return absl::StrContains(status.message(), kReceiveStallText) && ServerStallPossible();
}

bool Ledger::FlowMismatch() const {
  return client_.mux && client_.flow.enabled != server_.flow.enabled;
}

bool Ledger::ExplainedByFlowControl(const absl::Status& status) const {
  if (!client_.mux) return false;
  // Matched ends never overrun each other's cap; a stall needs a peer that never grants, or a
  // timeout that races the grants.
  if (IsCapOverrun(status)) return FlowMismatch();
  if (!IsCreditStall(status)) return false;
  const bool flow = client_.flow.enabled || server_.flow.enabled;
  const Duration shortest = std::min(client_.credit_stall_timeout, server_.credit_stall_timeout);
  return FlowMismatch() || (flow && shortest < kStallTimeoutRacesGrants);
}

bool Ledger::RefusalPossible() const {
  if (!server_.mux) return false;
  // A server stream outlives its client call by the time the client's last packet takes to
  // arrive, so a connection can briefly hold up to twice its callers' streams.
  const size_t streams_max = 2 * static_cast<size_t>(config_.callers_per_connection) + 2;
  return server_.concurrent_streams_max_count < streams_max;
}

uint64_t Ledger::LateCancelNotices() const {
  uint64_t n = 0;
  for (absl::string_view site : {"mux.notice_cancel_late", "upstream.notice_cancel_late"}) {
    auto it = ctx_->chaos().fired().find(site);
    if (it != ctx_->chaos().fired().end()) n += it->second;
  }
  return n;
}

bool Ledger::EndedAlready(const RpcRecord& rec) const {
  return rec.handler_done || rec.outcome_decided || ConnectionBroken(rec.conn) ||
         conns_[rec.conn].conn->closed().IsSet();
}

void Ledger::OnContextEnded(RpcRecord& rec) {
  if (rec.cancel_requested || rec.finished) return;
  rec.at_deadline.fired = true;
  rec.at_deadline.ended = EndedAlready(rec);
  rec.at_deadline.decided = rec.outcome_decided;
  rec.at_deadline.late_notices = LateCancelNotices();
}

void Ledger::CancelCall(RpcRecord& rec, CallContext& call) {
  // The watch records what the context's end may do (an upstream cancel may close the
  // connection): a cancel it misses would be judged against a history without it.
  DRPC_CHECK(rec.context_watched) << "rpc " << rec.plan.id << ": cancelled but not watched";
  rec.cancel_requested = true;
  if (rec.at_deadline.fired) {
    // The deadline ended the context first: this cancel is a no-op, and what the manager did with
    // the context's end (at once, or late from a timer) happened at the deadline.
    ctx_->Reach(situations::kWorkloadCancelFoundTheDeadlinePassed);
    rec.ended_before_cancel = rec.at_deadline.ended;
    rec.decided_before_cancel = rec.at_deadline.decided;
    rec.cancel_noticed_late = LateCancelNotices() > rec.at_deadline.late_notices;
    return;
  }
  rec.ended_before_cancel = EndedAlready(rec);
  rec.decided_before_cancel = rec.outcome_decided;
  // The manager reacts to the context inside Cancel(), now or from a timer.
  const uint64_t late = LateCancelNotices();
  if (config_.sabotage != WorkloadConfig::Sabotage::kIgnoreCancels) call.Cancel();
  rec.cancel_noticed_late = LateCancelNotices() > late;
}

bool Ledger::CheckCancelRule(const RpcRecord& rec) {
  const absl::Status& s = rec.status;
  const bool by_context =
      (absl::IsCancelled(s) || absl::IsDeadlineExceeded(s)) && !RemoteErrorCode(s).has_value();
  if (by_context) {
    if (absl::IsCancelled(s)) ctx_->Reach(situations::kWorkloadCancelWon);
    return true;
  }
  // A cancel that finds the stream live ends it (Stream::Cancel): whatever arrives afterwards, the
  // caller hears Canceled, through every layer (Recv, Send, Invoke's CallError).
  if (rec.cancel_reached_stream && !rec.decided_before_cancel) {
    Fail(rec, absl::StrCat("the caller's cancel or deadline reached its live stream before the "
                           "call returned, yet the call ended ", s.ToString(),
                           " instead of Canceled or DeadlineExceeded"));
    return false;
  }
  if (rec.plan.type == RpcType::kUnary || !rec.stream_opened) {
    // Invoke's stream is not the workload's to see: what may have ended the call before the
    // cancel reached it is what the ledger knows — its handler had returned or its connection was
    // broken when the caller cancelled, the manager noticed the cancel late, or a refusal (which
    // needs no handler, and whose arrival the ledger cannot time).
    const bool refused = RemoteErrorCode(s).has_value() && absl::StartsWith(s.message(), kRefusedPrefix);
    if (!rec.ended_before_cancel && !rec.cancel_noticed_late && !(refused && RefusalPossible())) {
      Fail(rec, absl::StrCat("cancelled or past its deadline before it returned, while its "
                             "handler ran and its connection was sound, yet the call ended ",
                             s.ToString(), " instead of Canceled or DeadlineExceeded"));
      return false;
    }
  }
  ctx_->Reach(situations::kWorkloadCancelCameAfterTheEnd);
  return true;
}

bool Ledger::OverSizeLimit(const RpcPlan& p) const {
  return (SendsRequests(p) && p.request_size_max > server_receive_limit_) ||
         (SendsResponses(p) && p.response_size_max > client_receive_limit_);
}

bool Ledger::ExplainedByOverflow(const RpcRecord& rec) const {
  return conns_[rec.conn].overflow_may_close && IsProtocolError(rec.status) &&
         absl::StrContains(rec.status.message(), kDataOverflowText);
}

bool Ledger::CheckSizeLimits(const RpcRecord& rec) {
  const RpcPlan& p = rec.plan;
  if (config_.draw_size_limits) {
    // The boundaries this call's first (largest) messages met.
    for (const auto& [size, limit] : {std::pair<size_t, size_t>{p.request_size_max, server_receive_limit_},
                                      std::pair<size_t, size_t>{p.response_size_max, client_receive_limit_}}) {
      if (size + 1 == limit) ctx_->Reach(situations::kWorkloadMessageJustUnderTheLimit);
      if (size == limit && rec.status.ok()) ctx_->Reach(situations::kWorkloadMessageAtTheLimitPassed);
    }
  }
  if (rec.status.ok()) {
    if (OkCallPassedALimit(rec)) {
      Fail(rec, "a message over the receiving end's limit got through");
      return true;
    }
    return false;
  }
  if (!IsMessageTooLarge(rec.status)) return false;
  ++report_.too_large;
  if (!OverSizeLimit(p)) Fail(rec, "\"message too large\" although every message of the call was within the limits");
  if (!absl::IsResourceExhausted(rec.status) && !RemoteErrorCode(rec.status).has_value()) {
    Fail(rec, "the size error is not ResourceExhausted");
  }
  ctx_->Reach(situations::kWorkloadMessageOverTheLimitFailedItsStream);
  return true;
}

void Ledger::CheckClosedCause(const RpcRecord& rec) {
  const ConnRecord& c = conns_[rec.conn];
  if (c.closed_by_workload || shutdown_started_ || c.cancels_may_close) return;
  std::optional<FaultPlan> fault = ctx_->network().StruckFault(*c.endpoint);
  if (!fault.has_value() || fault->kind == FaultPlan::Kind::kStall) return;
  // A frame over an upstream end's limit ended the connection before the fault was seen (the
  // header arrived ahead of the broken write): the overflow is the cause, and the status says so.
  if (c.overflow_may_close && absl::StrContains(rec.status.message(), kDataOverflowText)) return;
  // The transport's error reaches the caller as the closed status's cause. A fault on the
  // client's own side of the connection (its writes, or its reads) is named by the simulated
  // transport ("... (fault)"); one on the server's side reaches the client as what the server's
  // end did about it (EOF, a reset).
  const absl::string_view m = rec.status.message();
  if (!absl::StrContains(m, "transport: ")) {
    return Fail(rec, absl::StrCat("\"closed\" by a ", fault->ToString(),
                                  " fault on its connection, but the status names no transport cause"));
  }
  const bool client_side =
      fault->direction == Direction::kForward ? fault->kind != FaultPlan::Kind::kReadError
                                              : fault->kind == FaultPlan::Kind::kReadError;
  if (client_side && !absl::StrContains(m, "(fault)")) {
    return Fail(rec, absl::StrCat("\"closed\" by a ", fault->ToString(), " fault on the client's ",
                                  "side of its connection, but the status does not carry the fault"));
  }
  ctx_->Reach(client_side ? situations::kWorkloadClosedNamedTheFault
                          : situations::kWorkloadClosedNamedThePeersEnd);
}

void Ledger::CheckRemoteError(const RpcRecord& rec, uint64_t code) {
  const absl::Status& s = rec.status;
  const RpcPlan& p = rec.plan;
  const bool own_cancel = rec.cancel_requested;
  const bool broken = rec.conn_ended_first || ConnectionBroken(rec.conn);
  ++report_.remote_errors;
  if (absl::StartsWith(s.message(), kRefusedPrefix)) {
    ++report_.refused;
    ctx_->Reach(situations::kWorkloadRefused);
    if (!RefusalPossible()) Fail(rec, "refused although the server's stream limit was not near");
    return;
  }
  // A handler that never reads fills its receive queue; without flow control the stall
  // timeout then fails its stream, and the client hears why.
  if (absl::StrContains(s.message(), kReceiveStallText) &&
      (NeverReadStallPossible(rec) || ServerStallPossible())) {
    ++report_.stalled;
    return;
  }
  // The remote-error rule: an Error the server sends after the handler returned is the
  // handler's, code and text exactly, in both modes and whatever else happened to the call.
  if (rec.handler_done && !rec.handler_status.ok()) {
    const auto [want_code, want_text] = ToWireError(rec.handler_status);
    if (code != want_code || s.message() != want_text) {
      return Fail(rec, absl::StrCat("remote error (code ", code, ", \"", s.message(),
                                    "\") is not what its handler returned (code ", want_code,
                                    ", \"", want_text, "\")"));
    }
    ctx_->Reach(situations::kWorkloadRemoteErrorCarriedTheHandlersError);
  }
  if (p.ending == Ending::kError && code == p.error_code && s.message() == p.ErrorText()) return;
  if (shutdown_started_ || own_cancel || broken) return;  // the server gave up on the call
  Fail(rec, absl::StrCat("remote error (code ", code, ") that its handler did not return"));
}

void Ledger::CheckOutcomeInFull(RpcRecord& rec) {
  const absl::Status& s = rec.status;
  const bool own_cancel = rec.cancel_requested;
  if (rec.abandoned) {
    // Whatever the stream reported after the caller closed it is the caller's own doing; only a
    // Canceled nobody asked for is wrong.
    if (absl::IsCancelled(s) && !own_cancel && !shutdown_started_) {
      Fail(rec, "an abandoned call reports Canceled without a cancel");
    }
    return;
  }
  if (!own_cancel && rec.at_deadline.fired) {
    // The deadline is the caller's cancel, with a time set in advance: the same rule holds.
    rec.ended_before_cancel = rec.at_deadline.ended;
    rec.decided_before_cancel = rec.at_deadline.decided;
    rec.cancel_noticed_late = LateCancelNotices() > rec.at_deadline.late_notices;
  }
  if ((own_cancel || rec.at_deadline.fired) && !CheckCancelRule(rec)) return;
  if (CheckSizeLimits(rec)) return;
  if (s.ok()) return JudgeOk(rec);
  if (ExplainedByOverflow(rec)) {
    ++report_.closed;
    return;
  }
  if (IsProtocolError(s)) return Fail(rec, "a protocol error between two drpc-cpp peers");
  if (IsEof(s)) return Fail(rec, "EOF as a call's outcome (the stream ended without its replies)");
  if (absl::IsCancelled(s) && !RemoteErrorCode(s).has_value()) {
    ++report_.cancelled;
    // §13 item 11: Canceled only if this call was cancelled (or the server gave up on it).
    if (!own_cancel && !shutdown_started_) Fail(rec, "Canceled, but nobody cancelled this call");
    return;
  }
  if (absl::IsDeadlineExceeded(s) && !RemoteErrorCode(s).has_value()) {
    ++report_.cancelled;
    if (!rec.deadline_set) Fail(rec, "DeadlineExceeded without a deadline");
    return;
  }
  if (IsClosed(s)) {
    ++report_.closed;
    const bool broken = rec.conn_ended_first || ConnectionBroken(rec.conn);
    if (!broken) Fail(rec, "\"closed\" although its connection had no reason to end");
    CheckClosedCause(rec);
    return;
  }
  if (IsCreditStall(s) || IsCapOverrun(s)) {
    ++report_.stalled;
    ctx_->Reach(situations::kWorkloadFlowControlFailedACall);
    if (!ExplainedByFlowControl(s)) {
      Fail(rec, "a flow-control credit stall or cap overrun between ends configured alike");
    }
    return;
  }
  if (IsReceiveStall(s)) {
    ++report_.stalled;
    ctx_->Reach(situations::kWorkloadReceiveStallBrokeABufferCycle);
    if (!StallPossible() && !NeverReadStallPossible(rec) && !ServerStallPossible()) {
      Fail(rec, "a receive stall on a flow-controlled stream");
    }
    return;
  }
  if (std::optional<uint64_t> code = RemoteErrorCode(s); code.has_value()) {
    return CheckRemoteError(rec, *code);
  }
  Fail(rec, "an outcome of no known class");
}

bool Ledger::Disturbed(const RpcRecord& rec) const {
  return rec.cancel_requested || rec.deadline_set || rec.abandoned || rec.closed_send_early ||
         shutdown_started_ || ConnectionBroken(rec.conn) ||
         (IsReceiveStall(rec.handler_status) && (StallPossible() || ServerStallPossible())) ||
         // The stall failed the call's stream: its handler's next Send or Recv sees the end of
         // the stream.
         (IsReceiveStall(rec.status) &&
          (StallPossible() || NeverReadStallPossible(rec) || ServerStallPossible())) ||
         ExplainedByFlowControl(rec.handler_status) ||
         // A message over a limit failed the call's stream.
         OverSizeLimit(rec.plan) ||
         // The client's end failed by flow control told the handler with an Error, after which
         // its Send sees EOF (§7.4).
         ExplainedByFlowControl(rec.status);
}

void Ledger::CheckHandlers() {
  for (RpcRecord& rec : rpcs_) {
    if (rec.handler_runs > 1) Fail(rec, "its handler ran more than once");
    if (rec.handler_runs == 1 && !rec.handler_done) Fail(rec, "its handler never returned");
    if (!rec.finished) continue;
    if (rec.status.ok()) {
      // Causality: the client saw the end of the call only after the handler returned.
      if (!rec.handler_done || !rec.handler_status.ok()) {
        Fail(rec, "the call succeeded but its handler did not");
      }
      if (rec.plan.type == RpcType::kClientStream || rec.plan.type == RpcType::kBidi) {
        if (rec.handler_received != rec.sent) Fail(rec, "the handler did not get every request");
      }
      continue;
    }
    if (rec.handler_done && !rec.handler_status.ok() && !Disturbed(rec)) {
      // A handler that never reads ends only by its context: whatever ended the call.
      const bool planned = (rec.plan.ending == Ending::kError &&
                            rec.handler_status.message() == rec.plan.ErrorText()) ||
                           rec.plan.ending == Ending::kNeverReads;
      if (!planned) Fail(rec, "its handler failed although nothing disturbed the call");
    }
  }
}

void Ledger::CheckConnectionEnd(size_t index) {
  ConnRecord& c = conns_[index];
  std::optional<FaultPlan> fault = ctx_->network().StruckFault(*c.endpoint);
  if (fault.has_value() && fault->kind != FaultPlan::Kind::kStall) {
    ctx_->Reach(situations::kWorkloadFaultStruckAConnection);
  }
  if (!c.conn->closed().IsSet() || c.closed_by_workload) return;
  ++report_.connections_ended;
  std::optional<FaultPlan> struck = ctx_->network().StruckFault(*c.endpoint);
  const bool faulted = struck.has_value() && struck->kind != FaultPlan::Kind::kStall;
  if (c.overflow_may_close && !faulted && !shutdown_started_ && !c.cancels_may_close) {
    // Nothing else ended it: the upstream end that got the oversize packet did, and the client
    // hears it as that end's error (its own reader) or as the server's end (EOF, a reset).
    const absl::Status& st = c.conn->closed().status();
    const bool overflow = IsProtocolError(st) && absl::StrContains(st.message(), kDataOverflowText);
    if (!overflow && !absl::StrContains(st.message(), "transport: ")) {
      ctx_->Fail(FailureClass::kCorrectness,
                 absl::StrCat("connection ", index, " (a call on it overflowed an upstream end's ",
                              "packet limit) ended with neither data overflow nor the peer's end: ",
                              st.ToString()));
    }
    ctx_->Reach(situations::kWorkloadMessageOverTheLimitClosedItsConnection);
    return;
  }
  if (ConnectionBroken(index)) {
    ctx_->Reach(situations::kWorkloadConnectionBroken);
    return;
  }
  if (c.cancels_may_close) {
    ctx_->Reach(situations::kWorkloadUpstreamCancelClosedConnection);
    return;
  }
  ctx_->Fail(FailureClass::kCorrectness,
             absl::StrCat("connection ", index, " ended without a cause (no fault, close, shutdown ",
                          "or upstream cancel): ", c.conn->closed().status().ToString()));
}

}  // namespace drpc::sim
