// The run recorder: the events of one simulated run, in order, for the timeline (sim/timeline.h)
// and for the shrinker's before/after figures (sim/shrink.h).
//
//   Recorder recorder;
//   RunOptions options;
//   options.recorder = &recorder;
//   RunResult r = RunSimulation(body, decisions, options);
//   std::string html = RenderTimelineHtml(recorder, TimelineOptions{.title = "swarm.mux seed 42"});
//
// Who feeds it: the engine (fibers spawn, park, are unparked and exit; timers fire), the network
// (connections, writes, faults, closes), the wire oracle (every frame each end sends and receives,
// a label per stream from its Invoke and metadata, the stream a violation concerns), the run
// driver and scenarios (notes such as a caller's cancel, reached race situations, the failure).
// Feeding costs one pointer test where no recorder is installed (the default).
//
// Bounded: beyond `events_max` events the oldest are dropped and counted, so the end of a long
// run — where the failure is — is always kept. With `keep_events` off only the counters are kept.
#ifndef DRPC_SIM_RECORDER_H_
#define DRPC_SIM_RECORDER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "impl/time.h"
#include "proto/frame.h"

namespace drpc::sim {

enum class RunEventType : uint8_t {
  kSpawn,    // subject: fiber; text: its name
  kPark,     // subject: fiber; text: the park reason
  kUnpark,   // subject: fiber
  kExit,     // subject: fiber
  kTimer,    // subject: timer ID (a timer fired)
  kConnect,  // subject: connection; text: its name and fault plan
  kWrite,    // subject: connection; end wrote `size` bytes
  kFault,    // subject: connection; end: the direction it struck; text: the fault
  kClose,    // subject: connection; end closed its endpoint
  kFrame,    // subject: connection; end sent (`sent`) or received a frame
  kNote,     // text: something a scenario did (a caller cancels, a connection is closed)
  kReach,    // text: a race situation reached for the first time in the run
  kFailure,  // text: "<class>: <message>"
};

struct RunEvent {
  RunEventType type = RunEventType::kNote;
  Instant time;
  uint64_t seq = 0;      // position in the run (events are appended in execution order)
  uint64_t subject = 0;  // fiber, timer or connection ID (see RunEventType)
  int end = 0;           // connection end: 0 the dialer, 1 the acceptor
  // Frames.
  bool sent = false;
  Kind kind = Kind::kMessage;
  bool done = false;
  bool control = false;
  PacketId id;
  uint64_t size = 0;     // frame data or written bytes
  std::string text;
};

class Recorder {
 public:
  struct Options {
    size_t events_max = 200'000;
    bool keep_events = true;
  };
  Recorder() : Recorder(Options{}) {}
  explicit Recorder(Options options) : options_(options) {}

  // --- Engine --------------------------------------------------------------------------------------
  void Spawn(Instant t, uint64_t fiber, absl::string_view name);
  void Park(Instant t, uint64_t fiber, absl::string_view reason);
  void Unpark(Instant t, uint64_t fiber);
  void Exit(Instant t, uint64_t fiber);
  void TimerFired(Instant t, uint64_t timer);

  // --- Network -------------------------------------------------------------------------------------
  void Connect(Instant t, uint64_t connection, absl::string_view name, absl::string_view plan);
  void Write(Instant t, uint64_t connection, int end, uint64_t bytes);
  void Fault(Instant t, uint64_t connection, int direction, absl::string_view what);
  void Close(Instant t, uint64_t connection, int end);

  // --- Wire oracle ---------------------------------------------------------------------------------
  void FrameEvent(Instant t, uint64_t connection, int end, bool sent, const Frame& frame);
  // A stream's method and metadata (the client's Invoke), shown on its lane; `metadata` is kept
  // for FocusMetadata.
  void LabelStream(uint64_t connection, uint64_t stream, std::string label,
                   std::map<std::string, std::string> metadata);
  // The stream the failure concerns (its last frames are listed next to the failure).
  void Focus(uint64_t connection, uint64_t stream);
  // Focus on the stream whose metadata holds key=value (an oracle that knows a call by its
  // metadata, not by its stream). False if no labelled stream matches.
  bool FocusMetadata(absl::string_view key, absl::string_view value);

  // --- Driver and scenarios ------------------------------------------------------------------------
  void Note(Instant t, absl::string_view text);
  void Reach(Instant t, absl::string_view situation);  // only the first time per situation
  void Failure(Instant t, absl::string_view failure_class, absl::string_view message);
  // The time of the latest event (for a crash, which has no clock at hand).
  Instant last_time() const { return last_time_; }

  // --- What was recorded ---------------------------------------------------------------------------
  const std::deque<RunEvent>& events() const { return events_; }
  uint64_t dropped() const { return dropped_; }
  const std::map<uint64_t, std::string>& connection_names() const { return connection_names_; }
  const std::map<uint64_t, std::string>& fiber_names() const { return fiber_names_; }
  const std::map<std::pair<uint64_t, uint64_t>, std::string>& stream_labels() const {
    return stream_labels_;
  }
  std::optional<std::pair<uint64_t, uint64_t>> focus() const { return focus_; }
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }  // "<class>: <message>"

  struct Counts {
    uint64_t events = 0;
    uint64_t frames_sent = 0;
    uint64_t streams_opened = 0;  // Invoke frames sent by clients
    uint64_t connections = 0;
    uint64_t faults = 0;
    uint64_t fibers = 0;
  };
  const Counts& counts() const { return counts_; }

 private:
  RunEvent& Add(RunEventType type, Instant t);

  Options options_;
  std::deque<RunEvent> events_;
  uint64_t dropped_ = 0;
  uint64_t next_seq_ = 0;
  Instant last_time_;
  Counts counts_;
  std::map<uint64_t, std::string> connection_names_;
  std::map<uint64_t, std::string> fiber_names_;
  std::map<std::pair<uint64_t, uint64_t>, std::string> stream_labels_;
  std::map<std::pair<uint64_t, uint64_t>, std::map<std::string, std::string>> stream_metadata_;
  std::set<std::string, std::less<>> reached_;
  std::optional<std::pair<uint64_t, uint64_t>> focus_;
  std::string failure_;
  RunEvent scratch_;  // the target of Add when events are not kept
};

}  // namespace drpc::sim

#endif  // DRPC_SIM_RECORDER_H_
