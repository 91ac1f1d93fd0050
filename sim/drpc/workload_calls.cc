// The workload's client side: Caller draws each call's plan, makes the call in its shape and
// judges the outcome; the server side is workload_handlers.cc.
#include "sim/drpc/workload_calls.h"

#include <cstring>
#include <string>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "sim/drpc/workload_situations.h"

namespace drpc::sim {
namespace {

constexpr uint32_t kErrorCodeBase = 10;  // planned error codes: 10..109
constexpr uint64_t kHandlerThinkMaxMicros = 2'000;

// ctx.Choose(site, n) without the call when there is nothing to choose: every source answers 0
// to n == 1 and neither counts nor records it (sim/tape.h).
ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint64_t ChooseAmong(SimContext& ctx, absl::string_view site,
                                                         uint64_t n) {
  return n <= 1 ? 0 : ctx.Choose(site, n);
}

}  // namespace

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void Caller::DrawPlan(RpcPlan& p) {
  const WorkloadConfig& c = *config_;
  const uint32_t weights[] = {c.unary_weight, c.client_stream_weight, c.server_stream_weight,
                              c.bidi_weight};
  uint64_t total = 0;
  for (uint32_t w : weights) total += w;
  DRPC_CHECK_GT(total, 0u) << "workload: every RPC shape has weight 0";
  uint64_t pick = ChooseAmong(*ctx_, "load.shape", total);
  int type = 0;
  while (pick >= weights[type]) pick -= weights[type++];
  p.type = static_cast<RpcType>(type);
  const bool many_requests = p.type == RpcType::kClientStream || p.type == RpcType::kBidi;
  DRPC_CHECK_LE(c.messages_min, c.messages_max);
  const uint64_t spread = c.messages_max - c.messages_min + 1;
  p.requests =
      many_requests
          ? c.messages_min + static_cast<uint32_t>(ChooseAmong(*ctx_, "load.requests", spread))
          : 1;
  p.responses =
      p.type == RpcType::kServerStream
          ? c.messages_min + static_cast<uint32_t>(ChooseAmong(*ctx_, "load.responses", spread))
          : 1;
  p.request_size_max = static_cast<uint32_t>(
      c.message_sizes[ChooseAmong(*ctx_, "load.request_size", c.message_sizes.size())]);
  p.response_size_max = static_cast<uint32_t>(
      c.message_sizes[ChooseAmong(*ctx_, "load.response_size", c.message_sizes.size())]);
  // Drawn only when enabled, so workloads without it keep their tapes.
  if (many_requests && c.never_reads_per_mille > 0 &&
      ctx_->Chance("load.never_reads", c.never_reads_per_mille)) {
    p.ending = Ending::kNeverReads;
  } else if (ctx_->Chance("load.wait_for_cancel", c.wait_for_cancel_per_mille)) {
    p.ending = Ending::kWaitForCancel;
  } else if (ctx_->Chance("load.handler_error", c.handler_error_per_mille)) {
    p.ending = Ending::kError;
    p.error_after = static_cast<uint32_t>(ctx_->Choose("load.error_after", c.messages_max + 1));
    p.error_code = kErrorCodeBase + ctx_->Choose("load.error_code", 100);
  }
  if (ctx_->Chance("load.handler_thinks", 300)) p.handler_think_us = kHandlerThinkMaxMicros;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void Caller::AttachPlan(CallContext& call, RpcRecord& rec) {
  const absl::string_view text = rec.EncodePlanText(plan_encoder_);
  Metadata& md = call.metadata();
  DRPC_DCHECK(md.empty()) << "workload: a call's metadata had entries already";
  if (spare_plan_metadata_.empty()) {
    md.emplace(kPlanMetadataKey, text);
    return;
  }
  // Swapped whole (the maps exchange their roots): no node is unlinked from one tree and
  // relinked into another.
  md.swap(spare_plan_metadata_.back());
  spare_plan_metadata_.pop_back();
  // Resized within its capacity (texts differ little in length), then overwritten.
  std::string& value = md.begin()->second;
  value.resize(text.size());
  std::memcpy(value.data(), text.data(), text.size());
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void Caller::TakePlanBack(CallContext& call) {
  // The plan is the metadata's only entry (no one else writes a caller's metadata).
  Metadata& md = call.metadata();
  DRPC_DCHECK(md.size() == 1 && md.begin()->first == kPlanMetadataKey);
  spare_plan_metadata_.emplace_back().swap(md);
}

void Caller::Think() {
  if (clean_ || config_->think_max <= Duration::Zero()) return;
  const uint64_t n = ctx_->Choose("load.think", 4);
  if (n == 0) return;
  SleepFor(ctx_->env(), config_->think_max * static_cast<int64_t>(n) / 3, "caller thinks");
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline absl::Status Caller::CallByType(Conn& conn, CallContext& call,
                                                                   RpcRecord& rec) {
  switch (rec.plan.type) {
    case RpcType::kUnary: return Unary(conn, call, rec);
    case RpcType::kClientStream: return ClientStream(conn, call, rec);
    case RpcType::kServerStream: return ServerStream(conn, call, rec);
    case RpcType::kBidi: return Bidi(conn, call, rec);
  }
  return absl::InternalError("unknown rpc type");
}

void Caller::MakeCall(size_t conn_index) {
  RpcRecord& rec = ledger_->NewRpc(conn_index);
  DrawPlan(rec.plan);
  ledger_->Planned(rec);
  ConnRecord& conn = ledger_->conns()[conn_index];
  Env& env = ctx_->env();
  CallContext call(env);
  AttachPlan(call, rec);

  bool cancel = ctx_->Chance("load.cancel", config_->cancel_per_mille);
  bool deadline = ctx_->Chance("load.deadline", config_->deadline_per_mille);
  const bool ends_by_context =
      rec.plan.ending == Ending::kWaitForCancel || rec.plan.ending == Ending::kNeverReads;
  if (ends_by_context && !cancel && !deadline) {
    (ctx_->Chance("load.wait_ends_by_cancel", 500) ? cancel : deadline) = true;
  }
  TimerId cancel_timer = 0;
  // What the cancel timer needs, behind one pointer: a callback of at most two pointers is stored
  // inline (no allocation). It lives until the timer is cancelled below.
  struct CancelTarget {
    Caller* caller;
    RpcRecord* rec;
    CallContext* call;
  } cancel_target{this, &rec, &call};
  if (cancel) {
    const Duration d = Duration::Nanos(static_cast<int64_t>(
        ctx_->Choose("load.cancel_at", static_cast<uint64_t>(config_->cancel_at_max.nanos()) + 1)));
    cancel_timer = env.clock().ScheduleAt(env.clock().Now() + d, [t = &cancel_target] {
      t->caller->ctx_->Note(absl::StrCat("rpc ", t->rec->plan.id, ": the caller cancels"));
      t->caller->ledger_->CancelCall(*t->rec, *t->call);
    });
  }
  if (deadline) {
    rec.deadline_set = true;
    const Duration timeout = Duration::Nanos(1 + static_cast<int64_t>(ctx_->Choose(
                                                     "load.deadline_in",
                                                     static_cast<uint64_t>(config_->deadline_max.nanos()))));
    ctx_->Note(absl::StrCat("rpc ", rec.plan.id, ": deadline in ", timeout.ToString()));
    call.SetTimeout(timeout);
  }
  // Upstream: a cancel while the call runs may close the connection (docs/protocol.md §7.7).
  // Two pointers (stored inline in the callback); the connection's record is rec.conn's. Only
  // the caller ends its context before the call returns (its cancel timer, its deadline, or a
  // cancel between two steps of a stream: MaybeDisturb), so a call with none of those has
  // nothing to watch.
  const bool inline_cancel_possible =
      rec.plan.type != RpcType::kUnary && InlineCancelPerMille() > 0;
  Signal::CallbackId watch = 0;
  if (cancel || deadline || inline_cancel_possible) {
    rec.context_watched = true;
    watch = call.done_signal().OnSet([&rec, this](const absl::Status&) {
      ledger_->OnContextEnded(rec);
      ConnRecord& c = ledger_->conns()[rec.conn];
      if (!rec.finished && !c.conn->manager().is_mux()) c.cancels_may_close = true;
    });
  }

  absl::Status status = CallByType(*conn.conn, call, rec);
  TakePlanBack(call);
  if (cancel_timer != 0) env.clock().Cancel(cancel_timer);
  if (rec.stream != nullptr) {
    rec.cancel_reached_stream = rec.stream->cancelled_locally();
    rec.stream.reset();
  }
  rec.finished = true;
  if (watch != 0) call.done_signal().RemoveCallback(watch);
  rec.status = std::move(status);
  rec.SetStep("finished");
  rec.conn_ended_first = conn.conn->closed().IsSet();
  ledger_->CheckOutcome(rec);
}

RpcRecord& Caller::RunFixedCall(size_t conn_index, RpcType type, Duration bound) {
  RpcRecord& rec = ledger_->NewRpc(conn_index);
  rec.plan.type = type;
  rec.plan.requests = type == RpcType::kBidi || type == RpcType::kClientStream ? 2 : 1;
  rec.plan.responses = type == RpcType::kServerStream ? 2 : 1;
  rec.plan.request_size_max = rec.plan.response_size_max = 100;
  CallContext call(ctx_->env());
  AttachPlan(call, rec);
  call.SetTimeout(bound);
  clean_ = true;
  absl::Status status = CallByType(*ledger_->conns()[conn_index].conn, call, rec);
  TakePlanBack(call);
  rec.stream.reset();
  clean_ = false;
  rec.finished = true;
  rec.status = status;
  rec.SetStep("finished");
  rec.conn_ended_first = ledger_->conns()[conn_index].conn->closed().IsSet();
  if (absl::IsDeadlineExceeded(status)) {
    ctx_->Fail(FailureClass::kLiveness,
               absl::StrCat("a call did not end within ", bound.ToString(), "\n  ", rec.Describe()));
  }
  return rec;
}

void Caller::MakeCleanCall(size_t conn_index, RpcType type, Duration bound) {
  Env& env = ctx_->env();
  const Instant deadline = env.clock().Now() + bound;
  for (;;) {
    RpcRecord& rec = RunFixedCall(conn_index, type, deadline - env.clock().Now());
    if (rec.status.ok()) break;
    if (ledger_->ExplainedByFlowControl(rec.status)) {
      ctx_->Reach(situations::kWorkloadFlowControlFailedACall);
      return;
    }
    // The previous call's stream may still count against the server's limit when this call's
    // Invoke arrives (its client moved on as soon as it had the reply): a refusal then is no
    // failure, as long as a later try gets through within the bound.
    const bool refused = RemoteErrorCode(rec.status).has_value() &&
                         absl::StartsWith(rec.status.message(), kRefusedPrefix) &&
                         ledger_->RefusalPossible();
    // Likewise a server stall timeout shorter than the scheduler's interleave window may fail a
    // handler that reads, if the scheduler passed it over for longer than the timeout.
    const bool stalled = ledger_->StallOfAReadingHandlerPossible(rec.status);
    if ((!refused && !stalled) || env.clock().Now() >= deadline) {
      ledger_->Fail(rec, "a call on a fresh connection after healing failed");
      return;
    }
    ctx_->Reach(refused ? situations::kWorkloadProbeRetriedARefusal
                        : situations::kWorkloadProbeRetriedAStall);
    SleepFor(env, Duration::Micros(100), "probe: waiting to try a refused or stalled call again");
  }
  ++ledger_->report().ok;
}

void Caller::MakeUndisturbedCall(size_t conn_index, RpcType type, Duration bound) {
  ledger_->CheckOutcome(RunFixedCall(conn_index, type, bound));
}

absl::Status Caller::Unary(Conn& conn, CallContext& call, RpcRecord& rec) {
  rec.SetStep("unary call");
  PayloadBuffer request;
  absl::StatusOr<std::string> reply = conn.Invoke(
      call, RpcMethod(rec.plan.type),
      request.Make(rec.plan.id, PayloadDirection::kRequest, 0, rec.plan.RequestSize(0)));
  rec.outcome_decided = true;
  if (!reply.ok()) return reply.status();
  rec.sent = 1;
  // The check alone on the common path: the report's text is built only for a mismatch.
  const size_t size = rec.plan.ResponseSize(0);
  if (!PayloadMatches(*reply, rec.plan.id, PayloadDirection::kResponse, 0, size)) [[unlikely]] {
    ledger_->Fail(rec, absl::StrCat("wrong unary reply: ",
                                    DescribePayloadMismatch(*reply, rec.plan.id,
                                                            PayloadDirection::kResponse, 0, size)));
  }
  rec.received = 1;
  return absl::OkStatus();
}

bool Caller::MaybeDisturb(Stream& s, CallContext& call, RpcRecord& rec) {
  if (clean_) return false;
  if (ctx_->Chance("load.cancel_inline", InlineCancelPerMille())) {
    ctx_->Note(absl::StrCat("rpc ", rec.plan.id, ": the caller cancels"));
    ledger_->CancelCall(rec, call);
  }
  if (ctx_->Chance("load.abandon", config_->abandon_per_mille)) {
    ctx_->Note(absl::StrCat("rpc ", rec.plan.id, ": the caller abandons its stream"));
    rec.abandoned = true;
    rec.SetStep("abandoning");
    s.Close().IgnoreError();
    ctx_->Reach(situations::kWorkloadAbandonedAStream);
    return true;
  }
  return false;
}

// A Send the stream refused while it lives (the fork's sender refuses a message over its limit,
// and the stream goes on): the caller gives up on the call and closes it, as an application
// would, so its receiver and the handler are not left waiting.
static absl::Status GiveUpIfRefused(Stream& s, RpcRecord& rec, absl::Status sent) {
  if (sent.ok() || IsEof(sent) || s.terminated()) return sent;
  rec.send_refused = true;
  s.Close().IgnoreError();
  return sent;
}

absl::Status Caller::SendRequests(Stream& s, CallContext& call, RpcRecord& rec) {
  PayloadBuffer request;
  for (uint32_t i = 0; i < rec.plan.requests; ++i) {
    if (!clean_ && ctx_->Chance("load.close_send_early", config_->close_send_early_per_mille)) {
      rec.closed_send_early = true;
      break;
    }
    if (MaybeDisturb(s, call, rec)) return absl::AbortedError("abandoned by the caller");
    Think();
    rec.SetStep("sending request", i);
    absl::Status st = s.Send(request.Make(rec.plan.id, PayloadDirection::kRequest, i,
                                          rec.plan.RequestSize(i)));
    if (!st.ok()) return GiveUpIfRefused(s, rec, std::move(st));
    ++rec.sent;
  }
  rec.SetStep("closing send");
  return s.CloseSend();
}

absl::Status Caller::ReceiveAll(Stream& s, RpcRecord& rec, uint32_t first_index) {
  for (uint32_t i = first_index;; ++i) {
    rec.SetStep("receiving response", i);
    absl::StatusOr<std::string> m = s.Recv();
    if (!m.ok()) {
      rec.outcome_decided = true;
      if (!IsEof(m.status())) return m.status();
      // No message after the end of the stream.
      absl::StatusOr<std::string> again = s.Recv();
      if (again.ok()) ledger_->Fail(rec, "a message arrived after EOF");
      return absl::OkStatus();
    }
    const std::string why = CheckPayload(*m, rec.plan.id, PayloadDirection::kResponse, i,
                                         rec.plan.ResponseSize(i));
    if (!why.empty()) ledger_->Fail(rec, absl::StrCat("wrong response: ", why));
    ++rec.received;
  }
}

absl::Status Caller::ClientStream(Conn& conn, CallContext& call, RpcRecord& rec) {
  rec.SetStep("opening a client stream");
  absl::StatusOr<std::shared_ptr<Stream>> st = conn.OpenStream(call, RpcMethod(rec.plan.type));
  if (!st.ok()) return st.status();
  streams_.push_back(*st);
  rec.stream = *st;
  rec.stream_opened = true;
  Stream& s = **st;
  absl::Status sent = SendRequests(s, call, rec);
  if (rec.abandoned) return sent;
  if (!sent.ok() && !IsEof(sent)) return sent;
  rec.SetStep("receiving the reply");
  absl::StatusOr<std::string> reply = s.Recv();
  if (!reply.ok()) return reply.status();
  const std::string why = CheckPayload(*reply, rec.plan.id, PayloadDirection::kResponse, rec.sent,
                                       rec.plan.ResponseSize(0));
  if (!why.empty()) ledger_->Fail(rec, absl::StrCat("wrong client-stream reply: ", why));
  rec.received = 1;
  absl::Status end = ReceiveAll(s, rec, 1);
  if (end.ok() && rec.received != 1) ledger_->Fail(rec, "more than one client-stream reply");
  s.Close().IgnoreError();
  return end;
}

absl::Status Caller::ServerStream(Conn& conn, CallContext& call, RpcRecord& rec) {
  rec.SetStep("opening a server stream");
  absl::StatusOr<std::shared_ptr<Stream>> st = conn.OpenStream(call, RpcMethod(rec.plan.type));
  if (!st.ok()) return st.status();
  streams_.push_back(*st);
  rec.stream = *st;
  rec.stream_opened = true;
  Stream& s = **st;
  rec.SetStep("sending the request");
  PayloadBuffer request;
  const absl::string_view req =
      request.Make(rec.plan.id, PayloadDirection::kRequest, 0, rec.plan.RequestSize(0));
  absl::Status sent = ctx_->Chance("load.send_last", 500) ? s.SendLast(req) : s.Send(req);
  if (sent.ok()) {
    rec.sent = 1;
    sent = s.CloseSend();  // a no-op after SendLast
  }
  if (!sent.ok() && !IsEof(sent)) return GiveUpIfRefused(s, rec, std::move(sent));
  if (MaybeDisturb(s, call, rec)) return absl::AbortedError("abandoned by the caller");
  absl::Status end = ReceiveAll(s, rec, 0);
  if (end.ok() && rec.received != rec.plan.responses) {
    ledger_->Fail(rec, absl::StrCat("server stream ended cleanly after ", rec.received, " of ",
                                    rec.plan.responses, " responses"));
  }
  return end;
}

absl::Status Caller::Bidi(Conn& conn, CallContext& call, RpcRecord& rec) {
  rec.SetStep("opening a bidi stream");
  absl::StatusOr<std::shared_ptr<Stream>> st = conn.OpenStream(call, RpcMethod(rec.plan.type));
  if (!st.ok()) return st.status();
  streams_.push_back(*st);
  rec.stream = *st;
  rec.stream_opened = true;
  std::shared_ptr<Stream> s = *st;
  Env& env = ctx_->env();
  Signal sender_done(env);
  absl::Status sent;
  auto send = [&] {
    sent = SendRequests(*s, call, rec);
    sender_done.Set();
  };
  // The fiber's body holds one pointer (stored inline: no allocation); `send` outlives the fiber's
  // use of it, since this call waits for sender_done below.
  DRPC_CHECK_OK(env.scheduler().Spawn(absl::StrCat("rpc ", rec.plan.id, " sender"),
                                      [&send] { send(); }));
  absl::Status end = ReceiveAll(*s, rec, 0);
  sender_done.Wait("bidi: waiting for the sender");
  if (rec.abandoned) return end.ok() ? sent : end;
  if ((end.ok() || rec.send_refused) && !sent.ok() && !IsEof(sent)) end = sent;
  if (end.ok() && rec.received != rec.sent && rec.plan.ending == Ending::kOk) {
    ledger_->Fail(rec, absl::StrCat("bidi ended cleanly with ", rec.received, " responses to ",
                                    rec.sent, " requests"));
  }
  s->Close().IgnoreError();
  return end;
}

}  // namespace drpc::sim
