// Internal to the wire oracle (wire_oracle.h): the model of one end of a connection, which checks
// every frame the end sends and receives, and the relay that hands the frames one end's model
// parsed from what it wrote to the model of the end that reads them. Only wire_oracle.cc makes
// these (WireOracle::Tap).
#ifndef DRPC_SIM_DRPC_WIRE_END_MODEL_H_
#define DRPC_SIM_DRPC_WIRE_END_MODEL_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "sim/drpc/wire_framer.h"
#include "sim/drpc/wire_oracle.h"
#include "sim/network.h"

namespace drpc::sim {
namespace wire_internal {

// Our own frames are checked with a limit far above any legal one: a length the parser rejects
// is then certainly garbage, not a configuration.
inline constexpr size_t kFrameDataCheckMaxBytes = limits::kPacketLimitMaxBytes;
// Frames remembered per stream for failure reports.
inline constexpr size_t kHistoryMaxCount = 8;
// Frames a relay holds for a reader that is not tapped (yet): past this the writer's model stops
// relaying, and a reader tapped later parses what it reads itself. A tapped reader is never
// behind by more than the network's buffer plus one write.
inline constexpr size_t kRelayUnattachedMaxCount = 4096;

// A kind is at most kKindMaxValue (6 bits on the wire): one bit of a word.
constexpr uint64_t KindBit(Kind k) { return uint64_t{1} << static_cast<uint8_t>(k); }
static_assert(kKindMaxValue < 64);

inline bool KeepsBody(Kind k) { return k == Kind::kError || k == Kind::kWindowUpdate; }

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

// A frame as a stream's history keeps it (the stream's ID is the stream's own): formatted only
// when a violation is reported (every frame of every run passes through the history, so it holds
// no strings).
struct FrameNote {
  uint64_t message;
  uint32_t length;  // at most kFrameDataCheckMaxBytes: longer frames do not parse
  Kind kind;
  bool done;
  bool control;
  bool sent;

  std::string ToString(uint64_t stream) const;
};

static_assert(sizeof(FrameNote) == 16 && kFrameDataCheckMaxBytes <= UINT32_MAX);

// Test hooks (WireOracle::set_received_probe_for_testing, set_full_checks_for_testing).
extern WireOracle::ReceivedProbe* received_probe;
extern bool full_checks;

}  // namespace wire_internal

// The frames one end's model parsed from what it wrote, waiting for the other end's model to
// read their bytes. A simulated connection delivers to its reader exactly a prefix of the bytes
// written (sim/network.h: segments arrive in order; a fault stops the stream or cuts it short,
// never alters, drops from the middle or reorders; a failed write fails every later one), so the
// frames the reader would parse are these, each complete at the same read: its model takes them
// from here instead of parsing every byte a second time.
struct WireOracle::Relay {
  // A frame's facts; its data is kept (in `bodies`) only where a check reads it: the bodies of
  // Error and WindowUpdate frames (KeepsBody).
  struct Entry {
    uint64_t stream;
    uint64_t end_offset;  // the stream offset just past the frame
    // The rest, as the reader's stream history notes it (`sent` false).
    wire_internal::FrameNote note;
    bool clean;  // the frame passes the inline shape check (EndModel::IsCleanShape)
  };

  // The writer's model relays while this holds.
  bool Open() const { return !abandoned && !parse_error.has_value(); }

  // False if the relay is abandoned instead (its reader is not tapped and too far behind).
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool Push(uint64_t end_offset, const Frame& f, bool clean) {
    static_assert(wire_internal::kFrameDataCheckMaxBytes <= UINT32_MAX);
    if (!PushNote(f.id.stream, end_offset,
                  wire_internal::FrameNote{.message = f.id.message,
                                           .length = static_cast<uint32_t>(f.data.size()),
                                           .kind = f.kind, .done = f.done, .control = f.control,
                                           .sent = false},
                  clean)) {
      return false;
    }
    if (ABSL_PREDICT_FALSE(wire_internal::KeepsBody(f.kind))) bodies.emplace_back(f.data);
    return true;
  }
  // Push of a frame whose kind keeps no body (!KeepsBody(note.kind)); note.sent is false.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool PushNote(uint64_t stream, uint64_t end_offset,
                                             const wire_internal::FrameNote& note, bool clean) {
    if (!reader_attached && tail - head >= wire_internal::kRelayUnattachedMaxCount) {
      Abandon();
      return false;
    }
    if (ABSL_PREDICT_FALSE(tail == capacity)) Grow();
    entries[tail++] = Entry{.stream = stream, .end_offset = end_offset, .note = note,
                            .clean = clean};
    return true;
  }

  // Calls take(const Entry&) for each entry, in order, whose frame the first `read_bytes` bytes
  // complete, and pops them. `take` must not use this relay, except FrontBody() for the entry it
  // is given (its reader's checks use the reader's other relay only).
  template <typename Take>
  ABSL_ATTRIBUTE_ALWAYS_INLINE void TakeReady(uint64_t read_bytes, Take&& take) {
    const Entry* const first = entries.data();
    const size_t end = tail;
    size_t at = head;
    for (; at < end && first[at].end_offset <= read_bytes; ++at) {
      take(first[at]);
      if (ABSL_PREDICT_FALSE(wire_internal::KeepsBody(first[at].note.kind))) ++body_head;
    }
    if (at == head) return;
    head = at;
    if (at == end) Clear();  // keeps the entries: a steady stream allocates nothing
  }

  // The data of the entry being taken (TakeReady), if KeepsBody(its kind).
  absl::string_view FrontBody() const { return bodies[body_head]; }

  // Nobody will take the frames (the reader parses itself, is gone, or was never tapped).
  void Abandon() {
    abandoned = true;
    Clear();
  }

  bool writer_attached = false;
  bool reader_attached = false;
  bool abandoned = false;
  // The written bytes stop parsing after `parse_error_offset` (the reader reports it once it
  // reads past there; the writer's model has already reported it).
  std::optional<absl::Status> parse_error;
  uint64_t parse_error_offset = 0;
  std::vector<Entry> entries;  // entries[head..tail) are not yet read; the rest are spare
  size_t head = 0;
  size_t tail = 0;
  size_t capacity = 0;  // entries.size()
  // The kept data of entries[..tail), in order (a deque never moves them); bodies[body_head] is
  // the first one not yet read.
  std::deque<std::string> bodies;
  size_t body_head = 0;

 private:
  ABSL_ATTRIBUTE_NOINLINE void Grow() {
    capacity = std::max<size_t>(16, 2 * capacity);
    entries.resize(capacity);
  }
  void Clear() {
    if (ABSL_PREDICT_FALSE(!bodies.empty())) bodies.clear();
    body_head = 0;
    head = 0;
    tail = 0;
  }
};
static_assert(std::is_trivially_copyable_v<WireOracle::Relay::Entry>);
static_assert(sizeof(WireOracle::Relay::Entry) == 40);

// One end of a connection: the frames it sends (Write) and receives (Read).
class WireOracle::EndModel final : public SimNetwork::EndpointTap {
 public:
  using FrameFacts = wire_internal::FrameFacts;

  // `endpoint`: which simulated connection end this is (for the run's recorder), if known.
  EndModel(WireOracle& oracle, std::string name, const WireEndConfig& config,
           std::optional<SimNetwork::EndpointId> endpoint);
  ~EndModel() override;

  void OnWrite(absl::string_view bytes) override;
  void OnRead(absl::string_view bytes) override;

  // Pairs this model with the other end's over a simulated connection, before either end is
  // used: `out` carries what this end writes, `in` what it reads.
  void AttachRelays(std::shared_ptr<Relay> out, std::shared_ptr<Relay> in);

 private:
  enum class InMode { kUndecided, kParsed, kRelayed };

  struct StreamState {
    // The history is written before it is read, so a new stream leaves it unset.
    StreamState() {}

    // The eight flags a frame's lifecycle rules read, one byte each in this order, so that
    // SendsCleanFrame tests and sets them as one word (FlagBit).
    // What this end sent.
    bool sent_metadata = false;
    bool sent_invoke = false;
    bool sent_close_send = false;
    bool sent_terminal = false;
    bool new_packet = false;      // the frame being checked starts a packet
    bool sending_packet = false;  // a packet of this stream is partly sent
    // What this end received.
    bool received_any = false;
    // Flow control of what this end sends, and of the grants it sends.
    bool flow_controlled = false;

    uint64_t last_sent_message = 0;
    // The packet partly sent (read only while sending_packet; the upstream connection's
    // upstream_packet_ likewise only while upstream_sending_).
    PacketId sending_id;
    Kind sending_kind = Kind::kMessage;
    int64_t credit = 0;
    uint64_t received_message_bytes = 0;
    uint64_t granted_bytes = 0;
    // The last min(frames, kHistoryMaxCount) frames, in a ring: frame i in slot i % the size.
    uint64_t frames = 0;
    std::array<wire_internal::FrameNote, wire_internal::kHistoryMaxCount> history;
  };
  static_assert(std::is_trivially_copyable_v<StreamState>);
  static_assert(offsetof(StreamState, sent_metadata) == 0 &&
                offsetof(StreamState, flow_controlled) == 7 && sizeof(bool) == 1);

  // The flag at byte `offset` of a StreamState, as a bit of the word of all eight.
  static constexpr uint64_t FlagBit(size_t offset) { return uint64_t{1} << (8 * offset); }
  // What SendsCleanFrame requires of a stream's flags before a frame of one kind, and sets.
  struct SendRule {
    uint64_t mask = 0;
    uint64_t want = 1;  // by default no flags match: the frame takes the full checks
    uint64_t set = 0;
    uint64_t max_length = 0;  // of the frame's data
  };
  using SendRules = std::array<SendRule, kKindMaxValue + 1>;
  static SendRules MakeSendRules(const WireEndConfig& config, bool recording);

  using CommonFrame = wire_internal::WireFramer::CommonFrame;
  // OnWrite's common case, the frame of a clean call: a whole packet (done) that passes
  // IsCleanShape, follows its stream's last packet and needs no flow control or recording.
  // True after checking every rule OnSent checks, updating the state, remembering and relaying
  // it (`relay`: null once abandoned) exactly as OnWrite's full path would; false (nothing
  // changed but the stream's existence) hands it and the rest of the write to FeedWritten.
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool SendsCleanFrame(const CommonFrame& f, uint64_t end_offset,
                                                    Relay*& relay);
  // OnWrite's full path: every frame of `bytes` through the framer and OnSent.
  ABSL_ATTRIBUTE_NOINLINE void FeedWritten(absl::string_view bytes, Relay* relay);
  void DecideInMode();
  void StopRelaying(Relay& relay, const absl::Status& error, absl::string_view bad);
  ABSL_ATTRIBUTE_ALWAYS_INLINE void ReadRelayed(size_t n);
  ABSL_ATTRIBUTE_NOINLINE void ReportRelayedParseError();
  void MixReceived(const FrameFacts& f);
  void FeedReceived(absl::string_view bytes);

  // Rules every frame obeys, whoever sent it. Returns false after reporting a violation. The
  // frames of a clean call are judged inline; true here only where CheckShapeInDetail finds
  // nothing wrong either.
  // (A parsed Frame, as this end sent it, FrameFacts, or the relay's front entry.)
  static uint64_t LengthOf(const FrameFacts& f) { return f.length; }
  static uint64_t LengthOf(const Frame& f) { return f.data.size(); }
  static const FrameFacts& FactsOf(const FrameFacts& f) { return f; }
  static FrameFacts FactsOf(const Frame& f) { return FrameFacts::Of(f); }
  FrameFacts FactsOf(const Relay::Entry& e) const;

  // The frames of a clean call pass this bit test alone; it reads nothing but the frame, so the
  // writer's model computes it once for both ends (Relay::Entry::clean).
  template <typename AnyFrame>
  ABSL_ATTRIBUTE_ALWAYS_INLINE static bool IsCleanShape(const AnyFrame& f) {
    using wire_internal::KindBit;
    constexpr uint64_t kAnyBody = KindBit(Kind::kInvoke) | KindBit(Kind::kInvokeMetadata) |
                                  KindBit(Kind::kMessage);
    constexpr uint64_t kEmptyAndDone = KindBit(Kind::kClose) | KindBit(Kind::kCloseSend);
    if (f.id.stream == 0 || f.id.message == 0 || f.control) return false;
    const uint64_t bit = KindBit(f.kind);
    return (bit & kAnyBody) != 0 || ((bit & kEmptyAndDone) != 0 && f.done && LengthOf(f) == 0);
  }
  // `clean`: IsCleanShape(f).
  template <typename AnyFrame>
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool CheckShape(const AnyFrame& f, bool clean,
                                               absl::string_view verb) {
    return (clean && !full_checks_) || CheckShapeInDetail(FactsOf(f), verb);
  }
  ABSL_ATTRIBUTE_NOINLINE bool CheckShapeInDetail(const FrameFacts& f, absl::string_view verb);


  // Every frame passes here: the checks are inline, the work (rare) is not.
  template <typename AnyFrame>
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Log(absl::string_view arrow, const AnyFrame& f) {
    if (ABSL_PREDICT_FALSE(logging_)) LogFrame(*oracle_->trace_ctx_, arrow, FactsOf(f));
  }
  // Record, then Log: one test for the frames of a run that does neither.
  template <typename AnyFrame>
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Watch(bool sent, const AnyFrame& f) {
    if (ABSL_PREDICT_TRUE(!watched_)) return;
    Record(sent, f);
    Log(sent ? "->" : "<-", f);
  }
  ABSL_ATTRIBUTE_NOINLINE void LogFrame(SimContext& ctx, absl::string_view arrow,
                                        const FrameFacts& f);

  // Feeds the run's recorder (sim/recorder.h), if there is one: every frame, and a label per
  // stream once the client's Invoke is complete (its method and metadata).
  template <typename AnyFrame>
  ABSL_ATTRIBUTE_ALWAYS_INLINE void Record(bool sent, const AnyFrame& f) {
    if (ABSL_PREDICT_FALSE(recording_)) RecordFrame(sent, FactsOf(f));
  }
  // Recorded runs never relay (Tap), so `f` holds all of its data here.
  ABSL_ATTRIBUTE_NOINLINE void RecordFrame(bool sent, const FrameFacts& f);

  // Frames come in runs of one stream: the last one's is found inline.
  ABSL_ATTRIBUTE_ALWAYS_INLINE StreamState& Stream(uint64_t id) {
    if (ABSL_PREDICT_TRUE(last_stream_ != nullptr && last_stream_id_ == id)) return *last_stream_;
    return FindOrAddStream(id);
  }
  ABSL_ATTRIBUTE_NOINLINE StreamState& FindOrAddStream(uint64_t id);
  // The state of a new stream, the next in the chunks (its index entry is in place).
  ABSL_ATTRIBUTE_ALWAYS_INLINE StreamState& AddStream(uint64_t id);
  const StreamState* FindStream(uint64_t id) const;

  // The checks of a frame are inline in the loop that finds it; what reports a violation is not.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void OnReceived(const FrameFacts& f, bool clean);
  ABSL_ATTRIBUTE_NOINLINE void OnReceivedInFull(const Relay::Entry& e);
  // OnReceived of the relay's front entry: a clean frame (most) is judged inline.
  ABSL_ATTRIBUTE_ALWAYS_INLINE void OnReceivedRelayed(const Relay::Entry& e);
  ABSL_ATTRIBUTE_NOINLINE void ReceivedInvokeViolation(const FrameFacts& f);
  ABSL_ATTRIBUTE_NOINLINE void OnReceivedWindowUpdate(StreamState& s, const FrameFacts& f);
  // A stream this end sends on with flow control starts with the window as its credit: a client's
  // once its Invoke is out, a server's once the client's Invoke arrived.
  void StartFlow(StreamState& s);
  // Returns IsCleanShape(f).
  bool OnSent(const Frame& f);
  ABSL_ATTRIBUTE_NOINLINE void OnSentInFull(StreamState& s, const Frame& f, bool clean);
  ABSL_ATTRIBUTE_NOINLINE void OnSentWindowUpdate(StreamState& s, const Frame& f);
  // Contiguous packets, consecutive message IDs (docs/protocol.md §4.1), upstream global order
  // (§4.2).
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool CheckPacketOrder(StreamState& s, const Frame& f);
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool CheckClientLifecycle(StreamState& s, const Frame& f);
  ABSL_ATTRIBUTE_ALWAYS_INLINE bool CheckServerLifecycle(StreamState& s, const Frame& f);
  // The fork's sender (docs/protocol.md §17.2): a message starts only within the credit, then
  // overdraws to its end.
  void CheckCredit(StreamState& s, const Frame& f);
  template <typename AnyFrame>
  void Remember(StreamState& s, const AnyFrame& f, bool sent) {
    Remember(s, wire_internal::FrameNote{.message = f.id.message,
                                         .length = static_cast<uint32_t>(LengthOf(f)),
                                         .kind = f.kind, .done = f.done, .control = f.control,
                                         .sent = sent});
  }
  static void Remember(StreamState& s, const wire_internal::FrameNote& note) {
    s.history[s.frames % wire_internal::kHistoryMaxCount] = note;
    ++s.frames;
  }
  // Reports "<who>sent <frame>: <why>" (who: "", "client " or "server "); returns false.
  ABSL_ATTRIBUTE_NOINLINE bool SentViolation(absl::string_view who, const Frame& f,
                                             absl::string_view why);
  void Violate(uint64_t stream, std::string why);

  WireOracle* oracle_;
  std::optional<SimNetwork::EndpointId> endpoint_;
  std::string name_;
  WireEndConfig config_;
  SendRules send_rules_;  // by kind
  // Whether the run's trace is on, and whether its recorder takes this end's frames (both fixed
  // for a run, and set_trace comes before Tap).
  bool logging_;
  bool recording_;
  bool watched_;  // logging_ || recording_
  // Every frame takes the full checks (wire_internal::full_checks when this model was made).
  bool full_checks_;
  // OnWrite judges clean frames inline (SendsCleanFrame): !watched_ && !full_checks_.
  bool inline_writes_;
  // The kinds (KindBit) of clean frames OnReceivedRelayed judges inline: none if watched_ or
  // full_checks_, never an Invoke or InvokeMetadata a client receives (a violation), and no
  // Invoke under flow control (it starts the stream's credit).
  uint64_t received_inline_kinds_;
  wire_internal::WireFramer out_framer_;
  FrameParser in_parser_;
  // Set when both ends of a simulated connection are tapped (WireOracle::Tap).
  std::shared_ptr<Relay> out_relay_;
  std::shared_ptr<Relay> in_relay_;
  InMode in_mode_ = InMode::kUndecided;
  uint64_t read_bytes_ = 0;  // kRelayed: bytes this end has read
  // Data of our InvokeMetadata and Invoke being sent, by stream (client; recorded runs only: they
  // label the stream for the recorder). Kept apart so a StreamState stays trivially copyable and
  // a new stream costs no constructor calls.
  struct InvokeText {
    std::string metadata;
    std::string invoke;
  };
  std::map<uint64_t, InvokeText> sending_;
  // Every stream of the connection, ended ones too: the states in the order the streams came, in
  // chunks that never move (a new stream copies none of the others), and an index ordered by
  // stream ID (no node per stream; reports are deterministic).
  struct StreamRef {
    uint64_t id;
    size_t index;  // into the chunks
  };
  static constexpr size_t kStreamChunkCount = 16;
  std::vector<StreamRef> stream_index_;
  std::vector<std::unique_ptr<StreamState[]>> stream_chunks_;
  size_t stream_count_ = 0;
  // The stream of the last frame: frames come in runs of one stream, so most lookups are this one.
  uint64_t last_stream_id_ = 0;
  StreamState* last_stream_ = nullptr;
  PacketId upstream_last_{0, 0};  // the highest ID sent (upstream)
  bool upstream_sending_ = false;
  PacketId upstream_packet_;
  bool poisoned_ = false;
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_DRPC_WIRE_END_MODEL_H_
