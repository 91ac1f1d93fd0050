// The model of one end of a connection (wire_end_model.h): the rules of wire_oracle.h, checked
// frame by frame.
#include "sim/drpc/wire_end_model.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/error_codec.h"
#include "proto/metadata.h"
#include "proto/window.h"

namespace drpc::sim {
namespace wire_internal {

WireOracle::ReceivedProbe* received_probe = nullptr;
bool full_checks = false;

namespace {

bool IsTerminalKind(Kind k) {
  return k == Kind::kError || k == Kind::kCancel || k == Kind::kClose;
}
bool IsSplittable(Kind k) {
  return k == Kind::kInvoke || k == Kind::kInvokeMetadata || k == Kind::kMessage;
}

std::string Describe(Kind kind, PacketId id, uint64_t length, bool done, bool control) {
  return absl::StrCat(KindName(kind), " ", PacketIdString(id), " len=", length,
                      done ? " done" : "", control ? " control" : "");
}

std::string Describe(const FrameFacts& f) {
  return Describe(f.kind, f.id, f.length, f.done, f.control);
}
std::string Describe(const Frame& f) { return Describe(FrameFacts::Of(f)); }

}  // namespace

std::string FrameNote::ToString(uint64_t stream) const {
  return absl::StrCat(sent ? "-> " : "<- ",
                      Describe(kind, PacketId{stream, message}, length, done, control));
}

}  // namespace wire_internal

using wire_internal::Describe;
using wire_internal::FrameFacts;
using wire_internal::IsSplittable;
using wire_internal::IsTerminalKind;
using wire_internal::kFrameDataCheckMaxBytes;
using wire_internal::kHistoryMaxCount;
using wire_internal::KeepsBody;
using wire_internal::received_probe;

using EndModel = WireOracle::EndModel;

EndModel::EndModel(WireOracle& oracle, std::string name, const WireEndConfig& config,
                   std::optional<SimNetwork::EndpointId> endpoint)
    : oracle_(&oracle),
      endpoint_(std::move(endpoint)),
      name_(std::move(name)),
      config_(config),
      logging_(oracle.trace_ctx_ != nullptr && oracle.trace_ctx_->trace().enabled()),
      recording_(oracle.trace_ctx_ != nullptr && oracle.trace_ctx_->recorder() != nullptr &&
                 endpoint_.has_value()),
      out_framer_(kFrameDataCheckMaxBytes),
      in_parser_(FrameParser::Options{.frame_data_max_bytes = kFrameDataCheckMaxBytes}) {
  watched_ = logging_ || recording_;
  full_checks_ = wire_internal::full_checks;
  inline_writes_ = !watched_ && !full_checks_;
  using wire_internal::KindBit;
  received_inline_kinds_ = 0;
  if (inline_writes_) {
    received_inline_kinds_ = KindBit(Kind::kMessage) | KindBit(Kind::kClose) |
                             KindBit(Kind::kCloseSend);
    // A server's Invoke may start flow control (StartFlow): the full path does that.
    if (!config_.client) {
      received_inline_kinds_ |= KindBit(Kind::kInvokeMetadata);
      if (!config_.flow_control) received_inline_kinds_ |= KindBit(Kind::kInvoke);
    }
  }
  send_rules_ = MakeSendRules(config_, recording_);
}

// CheckClientLifecycle and CheckServerLifecycle for a new, whole packet, as flags to test and
// set. The kinds left out (and Invoke when it starts flow control, InvokeMetadata when recorded,
// Message under flow control) take the full checks.
EndModel::SendRules EndModel::MakeSendRules(const WireEndConfig& config, bool recording) {
  constexpr uint64_t kMetadata = FlagBit(offsetof(StreamState, sent_metadata));
  constexpr uint64_t kInvoke = FlagBit(offsetof(StreamState, sent_invoke));
  constexpr uint64_t kCloseSend = FlagBit(offsetof(StreamState, sent_close_send));
  constexpr uint64_t kTerminal = FlagBit(offsetof(StreamState, sent_terminal));
  constexpr uint64_t kNewPacket = FlagBit(offsetof(StreamState, new_packet));
  constexpr uint64_t kSending = FlagBit(offsetof(StreamState, sending_packet));
  constexpr uint64_t kReceived = FlagBit(offsetof(StreamState, received_any));
  constexpr uint64_t kFlow = FlagBit(offsetof(StreamState, flow_controlled));
  // Every kind: nothing after a terminal, no packet left partly sent.
  constexpr uint64_t kAlways = kTerminal | kSending;
  auto rule = [&config](uint64_t need, uint64_t need_set, uint64_t set, bool empty = false) {
    return SendRule{.mask = kAlways | need | need_set, .want = need_set, .set = kNewPacket | set,
                    .max_length = empty ? 0 : config.split_bytes};
  };
  SendRules rules{};
  auto at = [&rules](Kind k) -> SendRule& { return rules[static_cast<uint8_t>(k)]; };
  if (config.client) {
    if (!recording) at(Kind::kInvokeMetadata) = rule(kInvoke | kMetadata, 0, kMetadata);
    if (!(config.mux && config.flow_control)) at(Kind::kInvoke) = rule(kInvoke, 0, kInvoke);
    at(Kind::kMessage) = rule(kCloseSend | kFlow, kInvoke, 0);
    at(Kind::kCloseSend) = rule(kCloseSend, kInvoke, kCloseSend, /*empty=*/true);
    at(Kind::kClose) = rule(0, kInvoke, kTerminal, /*empty=*/true);
  } else {
    at(Kind::kMessage) = rule(kCloseSend | kFlow, kReceived, 0);
    at(Kind::kCloseSend) = rule(kCloseSend, kReceived, kCloseSend, /*empty=*/true);
    at(Kind::kClose) = rule(0, kReceived, kTerminal, /*empty=*/true);
  }
  return rules;
}

EndModel::~EndModel() {
  if (in_relay_ != nullptr) in_relay_->Abandon();
}

// A write is checked frame by frame; while the reader takes the frames from the relay, a
// poisoned end no longer checks them but still parses and relays them for the reader.
void EndModel::OnWrite(absl::string_view bytes) {
  Relay* relay = out_relay_ != nullptr && out_relay_->Open() ? out_relay_.get() : nullptr;
  if (relay == nullptr && poisoned_) return;
  if (ABSL_PREDICT_TRUE(inline_writes_ && !poisoned_)) {
    uint64_t frames = 0;
    const size_t taken = out_framer_.TakeCommonFrames(
        bytes, [&](const CommonFrame& f, uint64_t end_offset) ABSL_ATTRIBUTE_ALWAYS_INLINE {
          if (!SendsCleanFrame(f, end_offset, relay)) return false;
          ++frames;
          return true;
        });
    oracle_->stats_.frames_sent += frames;
    if (ABSL_PREDICT_FALSE(received_probe != nullptr)) received_probe->inline_sent_frames += frames;
    if (ABSL_PREDICT_TRUE(taken == bytes.size())) return;
    bytes.remove_prefix(taken);
  }
  FeedWritten(bytes, relay);
}

inline bool EndModel::SendsCleanFrame(const CommonFrame& f, uint64_t end_offset,
                                      Relay*& relay) {
  static_assert(ABSL_IS_LITTLE_ENDIAN, "FlagBit numbers the flags' bytes from the lowest");
  const SendRule& rule = send_rules_[static_cast<uint8_t>(f.kind())];
  // A whole packet without the control bit; its kind has a rule (one of IsCleanShape's kinds,
  // whose max_length holds its body to the split size or to empty).
  if ((f.header & (kHeaderControlBit | kHeaderDoneBit)) != kHeaderDoneBit ||
      f.length > rule.max_length || f.stream == 0 || f.message == 0) {
    return false;
  }
  StreamState& s = Stream(f.stream);
  uint64_t flags;
  std::memcpy(&flags, &s.sent_metadata, sizeof(flags));
  // The rule's flags, the next message ID; upstream, nothing partly sent and no ID below the
  // last. Nothing partly sent on the stream either (rule.mask has sending_packet, want not):
  // sending_id, sending_kind and upstream_packet_ are not read until a packet is partly sent.
  if ((flags & rule.mask) != rule.want || f.message != s.last_sent_message + 1) return false;
  const PacketId id{f.stream, f.message};
  if (!config_.mux) {
    if (upstream_sending_ || id < upstream_last_) return false;
    upstream_last_ = id;
  }
  flags |= rule.set;
  std::memcpy(&s.sent_metadata, &flags, sizeof(flags));
  s.last_sent_message = f.message;
  wire_internal::FrameNote note{.message = f.message, .length = static_cast<uint32_t>(f.length),
                                .kind = f.kind(), .done = true, .control = false, .sent = true};
  Remember(s, note);
  // Abandoned while unread: on with this end's own checks only.
  note.sent = false;
  if (relay != nullptr && !relay->PushNote(f.stream, end_offset, note, /*clean=*/true)) {
    relay = nullptr;
  }
  return true;
}

void EndModel::FeedWritten(absl::string_view bytes, Relay* relay) {
  out_framer_.Feed(
      bytes,
      [&](const Frame& f) ABSL_ATTRIBUTE_ALWAYS_INLINE {
        bool clean;
        if (!poisoned_) {
          ++oracle_->stats_.frames_sent;
          clean = OnSent(f);
        } else {
          clean = IsCleanShape(f);
        }
        // Abandoned while unread: on with this end's own checks only.
        if (relay != nullptr && !relay->Push(out_framer_.offset(), f, clean)) relay = nullptr;
      },
      [&](const absl::Status& error, absl::string_view bad) {
        if (relay != nullptr && relay->Open()) StopRelaying(*relay, error, bad);
        Violate(0, absl::StrCat("sent bytes that do not parse: ", error.message()));
      });
}

void EndModel::OnRead(absl::string_view bytes) {
  if (ABSL_PREDICT_FALSE(in_mode_ == InMode::kUndecided)) DecideInMode();
  if (ABSL_PREDICT_TRUE(in_mode_ == InMode::kRelayed)) {
    ReadRelayed(bytes.size());
  } else {
    FeedReceived(bytes);
  }
}

void EndModel::AttachRelays(std::shared_ptr<Relay> out, std::shared_ptr<Relay> in) {
  out->writer_attached = true;
  in->reader_attached = true;
  out_relay_ = std::move(out);
  in_relay_ = std::move(in);
}

// At the first read: relayed frames only if the writer's model has relayed from the first byte.
void EndModel::DecideInMode() {
  if (in_relay_ != nullptr && in_relay_->writer_attached && !in_relay_->abandoned) {
    in_mode_ = InMode::kRelayed;
    return;
  }
  in_mode_ = InMode::kParsed;
  if (in_relay_ != nullptr) in_relay_->Abandon();
}

// The written stream stops parsing: the reader's parser would fail at the first read that
// brings the shortest prefix of the bad frame that fails to parse, with this same error (same
// bytes at the same offset).
void EndModel::StopRelaying(Relay& relay, const absl::Status& error, absl::string_view bad) {
  size_t shortest = bad.size();
  for (size_t n = 1; n < bad.size(); ++n) {
    size_t consumed = 0;
    if (!ParseFrame(bad.substr(0, n), kFrameDataCheckMaxBytes, &consumed).ok()) {
      shortest = n;
      break;
    }
  }
  relay.parse_error = error;
  relay.parse_error_offset = out_framer_.offset() + shortest - 1;
}

// OnRead with relayed frames: the frames the bytes read so far complete, in order, exactly as
// parsing them would hand them over.
inline void EndModel::ReadRelayed(size_t n) {
  Relay& relay = *in_relay_;
  read_bytes_ += n;
  uint64_t received = 0;
  relay.TakeReady(read_bytes_, [&](const Relay::Entry& e) ABSL_ATTRIBUTE_ALWAYS_INLINE {
    if (poisoned_) return;
    ++received;
    OnReceivedRelayed(e);
  });
  oracle_->stats_.frames_received += received;
  if (ABSL_PREDICT_FALSE(received_probe != nullptr)) received_probe->relayed_frames += received;
  if (ABSL_PREDICT_FALSE(relay.parse_error.has_value())) ReportRelayedParseError();
}

void EndModel::ReportRelayedParseError() {
  const Relay& relay = *in_relay_;
  if (read_bytes_ > relay.parse_error_offset) {
    Violate(0, absl::StrCat("received bytes that do not parse: ", relay.parse_error->message()));
  }
}

FrameFacts EndModel::FactsOf(const Relay::Entry& e) const {
  return FrameFacts{.id = PacketId{e.stream, e.note.message}, .kind = e.note.kind,
                    .done = e.note.done, .control = e.note.control, .length = e.note.length,
                    .data = KeepsBody(e.note.kind) ? in_relay_->FrontBody() : absl::string_view()};
}

// Mixes a received frame into the test digest (set_received_probe_for_testing).
void EndModel::MixReceived(const FrameFacts& f) {
  uint64_t& h = received_probe->digest;
  auto mix = [&h](uint64_t v) { h = (h ^ v) * 0x100000001b3ull + 0x9e3779b97f4a7c15ull; };
  for (char c : name_) mix(static_cast<uint8_t>(c));
  mix(f.id.stream);
  mix(f.id.message);
  mix(static_cast<uint64_t>(f.kind));
  mix(static_cast<uint64_t>(f.done) | static_cast<uint64_t>(f.control) << 1);
  mix(f.length);
  if (KeepsBody(f.kind)) {
    for (char c : f.data) mix(static_cast<uint8_t>(c));
  }
}

void EndModel::FeedReceived(absl::string_view bytes) {
  if (poisoned_) return;
  in_parser_.Append(bytes);
  for (;;) {
    absl::StatusOr<std::optional<Frame>> f = in_parser_.Next();
    if (!f.ok()) {
      Violate(0, absl::StrCat("received bytes that do not parse: ", f.status().message()));
      return;
    }
    if (!f->has_value()) return;
    ++oracle_->stats_.frames_received;
    const FrameFacts facts = FrameFacts::Of(**f);
    OnReceived(facts, IsCleanShape(facts));
    if (poisoned_) return;
  }
}

bool EndModel::CheckShapeInDetail(const FrameFacts& f, absl::string_view verb) {
  auto fail = [&](absl::string_view why) {
    Violate(f.id.stream, absl::StrCat(verb, " ", Describe(f), ": ", why));
    return false;
  };
  if (!IsKnownKind(f.kind)) return fail("unknown kind");
  if (f.kind == Kind::kWindowUpdate && !config_.mux) return fail("WindowUpdate in upstream mode");
  const bool want_control = f.kind == Kind::kCancel || f.kind == Kind::kWindowUpdate;
  const bool may_control = want_control || (config_.mux && f.kind == Kind::kError);
  if (want_control && !f.control) return fail("must carry the control bit");
  if (!may_control && f.control) return fail("must not carry the control bit");
  if (f.id.stream == 0) return fail("stream ID 0");
  if (f.kind == Kind::kWindowUpdate) {
    if (f.id.message != 0) return fail("WindowUpdate must have message ID 0");
    if (absl::StatusOr<uint64_t> d = ParseForkWindowUpdate(f.AsFrame()); !d.ok()) {
      return fail(d.status().message());
    }
    return true;
  }
  if (f.id.message == 0) return fail("message ID 0");
  if (!IsSplittable(f.kind) && !f.done) return fail("must be one frame (never split)");
  if ((f.kind == Kind::kClose || f.kind == Kind::kCloseSend || f.kind == Kind::kCancel) &&
      f.length != 0) {
    return fail("must have an empty body");
  }
  if (f.kind == Kind::kError) {
    if (absl::StatusOr<RemoteError> e = DecodeErrorBody(config_.error_format, f.data); !e.ok()) {
      return fail(e.status().message());
    }
    if (config_.error_format == ErrorFormat::kUpstream && f.length < limits::kErrorCodeBytes) {
      return fail("Error body shorter than its 8-byte code");
    }
  }
  return true;
}

void EndModel::LogFrame(SimContext& ctx, absl::string_view arrow, const FrameFacts& f) {
  ctx.Log(absl::StrCat(name_, " ", arrow, " ", Describe(f)));
}

void EndModel::RecordFrame(bool sent, const FrameFacts& f) {
  SimContext* ctx = oracle_->trace_ctx_;
  Recorder& recorder = *ctx->recorder();
  recorder.FrameEvent(ctx->now(), endpoint_->connection, endpoint_->end, sent, f.AsFrame());
  if (!sent || !config_.client || f.kind != Kind::kInvoke) return;
  InvokeText& sending = sending_[f.id.stream];
  sending.invoke.append(f.data.data(), f.data.size());
  if (!f.done) return;
  std::string label = sending.invoke;
  std::map<std::string, std::string> metadata;
  if (absl::StatusOr<Metadata> md = DecodeMetadata(sending.metadata);
      md.ok() && !sending.metadata.empty()) {
    for (const auto& [k, v] : *md) {
      metadata[k] = v;
      absl::StrAppend(&label, " ", k, "=", v);
    }
  }
  recorder.LabelStream(endpoint_->connection, f.id.stream, std::move(label), std::move(metadata));
}

inline EndModel::StreamState& EndModel::AddStream(uint64_t id) {
  const size_t index = stream_count_++;
  if (index % kStreamChunkCount == 0) {
    stream_chunks_.push_back(std::make_unique<StreamState[]>(kStreamChunkCount));
  }
  last_stream_ = &stream_chunks_.back()[index % kStreamChunkCount];
  last_stream_id_ = id;
  return *last_stream_;
}

EndModel::StreamState& EndModel::FindOrAddStream(uint64_t id) {
  const size_t index = stream_count_;
  // Stream IDs mostly grow, so a new stream is mostly appended.
  if (stream_index_.empty() || id > stream_index_.back().id) {
    stream_index_.push_back(StreamRef{.id = id, .index = index});
    return AddStream(id);
  }
  auto at = std::lower_bound(stream_index_.begin(), stream_index_.end(), id,
                             [](const StreamRef& r, uint64_t v) { return r.id < v; });
  if (at->id != id) {
    stream_index_.insert(at, StreamRef{.id = id, .index = index});
    return AddStream(id);
  }
  last_stream_ = &stream_chunks_[at->index / kStreamChunkCount][at->index % kStreamChunkCount];
  last_stream_id_ = id;
  return *last_stream_;
}

const EndModel::StreamState* EndModel::FindStream(uint64_t id) const {
  auto at = std::lower_bound(stream_index_.begin(), stream_index_.end(), id,
                             [](const StreamRef& r, uint64_t v) { return r.id < v; });
  if (at == stream_index_.end() || at->id != id) return nullptr;
  return &stream_chunks_[at->index / kStreamChunkCount][at->index % kStreamChunkCount];
}

// What OnReceived does with a clean frame of a kind in received_inline_kinds_.
inline void EndModel::OnReceivedRelayed(const Relay::Entry& e) {
  if (ABSL_PREDICT_FALSE(!e.clean ||
                         (received_inline_kinds_ & wire_internal::KindBit(e.note.kind)) == 0)) {
    OnReceivedInFull(e);
    return;
  }
  if (ABSL_PREDICT_FALSE(received_probe != nullptr)) {
    ++received_probe->inline_received_frames;
    MixReceived(FactsOf(e));
  }
  StreamState& s = Stream(e.stream);
  Remember(s, e.note);
  s.received_any = true;
  s.received_message_bytes += e.note.kind == Kind::kMessage ? e.note.length : 0;
}

void EndModel::OnReceivedInFull(const Relay::Entry& e) { OnReceived(FactsOf(e), e.clean); }

inline void EndModel::OnReceived(const FrameFacts& f, bool clean) {
  if (ABSL_PREDICT_FALSE(received_probe != nullptr)) MixReceived(f);
  StreamState& s = Stream(f.id.stream);
  Watch(/*sent=*/false, f);
  Remember(s, f, /*sent=*/false);
  if (!CheckShape(f, clean, "received")) return;
  s.received_any = true;
  switch (f.kind) {
    case Kind::kInvoke:
    case Kind::kInvokeMetadata:
      if (ABSL_PREDICT_FALSE(config_.client)) {
        ReceivedInvokeViolation(f);
        return;
      }
      if (f.kind == Kind::kInvoke && f.done) StartFlow(s);
      return;
    case Kind::kMessage:
      s.received_message_bytes += f.length;
      return;
    case Kind::kWindowUpdate:
      if (s.flow_controlled) OnReceivedWindowUpdate(s, f);
      return;
    default:
      return;
  }
}

void EndModel::ReceivedInvokeViolation(const FrameFacts& f) {
  Violate(f.id.stream, absl::StrCat("received ", Describe(f), " from the server"));
}

void EndModel::OnReceivedWindowUpdate(StreamState& s, const FrameFacts& f) {
  // Saturating, as the sender's credit does (the oracle's view is never below the sender's).
  const uint64_t delta = *ParseForkWindowUpdate(f.AsFrame());
  const uint64_t room = static_cast<uint64_t>(limits::kSendCreditMaxBytes) -
                        static_cast<uint64_t>(s.credit);
  s.credit = delta >= room ? limits::kSendCreditMaxBytes
                           : static_cast<int64_t>(static_cast<uint64_t>(s.credit) + delta);
}

void EndModel::StartFlow(StreamState& s) {
  if (!config_.flow_control) return;
  s.flow_controlled = true;
  s.credit = static_cast<int64_t>(config_.stream_window_bytes);
  ++oracle_->stats_.flow_controlled_streams;
}

bool EndModel::OnSent(const Frame& f) {
  StreamState& s = Stream(f.id.stream);
  Watch(/*sent=*/true, f);
  Remember(s, f, /*sent=*/true);
  const bool clean = IsCleanShape(f);
  OnSentInFull(s, f, clean);
  return clean;
}

void EndModel::OnSentInFull(StreamState& s, const Frame& f, bool clean) {
  if (!CheckShape(f, clean, "sent")) return;
  if (ABSL_PREDICT_FALSE(IsSplittable(f.kind) && f.data.size() > config_.split_bytes)) {
    SentViolation("", f, absl::StrCat("frame data exceeds the split size ", config_.split_bytes));
    return;
  }
  if (ABSL_PREDICT_FALSE(s.sent_terminal)) {
    SentViolation("", f, "the stream already ended (Close/Error/Cancel sent)");
    return;
  }
  if (ABSL_PREDICT_FALSE(f.kind == Kind::kWindowUpdate)) return OnSentWindowUpdate(s, f);
  if (!CheckPacketOrder(s, f)) return;
  if (!(config_.client ? CheckClientLifecycle(s, f) : CheckServerLifecycle(s, f))) return;
  if (f.kind == Kind::kMessage && s.flow_controlled) CheckCredit(s, f);
}

void EndModel::OnSentWindowUpdate(StreamState& s, const Frame& f) {
  ++oracle_->stats_.window_updates_sent;
  if (config_.client ? !s.sent_invoke : !s.received_any) {
    SentViolation("", f, "WindowUpdate for a stream this end does not know");
    return;
  }
  if (!config_.flow_control) {
    SentViolation("", f, "WindowUpdate without flow control");
    return;
  }
  const uint64_t delta = *ParseForkWindowUpdate(f);
  if (delta < config_.grant_threshold_bytes) {
    SentViolation("", f,
                  absl::StrCat("a grant below the threshold ", config_.grant_threshold_bytes));
    return;
  }
  s.granted_bytes += delta;
  if (s.granted_bytes > s.received_message_bytes) {
    SentViolation("", f, absl::StrCat("grants ", s.granted_bytes, " bytes in all, more than the ",
                                      s.received_message_bytes, " Message bytes received"));
  }
}

inline bool EndModel::CheckPacketOrder(StreamState& s, const Frame& f) {
  if (ABSL_PREDICT_FALSE(!config_.mux && upstream_sending_ && upstream_packet_ != f.id)) {
    return SentViolation(
        "", f, absl::StrCat("abandons the partly sent packet ", PacketIdString(upstream_packet_)));
  }
  const bool continues = s.sending_packet && s.sending_id == f.id;
  if (continues) {
    if (ABSL_PREDICT_FALSE(f.kind != s.sending_kind)) {
      return SentViolation("", f, "changes kind inside a packet");
    }
  } else {
    if (ABSL_PREDICT_FALSE(s.sending_packet &&
                           !(IsTerminalKind(f.kind) && s.sending_kind == Kind::kMessage))) {
      return SentViolation(
          "", f, absl::StrCat("abandons the partly sent packet ", PacketIdString(s.sending_id)));
    }
    const bool may_skip = config_.mux && IsTerminalKind(f.kind);
    if (ABSL_PREDICT_FALSE(f.id.message <= s.last_sent_message ||
                           (!may_skip && f.id.message != s.last_sent_message + 1))) {
      return SentViolation(
          "", f, absl::StrCat("message ID after ", s.last_sent_message, " on this stream"));
    }
    if (!config_.mux) {
      if (ABSL_PREDICT_FALSE(f.id < upstream_last_)) {
        return SentViolation("", f,
                             absl::StrCat("goes below ", PacketIdString(upstream_last_),
                                          " (upstream IDs never decrease)"));
      }
      upstream_last_ = f.id;
    }
    s.last_sent_message = f.id.message;
  }
  s.new_packet = !continues;
  s.sending_packet = !f.done;
  s.sending_id = f.id;
  s.sending_kind = f.kind;
  upstream_sending_ = !config_.mux && !f.done;
  upstream_packet_ = f.id;
  return true;
}

inline bool EndModel::CheckClientLifecycle(StreamState& s, const Frame& f) {
  switch (f.kind) {
    case Kind::kInvokeMetadata:
      if (ABSL_PREDICT_FALSE(s.sent_invoke)) {
        return SentViolation("client ", f, "metadata after the Invoke");
      }
      if (ABSL_PREDICT_FALSE(s.new_packet && s.sent_metadata)) {
        return SentViolation("client ", f, "a second InvokeMetadata");
      }
      s.sent_metadata = true;
      if (recording_) sending_[f.id.stream].metadata.append(f.data.data(), f.data.size());
      return true;
    case Kind::kInvoke:
      if (ABSL_PREDICT_FALSE(s.sent_invoke)) return SentViolation("client ", f, "a second Invoke");
      if (f.done) {
        s.sent_invoke = true;
        if (config_.mux) StartFlow(s);
      }
      return true;
    default:
      break;
  }
  if (ABSL_PREDICT_FALSE(!s.sent_invoke)) {
    return SentViolation("client ", f, "nothing may precede the stream's Invoke");
  }
  if (ABSL_PREDICT_FALSE(f.kind == Kind::kMessage && s.sent_close_send)) {
    return SentViolation("client ", f, "Message after CloseSend");
  }
  if (f.kind == Kind::kCloseSend) {
    if (ABSL_PREDICT_FALSE(s.sent_close_send)) {
      return SentViolation("client ", f, "a second CloseSend");
    }
    s.sent_close_send = true;
  }
  if (IsTerminalKind(f.kind)) s.sent_terminal = true;
  return true;
}

inline bool EndModel::CheckServerLifecycle(StreamState& s, const Frame& f) {
  if (ABSL_PREDICT_FALSE(f.kind == Kind::kInvoke || f.kind == Kind::kInvokeMetadata)) {
    return SentViolation("server ", f, "servers never invoke");
  }
  if (ABSL_PREDICT_FALSE(!s.received_any)) {
    return SentViolation("server ", f, "no frame of this stream was received");
  }
  if (ABSL_PREDICT_FALSE(s.sent_close_send && !IsTerminalKind(f.kind))) {
    return SentViolation("server ", f, "only a terminal may follow CloseSend");
  }
  if (f.kind == Kind::kCloseSend) s.sent_close_send = true;
  if (IsTerminalKind(f.kind)) s.sent_terminal = true;
  return true;
}

bool EndModel::SentViolation(absl::string_view who, const Frame& f, absl::string_view why) {
  Violate(f.id.stream, absl::StrCat(who, "sent ", Describe(f), ": ", why));
  return false;
}

void EndModel::CheckCredit(StreamState& s, const Frame& f) {
  const int64_t n = static_cast<int64_t>(f.data.size());
  if (s.new_packet && n > s.credit) {
    SentViolation("", f, absl::StrCat("a message starts with ", n,
                                      " bytes beyond the flow-control credit ", s.credit));
    return;
  }
  s.credit -= n;
  if (s.credit < 0 && !s.new_packet) ++oracle_->stats_.overdrafts;
}

void EndModel::Violate(uint64_t stream, std::string why) {
  if (poisoned_) return;
  poisoned_ = true;
  std::string report =
      absl::StrCat("wire oracle: ", name_, " (", config_.client ? "client" : "server", ", ",
                   config_.mux ? "mux" : "upstream", "): ", why);
  if (const StreamState* found = FindStream(stream); stream != 0 && found != nullptr) {
    absl::StrAppend(&report, "\n  last frames of stream ", stream, ":");
    const StreamState& st = *found;
    const uint64_t first = st.frames - std::min<uint64_t>(st.frames, kHistoryMaxCount);
    for (uint64_t i = first; i < st.frames; ++i) {
      absl::StrAppend(&report, "\n    ", st.history[i % kHistoryMaxCount].ToString(stream));
    }
  }
  SimContext* ctx = oracle_->trace_ctx_;
  if (ctx != nullptr && ctx->recorder() != nullptr && endpoint_.has_value() && stream != 0) {
    ctx->recorder()->Focus(endpoint_->connection, stream);
  }
  oracle_->Violation(std::move(report));
}

}  // namespace drpc::sim
