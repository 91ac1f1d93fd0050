// Properties of splitting and reassembly, in both assembly modes (rapidcheck; a failure prints
// the counterexample and a reproduce string for RC_PARAMS="reproduce=...").
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "properties/generators.h"
#include "proto/frame.h"
#include "proto/packet.h"
#include "proto/splitter.h"
#include "proto/test_frames.h"
#include "gtest/gtest.h"
#include "rapidcheck/gtest.h"

namespace drpc::properties {
namespace {

using ::drpc::testing::OwnedFrame;

struct Sent {
  Kind kind;
  bool control;
  std::string data;
};

rc::Gen<Sent> GenSent() {
  return rc::gen::build<Sent>(
      rc::gen::set(&Sent::kind, rc::gen::element(Kind::kInvoke, Kind::kMessage, Kind::kError,
                                                 Kind::kCancel, Kind::kClose, Kind::kCloseSend,
                                                 Kind::kInvokeMetadata)),
      rc::gen::set(&Sent::control, rc::gen::arbitrary<bool>()),
      rc::gen::set(&Sent::data, GenData(2000)));
}

rc::Gen<size_t> GenSplit() {
  return rc::gen::oneOf(rc::gen::inRange<size_t>(limits::kSplitMinBytes, 9),
                        rc::gen::inRange<size_t>(1, 3000),
                        rc::gen::just(limits::kSplitDefaultBytes));
}

RC_GTEST_PROP(AssemblyProperties, SplitThenAssembleIsIdentityForAnySplitSize, ()) {
  const Sent sent = *GenSent();
  const size_t split = *GenSplit();
  const PacketId id{*rc::gen::inRange<uint64_t>(1, 1000), *rc::gen::inRange<uint64_t>(1, 1000)};
  std::string wire;
  AppendPacket(wire, id, sent.kind, sent.data, sent.control, split);
  auto frames = testing::ParseAllFrames(wire);
  RC_ASSERT(frames.ok());
  UpstreamAssembler upstream(UpstreamAssembler::Options{});
  MuxAssembler mux(MuxAssembler::Options{});
  std::vector<Packet> got_upstream, got_mux;
  for (const OwnedFrame& f : *frames) {
    RC_ASSERT((!IsSplittableKind(sent.kind) || f.data.size() <= split));
    auto u = upstream.OnFrame(f.view());
    RC_ASSERT(u.ok());
    if (u->has_value()) got_upstream.push_back(**u);
    auto m = mux.OnFrame(f.view());
    RC_ASSERT(m.ok());
    if (auto* p = std::get_if<Packet>(&*m)) got_mux.push_back(*p);
  }
  for (const auto& got : {got_upstream, got_mux}) {
    RC_ASSERT(got.size() == 1u);
    RC_ASSERT(got[0].id == id);
    RC_ASSERT(got[0].kind == sent.kind);
    RC_ASSERT(got[0].control == sent.control);
    RC_ASSERT(got[0].data == sent.data);
  }
}

RC_GTEST_PROP(AssemblyProperties, PacketStreamSurvivesArbitraryReadBoundaries, ()) {
  // TestReaderRandomized: packets with message IDs 1, 2, 3, ... split, parsed across arbitrary
  // reads, rebuilt exactly.
  const auto sent = *rc::gen::container<std::vector<Sent>>(GenSent());
  const size_t split = *GenSplit();
  std::string wire;
  for (size_t i = 0; i < sent.size(); ++i) {
    AppendPacket(wire, {1, i + 1}, sent[i].kind, sent[i].data, sent[i].control, split);
  }
  FrameParser parser(FrameParser::Options{});
  UpstreamAssembler assembler(UpstreamAssembler::Options{});
  std::vector<Packet> got;
  size_t pos = 0;
  for (size_t n : *GenSegmentation(wire.size())) {
    parser.Append(absl::string_view(wire).substr(pos, n));
    pos += n;
    for (auto f = parser.Next(); f.ok() && f->has_value(); f = parser.Next()) {
      auto p = assembler.OnFrame(**f);
      RC_ASSERT(p.ok());
      if (p->has_value()) got.push_back(std::move(**p));
    }
  }
  RC_ASSERT(got.size() == sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    RC_ASSERT(got[i].id == (PacketId{1, i + 1}));
    RC_ASSERT(got[i].kind == sent[i].kind);
    RC_ASSERT(got[i].data == sent[i].data);
  }
}

RC_GTEST_PROP(AssemblyProperties, UpstreamAssemblerNeverReturnsAPacketMixingIds, ()) {
  // Frames with colliding IDs in arbitrary order; each frame's data is its own ID repeated, so a
  // packet holding another ID's bytes is detectable.
  const auto shapes = *rc::gen::container<std::vector<std::tuple<int, int, bool, int>>>(
      rc::gen::tuple(rc::gen::inRange(0, 4), rc::gen::inRange(0, 4), rc::gen::arbitrary<bool>(),
                     rc::gen::inRange(0, 4)));
  UpstreamAssembler assembler(UpstreamAssembler::Options{});
  std::optional<PacketId> previous;
  for (const auto& [s, m, done, reps] : shapes) {
    const PacketId id{static_cast<uint64_t>(s), static_cast<uint64_t>(m)};
    std::string data;
    for (int i = 0; i < reps; ++i) data += PacketIdString(id);
    auto p = assembler.OnFrame(Frame{.id = id, .kind = Kind::kMessage, .done = done, .data = data});
    if (!p.ok()) {
      RC_ASSERT(absl::StartsWith(p.status().message(), "protocol error: "));
      break;
    }
    if (!p->has_value()) continue;
    const Packet& packet = **p;
    RC_ASSERT(packet.id == id);
    const std::string tag = PacketIdString(packet.id);
    RC_ASSERT(packet.data.size() % tag.size() == 0u);
    for (size_t at = 0; at < packet.data.size(); at += tag.size()) {
      RC_ASSERT(packet.data.compare(at, tag.size(), tag) == 0);
    }
    RC_ASSERT((!previous.has_value() || *previous < packet.id));
    previous = packet.id;
  }
}

// Go's Reader.ReadPacket (docs/protocol.md §4.2) transcribed literally: the reference for the upstream mode.
struct GoReaderModel {
  size_t max;
  PacketId last{1, 1};
  std::optional<Packet> pkt;

  // Returns the error's Go wording, or "" with *out set when a packet completes.
  std::string OnFrame(const OwnedFrame& f, std::optional<Packet>* out) {
    out->reset();
    if (f.id < last) return "id monotonicity violation";
    if (last != f.id || !pkt.has_value()) {
      last = f.id;
      pkt = Packet{f.id, f.kind, false, ""};
    } else if (f.kind != pkt->kind) {
      return "packet kind change";
    }
    pkt->control = pkt->control || f.control;
    pkt->data += f.data;
    if (pkt->data.size() > max) return "data overflow";
    if (!f.done) return "";
    ++last.message;
    out->swap(pkt);
    return "";
  }
};

RC_GTEST_PROP(AssemblyProperties, UpstreamAssemblerBehavesLikeGosReader, ()) {
  const size_t max = *rc::gen::inRange<size_t>(limits::kPacketLimitMinBytes, 400);
  const auto frames = *rc::gen::container<std::vector<OwnedFrame>>(rc::gen::build<OwnedFrame>(
      rc::gen::set(&OwnedFrame::id,
                   rc::gen::build<PacketId>(rc::gen::set(&PacketId::stream, rc::gen::inRange<uint64_t>(0, 4)),
                                            rc::gen::set(&PacketId::message, rc::gen::inRange<uint64_t>(0, 5)))),
      rc::gen::set(&OwnedFrame::kind, rc::gen::element(Kind::kMessage, Kind::kClose, Kind::kInvoke)),
      rc::gen::set(&OwnedFrame::done, rc::gen::arbitrary<bool>()),
      rc::gen::set(&OwnedFrame::control, rc::gen::arbitrary<bool>()),
      rc::gen::set(&OwnedFrame::data, GenData(100))));
  GoReaderModel model{.max = max, .last = {1, 1}, .pkt = std::nullopt};
  UpstreamAssembler assembler(UpstreamAssembler::Options{.packet_max_bytes = max});
  for (const OwnedFrame& f : frames) {
    std::optional<Packet> want;
    const std::string want_error = model.OnFrame(f, &want);
    auto got = assembler.OnFrame(f.view());
    if (!want_error.empty()) {
      RC_ASSERT(!got.ok());
      RC_ASSERT(absl::StartsWith(got.status().message(), "protocol error: " + want_error));
      return;
    }
    RC_ASSERT(got.ok());
    RC_ASSERT(got->has_value() == want.has_value());
    if (!want.has_value()) continue;
    RC_ASSERT((*got)->id == want->id);
    RC_ASSERT((*got)->kind == want->kind);
    RC_ASSERT((*got)->control == want->control);
    RC_ASSERT((*got)->data == want->data);
  }
}

// The per-stream rules of docs/protocol.md §4.3 written out plainly: the reference for the mux
// mode (a whole packet in one frame takes MuxAssembler's inline path, a packet in pieces, an
// abandoned one or one over the limit its general path; the model knows no such difference).
struct MuxModel {
  size_t max;
  struct Stream {
    uint64_t next = 1;  // 0: no message ID can follow
    std::optional<Packet> pkt;
    uint64_t discarding = 0;
  };
  std::map<uint64_t, Stream> streams;

  // Returns the start of a connection error's text, or "" with *out set when a packet completes
  // and *stream_error when the frame's stream failed.
  std::string OnFrame(const OwnedFrame& f, std::optional<Packet>* out, bool* stream_error) {
    out->reset();
    *stream_error = false;
    if (f.id.stream == 0 || f.id.message == 0) return "zero";
    Stream& s = streams[f.id.stream];
    const uint64_t m = f.id.message;
    if (s.next == 0 || m < s.next) return "id monotonicity violation";
    if (s.discarding == m) {
      if (f.done) s = Stream{.next = m + 1, .pkt = std::nullopt, .discarding = 0};
      return "";
    }
    s.discarding = 0;
    if (!s.pkt.has_value() || s.pkt->id.message != m) {
      s.pkt = Packet{f.id, f.kind, f.control, ""};
      s.next = m;
    } else if (f.kind != s.pkt->kind) {
      return "packet kind change";
    }
    if (s.pkt->data.size() + f.data.size() > max) {
      *stream_error = true;
      s.pkt.reset();
      s.discarding = f.done ? 0 : m;
      s.next = f.done ? m + 1 : m;
      return "";
    }
    s.pkt->data += f.data;
    s.pkt->control = s.pkt->control || f.control;
    if (!f.done) return "";
    s.next = m + 1;
    out->swap(s.pkt);
    return "";
  }

  size_t partial_bytes() const {
    size_t total = 0;
    for (const auto& [id, s] : streams) total += s.pkt.has_value() ? s.pkt->data.size() : 0;
    return total;
  }
};

RC_GTEST_PROP(AssemblyProperties, MuxAssemblerBehavesLikeTheSpecsModel, ()) {
  const size_t max = *rc::gen::inRange<size_t>(limits::kPacketLimitMinBytes, 200);
  const auto frames = *rc::gen::container<std::vector<OwnedFrame>>(rc::gen::build<OwnedFrame>(
      rc::gen::set(&OwnedFrame::id,
                   rc::gen::build<PacketId>(
                       rc::gen::set(&PacketId::stream, rc::gen::inRange<uint64_t>(0, 4)),
                       rc::gen::set(&PacketId::message,
                                    rc::gen::oneOf(rc::gen::inRange<uint64_t>(0, 6),
                                                   rc::gen::just(UINT64_MAX))))),
      rc::gen::set(&OwnedFrame::kind, rc::gen::element(Kind::kMessage, Kind::kClose, Kind::kInvoke)),
      rc::gen::set(&OwnedFrame::done, rc::gen::arbitrary<bool>()),
      rc::gen::set(&OwnedFrame::control, rc::gen::arbitrary<bool>()),
      rc::gen::set(&OwnedFrame::data, GenData(100))));
  MuxModel model{.max = max, .streams = {}};
  MuxAssembler mux(MuxAssembler::Options{.packet_max_bytes = max});
  for (const OwnedFrame& f : frames) {
    std::optional<Packet> want;
    bool want_stream_error = false;
    const std::string want_error = model.OnFrame(f, &want, &want_stream_error);
    auto got = mux.OnFrame(f.view());
    if (!want_error.empty()) {
      RC_ASSERT(!got.ok());
      RC_ASSERT(absl::StartsWith(got.status().message(), "protocol error: " + want_error));
      return;
    }
    RC_ASSERT(got.ok());
    if (want_stream_error) {
      const auto* error = std::get_if<StreamAssemblyError>(&*got);
      RC_ASSERT(error != nullptr);
      RC_ASSERT(error->stream == f.id.stream);
      RC_ASSERT(error->status.code() == absl::StatusCode::kResourceExhausted);
    } else if (want.has_value()) {
      const auto* packet = std::get_if<Packet>(&*got);
      RC_ASSERT(packet != nullptr);
      RC_ASSERT(packet->id == want->id);
      RC_ASSERT(packet->kind == want->kind);
      RC_ASSERT(packet->control == want->control);
      RC_ASSERT(packet->data == want->data);
    } else {
      RC_ASSERT(std::holds_alternative<std::monostate>(*got));
    }
    RC_ASSERT(mux.partial_bytes() == model.partial_bytes());
  }
}

// Frames over few IDs and small sizes, so that the assemblers' fast paths meet every rule they
// repeat: IDs (zero, lower, the last one), limits, partial and discarded packets. A frame's
// message ID follows its stream's packets (mostly), so a sequence gets far before an ID
// error ends it.
rc::Gen<std::vector<OwnedFrame>> GenTangledFrames() {
  auto frame = rc::gen::build<OwnedFrame>(
      rc::gen::set(&OwnedFrame::id,
                   rc::gen::build<PacketId>(
                       rc::gen::set(&PacketId::stream,
                                    rc::gen::weightedElement<uint64_t>({{1, 0}, {8, 1}, {4, 2}})),
                       // A code that the map below turns into a message ID.
                       rc::gen::set(&PacketId::message, rc::gen::inRange<uint64_t>(0, 40)))),
      rc::gen::set(&OwnedFrame::kind,
                   rc::gen::weightedElement<Kind>({{8, Kind::kMessage}, {1, Kind::kClose},
                                                   {1, Kind::kInvoke}})),
      rc::gen::set(&OwnedFrame::done, rc::gen::arbitrary<bool>()),
      rc::gen::set(&OwnedFrame::control, rc::gen::arbitrary<bool>()),
      rc::gen::set(&OwnedFrame::data, GenData(150)));
  return rc::gen::map(rc::gen::container<std::vector<OwnedFrame>>(frame),
                      [](std::vector<OwnedFrame> frames) {
                        std::map<uint64_t, uint64_t> current;
                        for (OwnedFrame& f : frames) {
                          uint64_t& m = current.try_emplace(f.id.stream, 1).first->second;
                          const uint64_t code = f.id.message;
                          if (code == 0) {
                            f.id.message = 0;
                          } else if (code == 1) {
                            f.id.message = m = UINT64_MAX;
                          } else if (code == 2) {
                            f.id.message = m - 1;
                          } else {
                            // Mostly the packet in progress, else a higher ID that abandons it.
                            if (code % 5 == 0 && m != UINT64_MAX) ++m;
                            f.id.message = m;
                            if (f.done && m != UINT64_MAX) ++m;
                          }
                        }
                        return frames;
                      });
}

bool SamePacket(const Packet& a, const Packet& b) {
  return a.id == b.id && a.kind == b.kind && a.control == b.control && a.data == b.data;
}

// TakeWholePacket repeats OnFrame's acceptance rules: an assembler that tries it first (then
// OnFrame when it declines) must be indistinguishable from one that only calls OnFrame.
RC_GTEST_PROP(AssemblyProperties, UpstreamTakeWholePacketIsOnFramesCommonCase, ()) {
  const size_t max = *rc::gen::inRange<size_t>(limits::kPacketLimitMinBytes, 100);
  const auto frames = *GenTangledFrames();
  UpstreamAssembler fast(UpstreamAssembler::Options{.packet_max_bytes = max});
  UpstreamAssembler slow(UpstreamAssembler::Options{.packet_max_bytes = max});
  for (const OwnedFrame& f : frames) {
    auto want = slow.OnFrame(f.view());
    if (Packet whole; fast.TakeWholePacket(f.view(), whole)) {
      RC_ASSERT(want.ok());
      RC_ASSERT(want->has_value());
      RC_ASSERT(SamePacket(whole, **want));
    } else {
      auto got = fast.OnFrame(f.view());
      RC_ASSERT(got.ok() == want.ok());
      if (!want.ok()) {
        RC_ASSERT(got.status() == want.status());
        return;  // sticky: every later frame gets the same error from both
      }
      RC_ASSERT(got->has_value() == want->has_value());
      if (want->has_value()) RC_ASSERT(SamePacket(**got, **want));
    }
    RC_ASSERT(fast.partial_bytes() == slow.partial_bytes());
    RC_ASSERT(fast.last() == slow.last());
  }
}

RC_GTEST_PROP(AssemblyProperties, MuxTakeWholePacketIsOnFramesCommonCase, ()) {
  const size_t max = *rc::gen::inRange<size_t>(limits::kPacketLimitMinBytes, 100);
  const size_t streams_max = *rc::gen::inRange<size_t>(1, 5);
  const auto frames = *GenTangledFrames();
  // Before each frame, maybe forget a stream (what a connection does when a stream ends).
  const auto forgets = *rc::gen::container<std::vector<uint64_t>>(
      frames.size(), rc::gen::weightedOneOf<uint64_t>({{4, rc::gen::just<uint64_t>(0)},
                                                       {1, rc::gen::inRange<uint64_t>(1, 4)}}));
  const MuxAssembler::Options options{.packet_max_bytes = max, .streams_max_count = streams_max};
  MuxAssembler fast(options);
  MuxAssembler slow(options);
  for (size_t i = 0; i < frames.size(); ++i) {
    if (forgets[i] != 0) {
      fast.Forget(forgets[i]);
      slow.Forget(forgets[i]);
    }
    const Frame f = frames[i].view();
    auto want = slow.OnFrame(f);
    if (Packet whole; fast.TakeWholePacket(f, whole)) {
      RC_ASSERT(want.ok());
      const auto* packet = std::get_if<Packet>(&*want);
      RC_ASSERT(packet != nullptr);
      RC_ASSERT(SamePacket(whole, *packet));
    } else {
      auto got = fast.OnFrame(f);
      RC_ASSERT(got.ok() == want.ok());
      if (!want.ok()) {
        RC_ASSERT(got.status() == want.status());
        return;  // sticky: every later frame gets the same error from both
      }
      RC_ASSERT(got->index() == want->index());
      if (const auto* packet = std::get_if<Packet>(&*want)) {
        RC_ASSERT(SamePacket(std::get<Packet>(*got), *packet));
      } else if (const auto* error = std::get_if<StreamAssemblyError>(&*want)) {
        RC_ASSERT(std::get<StreamAssemblyError>(*got).stream == error->stream);
        RC_ASSERT(std::get<StreamAssemblyError>(*got).status == error->status);
      }
    }
    RC_ASSERT(fast.partial_bytes() == slow.partial_bytes());
    RC_ASSERT(fast.streams_tracked() == slow.streams_tracked());
  }
}

RC_GTEST_PROP(AssemblyProperties, MuxAssemblerReproducesEveryStreamFromAnyInterleaving, ()) {
  const size_t streams = *rc::gen::inRange<size_t>(1, 9);
  std::vector<std::vector<Sent>> sent(streams);
  std::vector<std::vector<OwnedFrame>> frames(streams);
  for (size_t s = 0; s < streams; ++s) {
    sent[s] = *rc::gen::container<std::vector<Sent>>(GenSent());
    const size_t split = *GenSplit();
    std::string wire;
    for (size_t i = 0; i < sent[s].size(); ++i) {
      AppendPacket(wire, {s + 1, i + 1}, sent[s][i].kind, sent[s][i].data, sent[s][i].control,
                   split);
    }
    frames[s] = *testing::ParseAllFrames(wire);
  }
  // Any interleaving that keeps each stream's own frame order.
  std::vector<size_t> order;
  for (size_t s = 0; s < streams; ++s) order.insert(order.end(), frames[s].size(), s);
  const auto keys = *rc::gen::container<std::vector<uint32_t>>(order.size(),
                                                              rc::gen::arbitrary<uint32_t>());
  std::vector<size_t> idx(order.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
  std::vector<size_t> next(streams, 0);
  MuxAssembler mux(MuxAssembler::Options{});
  std::vector<std::vector<Packet>> got(streams);
  for (size_t i : idx) {
    const size_t s = order[i];
    auto r = mux.OnFrame(frames[s][next[s]++].view());
    RC_ASSERT(r.ok());
    RC_ASSERT(!std::holds_alternative<StreamAssemblyError>(*r));
    if (auto* p = std::get_if<Packet>(&*r)) got[p->id.stream - 1].push_back(std::move(*p));
  }
  for (size_t s = 0; s < streams; ++s) {
    RC_ASSERT(got[s].size() == sent[s].size());
    for (size_t i = 0; i < sent[s].size(); ++i) {
      RC_ASSERT(got[s][i].id == (PacketId{s + 1, i + 1}));
      RC_ASSERT(got[s][i].kind == sent[s][i].kind);
      RC_ASSERT(got[s][i].control == sent[s][i].control);
      RC_ASSERT(got[s][i].data == sent[s][i].data);
    }
  }
}

}  // namespace
}  // namespace drpc::properties
