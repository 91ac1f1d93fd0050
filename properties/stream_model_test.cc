// Stateful property (rapidcheck rc::state): impl/stream.h's Stream, in both roles, against the
// spec's model of one stream (stream_model.h). rapidcheck generates sequences of application
// operations (Send, SendLast, CloseSend, Close, SendError, Cancel, Recv), packets from the peer
// (Message, CloseSend, Close, Error, Cancel, Invoke, unknown kinds), the end of the connection and,
// for a server, its handler returning; after each step the stream must agree with the model on
// what the operation returned, what it sent, whether a waiting Recv has returned (and with what),
// and its state. A failure prints the shrunk command sequence and a reproduce string:
//   bazel test //properties:stream_model_test --test_env=RC_PARAMS="reproduce=<string>"
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "impl/stream.h"
#include "properties/stream_model.h"
#include "proto/error_codec.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "rapidcheck/state.h"
#include "sim/simulation.h"
#include "proto/base/check.h"

namespace drpc::properties {
namespace {

// Records what the stream sends; never blocks, never fails.
class RecordingSink final : public StreamSink {
 public:
  absl::Status Send(Stream& s, Kind kind, absl::string_view data, Follows) override {
    s.NextMessageId();
    sent.push_back({kind, std::string(data)});
    return absl::OkStatus();
  }
  absl::Status SendTerminal(Stream& s, Kind kind, absl::string_view data, const absl::Status&) override {
    return Send(s, kind, data, Follows::kNothing);
  }
  absl::Status OnFirstRecv(Stream&) override { return absl::OkStatus(); }
  void OnConsumed(Stream&, uint64_t) override {}
  void OnStreamError(Stream& s, const absl::Status& e) override { s.TerminateWithError(e); }
  void OnFinished(Stream&) override { ++finished; }

  std::vector<StreamModel::Packet> sent;
  int finished = 0;
};

struct PendingRecv {
  bool done = false;
  absl::StatusOr<std::string> result;
};

struct Sut {
  sim::SimContext* ctx;
  Stream* stream;
  RecordingSink* sink;
  std::shared_ptr<PendingRecv> pending;

  // Lets every other fiber run until it parks or ends (the stream's waiting reader, if any).
  void Settle() {
    SimSettle(*ctx);
  }
  static void SimSettle(sim::SimContext& ctx) {
    while (ctx.scheduler().live_fibers() > 1 + ctx.scheduler().ParkedFibers().size()) {
      ctx.env().scheduler().Yield();
    }
  }
};

struct Model {
  Stream::Role role = Stream::Role::kClient;
  StreamModel stream;
  bool recv_pending = false;  // a Recv is waiting (at most one at a time)
};

void ExpectStatus(const absl::Status& got, const absl::Status& want, absl::string_view what) {
  if (got != want) RC_FAIL(absl::StrCat(what, ": got ", got.ToString(), ", want ", want.ToString()));
}

void ExpectResult(const absl::StatusOr<std::string>& got, const absl::StatusOr<std::string>& want,
                  absl::string_view what) {
  if (got.ok() != want.ok() || (got.ok() && *got != *want) || (!got.ok() && got.status() != want.status())) {
    RC_FAIL(absl::StrCat(what, ": got ", got.ok() ? absl::StrCat("\"", *got, "\"") : got.status().ToString(),
                         ", want ", want.ok() ? absl::StrCat("\"", *want, "\"") : want.status().ToString()));
  }
}

// After every step: a waiting Recv returns exactly when the model says it can, with what it says;
// the stream's state and what it sent agree with the model.
void Resolve(Model& m, Sut* sut) {
  std::optional<absl::StatusOr<std::string>> want;
  if (m.recv_pending && m.stream.RecvReady()) {
    want = m.stream.Recv();
    m.recv_pending = false;
  }
  if (sut == nullptr) return;
  sut->Settle();
  if (want.has_value()) {
    RC_ASSERT(sut->pending != nullptr);
    if (!sut->pending->done) RC_FAIL("a waiting Recv did not return although the model says it can");
    ExpectResult(sut->pending->result, *want, "the waiting Recv");
    sut->pending.reset();
  } else if (m.recv_pending && sut->pending->done) {
    RC_FAIL(absl::StrCat("a waiting Recv returned early: ", sut->pending->result.status().ToString()));
  }
  Stream& s = *sut->stream;
  RC_ASSERT(s.terminated() == m.stream.terminated());
  ExpectStatus(s.termination_error(), m.stream.termination_error(), "termination error");
  RC_ASSERT(s.finished() == m.stream.terminated());  // nothing in progress once settled
  RC_ASSERT(sut->sink->finished == (m.stream.terminated() ? 1 : 0));
  RC_ASSERT(s.peer_send_closed() == m.stream.peer_send_closed());
  RC_ASSERT(s.queued_messages() == m.stream.queued());
  if (sut->sink->sent != m.stream.sent()) {
    std::string got, want_sent;
    for (const auto& p : sut->sink->sent) absl::StrAppend(&got, " ", KindName(p.kind));
    for (const auto& p : m.stream.sent()) absl::StrAppend(&want_sent, " ", KindName(p.kind));
    RC_FAIL(absl::StrCat("sent packets:", got, "; the model says:", want_sent));
  }
}

using Command = rc::state::Command<Model, Sut>;

// Every command is one Step on the model and, when running, on the real stream: apply() and run()
// share it, so the model's bookkeeping cannot drift from the expectations.
struct Step : Command {
  virtual void Do(Model& m, Sut* sut) const = 0;
  void apply(Model& m) const override {
    Do(m, nullptr);
    Resolve(m, nullptr);
  }
  void run(const Model& s0, Sut& sut) const override {
    Model m = s0;
    Do(m, &sut);
    Resolve(m, &sut);
  }
};

std::string GenMessage() { return absl::StrCat("m", *rc::gen::inRange(0, 1000)); }

struct Send : Step {
  std::string msg = GenMessage();
  bool last = *rc::gen::arbitrary<bool>();
  void Do(Model& m, Sut* sut) const override {
    const absl::Status want = last ? m.stream.SendLast(msg) : m.stream.Send(msg);
    if (sut) ExpectStatus(last ? sut->stream->SendLast(msg) : sut->stream->Send(msg), want, last ? "SendLast" : "Send");
  }
  void show(std::ostream& os) const override { os << (last ? "SendLast(" : "Send(") << msg << ")"; }
};

struct CloseSend : Step {
  void Do(Model& m, Sut* sut) const override {
    const absl::Status want = m.stream.CloseSend();
    if (sut) ExpectStatus(sut->stream->CloseSend(), want, "CloseSend");
  }
  void show(std::ostream& os) const override { os << "CloseSend"; }
};

struct Close : Step {
  void Do(Model& m, Sut* sut) const override {
    const absl::Status want = m.stream.Close();
    if (sut) ExpectStatus(sut->stream->Close(), want, "Close");
  }
  void show(std::ostream& os) const override { os << "Close"; }
};

struct SendError : Step {
  uint64_t code = *rc::gen::inRange<uint64_t>(1, 100);
  void Do(Model& m, Sut* sut) const override {
    const absl::Status want = m.stream.SendError(code, "boom");
    if (sut) {
      ExpectStatus(sut->stream->SendError(WithRemoteErrorCode(absl::UnknownError("boom"), code)), want,
                   "SendError");
    }
  }
  void show(std::ostream& os) const override { os << "SendError(" << code << ")"; }
};

struct Cancel : Step {
  bool deadline = *rc::gen::arbitrary<bool>();
  void Do(Model& m, Sut* sut) const override {
    const absl::Status reason = deadline ? DeadlineError() : CanceledError();
    const bool want = m.stream.Cancel(reason);
    if (sut) RC_ASSERT(sut->stream->Cancel(reason) == want);
  }
  void show(std::ostream& os) const override { os << (deadline ? "Cancel(deadline)" : "Cancel"); }
};

struct Recv : Step {
  explicit Recv(const Model& m) { checkPreconditions(m); }
  // Checked when generated and again when rapidcheck shrinks a sequence.
  void checkPreconditions(const Model& m) const override { RC_PRE(!m.recv_pending); }
  void Do(Model& m, Sut* sut) const override {
    std::optional<absl::StatusOr<std::string>> want = m.stream.Recv();
    if (!want.has_value()) m.recv_pending = true;
    if (sut == nullptr) return;
    if (want.has_value()) return ExpectResult(sut->stream->Recv(), *want, "Recv");
    // It must block: a fiber waits in it; Resolve checks when it returns.
    auto slot = std::make_shared<PendingRecv>();
    sut->pending = slot;
    Stream* s = sut->stream;
    DRPC_CHECK_OK(sut->ctx->env().scheduler().Spawn("recv", [slot, s] {
      slot->result = s->Recv();
      slot->done = true;
    }));
  }
  void show(std::ostream& os) const override { os << "Recv"; }
};

Packet RemotePacket(Kind kind, std::string data = "", bool control = false) {
  return Packet{PacketId{1, 1}, kind, control, std::move(data)};
}

struct RemoteMessage : Step {
  std::string msg = GenMessage();
  explicit RemoteMessage(const Model& m) { checkPreconditions(m); }
  void checkPreconditions(const Model& m) const override { RC_PRE(m.stream.queued() < 16); }  // never a full queue
  void Do(Model& m, Sut* sut) const override {
    m.stream.RemoteMessage(msg);
    if (sut) RC_ASSERT(sut->stream->HandlePacket(RemotePacket(Kind::kMessage, msg)).ok());
  }
  void show(std::ostream& os) const override { os << "remote Message(" << msg << ")"; }
};

struct RemoteEnding : Step {
  Kind kind = *rc::gen::element(Kind::kCloseSend, Kind::kClose, Kind::kError, Kind::kCancel);
  uint64_t code = *rc::gen::inRange<uint64_t>(0, 100);
  void Do(Model& m, Sut* sut) const override {
    std::string data;
    switch (kind) {
      case Kind::kCloseSend: m.stream.RemoteCloseSend(); break;
      case Kind::kClose: m.stream.RemoteClose(); break;
      case Kind::kError:
        m.stream.RemoteError(code, "remote failed");
        data = EncodeError(code, "remote failed");
        break;
      default: m.stream.RemoteCancel(); break;
    }
    if (sut) RC_ASSERT(sut->stream->HandlePacket(RemotePacket(kind, data, kind == Kind::kCancel)).ok());
  }
  void show(std::ostream& os) const override { os << "remote " << KindName(kind); }
};

// An Invoke on an existing stream, or an unknown kind: a protocol error while the stream lives
// (unless the control bit says "ignore me if you do not know me"), ignored once it ended.
struct RemoteOdd : Step {
  int which = *rc::gen::inRange(0, 3);  // 0 Invoke, 1 unknown kind, 2 unknown control kind
  void Do(Model& m, Sut* sut) const override {
    const bool fails = which != 2 && m.stream.RemoteInvokeFailsTheConnection();
    if (sut == nullptr) return;
    const Packet p = which == 0 ? RemotePacket(Kind::kInvoke, "/x") : RemotePacket(static_cast<Kind>(40), "", which == 2);
    const absl::Status s = sut->stream->HandlePacket(Packet(p));
    if (fails != IsProtocolError(s)) RC_FAIL(absl::StrCat("remote kind ", KindName(p.kind), ": ", s.ToString()));
  }
  void show(std::ostream& os) const override { os << "remote " << (which == 0 ? "Invoke" : which == 1 ? "Kind(40)" : "Kind(40) control"); }
};

struct ConnectionEnds : Step {
  void Do(Model& m, Sut* sut) const override {
    const absl::Status error = ClosedError("connection closed", absl::UnavailableError("reset"));
    m.stream.ConnectionEnded(error);
    if (sut) sut->stream->TerminateFromConnection(error);
  }
  void show(std::ostream& os) const override { os << "connection ends"; }
};

struct HandlerReturns : Step {
  explicit HandlerReturns(const Model& m) { checkPreconditions(m); }
  void checkPreconditions(const Model& m) const override { RC_PRE(m.role == Stream::Role::kServer); }
  void Do(Model& m, Sut* sut) const override {
    m.stream.StopReceiving();
    if (sut) sut->stream->StopReceiving();
  }
  void show(std::ostream& os) const override { os << "handler returns (StopReceiving)"; }
};

void CheckRole(Stream::Role role) {
  Model initial;
  initial.role = role;
  const auto commands = *rc::state::gen::commands(
      initial, rc::state::gen::execOneOfWithArgs<Send, CloseSend, Close, SendError, Cancel, Recv, Recv,
                                                 RemoteMessage, RemoteMessage, RemoteEnding, RemoteOdd,
                                                 ConnectionEnds, HandlerReturns>());
  std::exception_ptr failure;
  sim::RunOptions options;
  options.scheduler.stack_bytes = 1 << 20;  // rapidcheck's assertions unwind on this fiber
  const sim::RunResult r = sim::RunSeed(
      [&](sim::SimContext& ctx) {
        RecordingSink sink;
        Stream stream(ctx.env(), sink, 1, role,
                      Stream::Limits{.recv_queue_max_count = 64, .recv_queue_max_bytes = 1 << 20});
        Sut sut{&ctx, &stream, &sink, nullptr};
        try {
          rc::state::runAll(commands, initial, sut);
        } catch (...) {
          failure = std::current_exception();
        }
        if (!stream.terminated()) stream.Cancel(CanceledError());  // releases a waiting Recv
        Sut::SimSettle(ctx);
      },
      1, options);
  if (failure) std::rethrow_exception(failure);
  RC_ASSERT(r.ok());
}

RC_GTEST_PROP(StreamModel, ClientStreamFollowsTheModel, ()) { CheckRole(Stream::Role::kClient); }
RC_GTEST_PROP(StreamModel, ServerStreamFollowsTheModel, ()) { CheckRole(Stream::Role::kServer); }

}  // namespace
}  // namespace drpc::properties
