#include "sim/drpc/wire_oracle.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/metadata.h"
#include "proto/window.h"

namespace drpc::sim {

WireEndConfig WireEndConfig::For(const Options& o, bool client) {
  return WireEndConfig{.client = client,
                       .mux = o.mux,
                       .split_bytes = o.split_bytes,
                       .flow_control = o.mux && o.flow.enabled,
                       .stream_window_bytes = o.flow.stream_window_bytes,
                       .grant_threshold_bytes = o.flow.grant_threshold_bytes,
                       .error_format = o.ErrorFormatOrDefault()};
}
namespace {

// Our own frames are checked with a limit far above any legal one: a length the parser rejects
// is then certainly garbage, not a configuration.
constexpr size_t kFrameDataCheckMaxBytes = limits::kPacketLimitMaxBytes;
// Frames remembered per stream for failure reports.
constexpr size_t kHistoryMaxCount = 8;

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

// A frame as the checks see it: a parsed one, or one relayed from the writer's model (Relay),
// whose data is kept only where a check reads it (Error and WindowUpdate bodies); `length` is
// always the data's length.
struct FrameFacts {
  PacketId id;
  Kind kind = Kind::kMessage;
  bool done = true;
  bool control = false;
  uint64_t length = 0;
  absl::string_view data;  // all of it for parsed frames; Error/WindowUpdate only for relayed ones

  static FrameFacts Of(const Frame& f) {
    return FrameFacts{.id = f.id, .kind = f.kind, .done = f.done, .control = f.control,
                      .length = f.data.size(), .data = f.data};
  }
  Frame AsFrame() const {
    return Frame{.id = id, .kind = kind, .done = done, .control = control, .data = data};
  }
};

bool KeepsBody(Kind k) { return k == Kind::kError || k == Kind::kWindowUpdate; }

std::string Describe(const FrameFacts& f) {
  return Describe(f.kind, f.id, f.length, f.done, f.control);
}
std::string Describe(const Frame& f) { return Describe(FrameFacts::Of(f)); }

// A frame as a stream's history keeps it: formatted only when a violation is reported (every
// frame of every run passes through the history, so it holds no strings).
struct FrameNote {
  PacketId id;
  uint64_t length;
  Kind kind;
  bool done;
  bool control;
  bool sent;

  std::string ToString() const {
    return absl::StrCat(sent ? "-> " : "<- ", Describe(kind, id, length, done, control));
  }
};

// Frames a relay holds for a reader that is not tapped (yet): past this the writer's model stops
// relaying, and a reader tapped later parses what it reads itself. A tapped reader is never
// behind by more than the network's buffer plus one write.
constexpr size_t kRelayUnattachedMaxCount = 4096;

// Test hooks (WireOracle::set_relay_for_testing, set_received_probe_for_testing).
bool relay_enabled = true;
WireOracle::ReceivedProbe* received_probe = nullptr;

}  // namespace

// The frames one end's model parsed from what it wrote, waiting for the other end's model to
// read their bytes. A simulated connection delivers to its reader exactly a prefix of the bytes
// written (sim/network.h: segments arrive in order; a fault stops the stream or cuts it short,
// never alters, drops from the middle or reorders; a failed write fails every later one), so the
// frames the reader would parse are these, each complete at the same read: its model takes them
// from here instead of parsing every byte a second time.
struct WireOracle::Relay {
  struct Entry {
    uint64_t end_offset = 0;  // the stream offset just past the frame
    PacketId id;
    uint64_t length = 0;
    Kind kind = Kind::kMessage;
    bool done = true;
    bool control = false;
    std::string body;  // Error and WindowUpdate frames only: the checks read it

    FrameFacts Facts() const {
      return FrameFacts{.id = id, .kind = kind, .done = done, .control = control,
                        .length = length, .data = body};
    }
  };

  // The writer's model relays while this holds.
  bool Open() const { return !abandoned && !parse_error.has_value(); }

  void Push(uint64_t end_offset, const Frame& f) {
    if (!reader_attached && entries.size() - head >= kRelayUnattachedMaxCount) {
      Abandon();
      return;
    }
    Entry& e = entries.emplace_back();
    e.end_offset = end_offset;
    e.id = f.id;
    e.length = f.data.size();
    e.kind = f.kind;
    e.done = f.done;
    e.control = f.control;
    if (KeepsBody(f.kind)) e.body.assign(f.data.data(), f.data.size());
  }

  bool Ready(uint64_t read_bytes) const {
    return head < entries.size() && entries[head].end_offset <= read_bytes;
  }
  const Entry& Front() const { return entries[head]; }
  void Pop() {
    if (++head == entries.size()) {
      entries.clear();  // keeps the capacity: a steady stream allocates nothing
      head = 0;
    }
  }

  // Nobody will take the frames (the reader parses itself, is gone, or was never tapped).
  void Abandon() {
    abandoned = true;
    entries.clear();
    head = 0;
  }

  bool writer_attached = false;
  bool reader_attached = false;
  bool abandoned = false;
  // The written bytes stop parsing after `parse_error_offset` (the reader reports it once it
  // reads past there; the writer's model has already reported it).
  std::optional<absl::Status> parse_error;
  uint64_t parse_error_offset = 0;
  std::vector<Entry> entries;  // entries[head..] are not yet read
  size_t head = 0;
};

// One end of a connection: the frames it sends (Write) and receives (Read).
class WireOracle::EndModel final : public SimNetwork::EndpointTap {
 public:
  // `endpoint`: which simulated connection end this is (for the run's recorder), if known.
  EndModel(WireOracle& oracle, std::string name, const WireEndConfig& config,
           std::optional<SimNetwork::EndpointId> endpoint)
      : oracle_(&oracle),
        endpoint_(std::move(endpoint)),
        name_(std::move(name)),
        config_(config),
        out_parser_(FrameParser::Options{.frame_data_max_bytes = kFrameDataCheckMaxBytes}),
        in_parser_(FrameParser::Options{.frame_data_max_bytes = kFrameDataCheckMaxBytes}) {}

  ~EndModel() override {
    if (in_relay_ != nullptr) in_relay_->Abandon();
  }

  void OnWrite(absl::string_view bytes) override {
    if (out_relay_ != nullptr && out_relay_->Open()) {
      FeedRelaying(bytes);
    } else {
      Feed(out_parser_, bytes, /*outgoing=*/true);
    }
  }
  void OnRead(absl::string_view bytes) override {
    if (in_mode_ == InMode::kUndecided) DecideInMode();
    if (in_mode_ == InMode::kRelayed) {
      ReadRelayed(bytes.size());
    } else {
      Feed(in_parser_, bytes, /*outgoing=*/false);
    }
  }

  // Pairs this model with the other end's over a simulated connection, before either end is
  // used: `out` carries what this end writes, `in` what it reads.
  void AttachRelays(std::shared_ptr<Relay> out, std::shared_ptr<Relay> in) {
    out->writer_attached = true;
    in->reader_attached = true;
    out_relay_ = std::move(out);
    in_relay_ = std::move(in);
  }

 private:
  enum class InMode { kUndecided, kParsed, kRelayed };

  // At the first read: relayed frames only if the writer's model has relayed from the first byte.
  void DecideInMode() {
    if (in_relay_ != nullptr && in_relay_->writer_attached && !in_relay_->abandoned) {
      in_mode_ = InMode::kRelayed;
      return;
    }
    in_mode_ = InMode::kParsed;
    if (in_relay_ != nullptr) in_relay_->Abandon();
  }

  // Feed for what this end writes while the reader takes the frames from the relay: a poisoned
  // end no longer checks them but still parses and relays them for the reader.
  void FeedRelaying(absl::string_view bytes) {
    Relay& relay = *out_relay_;
    const uint64_t written_before = written_bytes_;
    written_bytes_ += bytes.size();
    out_parser_.Append(bytes);
    while (relay.Open()) {
      absl::StatusOr<std::optional<Frame>> f = out_parser_.Next();
      if (!f.ok()) {
        StopRelaying(relay, f.status(), bytes, written_before);
        Violate(0, absl::StrCat("sent bytes that do not parse: ", f.status().message()));
        return;
      }
      if (!f->has_value()) {
        KeepHeaderTail(bytes);
        return;
      }
      relay.Push(out_parser_.offset(), **f);
      if (poisoned_) continue;
      ++oracle_->stats_.frames_sent;
      OnSent(**f);
    }
    // Abandoned while unread: back to parsing for this end's own checks only.
    if (!poisoned_) Feed(out_parser_, "", /*outgoing=*/true);
  }

  // The bytes of a header the parser holds incomplete (rare: writes are whole frames), which a
  // parse error in the next write needs (StopRelaying).
  void KeepHeaderTail(absl::string_view bytes) {
    const size_t held = out_parser_.buffered_bytes();
    if (held == 0 || out_parser_.partial().has_value()) {
      header_tail_.clear();
      return;
    }
    if (held > bytes.size()) {
      header_tail_ = absl::StrCat(header_tail_.substr(header_tail_.size() - (held - bytes.size())),
                                  bytes);
    } else {
      header_tail_ = std::string(bytes.substr(bytes.size() - held));
    }
  }

  // The written stream stops parsing: the reader's parser would fail at the first read that
  // brings the shortest prefix of the bad frame that fails to parse, with this same error (same
  // bytes at the same offset).
  void StopRelaying(Relay& relay, const absl::Status& error, absl::string_view bytes,
                    uint64_t written_before) {
    const uint64_t at = out_parser_.offset();
    const std::string bad = at >= written_before
                                ? std::string(bytes.substr(at - written_before))
                                : absl::StrCat(header_tail_, bytes);
    size_t shortest = bad.size();
    for (size_t n = 1; n < bad.size(); ++n) {
      size_t consumed = 0;
      if (!ParseFrame(absl::string_view(bad).substr(0, n), kFrameDataCheckMaxBytes, &consumed).ok()) {
        shortest = n;
        break;
      }
    }
    relay.parse_error = error;
    relay.parse_error_offset = at + shortest - 1;
  }

  // OnRead with relayed frames: the frames the bytes read so far complete, in order, exactly as
  // parsing them would hand them over.
  void ReadRelayed(size_t n) {
    Relay& relay = *in_relay_;
    read_bytes_ += n;
    for (; relay.Ready(read_bytes_); relay.Pop()) {
      if (poisoned_) continue;
      ++oracle_->stats_.frames_received;
      if (received_probe != nullptr) ++received_probe->relayed_frames;
      OnReceived(relay.Front().Facts());
    }
    if (relay.parse_error.has_value() && read_bytes_ > relay.parse_error_offset) {
      Violate(0, absl::StrCat("received bytes that do not parse: ", relay.parse_error->message()));
    }
  }

  // Mixes a received frame into the test digest (set_received_probe_for_testing).
  void MixReceived(const FrameFacts& f) {
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

  struct StreamState {
    // What this end sent.
    bool sent_any = false;
    bool sent_metadata = false;
    bool sent_invoke = false;
    bool sent_close_send = false;
    bool sent_terminal = false;
    uint64_t last_sent_message = 0;
    bool new_packet = false;      // the frame being checked starts a packet
    bool sending_packet = false;  // a packet of this stream is partly sent
    PacketId sending_id;
    Kind sending_kind = Kind::kMessage;
    // What this end received.
    bool received_any = false;
    // Flow control of what this end sends, and of the grants it sends.
    bool flow_controlled = false;
    int64_t credit = 0;
    uint64_t received_message_bytes = 0;
    uint64_t granted_bytes = 0;
    // The last kHistoryMaxCount frames (a ring: history_next is the slot written next).
    std::array<FrameNote, kHistoryMaxCount> history;
    size_t history_count = 0;
    size_t history_next = 0;
  };

  void Feed(FrameParser& parser, absl::string_view bytes, bool outgoing) {
    if (poisoned_) return;
    parser.Append(bytes);
    for (;;) {
      absl::StatusOr<std::optional<Frame>> f = parser.Next();
      if (!f.ok()) {
        Violate(0, absl::StrCat(outgoing ? "sent" : "received", " bytes that do not parse: ",
                                f.status().message()));
        return;
      }
      if (!f->has_value()) return;
      if (outgoing) {
        ++oracle_->stats_.frames_sent;
        OnSent(**f);
      } else {
        ++oracle_->stats_.frames_received;
        OnReceived(FrameFacts::Of(**f));
      }
      if (poisoned_) return;
    }
  }

  // Rules every frame obeys, whoever sent it. Returns false after reporting a violation. The
  // frames of a clean call are judged inline; true here only where CheckShapeInDetail finds
  // nothing wrong either.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool CheckShape(const FrameFacts& f, absl::string_view verb) {
    if (f.id.stream != 0 && f.id.message != 0 && !f.control) {
      switch (f.kind) {
        case Kind::kInvoke:
        case Kind::kInvokeMetadata:
        case Kind::kMessage:
          return true;
        case Kind::kClose:
        case Kind::kCloseSend:
          if (f.done && f.length == 0) return true;
          break;
        default:
          break;
      }
    }
    return CheckShapeInDetail(f, verb);
  }

  ABSL_ATTRIBUTE_NOINLINE bool CheckShapeInDetail(const FrameFacts& f, absl::string_view verb) {
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

  // Every frame passes here: the checks are inline, the work (rare) is not.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Log(absl::string_view arrow, const FrameFacts& f) {
    SimContext* ctx = oracle_->trace_ctx_;
    if (ctx != nullptr && ctx->trace().enabled()) LogFrame(*ctx, arrow, f);
  }
  ABSL_ATTRIBUTE_NOINLINE void LogFrame(SimContext& ctx, absl::string_view arrow, const FrameFacts& f) {
    ctx.Log(absl::StrCat(name_, " ", arrow, " ", Describe(f)));
  }

  // Feeds the run's recorder (sim/recorder.h), if there is one: every frame, and a label per
  // stream once the client's Invoke is complete (its method and metadata).
  bool Recording() const {
    const SimContext* ctx = oracle_->trace_ctx_;
    return ctx != nullptr && ctx->recorder() != nullptr && endpoint_.has_value();
  }

  ABSL_ATTRIBUTE_ALWAYS_INLINE void Record(bool sent, const FrameFacts& f) {
    if (Recording()) RecordFrame(sent, f);
  }

  // Recorded runs never relay (Tap), so `f` holds all of its data here.
  ABSL_ATTRIBUTE_NOINLINE void RecordFrame(bool sent, const FrameFacts& f) {
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

  static_assert(std::is_trivially_copyable_v<StreamState>);

  // Frames come in runs of one stream: the last one's is found inline.
  ABSL_ATTRIBUTE_ALWAYS_INLINE StreamState& Stream(uint64_t id) {
    if (last_stream_ != nullptr && last_stream_id_ == id) return *last_stream_;
    return FindOrAddStream(id);
  }

  ABSL_ATTRIBUTE_NOINLINE StreamState& FindOrAddStream(uint64_t id) {
    // Stream IDs mostly grow, so a new stream is mostly appended.
    auto at = stream_ids_.end();
    if (!stream_ids_.empty() && id <= stream_ids_.back()) {
      at = std::lower_bound(stream_ids_.begin(), stream_ids_.end(), id);
    }
    const size_t index = static_cast<size_t>(at - stream_ids_.begin());
    if (at == stream_ids_.end() || *at != id) {
      stream_ids_.insert(at, id);
      streams_.emplace(streams_.begin() + static_cast<ptrdiff_t>(index));
    }
    last_stream_ = &streams_[index];
    last_stream_id_ = id;
    return *last_stream_;
  }

  const StreamState* FindStream(uint64_t id) const {
    auto at = std::lower_bound(stream_ids_.begin(), stream_ids_.end(), id);
    if (at == stream_ids_.end() || *at != id) return nullptr;
    return &streams_[static_cast<size_t>(at - stream_ids_.begin())];
  }

  void OnReceived(const FrameFacts& f) {
    if (received_probe != nullptr) MixReceived(f);
    StreamState& s = Stream(f.id.stream);
    Record(/*sent=*/false, f);
    Log("<-", f);
    Remember(s, f, /*sent=*/false);
    if (!CheckShape(f, "received")) return;
    s.received_any = true;
    if (config_.client && (f.kind == Kind::kInvoke || f.kind == Kind::kInvokeMetadata)) {
      Violate(f.id.stream, absl::StrCat("received ", Describe(f), " from the server"));
      return;
    }
    if (f.kind == Kind::kInvoke && f.done && !config_.client) StartFlow(s);
    if (f.kind == Kind::kMessage) s.received_message_bytes += f.length;
    if (f.kind == Kind::kWindowUpdate && s.flow_controlled) {
      // Saturating, as the sender's credit does (the oracle's view is never below the sender's).
      const uint64_t delta = *ParseForkWindowUpdate(f.AsFrame());
      const uint64_t room = static_cast<uint64_t>(limits::kSendCreditMaxBytes) -
                            static_cast<uint64_t>(s.credit);
      s.credit = delta >= room ? limits::kSendCreditMaxBytes
                               : static_cast<int64_t>(static_cast<uint64_t>(s.credit) + delta);
    }
  }

  // A stream this end sends on with flow control starts with the window as its credit: a client's
  // once its Invoke is out, a server's once the client's Invoke arrived.
  void StartFlow(StreamState& s) {
    if (!config_.flow_control) return;
    s.flow_controlled = true;
    s.credit = static_cast<int64_t>(config_.stream_window_bytes);
    ++oracle_->stats_.flow_controlled_streams;
  }

  void OnSent(const Frame& f) {
    StreamState& s = Stream(f.id.stream);
    const FrameFacts facts = FrameFacts::Of(f);
    Record(/*sent=*/true, facts);
    Log("->", facts);
    Remember(s, facts, /*sent=*/true);
    if (!CheckShape(facts, "sent")) return;
    auto fail = [&](absl::string_view why) {
      Violate(f.id.stream, absl::StrCat("sent ", Describe(f), ": ", why));
    };
    if (IsSplittable(f.kind) && f.data.size() > config_.split_bytes) {
      return fail(absl::StrCat("frame data exceeds the split size ", config_.split_bytes));
    }
    if (s.sent_terminal) return fail("the stream already ended (Close/Error/Cancel sent)");
    if (f.kind == Kind::kWindowUpdate) {
      ++oracle_->stats_.window_updates_sent;
      if (config_.client ? !s.sent_invoke : !s.received_any) {
        return fail("WindowUpdate for a stream this end does not know");
      }
      if (!config_.flow_control) return fail("WindowUpdate without flow control");
      const uint64_t delta = *ParseForkWindowUpdate(f);
      if (delta < config_.grant_threshold_bytes) {
        return fail(absl::StrCat("a grant below the threshold ", config_.grant_threshold_bytes));
      }
      s.granted_bytes += delta;
      if (s.granted_bytes > s.received_message_bytes) {
        return fail(absl::StrCat("grants ", s.granted_bytes, " bytes in all, more than the ",
                                 s.received_message_bytes, " Message bytes received"));
      }
      return;
    }
    if (!CheckPacketOrder(s, f)) return;
    if (!(config_.client ? CheckClientLifecycle(s, f) : CheckServerLifecycle(s, f))) return;
    if (f.kind == Kind::kMessage) CheckCredit(s, f);
  }

  // Contiguous packets, consecutive message IDs (docs/protocol.md §4.1), upstream global order (§4.2).
  bool CheckPacketOrder(StreamState& s, const Frame& f) {
    auto fail = [&](absl::string_view why) {
      Violate(f.id.stream, absl::StrCat("sent ", Describe(f), ": ", why));
      return false;
    };
    if (!config_.mux && upstream_sending_ && upstream_packet_ != f.id) {
      return fail(absl::StrCat("abandons the partly sent packet ", PacketIdString(upstream_packet_)));
    }
    const bool continues = s.sending_packet && s.sending_id == f.id;
    if (continues) {
      if (f.kind != s.sending_kind) return fail("changes kind inside a packet");
    } else {
      if (s.sending_packet && !(IsTerminalKind(f.kind) && s.sending_kind == Kind::kMessage)) {
        return fail(absl::StrCat("abandons the partly sent packet ",
                                 PacketIdString(s.sending_id)));
      }
      const bool may_skip = config_.mux && IsTerminalKind(f.kind);
      if (f.id.message <= s.last_sent_message ||
          (!may_skip && f.id.message != s.last_sent_message + 1)) {
        return fail(absl::StrCat("message ID after ", s.last_sent_message, " on this stream"));
      }
      if (!config_.mux) {
        if (f.id < upstream_last_) {
          return fail(absl::StrCat("goes below ", PacketIdString(upstream_last_),
                                   " (upstream IDs never decrease)"));
        }
        upstream_last_ = f.id;
      }
      s.last_sent_message = f.id.message;
    }
    s.new_packet = !continues;
    s.sent_any = true;
    s.sending_packet = !f.done;
    s.sending_id = f.id;
    s.sending_kind = f.kind;
    upstream_sending_ = !config_.mux && !f.done;
    upstream_packet_ = f.id;
    return true;
  }

  bool CheckClientLifecycle(StreamState& s, const Frame& f) {
    auto fail = [&](absl::string_view why) {
      Violate(f.id.stream, absl::StrCat("client sent ", Describe(f), ": ", why));
      return false;
    };
    switch (f.kind) {
      case Kind::kInvokeMetadata:
        if (s.sent_invoke) return fail("metadata after the Invoke");
        if (s.new_packet && s.sent_metadata) return fail("a second InvokeMetadata");
        s.sent_metadata = true;
        if (Recording()) sending_[f.id.stream].metadata.append(f.data.data(), f.data.size());
        return true;
      case Kind::kInvoke:
        if (s.sent_invoke) return fail("a second Invoke");
        if (f.done) {
          s.sent_invoke = true;
          if (config_.mux) StartFlow(s);
        }
        return true;
      default:
        break;
    }
    if (!s.sent_invoke) return fail("nothing may precede the stream's Invoke");
    if (f.kind == Kind::kMessage && s.sent_close_send) return fail("Message after CloseSend");
    if (f.kind == Kind::kCloseSend) {
      if (s.sent_close_send) return fail("a second CloseSend");
      s.sent_close_send = true;
    }
    if (IsTerminalKind(f.kind)) s.sent_terminal = true;
    return true;
  }

  bool CheckServerLifecycle(StreamState& s, const Frame& f) {
    auto fail = [&](absl::string_view why) {
      Violate(f.id.stream, absl::StrCat("server sent ", Describe(f), ": ", why));
      return false;
    };
    if (f.kind == Kind::kInvoke || f.kind == Kind::kInvokeMetadata) return fail("servers never invoke");
    if (!s.received_any) return fail("no frame of this stream was received");
    if (s.sent_close_send && !IsTerminalKind(f.kind)) return fail("only a terminal may follow CloseSend");
    if (f.kind == Kind::kCloseSend) s.sent_close_send = true;
    if (IsTerminalKind(f.kind)) s.sent_terminal = true;
    return true;
  }

  // The fork's sender (docs/protocol.md §17.2): a message starts only within the credit, then
  // overdraws to its end.
  void CheckCredit(StreamState& s, const Frame& f) {
    if (!s.flow_controlled) return;
    const int64_t n = static_cast<int64_t>(f.data.size());
    if (s.new_packet && n > s.credit) {
      Violate(f.id.stream, absl::StrCat("sent ", Describe(f), ": a message starts with ", n,
                                        " bytes beyond the flow-control credit ", s.credit));
      return;
    }
    s.credit -= n;
    if (s.credit < 0 && !s.new_packet) ++oracle_->stats_.overdrafts;
  }

  void Remember(StreamState& s, const FrameFacts& f, bool sent) {
    s.history[s.history_next] = FrameNote{.id = f.id, .length = f.length, .kind = f.kind,
                                          .done = f.done, .control = f.control, .sent = sent};
    s.history_next = (s.history_next + 1) % kHistoryMaxCount;
    s.history_count = std::min(s.history_count + 1, kHistoryMaxCount);
  }

  void Violate(uint64_t stream, std::string why) {
    if (poisoned_) return;
    poisoned_ = true;
    std::string report = absl::StrCat("wire oracle: ", name_, " (", config_.client ? "client" : "server",
                                      ", ", config_.mux ? "mux" : "upstream", "): ", why);
    if (const StreamState* found = FindStream(stream); stream != 0 && found != nullptr) {
      absl::StrAppend(&report, "\n  last frames of stream ", stream, ":");
      const StreamState& st = *found;
      for (size_t i = 0; i < st.history_count; ++i) {
        const size_t slot = (st.history_next + kHistoryMaxCount - st.history_count + i) % kHistoryMaxCount;
        absl::StrAppend(&report, "\n    ", st.history[slot].ToString());
      }
    }
    SimContext* ctx = oracle_->trace_ctx_;
    if (ctx != nullptr && ctx->recorder() != nullptr && endpoint_.has_value() && stream != 0) {
      ctx->recorder()->Focus(endpoint_->connection, stream);
    }
    oracle_->Violation(std::move(report));
  }

  WireOracle* oracle_;
  std::optional<SimNetwork::EndpointId> endpoint_;
  std::string name_;
  WireEndConfig config_;
  FrameParser out_parser_;
  FrameParser in_parser_;
  // Set when both ends of a simulated connection are tapped (WireOracle::Tap).
  std::shared_ptr<Relay> out_relay_;
  std::shared_ptr<Relay> in_relay_;
  InMode in_mode_ = InMode::kUndecided;
  uint64_t read_bytes_ = 0;     // kRelayed: bytes this end has read
  uint64_t written_bytes_ = 0;  // while relaying: bytes this end has written
  std::string header_tail_;     // while relaying: KeepHeaderTail
  // Data of our InvokeMetadata and Invoke being sent, by stream (client; recorded runs only: they
  // label the stream for the recorder). Kept apart so a StreamState is trivially copyable: a
  // new stream costs no constructor calls, and growing streams_ is a memmove.
  struct InvokeText {
    std::string metadata;
    std::string invoke;
  };
  std::map<uint64_t, InvokeText> sending_;
  // Every stream of the connection, ended ones too, in two parallel vectors ordered by stream ID
  // (no node per stream; reports are deterministic).
  std::vector<uint64_t> stream_ids_;
  std::vector<StreamState> streams_;
  // The stream of the last frame: frames come in runs of one stream, so most lookups are this one
  // (reset whenever a stream is added, which may move the others).
  uint64_t last_stream_id_ = 0;
  StreamState* last_stream_ = nullptr;
  PacketId upstream_last_{0, 0};  // the highest ID sent (upstream)
  bool upstream_sending_ = false;
  PacketId upstream_packet_;
  bool poisoned_ = false;
};

namespace {

// The tap around a transport that is not the simulated network's own (whose endpoints carry the
// model inside: SimNetwork::SetTap).
class TapTransport final : public Transport {
 public:
  TapTransport(std::unique_ptr<Transport> inner, std::unique_ptr<SimNetwork::EndpointTap> model)
      : inner_(std::move(inner)), model_(std::move(model)) {}

  absl::StatusOr<size_t> Read(char* buf, size_t size) override {
    absl::StatusOr<size_t> n = inner_->Read(buf, size);
    if (n.ok()) model_->OnRead(absl::string_view(buf, *n));
    return n;
  }
  absl::StatusOr<size_t> ReadV(absl::Span<const absl::Span<char>> spans) override {
    absl::StatusOr<size_t> n = inner_->ReadV(spans);
    if (n.ok()) model_->OnReadV(spans, *n);
    return n;
  }
  // Checked before it is sent: what this end tried to send is what it meant to send, even if a
  // fault cuts it short.
  absl::Status Write(absl::string_view data) override {
    model_->OnWrite(data);
    return inner_->Write(data);
  }
  absl::Status CloseWrite() override { return inner_->CloseWrite(); }
  void Close() override { inner_->Close(); }

 private:
  std::unique_ptr<Transport> inner_;
  std::unique_ptr<SimNetwork::EndpointTap> model_;
};

class TapListener final : public Listener {
 public:
  TapListener(WireOracle& oracle, std::unique_ptr<Listener> inner, std::string name,
              const WireEndConfig& config)
      : oracle_(&oracle), inner_(std::move(inner)), name_(std::move(name)), config_(config) {}

  absl::StatusOr<std::unique_ptr<Transport>> Accept() override {
    absl::StatusOr<std::unique_ptr<Transport>> t = inner_->Accept();
    if (!t.ok()) return t.status();
    return oracle_->Tap(*std::move(t), absl::StrCat(name_, "/", ++accepted_), config_);
  }
  void Close() override { inner_->Close(); }

 private:
  WireOracle* oracle_;
  std::unique_ptr<Listener> inner_;
  std::string name_;
  WireEndConfig config_;
  uint64_t accepted_ = 0;
};

}  // namespace

WireOracle::WireOracle(absl::AnyInvocable<void(std::string)> on_violation)
    : on_violation_(std::move(on_violation)) {}

WireOracle::~WireOracle() = default;

std::unique_ptr<Transport> WireOracle::Tap(std::unique_ptr<Transport> inner, std::string name,
                                           const WireEndConfig& config) {
  DRPC_CHECK(inner != nullptr);
  std::optional<SimNetwork::EndpointId> endpoint;
  if (trace_ctx_ != nullptr) endpoint = trace_ctx_->network().IdentifyEndpoint(*inner);
  auto end_model = std::make_unique<EndModel>(*this, std::move(name), config, endpoint);
  EndModel& model = *end_model;
  std::unique_ptr<SimNetwork::EndpointTap> tap = std::move(end_model);
  if (!SimNetwork::SetTap(*inner, tap)) {
    return std::make_unique<TapTransport>(std::move(inner), std::move(tap));
  }
  // Relays pair the two ends of a simulated connection; a recorded run parses both ways, since
  // the recorder takes whole frames.
  if (endpoint.has_value() && relay_enabled && trace_ctx_->recorder() == nullptr) {
    ConnectionRelays& c = relays_[endpoint->connection];
    for (std::shared_ptr<Relay>& r : c.direction) {
      if (r == nullptr) r = std::make_shared<Relay>();
    }
    const int end = endpoint->end;
    model.AttachRelays(c.direction[end], c.direction[1 - end]);
    if (++c.ends_tapped == 2) relays_.erase(endpoint->connection);
  }
  return inner;
}

std::unique_ptr<Listener> WireOracle::TapListener(std::unique_ptr<Listener> inner, std::string name,
                                                  const WireEndConfig& config) {
  DRPC_CHECK(inner != nullptr);
  return std::make_unique<sim::TapListener>(*this, std::move(inner), std::move(name), config);
}

void WireOracle::set_relay_for_testing(bool relay) { relay_enabled = relay; }

void WireOracle::set_received_probe_for_testing(ReceivedProbe* probe) { received_probe = probe; }

void WireOracle::Violation(std::string why) {
  ++stats_.violations;
  on_violation_(std::move(why));
}

}  // namespace drpc::sim
