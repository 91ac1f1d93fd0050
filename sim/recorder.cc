#include "sim/recorder.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace drpc::sim {

RunEvent& Recorder::Add(RunEventType type, Instant t) {
  ++counts_.events;
  if (t > last_time_) last_time_ = t;
  if (!options_.keep_events) {
    scratch_ = RunEvent{};
    return scratch_;
  }
  if (options_.events_max == 0) return scratch_;
  if (events_.size() >= options_.events_max) {
    events_.pop_front();
    ++dropped_;
  }
  RunEvent& e = events_.emplace_back();
  e.type = type;
  e.time = t;
  e.seq = next_seq_++;
  return e;
}

void Recorder::Spawn(Instant t, uint64_t fiber, absl::string_view name) {
  ++counts_.fibers;
  if (!options_.keep_events) return;
  fiber_names_[fiber] = std::string(name);
  RunEvent& e = Add(RunEventType::kSpawn, t);
  e.subject = fiber;
  e.text = std::string(name);
}

void Recorder::Park(Instant t, uint64_t fiber, absl::string_view reason) {
  if (!options_.keep_events) return;
  RunEvent& e = Add(RunEventType::kPark, t);
  e.subject = fiber;
  e.text = std::string(reason);
}

void Recorder::Unpark(Instant t, uint64_t fiber) {
  if (!options_.keep_events) return;
  Add(RunEventType::kUnpark, t).subject = fiber;
}

void Recorder::Exit(Instant t, uint64_t fiber) {
  if (!options_.keep_events) return;
  Add(RunEventType::kExit, t).subject = fiber;
}

void Recorder::TimerFired(Instant t, uint64_t timer) {
  if (!options_.keep_events) return;
  Add(RunEventType::kTimer, t).subject = timer;
}

void Recorder::Connect(Instant t, uint64_t connection, absl::string_view name,
                       absl::string_view plan) {
  ++counts_.connections;
  if (!options_.keep_events) return;
  connection_names_[connection] = std::string(name);
  RunEvent& e = Add(RunEventType::kConnect, t);
  e.subject = connection;
  e.text = absl::StrCat(name, " (fault plan: ", plan, ")");
}

void Recorder::Write(Instant t, uint64_t connection, int end, uint64_t bytes) {
  if (!options_.keep_events) return;
  RunEvent& e = Add(RunEventType::kWrite, t);
  e.subject = connection;
  e.end = end;
  e.size = bytes;
}

void Recorder::Fault(Instant t, uint64_t connection, int direction, absl::string_view what) {
  ++counts_.faults;
  if (!options_.keep_events) return;
  RunEvent& e = Add(RunEventType::kFault, t);
  e.subject = connection;
  e.end = direction;
  e.text = std::string(what);
}

void Recorder::Close(Instant t, uint64_t connection, int end) {
  if (!options_.keep_events) return;
  RunEvent& e = Add(RunEventType::kClose, t);
  e.subject = connection;
  e.end = end;
}

void Recorder::FrameEvent(Instant t, uint64_t connection, int end, bool sent, const Frame& frame) {
  if (sent) {
    ++counts_.frames_sent;
    if (end == 0 && frame.kind == Kind::kInvoke && frame.done) ++counts_.streams_opened;
  }
  if (!options_.keep_events) return;
  RunEvent& e = Add(RunEventType::kFrame, t);
  e.subject = connection;
  e.end = end;
  e.sent = sent;
  e.kind = frame.kind;
  e.done = frame.done;
  e.control = frame.control;
  e.id = frame.id;
  e.size = frame.data.size();
}

void Recorder::LabelStream(uint64_t connection, uint64_t stream, std::string label,
                           std::map<std::string, std::string> metadata) {
  if (!options_.keep_events) return;
  stream_labels_[{connection, stream}] = std::move(label);
  stream_metadata_[{connection, stream}] = std::move(metadata);
}

void Recorder::Focus(uint64_t connection, uint64_t stream) {
  if (!focus_.has_value()) focus_ = std::make_pair(connection, stream);
}

bool Recorder::FocusMetadata(absl::string_view key, absl::string_view value) {
  for (const auto& [stream, metadata] : stream_metadata_) {
    auto it = metadata.find(std::string(key));
    if (it != metadata.end() && it->second == value) {
      Focus(stream.first, stream.second);
      return true;
    }
  }
  return false;
}

void Recorder::Note(Instant t, absl::string_view text) {
  if (!options_.keep_events) return;
  Add(RunEventType::kNote, t).text = std::string(text);
}

void Recorder::Reach(Instant t, absl::string_view situation) {
  if (!options_.keep_events || reached_.contains(situation)) return;
  reached_.emplace(situation);
  Add(RunEventType::kReach, t).text = std::string(situation);
}

void Recorder::Failure(Instant t, absl::string_view failure_class, absl::string_view message) {
  if (!failure_.empty()) return;  // the first failure is the run's
  failure_ = absl::StrCat(failure_class, ": ", message);
  if (!options_.keep_events) return;
  Add(RunEventType::kFailure, t).text = failure_;
}

}  // namespace drpc::sim
