// The timeline's marks (internal to sim/timeline.cc): text helpers, frame colours, and the
// condensing of a recorder's events into marks.
#ifndef DRPC_SIM_TIMELINE_MARKS_H_
#define DRPC_SIM_TIMELINE_MARKS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "impl/time.h"
#include "proto/frame.h"
#include "sim/recorder.h"

namespace drpc::sim::timeline_internal {

// Text for HTML and SVG (markup characters escaped, control bytes replaced).
std::string Escape(absl::string_view s);
// At most `max` bytes, with an ellipsis when cut.
std::string Shorten(absl::string_view s, size_t max);
// Virtual time since the start of the run ("1.5ms").
std::string FormatTime(Instant t);
// The colour of a frame kind (the legend lists them).
const char* KindColor(Kind k);

// One mark of the picture: an event, or several condensed into one — the frames of one packet
// (a message split into 585 frames is one mark), timers firing together at one instant.
struct Item {
  const RunEvent* e = nullptr;
  uint64_t count = 1;  // frames of the packet, or timers
  uint64_t bytes = 0;  // frames: data bytes of the packet so far
  bool hidden = false;
};

// Condenses the recorder's events into marks: frames of one packet become one mark, timers firing
// together one mark, and a fiber parked and unparked at the same instant (a reader taking a
// segment) nothing at all — that is what long bursts at one instant consist of.
std::vector<Item> Condense(const std::deque<RunEvent>& events);

}  // namespace drpc::sim::timeline_internal

#endif  // DRPC_SIM_TIMELINE_MARKS_H_
