// The workload's server side: the handlers of "/sim.Load/*", each acting out the RpcPlan in the
// call's metadata, verifying every request and writing what it did into the Ledger.
#include "sim/drpc/workload_calls.h"

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

class Handlers {
 public:
  using Sabotage = WorkloadConfig::Sabotage;
  Handlers(SimContext& ctx, Ledger& ledger, Sabotage sabotage)
      : ctx_(&ctx), ledger_(&ledger), sabotage_(sabotage) {}
  Sabotage sabotage() const { return sabotage_; }
  uint64_t shared_rpc = 0;  // Sabotage::kSharedReplyState's shared "current call"

  // The call's ledger entry, found through the plan in its metadata; fails the run if the plan
  // is missing or is not the plan its client made (metadata delivered to the wrong stream).
  // Inline in each handler: every call runs it, and its frame cost as much as its body.
  ABSL_ATTRIBUTE_ALWAYS_INLINE RpcRecord* Start(CallContext& call, RpcType type) {
    const Metadata& md = call.incoming_metadata();
    const absl::string_view text = PlanText(md);
    // The text must be exactly the encoding of the plan its ID names, as its client sent it (the
    // encoding round-trips: WorkloadPlanTest), so decoding it in full would only give back that
    // plan.
    RpcRecord* rec = ledger_->Find(PlanTextId(text));  // none for ID 0
    if (rec == nullptr || rec->PlanText() != text || rec->plan.type != type) {
      FailForeignPlan(type, text);  // does not return: the run stops here
    }
    ++rec->handler_runs;
    return rec;
  }

  // The plan's text in `md`, or empty if it has none.
  static absl::string_view PlanText(const Metadata& md) {
    // A client's metadata is its plan alone: one comparison instead of a search of the tree.
    constexpr absl::string_view kKey = kPlanMetadataKey;
    if (md.size() == 1) return md.begin()->first == kKey ? md.begin()->second : absl::string_view();
    const auto it = md.find(kKey);
    return it == md.end() ? absl::string_view() : absl::string_view(it->second);
  }

  // Out of line, so that Start's common path carries none of its frame.
  ABSL_ATTRIBUTE_NOINLINE ABSL_ATTRIBUTE_COLD void FailForeignPlan(RpcType type, absl::string_view text) {
    ctx_->Fail(FailureClass::kCorrectness,
               absl::StrCat("handler of ", RpcMethod(type), " got a plan no client made: \"",
                            text, "\""));
  }

  absl::Status Finish(RpcRecord& rec, absl::Status status) {
    rec.handler_done = true;
    rec.handler_status = status;
    if (sabotage_ == Sabotage::kRewriteHandlerErrors && !status.ok()) {
      absl::Status rewritten(status.code(), absl::StrCat(status.message(), " (rewritten)"));
      status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
        rewritten.SetPayload(url, payload);
      });
      return rewritten;
    }
    return status;
  }

  // Finish(rec, OK) without a status to copy or rewrite.
  void FinishOk(RpcRecord& rec) {
    rec.handler_done = true;
    rec.handler_status = absl::OkStatus();
  }

  // What the plan says once the handler has done its exchange.
  absl::Status Ending(CallContext& call, RpcRecord& rec) {
    switch (rec.plan.ending) {
      case Ending::kOk:
        return absl::OkStatus();
      case Ending::kError:
        if (sabotage_ == Sabotage::kIgnorePlannedError) return absl::OkStatus();
        return PlannedError(rec);
      case Ending::kNeverReads:  // only client and bidi streams draw it; they never get here
      case Ending::kWaitForCancel:
        ctx_->Reach(situations::kWorkloadHandlerWaitedForCancel);
        call.done_signal().Wait("handler waits for its context");
        return call.err();
    }
    return absl::InternalError("unknown ending");
  }

  // Ending::kNeverReads: no Recv at all; the call ends by its context.
  absl::Status NeverRead(CallContext& call, RpcRecord& rec) {
    call.done_signal().Wait("handler never reads its requests");
    ctx_->Reach(situations::kWorkloadHandlerNeverRead);
    return Finish(rec, call.err());
  }

  absl::Status PlannedError(const RpcRecord& rec) {
    const uint64_t code = rec.plan.error_code + (sabotage_ == Sabotage::kWrongErrorCode ? 1 : 0);
    return WithRemoteErrorCode(absl::UnknownError(rec.plan.ErrorText()), code);
  }

  void Verify(RpcRecord& rec, absl::string_view data, uint32_t index) {
    // The check alone on the common path: the report's text is built only for a mismatch.
    const size_t size = rec.plan.RequestSize(index);
    if (!PayloadMatches(data, rec.plan.id, PayloadDirection::kRequest, index, size)) [[unlikely]] {
      ledger_->Fail(rec, absl::StrCat("handler got a wrong request: ",
                                      DescribePayloadMismatch(data, rec.plan.id,
                                                              PayloadDirection::kRequest, index,
                                                              size)));
    }
    ++rec.handler_received;
  }

  void Think(const RpcRecord& rec) {
    if (rec.plan.handler_think_us == 0) return;
    const uint64_t us = ctx_->Choose("load.handler_think", rec.plan.handler_think_us + 1);
    if (us > 0) SleepFor(ctx_->env(), Duration::Micros(static_cast<int64_t>(us)), "handler thinks");
  }

  absl::Status SendResponse(RpcStream& s, RpcRecord& rec, uint64_t index, size_t size) {
    Think(rec);
    PayloadBuffer buf;
    absl::Status st = s.Send(buf.Make(rec.plan.id, PayloadDirection::kResponse, index, size));
    if (st.ok()) ++rec.handler_sent;
    return st;
  }

 private:
  SimContext* ctx_;
  Ledger* ledger_;
  Sabotage sabotage_;
};

}  // namespace

Router LoadRouter(SimContext& ctx, Ledger& ledger, WorkloadConfig::Sabotage sabotage) {
  auto h = std::make_shared<Handlers>(ctx, ledger, sabotage);
  Router router;
  DRPC_CHECK_OK(router.Unary(std::string(RpcMethod(RpcType::kUnary)),
      [h](CallContext& call, absl::string_view req) -> absl::StatusOr<std::string> {
        RpcRecord& rec = *h->Start(call, RpcType::kUnary);
        h->Verify(rec, req, 0);
        h->Think(rec);
        if (rec.plan.ending != Ending::kOk) {
          if (absl::Status end = h->Ending(call, rec); !end.ok()) return h->Finish(rec, end);
        }
        uint64_t reply_id = rec.plan.id;
        if (h->sabotage() == Handlers::Sabotage::kSharedReplyState) {
          h->shared_rpc = rec.plan.id;
          SleepFor(call.env(), Duration::Micros(20), "planted bug: shared reply state");
          reply_id = h->shared_rpc;
        }
        ++rec.handler_sent;
        h->FinishOk(rec);
        std::string reply =
            MakePayload(reply_id, PayloadDirection::kResponse, 0, rec.plan.ResponseSize(0));
        if (h->sabotage() == Handlers::Sabotage::kCorruptUnaryReply && !reply.empty()) {
          reply.back() = static_cast<char>(reply.back() ^ 0x20);
        }
        return reply;
      }));
  DRPC_CHECK_OK(router.ClientStream(std::string(RpcMethod(RpcType::kClientStream)),
      [h](CallContext& call, RpcStream& s) -> absl::StatusOr<std::string> {
        RpcRecord& rec = *h->Start(call, RpcType::kClientStream);
        if (rec.plan.ending == Ending::kNeverReads) return h->NeverRead(call, rec);
        for (uint32_t i = 0;; ++i) {
          absl::StatusOr<std::string> m = s.Recv();
          if (IsEof(m.status())) break;
          if (!m.ok()) return h->Finish(rec, m.status());
          h->Verify(rec, *m, i);
        }
        h->Think(rec);
        if (absl::Status end = h->Ending(call, rec); !end.ok()) return h->Finish(rec, end);
        ++rec.handler_sent;
        h->Finish(rec, absl::OkStatus()).IgnoreError();
        // The reply's index is the number of requests received, so the client checks the count.
        return MakePayload(rec.plan.id, PayloadDirection::kResponse, rec.handler_received,
                           rec.plan.ResponseSize(0));
      }));
  DRPC_CHECK_OK(router.ServerStream(std::string(RpcMethod(RpcType::kServerStream)),
      [h](CallContext& call, absl::string_view req, RpcStream& s) -> absl::Status {
        RpcRecord& rec = *h->Start(call, RpcType::kServerStream);
        h->Verify(rec, req, 0);
        const uint32_t responses =
            rec.plan.responses - (h->sabotage() == Handlers::Sabotage::kDropLastResponse &&
                                          rec.plan.responses > 0 ? 1 : 0);
        for (uint32_t i = 0; i < responses; ++i) {
          if (rec.plan.ending == Ending::kError && i == rec.plan.error_after) {
            return h->Finish(rec, h->PlannedError(rec));
          }
          absl::Status st = h->SendResponse(s, rec, i, rec.plan.ResponseSize(i));
          if (!st.ok()) return h->Finish(rec, st);
        }
        return h->Finish(rec, h->Ending(call, rec));
      }));
  DRPC_CHECK_OK(router.Bidi(std::string(RpcMethod(RpcType::kBidi)),
      [h](CallContext& call, RpcStream& s) -> absl::Status {
        RpcRecord& rec = *h->Start(call, RpcType::kBidi);
        if (rec.plan.ending == Ending::kNeverReads) return h->NeverRead(call, rec);
        for (uint32_t i = 0;; ++i) {
          if (rec.plan.ending == Ending::kError && i == rec.plan.error_after) {
            return h->Finish(rec, h->PlannedError(rec));
          }
          absl::StatusOr<std::string> m = s.Recv();
          if (IsEof(m.status())) break;
          if (!m.ok()) return h->Finish(rec, m.status());
          h->Verify(rec, *m, i);
          absl::Status st = h->SendResponse(s, rec, i, rec.plan.ResponseSize(i));
          if (!st.ok()) return h->Finish(rec, st);
        }
        return h->Finish(rec, h->Ending(call, rec));
      }));
  return router;
}

}  // namespace drpc::sim
