// The timeline of one simulated run: a self-contained HTML page with an SVG picture of what the
// run's recorder (sim/recorder.h) saw — no scripts, no external fonts or styles, so it opens from
// a file anywhere and can be attached to a bug report.
//
//   Recorder recorder;
//   options.recorder = &recorder;
//   RunSimulation(spec.body, decisions, options);
//   std::string html = RenderTimelineHtml(recorder, TimelineOptions{.title = "swarm.mux seed 42"});
//
// What it shows, virtual time running left to right:
//   * a "run" lane: notes (a caller cancels, a connection is closed, the server shuts down),
//     race situations as they are first reached, and the failure;
//   * two lanes per connection, one per direction (dialer → acceptor, acceptor → dialer): the
//     frames each end sent (kind, stream/message IDs, size; the tooltip has the details), its
//     connect, faults and closes; connections without frames (toys) show their writes instead;
//   * one lane per stream, labelled with its method and metadata: frames sent (filled, upper half)
//     and received (outlined, lower half) by either end;
//   * a timer lane (timers firing) and one lane per fiber: spawn, parked stretches with their
//     reason, unpark, exit;
//   * the failure as a red line across every lane, its message on top, the lane of the stream it
//     concerns in red, and that stream's last frames listed under the message.
// The time axis is compressed: simultaneous events are spread by their order, idle stretches
// are shortened (a logarithmic step); the ticks give the virtual time. Only the last
// `events_max` events are drawn (the end of the run, where the failure is); the page opens
// scrolled to that end.
#ifndef DRPC_SIM_TIMELINE_H_
#define DRPC_SIM_TIMELINE_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "sim/recorder.h"

namespace drpc::sim {

struct TimelineOptions {
  std::string title;     // the page's heading: scenario, seed or tape, policy
  std::string subtitle;  // a second line, e.g. the replay command
  size_t events_max = 4000;
  size_t focus_frames_max = 12;  // last frames of the failure's stream listed under it
};

std::string RenderTimelineHtml(const Recorder& recorder, const TimelineOptions& options);

// Renders and writes the page to `path`.
absl::Status WriteTimelineHtml(const Recorder& recorder, const TimelineOptions& options,
                               const std::string& path);

}  // namespace drpc::sim

#endif  // DRPC_SIM_TIMELINE_H_
