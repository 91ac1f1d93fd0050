#include "sim/drpc/wire_oracle.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
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

std::string Describe(const Frame& f) {
  return Describe(f.kind, f.id, f.data.size(), f.done, f.control);
}

// A frame as a stream's history keeps it: formatted only when a violation is reported (every
// frame of every run passes through the history, so it holds no strings).
struct FrameNote {
  PacketId id;
  uint64_t length = 0;
  Kind kind = Kind::kMessage;
  bool done = true;
  bool control = false;
  bool sent = false;

  std::string ToString() const {
    return absl::StrCat(sent ? "-> " : "<- ", Describe(kind, id, length, done, control));
  }
};

}  // namespace

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

  void OnWrite(absl::string_view bytes) override { Feed(out_parser_, bytes, /*outgoing=*/true); }
  void OnRead(absl::string_view bytes) override { Feed(in_parser_, bytes, /*outgoing=*/false); }

 private:
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
    // Data of our InvokeMetadata and Invoke being sent (client; recorded runs only: they label
    // the stream for the recorder).
    std::string sending_metadata;
    std::string sending_invoke;
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
        OnReceived(**f);
      }
      if (poisoned_) return;
    }
  }

  // Rules every frame obeys, whoever sent it. Returns false after reporting a violation.
  bool CheckShape(const Frame& f, absl::string_view verb) {
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
      if (absl::StatusOr<uint64_t> d = ParseForkWindowUpdate(f); !d.ok()) {
        return fail(d.status().message());
      }
      return true;
    }
    if (f.id.message == 0) return fail("message ID 0");
    if (!IsSplittable(f.kind) && !f.done) return fail("must be one frame (never split)");
    if ((f.kind == Kind::kClose || f.kind == Kind::kCloseSend || f.kind == Kind::kCancel) &&
        !f.data.empty()) {
      return fail("must have an empty body");
    }
    if (f.kind == Kind::kError) {
      if (absl::StatusOr<RemoteError> e = DecodeErrorBody(config_.error_format, f.data); !e.ok()) {
        return fail(e.status().message());
      }
      if (config_.error_format == ErrorFormat::kUpstream && f.data.size() < limits::kErrorCodeBytes) {
        return fail("Error body shorter than its 8-byte code");
      }
    }
    return true;
  }

  // Every frame passes here: the checks are inline, the work (rare) is not.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Log(absl::string_view arrow, const Frame& f) {
    SimContext* ctx = oracle_->trace_ctx_;
    if (ctx != nullptr && ctx->trace().enabled()) LogFrame(*ctx, arrow, f);
  }
  ABSL_ATTRIBUTE_NOINLINE void LogFrame(SimContext& ctx, absl::string_view arrow, const Frame& f) {
    ctx.Log(absl::StrCat(name_, " ", arrow, " ", Describe(f)));
  }

  // Feeds the run's recorder (sim/recorder.h), if there is one: every frame, and a label per
  // stream once the client's Invoke is complete (its method and metadata).
  bool Recording() const {
    const SimContext* ctx = oracle_->trace_ctx_;
    return ctx != nullptr && ctx->recorder() != nullptr && endpoint_.has_value();
  }

  ABSL_ATTRIBUTE_ALWAYS_INLINE void Record(bool sent, StreamState& s, const Frame& f) {
    if (Recording()) RecordFrame(sent, s, f);
  }

  ABSL_ATTRIBUTE_NOINLINE void RecordFrame(bool sent, StreamState& s, const Frame& f) {
    SimContext* ctx = oracle_->trace_ctx_;
    Recorder& recorder = *ctx->recorder();
    recorder.FrameEvent(ctx->now(), endpoint_->connection, endpoint_->end, sent, f);
    if (!sent || !config_.client || f.kind != Kind::kInvoke) return;
    s.sending_invoke.append(f.data.data(), f.data.size());
    if (!f.done) return;
    std::string label = s.sending_invoke;
    std::map<std::string, std::string> metadata;
    if (absl::StatusOr<Metadata> md = DecodeMetadata(s.sending_metadata);
        md.ok() && !s.sending_metadata.empty()) {
      for (const auto& [k, v] : *md) {
        metadata[k] = v;
        absl::StrAppend(&label, " ", k, "=", v);
      }
    }
    recorder.LabelStream(endpoint_->connection, f.id.stream, std::move(label), std::move(metadata));
  }

  StreamState& Stream(uint64_t id) {
    if (last_stream_ != nullptr && last_stream_id_ == id) return *last_stream_;
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

  void OnReceived(const Frame& f) {
    StreamState& s = Stream(f.id.stream);
    Record(/*sent=*/false, s, f);
    Log("<-", f);
    Remember(s, f, /*sent=*/false);
    if (!CheckShape(f, "received")) return;
    s.received_any = true;
    if (config_.client && (f.kind == Kind::kInvoke || f.kind == Kind::kInvokeMetadata)) {
      Violate(f.id.stream, absl::StrCat("received ", Describe(f), " from the server"));
      return;
    }
    if (f.kind == Kind::kInvoke && f.done && !config_.client) StartFlow(s);
    if (f.kind == Kind::kMessage) s.received_message_bytes += f.data.size();
    if (f.kind == Kind::kWindowUpdate && s.flow_controlled) {
      // Saturating, as the sender's credit does (the oracle's view is never below the sender's).
      const uint64_t delta = *ParseForkWindowUpdate(f);
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
    Record(/*sent=*/true, s, f);
    Log("->", f);
    Remember(s, f, /*sent=*/true);
    if (!CheckShape(f, "sent")) return;
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
        if (Recording()) s.sending_metadata.append(f.data.data(), f.data.size());
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

  void Remember(StreamState& s, const Frame& f, bool sent) {
    s.history[s.history_next] = FrameNote{.id = f.id, .length = f.data.size(), .kind = f.kind,
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
  std::unique_ptr<SimNetwork::EndpointTap> model =
      std::make_unique<EndModel>(*this, std::move(name), config, std::move(endpoint));
  if (SimNetwork::SetTap(*inner, model)) return inner;
  return std::make_unique<TapTransport>(std::move(inner), std::move(model));
}

std::unique_ptr<Listener> WireOracle::TapListener(std::unique_ptr<Listener> inner, std::string name,
                                                  const WireEndConfig& config) {
  DRPC_CHECK(inner != nullptr);
  return std::make_unique<sim::TapListener>(*this, std::move(inner), std::move(name), config);
}

void WireOracle::Violation(std::string why) {
  ++stats_.violations;
  on_violation_(std::move(why));
}

}  // namespace drpc::sim
