// Stateful property (rapidcheck rc::state): one client connection (impl/conn.h) and its streams,
// in mux and in upstream mode (hard and soft cancel), against a model: per stream the spec's
// stream model (stream_model.h), plus what the connection puts on the wire for it and when. The
// server is a RawPeer (impl/testing/raw_peer.h) that sends the packets rapidcheck chooses and
// records every frame it receives. Steps: open a stream, Send, SendLast, CloseSend, Close, cancel
// its context, Recv; the peer's Message, CloseSend, Close, Error and Cancel on any stream it knows;
// the transport failing (the peer goes away); the connection closed. After every step, on every
// stream: results, what a waiting Recv returned, state, and exactly the packets the peer got.
//
// What the model knows about the connection (docs/protocol.md §7.7, §8, §11; impl/manager.h):
//   * stream IDs 1, 2, 3, ... in both modes; an upstream connection opens the next stream only
//     after the previous one finished (the model opens none before);
//   * mux: [InvokeMetadata] Invoke go out at once; upstream: they are corked until the stream's
//     first Send, SendLast, CloseSend or Recv, and a stream closed or cancelled while corked sends
//     nothing at all;
//   * cancelling a live stream that reached the wire: mux and upstream soft cancel send Cancel
//     and keep the connection; an upstream hard cancel closes the connection;
//   * packets for a stream that ended are dropped; upstream packet IDs from the peer that go
//     backwards (an older stream after a newer one) end the connection; its end ends every stream
//     ("closed: ...", after their queued messages) and later opens fail.
// Flow control is off (no WindowUpdates on the wire). A failure prints the shrunk steps and a
// reproduce string:
//   bazel test //properties:conn_model_test --test_env=RC_PARAMS="reproduce=<string>"
#include <algorithm>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/context.h"
#include "impl/errors.h"
#include "impl/stream.h"
#include "impl/sync.h"
#include "impl/testing/raw_peer.h"
#include "properties/stream_model.h"
#include "proto/error_codec.h"
#include "proto/metadata.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "rapidcheck/state.h"
#include "sim/simulation.h"
#include "proto/base/check.h"

namespace drpc::properties {
namespace {

using Packet = StreamModel::Packet;
constexpr size_t kStreamsMax = 6;
constexpr char kCallKey[] = "call";

struct ModelStream {
  StreamModel model;
  std::string method;
  bool on_wire = false;         // the peer has its Invoke
  bool discarded = false;       // upstream: closed or cancelled while corked; never on the wire
  bool stream_corked = true;    // upstream: no operation has gone through yet (the first Recv
                                // then has the stream's own corked Invoke written)
  size_t sent_seen = 0;         // model.sent() already turned into wire packets
  std::vector<Packet> wire;     // what the peer must have received for it, in order
  uint64_t peer_next_message = 1;
  bool recv_pending = false;
};

struct Model {
  bool mux = false;
  bool soft_cancel = false;
  bool dead = false;  // the connection ended
  PacketId peer_last;  // upstream: the highest packet ID the peer sent
  std::vector<ModelStream> streams;  // stream ID = index + 1

  bool CanOpen() const {
    if (dead || streams.size() >= kStreamsMax) return false;
    return mux || streams.empty() || streams.back().model.terminated();
  }
};

struct PendingRecv {
  bool done = false;
  absl::StatusOr<std::string> result;
};

struct Sut {
  sim::SimContext* ctx;
  Conn* conn;
  testing::RawPeer* peer;
  std::vector<std::unique_ptr<CallContext>> calls;
  std::vector<std::shared_ptr<Stream>> streams;
  std::map<size_t, std::shared_ptr<PendingRecv>> pending;
  std::map<uint64_t, std::vector<Packet>> wire;  // what the peer received, by stream ID
  bool peer_saw_end = false;
  bool peer_closed = false;

  // Lets the connection, the network and the peer do everything due (no latency: it all happens
  // at one instant), then collects what the peer received.
  void Settle() {
    SleepFor(ctx->env(), Duration::Millis(1), "property: settling");
    if (peer_closed) return;
    for (;;) {
      absl::StatusOr<testing::RawFrame> f = peer->ReadFrame(Duration::Zero());
      if (!f.ok()) {
        peer_saw_end = !absl::IsDeadlineExceeded(f.status());
        return;
      }
      if (!f->done) RC_FAIL(absl::StrCat("a split frame: ", f->ToString()));
      wire[f->id.stream].push_back({f->kind, f->data});
    }
  }
};

// The connection's error, as a stream sees it: its class is what the model can promise.
absl::Status ConnectionEndedError() { return ClosedError("connection ended"); }

bool SameStatus(const absl::Status& got, const absl::Status& want) {
  if (IsClosed(want) && absl::StrContains(want.message(), "connection ended")) return IsClosed(got);
  return got == want;
}

void ExpectStatus(const absl::Status& got, const absl::Status& want, absl::string_view what) {
  if (!SameStatus(got, want)) {
    RC_FAIL(absl::StrCat(what, ": got ", got.ToString(), ", want ", want.ToString()));
  }
}

void ExpectResult(const absl::StatusOr<std::string>& got, const absl::StatusOr<std::string>& want,
                  absl::string_view what) {
  const bool same = got.ok() == want.ok() && (got.ok() ? *got == *want : SameStatus(got.status(), want.status()));
  if (!same) {
    RC_FAIL(absl::StrCat(what, ": got ", got.ok() ? absl::StrCat("\"", *got, "\"") : got.status().ToString(),
                         ", want ", want.ok() ? absl::StrCat("\"", *want, "\"") : want.status().ToString()));
  }
}

std::string Describe(const std::vector<Packet>& packets) {
  std::string out;
  for (const Packet& p : packets) absl::StrAppend(&out, " ", KindName(p.kind));
  return out.empty() ? " (nothing)" : out;
}

void PutOnTheWire(ModelStream& s) {
  s.on_wire = true;
  s.wire.push_back({Kind::kInvokeMetadata, ""});  // data compared as metadata in Resolve
  s.wire.push_back({Kind::kInvoke, s.method});
}

// After an application step on a stream: what it sent reaches the wire, putting a corked stream
// on it first if the step writes (Send, SendLast, CloseSend), or discarding it (Close: a stream
// closed while corked sends nothing at all).
void Emit(ModelStream& s, bool writes) {
  if (s.model.sent().size() == s.sent_seen) return;  // the step did not go through
  s.stream_corked = false;
  if (!s.on_wire && !s.discarded) {
    if (writes) {
      PutOnTheWire(s);
    } else {
      s.discarded = true;
    }
  }
  for (; s.sent_seen < s.model.sent().size(); ++s.sent_seen) {
    if (s.on_wire) s.wire.push_back(s.model.sent()[s.sent_seen]);
  }
}

// Upstream: a stream's first Recv has its own corked Invoke written (by the connection's
// flusher, so the receiver never waits for a write); only the newest stream can be corked, and a
// first Recv on an older stream writes nothing.
void RecvFlushes(Model& m, ModelStream& s) {
  if (m.mux || !s.stream_corked) return;
  s.stream_corked = false;
  if (&s == &m.streams.back() && !m.dead && !s.on_wire && !s.discarded) PutOnTheWire(s);
}

void EndConnection(Model& m) {
  m.dead = true;
  for (ModelStream& s : m.streams) s.model.ConnectionEnded(ConnectionEndedError());
}

// After every step: waiting Recvs, stream states and the wire agree with the model.
void Resolve(Model& m, Sut* sut) {
  std::map<size_t, absl::StatusOr<std::string>> returned;
  for (size_t i = 0; i < m.streams.size(); ++i) {
    ModelStream& s = m.streams[i];
    if (s.recv_pending && s.model.RecvReady()) {
      returned.emplace(i, *s.model.Recv());
      s.recv_pending = false;
    }
  }
  if (sut == nullptr) return;
  sut->Settle();
  for (size_t i = 0; i < m.streams.size(); ++i) {
    const ModelStream& s = m.streams[i];
    const std::string name = absl::StrCat("stream ", i + 1);
    if (auto it = returned.find(i); it != returned.end()) {
      if (!sut->pending.at(i)->done) RC_FAIL(absl::StrCat(name, ": a waiting Recv did not return"));
      ExpectResult(sut->pending.at(i)->result, it->second, absl::StrCat(name, ": the waiting Recv"));
      sut->pending.erase(i);
    } else if (s.recv_pending && sut->pending.at(i)->done) {
      RC_FAIL(absl::StrCat(name, ": a waiting Recv returned early: ", sut->pending.at(i)->result.status().ToString()));
    }
    const Stream& got = *sut->streams[i];
    if (got.terminated() != s.model.terminated()) RC_FAIL(absl::StrCat(name, ": terminated ", got.terminated()));
    ExpectStatus(got.termination_error(), s.model.termination_error(), absl::StrCat(name, ": termination"));
    RC_ASSERT(got.queued_messages() == s.model.queued());
    const std::vector<Packet>& wire = sut->wire[i + 1];
    bool same = wire.size() == s.wire.size();
    for (size_t k = 0; same && k < wire.size(); ++k) {
      same = wire[k].kind == s.wire[k].kind &&
             (wire[k].kind == Kind::kInvokeMetadata
                  ? DecodeMetadata(wire[k].data).value_or(Metadata{}) == Metadata{{kCallKey, absl::StrCat(i)}}
                  : wire[k].data == s.wire[k].data);
    }
    if (!same) RC_FAIL(absl::StrCat(name, ": the peer got", Describe(wire), "; the model says", Describe(s.wire)));
  }
  if (sut->wire.size() > m.streams.size() && !sut->wire.rbegin()->second.empty()) {
    RC_FAIL(absl::StrCat("frames for stream ", sut->wire.rbegin()->first, " nobody opened"));
  }
  if (!sut->peer_closed && sut->peer_saw_end != m.dead) {
    RC_FAIL(absl::StrCat("the peer ", sut->peer_saw_end ? "saw" : "did not see", " the connection end"));
  }
}

using Command = rc::state::Command<Model, Sut>;

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

// A step on one existing stream. Preconditions are checked when a step is generated and again
// when rapidcheck shrinks a sequence (a shorter sequence may lack the stream, or change its state).
struct OnStream : Step {
  size_t index = 0;
  explicit OnStream(const Model& m) {
    RC_PRE(!m.streams.empty());
    index = *rc::gen::inRange<size_t>(0, m.streams.size());
  }
  void checkPreconditions(const Model& m) const override { RC_PRE(index < m.streams.size()); }
};

struct Open : Step {
  explicit Open(const Model& m) { checkPreconditions(m); }
  void checkPreconditions(const Model& m) const override { RC_PRE(m.CanOpen()); }
  void Do(Model& m, Sut* sut) const override {
    const size_t index = m.streams.size();
    ModelStream s;
    s.method = absl::StrCat("/svc.Test/M", index);
    if (m.mux) PutOnTheWire(s);  // mux queues metadata and Invoke at once
    m.streams.push_back(std::move(s));
    if (sut == nullptr) return;
    auto call = std::make_unique<CallContext>(sut->ctx->env());
    call->metadata()[kCallKey] = absl::StrCat(index);
    absl::StatusOr<std::shared_ptr<Stream>> st = sut->conn->OpenStream(*call, m.streams.back().method);
    if (!st.ok()) RC_FAIL(absl::StrCat("OpenStream: ", st.status().ToString()));
    if ((*st)->id() != index + 1) RC_FAIL(absl::StrCat("stream ID ", (*st)->id(), ", want ", index + 1));
    sut->calls.push_back(std::move(call));
    sut->streams.push_back(*st);
  }
  void show(std::ostream& os) const override { os << "Open"; }
};

struct OpenOnADeadConnection : Step {
  explicit OpenOnADeadConnection(const Model& m) { checkPreconditions(m); }
  void checkPreconditions(const Model& m) const override { RC_PRE(m.dead); }
  void Do(Model&, Sut* sut) const override {
    if (sut == nullptr) return;
    CallContext call(sut->ctx->env());
    absl::StatusOr<std::shared_ptr<Stream>> st = sut->conn->OpenStream(call, "/svc.Test/Late");
    if (st.ok()) RC_FAIL("OpenStream succeeded on an ended connection");
  }
  void show(std::ostream& os) const override { os << "Open (the connection ended)"; }
};

struct Send : OnStream {
  using OnStream::OnStream;
  std::string msg = absl::StrCat("q", *rc::gen::inRange(0, 1000));
  bool last = *rc::gen::arbitrary<bool>();
  void Do(Model& m, Sut* sut) const override {
    ModelStream& s = m.streams[index];
    const absl::Status want = last ? s.model.SendLast(msg) : s.model.Send(msg);
    Emit(s, /*writes=*/true);
    if (sut == nullptr) return;
    Stream& st = *sut->streams[index];
    ExpectStatus(last ? st.SendLast(msg) : st.Send(msg), want, last ? "SendLast" : "Send");
  }
  void show(std::ostream& os) const override { os << (last ? "SendLast(" : "Send(") << index + 1 << ", " << msg << ")"; }
};

struct CloseSend : OnStream {
  using OnStream::OnStream;
  void Do(Model& m, Sut* sut) const override {
    ModelStream& s = m.streams[index];
    const absl::Status want = s.model.CloseSend();
    Emit(s, /*writes=*/true);
    if (sut) ExpectStatus(sut->streams[index]->CloseSend(), want, "CloseSend");
  }
  void show(std::ostream& os) const override { os << "CloseSend(" << index + 1 << ")"; }
};

struct Close : OnStream {
  using OnStream::OnStream;
  void Do(Model& m, Sut* sut) const override {
    ModelStream& s = m.streams[index];
    const absl::Status want = s.model.Close();
    Emit(s, /*writes=*/false);
    if (sut) ExpectStatus(sut->streams[index]->Close(), want, "Close");
  }
  void show(std::ostream& os) const override { os << "Close(" << index + 1 << ")"; }
};

struct Cancel : OnStream {
  using OnStream::OnStream;
  void Do(Model& m, Sut* sut) const override {
    ModelStream& s = m.streams[index];
    if (!s.model.terminated()) {
      if (!s.on_wire) s.discarded = true;  // cancelled while corked: nothing is ever sent
      s.model.Cancel(CanceledError());
      if (s.on_wire && (m.mux || m.soft_cancel)) s.wire.push_back({Kind::kCancel, ""});
      if (s.on_wire && !m.mux && !m.soft_cancel) EndConnection(m);  // a hard cancel
    }
    if (sut) sut->calls[index]->Cancel();
  }
  void show(std::ostream& os) const override { os << "Cancel(" << index + 1 << ")"; }
};

struct Recv : OnStream {
  explicit Recv(const Model& m) : OnStream(m) { checkPreconditions(m); }
  void checkPreconditions(const Model& m) const override {
    OnStream::checkPreconditions(m);
    RC_PRE(!m.streams[index].recv_pending);
  }
  void Do(Model& m, Sut* sut) const override {
    ModelStream& s = m.streams[index];
    std::optional<absl::StatusOr<std::string>> want = s.model.Recv();
    if (!want.has_value()) s.recv_pending = true;
    RecvFlushes(m, s);
    if (sut == nullptr) return;
    std::shared_ptr<Stream> st = sut->streams[index];
    if (want.has_value()) return ExpectResult(st->Recv(), *want, absl::StrCat("Recv(", index + 1, ")"));
    auto slot = std::make_shared<PendingRecv>();
    sut->pending[index] = slot;
    DRPC_CHECK_OK(sut->ctx->env().scheduler().Spawn("recv", [slot, st] {
      slot->result = st->Recv();
      slot->done = true;
    }));
  }
  void show(std::ostream& os) const override { os << "Recv(" << index + 1 << ")"; }
};

// The peer sends a packet on a stream whose Invoke it has (upstream: also on an older stream after a
// newer one, which ends the connection).
struct Remote : OnStream {
  Kind kind = *rc::gen::element(Kind::kMessage, Kind::kMessage, Kind::kMessage, Kind::kCloseSend,
                                Kind::kClose, Kind::kError, Kind::kCancel);
  std::string msg = absl::StrCat("s", *rc::gen::inRange(0, 1000));
  uint64_t code = *rc::gen::inRange<uint64_t>(0, 100);
  explicit Remote(const Model& m) : OnStream(m) { checkPreconditions(m); }
  void checkPreconditions(const Model& m) const override {
    OnStream::checkPreconditions(m);
    RC_PRE(!m.dead && m.streams[index].on_wire && m.streams[index].model.queued() < 16);
  }
  void Do(Model& m, Sut* sut) const override {
    ModelStream& s = m.streams[index];
    const PacketId id{index + 1, s.peer_next_message++};
    // Error bodies in the mode's default format: the mux fork's (docs/protocol.md §16) or upstream's.
    const ErrorFormat format = m.mux ? ErrorFormat::kGrpcStatus : ErrorFormat::kUpstream;
    std::string data = kind == Kind::kMessage ? msg
                       : kind == Kind::kError ? EncodeErrorBody(format, {code, "remote failed"})
                                              : "";
    if (sut != nullptr) {
      testing::RawFrame f = testing::F(kind, id.stream, id.message, data);
      f.control = kind == Kind::kCancel;
      RC_ASSERT(sut->peer->WriteBytes(testing::Encode({f})).ok());
    }
    if (!m.mux && id < m.peer_last) {
      // Upstream packet IDs never go backwards on a connection (docs/protocol.md §4.2): a peer that sends on an
      // older stream after a newer one breaks the protocol, and the connection ends.
      EndConnection(m);
      return;
    }
    m.peer_last = std::max(m.peer_last, id);
    switch (kind) {
      case Kind::kMessage: s.model.RemoteMessage(msg); break;
      case Kind::kCloseSend: s.model.RemoteCloseSend(); break;
      case Kind::kClose: s.model.RemoteClose(); break;
      case Kind::kError: s.model.RemoteError(code, "remote failed"); break;
      default: s.model.RemoteCancel(); break;
    }
  }
  void show(std::ostream& os) const override { os << "peer sends " << KindName(kind) << "(" << index + 1 << (kind == Kind::kMessage ? ", " + msg : "") << ")"; }
};

struct TransportFails : Step {
  explicit TransportFails(const Model& m) { checkPreconditions(m); }
  void checkPreconditions(const Model& m) const override { RC_PRE(!m.dead); }
  void Do(Model& m, Sut* sut) const override {
    EndConnection(m);
    if (sut == nullptr) return;
    sut->peer->Close();
    sut->peer_closed = true;
  }
  void show(std::ostream& os) const override { os << "the transport fails (the peer goes away)"; }
};

struct CloseConnection : Step {
  explicit CloseConnection(const Model& m) { checkPreconditions(m); }
  void checkPreconditions(const Model& m) const override { RC_PRE(!m.dead); }
  void Do(Model& m, Sut* sut) const override {
    EndConnection(m);
    if (sut) sut->conn->Close();
  }
  void show(std::ostream& os) const override { os << "Conn::Close"; }
};

void CheckConnection(bool mux, bool soft_cancel) {
  Model initial;
  initial.mux = mux;
  initial.soft_cancel = soft_cancel;
  const auto commands = *rc::state::gen::commands(
      initial, rc::state::gen::execOneOfWithArgs<Open, Open, Send, Send, CloseSend, Close, Cancel, Recv, Recv,
                                                 Remote, Remote, Remote, TransportFails, CloseConnection,
                                                 OpenOnADeadConnection>());
  Options options;
  options.mux = mux;
  options.soft_cancel = soft_cancel;
  std::exception_ptr failure;
  sim::RunOptions run;
  run.scheduler.stack_bytes = 1 << 20;  // rapidcheck's assertions unwind on this fiber
  const sim::RunResult r = sim::RunSeed(
      [&](sim::SimContext& ctx) {
        auto [ours, theirs] = ctx.network().Pipe("conn");
        absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(ctx.env(), std::move(ours), options);
        ctx.Check(conn.ok(), conn.status().ToString());
        {
          testing::RawPeer peer(ctx.env(), std::move(theirs));
          Sut sut{&ctx, conn->get(), &peer};
          try {
            rc::state::runAll(commands, initial, sut);
          } catch (...) {
            failure = std::current_exception();
          }
          (*conn)->Close();  // ends every stream and releases waiting Recvs
          SleepFor(ctx.env(), Duration::Millis(1), "property: winding down");
        }
      },
      1, run);
  if (failure) std::rethrow_exception(failure);
  RC_ASSERT(r.ok());
}

RC_GTEST_PROP(ConnModel, MuxConnectionFollowsTheModel, ()) { CheckConnection(/*mux=*/true, false); }
RC_GTEST_PROP(ConnModel, UpstreamConnectionWithHardCancelFollowsTheModel, ()) {
  CheckConnection(/*mux=*/false, /*soft_cancel=*/false);
}
RC_GTEST_PROP(ConnModel, UpstreamConnectionWithSoftCancelFollowsTheModel, ()) {
  CheckConnection(/*mux=*/false, /*soft_cancel=*/true);
}

}  // namespace
}  // namespace drpc::properties
