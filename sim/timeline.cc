#include "sim/timeline.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "sim/timeline_marks.h"

namespace drpc::sim {
namespace {

using timeline_internal::Condense;
using timeline_internal::Escape;
using timeline_internal::FormatTime;
using timeline_internal::Item;
using timeline_internal::KindColor;
using timeline_internal::Shorten;

constexpr double kLaneHeight = 22;
constexpr double kAxisHeight = 30;
constexpr double kLabelWidth = 330;
constexpr double kMargin = 12;
constexpr double kTickSpacing = 120;
constexpr size_t kLabelCharsMax = 52;
// A short run is stretched to this width, so its marks do not huddle in a corner.
constexpr double kDrawnWidthMin = 840;

// Lanes in drawing order: (group, a, b). Group 0 the run; 1 a connection (b = 0/1 its directions,
// b = 2 + stream ID its streams); 2 timers; 3 fibers (a = fiber ID).
using LaneKey = std::tuple<int, uint64_t, uint64_t>;
constexpr int kRunGroup = 0;
constexpr int kConnectionGroup = 1;
constexpr int kTimerGroup = 2;
constexpr int kFiberGroup = 3;

LaneKey DirectionLane(uint64_t connection, int end) {
  return {kConnectionGroup, connection, static_cast<uint64_t>(end)};
}
LaneKey StreamLane(uint64_t connection, uint64_t stream) { return {kConnectionGroup, connection, 2 + stream}; }

class TimelineWriter {
 public:
  TimelineWriter(const Recorder& recorder, const TimelineOptions& options)
      : r_(recorder), o_(options) {
    all_ = Condense(r_.events());
    // The window starts at the events_max-th major mark from the end.
    size_t majors = 0;
    first_ = all_.size();
    while (first_ > 0 && majors < o_.events_max) majors += IsMajor(all_[--first_]);
    window_.assign(all_.begin() + static_cast<ptrdiff_t>(first_), all_.end());
    Place();
    CollectLanes();
  }

  std::string Html() {
    std::string svg_labels, svg;
    DrawLabels(svg_labels);
    DrawAxis(svg);
    DrawLaneBackgrounds(svg);
    DrawFiberSpans(svg);
    for (size_t i = 0; i < window_.size(); ++i) DrawEvent(svg, window_[i], xs_[i]);
    DrawFailure(svg);
    const double height = Height();
    std::string html = Head();
    absl::StrAppend(&html, Summary(), Legend());
    absl::StrAppend(&html, "<div class=\"timeline\"><div class=\"labels\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"",
                    kLabelWidth, "\" height=\"", height, "\">", svg_labels,
                    "</svg></div><div class=\"scroll\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"",
                    absl::StrFormat("%.0f", width_), "\" height=\"", height, "\">", svg,
                    "</svg></div></div>\n</body>\n</html>\n");
    return html;
  }

 private:
  // Frames, connections, faults, notes, spawns and exits drive the axis; timers firing and
  // fibers parking and waking (the engine's bookkeeping, thousands per message at small segment
  // sizes) are drawn between them without taking room of their own.
  static bool IsMajor(const Item& item) {
    const RunEventType t = item.e->type;
    return t != RunEventType::kTimer && t != RunEventType::kPark && t != RunEventType::kUnpark;
  }

  // x of every mark: major marks at the same instant a small step apart, time gaps a
  // logarithmic step (1 µs ≈ 13 px, 100 µs ≈ 64 px, ≥ 1 ms 90 px); minor marks interpolated by
  // time between the major marks around them (by order at a single instant).
  void Place() {
    xs_.assign(window_.size(), 0);
    std::vector<size_t> anchors;  // major marks, plus the window's ends
    for (size_t i = 0; i < window_.size(); ++i) {
      if (IsMajor(window_[i]) || i == 0 || i + 1 == window_.size()) anchors.push_back(i);
    }
    double x = kMargin;
    for (size_t k = 0; k < anchors.size(); ++k) {
      if (k > 0) {
        const int64_t dt = (window_[anchors[k]].e->time - window_[anchors[k - 1]].e->time).nanos();
        x += dt <= 0 ? 3.0 : std::min(90.0, 4.0 + 9.0 * std::log2(1.0 + static_cast<double>(dt) / 1000.0));
      }
      xs_[anchors[k]] = x;
    }
    for (size_t k = 0; k + 1 < anchors.size(); ++k) {
      const size_t a = anchors[k], b = anchors[k + 1];
      const double span = static_cast<double>((window_[b].e->time - window_[a].e->time).nanos());
      for (size_t i = a + 1; i < b; ++i) {
        const double frac = span > 0 ? static_cast<double>((window_[i].e->time - window_[a].e->time).nanos()) / span
                                     : static_cast<double>(i - a) / static_cast<double>(b - a);
        xs_[i] = xs_[a] + frac * (xs_[b] - xs_[a]);
      }
    }
    if (x < kDrawnWidthMin && x > kMargin) {
      const double stretch = (kDrawnWidthMin - kMargin) / (x - kMargin);
      for (double& xi : xs_) xi = kMargin + (xi - kMargin) * stretch;
      x = kDrawnWidthMin;
    }
    width_ = x + 3 * kMargin;
  }

  void AddLane(const LaneKey& key) { lanes_.emplace(key, 0); }

  void CollectLanes() {
    AddLane({kRunGroup, 0, 0});
    for (const Item& item : window_) {
      const RunEvent* e = item.e;
      switch (e->type) {
        case RunEventType::kSpawn:
        case RunEventType::kPark:
        case RunEventType::kUnpark:
        case RunEventType::kExit:
          AddLane({kFiberGroup, e->subject, 0});
          break;
        case RunEventType::kTimer:
          AddLane({kTimerGroup, 0, 0});
          break;
        case RunEventType::kConnect:
          AddLane(DirectionLane(e->subject, 0));
          AddLane(DirectionLane(e->subject, 1));
          break;
        case RunEventType::kFrame:
          framed_.insert(e->subject);
          if (e->sent) AddLane(DirectionLane(e->subject, e->end));
          AddLane(StreamLane(e->subject, e->id.stream));
          break;
        case RunEventType::kWrite:
        case RunEventType::kFault:
        case RunEventType::kClose:
          AddLane(DirectionLane(e->subject, e->end));
          break;
        default:
          break;
      }
    }
    if (auto f = r_.focus(); f.has_value()) AddLane(StreamLane(f->first, f->second));
    int index = 0;
    for (auto& [key, i] : lanes_) i = index++;
  }

  double LaneY(const LaneKey& key) const { return kAxisHeight + lanes_.at(key) * kLaneHeight; }
  double Height() const { return kAxisHeight + static_cast<double>(lanes_.size()) * kLaneHeight + kMargin; }

  std::string LaneLabel(const LaneKey& key) const {
    const auto& [group, a, b] = key;
    auto name = [this](uint64_t c) {
      auto it = r_.connection_names().find(c);
      return it == r_.connection_names().end() ? absl::StrCat("connection ", c) : it->second;
    };
    switch (group) {
      case kRunGroup: return "run: notes, situations, failure";
      case kTimerGroup: return "timers";
      case kFiberGroup: {
        auto it = r_.fiber_names().find(a);
        return absl::StrCat("fiber #", a, " ", it == r_.fiber_names().end() ? "" : it->second);
      }
      default: break;
    }
    if (b == 0) return absl::StrCat(name(a), "  dialer → acceptor");
    if (b == 1) return absl::StrCat(name(a), "  acceptor → dialer");
    auto it = r_.stream_labels().find({a, b - 2});
    return absl::StrCat(name(a), " stream ", b - 2, " ",
                        it == r_.stream_labels().end() ? "" : it->second);
  }

  bool Focused(const LaneKey& key) const {
    auto f = r_.focus();
    return f.has_value() && key == StreamLane(f->first, f->second);
  }

  void DrawLabels(std::string& svg) const {
    for (const auto& [key, i] : lanes_) {
      const double y = LaneY(key);
      const std::string label = LaneLabel(key);
      absl::StrAppend(&svg, "<rect x=\"0\" y=\"", y, "\" width=\"", kLabelWidth, "\" height=\"",
                      kLaneHeight, "\" fill=\"", Focused(key) ? "#f6c7c7" : (i % 2 ? "#f4f4f4" : "#fbfbfb"),
                      "\"/><text x=\"6\" y=\"", y + 15, "\" class=\"lbl\">", Escape(Shorten(label, kLabelCharsMax)),
                      "<title>", Escape(label), "</title></text>");
    }
  }

  // A tick where time has moved on since the last tick, at most one per kTickSpacing.
  void DrawAxis(std::string& svg) const {
    double last = -kTickSpacing;
    Instant last_time = Instant() - Duration::Nanos(1);
    for (size_t i = 0; i < window_.size(); ++i) {
      if (xs_[i] - last < kTickSpacing || window_[i].e->time == last_time) continue;
      last = xs_[i];
      last_time = window_[i].e->time;
      absl::StrAppend(&svg, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" class=\"tick\"/>",
                                            xs_[i], kAxisHeight - 6, xs_[i], Height() - kMargin),
                      absl::StrFormat("<text x=\"%.1f\" y=\"%.0f\" class=\"time\">", xs_[i] + 2, kAxisHeight - 10),
                      Escape(FormatTime(window_[i].e->time)), "</text>");
    }
  }

  void DrawLaneBackgrounds(std::string& svg) const {
    for (const auto& [key, i] : lanes_) {
      absl::StrAppend(&svg, "<rect x=\"0\" y=\"", LaneY(key), "\" width=\"100%\" height=\"", kLaneHeight, "\" fill=\"",
                      Focused(key) ? "#fbe3e3" : (i % 2 ? "#f4f4f4" : "#fbfbfb"), "\"/>");
    }
  }

  // Parked stretches: from a park to the fiber's next unpark or exit (or the end of the window).
  void DrawFiberSpans(std::string& svg) const {
    std::map<uint64_t, std::pair<double, std::string>> parked;  // fiber -> (x, reason)
    auto span = [&](uint64_t fiber, double x_end) {
      auto it = parked.find(fiber);
      if (it == parked.end()) return;
      const double y = LaneY({kFiberGroup, fiber, 0});
      absl::StrAppend(&svg, absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"park\">",
                                            it->second.first, y + 6, std::max(1.0, x_end - it->second.first), kLaneHeight - 12),
                      "<title>parked: ", Escape(it->second.second), "</title></rect>");
      parked.erase(it);
    };
    for (size_t i = 0; i < window_.size(); ++i) {
      const RunEvent& e = *window_[i].e;
      if (e.type == RunEventType::kPark) {
        parked[e.subject] = {xs_[i], e.text};
      } else if (e.type == RunEventType::kUnpark || e.type == RunEventType::kExit) {
        span(e.subject, xs_[i]);
      }
    }
    while (!parked.empty()) span(parked.begin()->first, width_ - kMargin);
  }

  static std::string Title(const RunEvent& e, absl::string_view what) {
    return absl::StrCat("<title>", Escape(FormatTime(e.time)), "  ", Escape(what), "</title>");
  }

  // "dialer sent Message <3,1> len=7 done", or for a packet of several frames
  // "dialer sent Message <3,1> 4096 bytes in 585 frames".
  static std::string FrameText(const Item& item) {
    const RunEvent& e = *item.e;
    const std::string size = item.count > 1 ? absl::StrCat(item.bytes, " bytes in ", item.count, " frames")
                                            : absl::StrCat("len=", e.size, e.done ? " done" : "");
    return absl::StrCat(e.end == 0 ? "dialer " : "acceptor ", e.sent ? "sent " : "received ",
                        KindName(e.kind), " ", PacketIdString(e.id), " ", size, e.control ? " control" : "");
  }

  void DrawFrame(std::string& svg, const Item& item, double x) const {
    const RunEvent& e = *item.e;
    const std::string title = Title(e, FrameText(item));
    const char* color = KindColor(e.kind);
    if (e.sent) {
      const double y = LaneY(DirectionLane(e.subject, e.end));
      absl::StrAppend(&svg, absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"3\" height=\"%.1f\" fill=\"%s\">",
                                            x - 1.5, y + 4, kLaneHeight - 8, color),
                      title, "</rect>");
    }
    const double y = LaneY(StreamLane(e.subject, e.id.stream));
    if (e.sent) {
      absl::StrAppend(&svg, absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"3\" height=\"8\" fill=\"%s\">", x - 1.5, y + 2, color),
                      title, "</rect>");
    } else {
      absl::StrAppend(&svg, absl::StrFormat("<rect x=\"%.1f\" y=\"%.1f\" width=\"3\" height=\"7\" fill=\"none\" stroke=\"%s\" stroke-width=\"1\">",
                                            x - 1.5, y + 12, color),
                      title, "</rect>");
    }
  }

  static std::string Num(double v) { return absl::StrFormat("%.1f", v); }
  // Shapes centred on (x, y).
  static std::string Circle(double x, double y, double r, absl::string_view cls) {
    return absl::StrCat("<circle cx=\"", Num(x), "\" cy=\"", Num(y), "\" r=\"", Num(r), "\" class=\"", cls, "\"/>");
  }
  static std::string Bar(double x, double y, double w, double h, absl::string_view cls) {
    return absl::StrCat("<rect x=\"", Num(x - w / 2), "\" y=\"", Num(y - h / 2), "\" width=\"", Num(w),
                        "\" height=\"", Num(h), "\" class=\"", cls, "\"/>");
  }
  static std::string Triangle(double x, double y, absl::string_view cls) {
    return absl::StrCat("<path d=\"M ", Num(x - 6), " ", Num(y + 6), " l 6 -13 l 6 13 z\" class=\"", cls, "\"/>");
  }
  static std::string Diamond(double x, double y, absl::string_view cls) {
    return absl::StrCat("<path d=\"M ", Num(x), " ", Num(y - 7), " l 6 7 l -6 7 l -6 -7 z\" class=\"", cls, "\"/>");
  }

  void DrawEvent(std::string& svg, const Item& item, double x) const {
    const RunEvent& e = *item.e;
    auto mid = [&](const LaneKey& lane) { return LaneY(lane) + kLaneHeight / 2; };
    auto mark = [&](const std::string& shape, absl::string_view text) {
      absl::StrAppend(&svg, "<g>", shape, Title(e, text), "</g>");
    };
    const LaneKey run{kRunGroup, 0, 0};
    const LaneKey fiber{kFiberGroup, e.subject, 0};
    switch (e.type) {
      case RunEventType::kFrame:
        return DrawFrame(svg, item, x);
      case RunEventType::kSpawn:
        return mark(Circle(x, mid(fiber), 3.5, "spawn"), absl::StrCat("spawn ", e.text));
      case RunEventType::kUnpark:
        return mark(Bar(x, mid(fiber), 1.5, 8, "unpark"), "unparked");
      case RunEventType::kExit:
        return mark(Circle(x, mid(fiber), 3.5, "exit"), "exit");
      case RunEventType::kTimer:
        return mark(Bar(x, mid({kTimerGroup, 0, 0}), 1.5, 10, "timer"), item.count > 1 ? absl::StrCat(item.count, " timers fired") : absl::StrCat("timer ", e.subject, " fired"));
      case RunEventType::kConnect:
        for (int end : {0, 1}) {
          mark(Circle(x, mid(DirectionLane(e.subject, end)), 4, "conn"), absl::StrCat("connect ", e.text));
        }
        return;
      case RunEventType::kWrite:
        if (framed_.contains(e.subject)) return;
        return mark(Bar(x, mid(DirectionLane(e.subject, e.end)), 3, 10, "write"),
                    absl::StrCat(e.end == 0 ? "the dialer" : "the acceptor", " writes ", e.size, " bytes"));
      case RunEventType::kFault:
        return mark(Triangle(x, mid(DirectionLane(e.subject, e.end)), "fault"), absl::StrCat("FAULT ", e.text));
      case RunEventType::kClose:
        return mark(Bar(x, mid(DirectionLane(e.subject, e.end)), 3, 18, "close"),
                    e.end == 0 ? "the dialer closed its end" : "the acceptor closed its end");
      case RunEventType::kNote:
        return mark(Diamond(x, mid(run), "note"), e.text);
      case RunEventType::kReach:
        return mark(Circle(x, mid(run), 3, "reach"), absl::StrCat("situation reached: ", e.text));
      case RunEventType::kFailure:
      case RunEventType::kPark:
        return;  // drawn by DrawFailure and DrawFiberSpans
    }
  }

  void DrawFailure(std::string& svg) const {
    if (!r_.failed()) return;
    double x = width_ - 2 * kMargin;
    for (size_t i = 0; i < window_.size(); ++i) {
      if (window_[i].e->type == RunEventType::kFailure) x = xs_[i];
    }
    const double run_y = LaneY({kRunGroup, 0, 0});
    absl::StrAppend(&svg, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" class=\"failure\">",
                                          x, kAxisHeight - 4, x, Height() - kMargin),
                    "<title>", Escape(r_.failure()), "</title></line>",
                    absl::StrFormat("<text x=\"%.1f\" y=\"%.0f\" class=\"failtext\">FAILURE</text>", x - 56, run_y + 15));
  }

  std::string Head() const {
    return absl::StrCat(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>drpc-sim timeline: ",
        Escape(o_.title), "</title>\n<style>\n",
        "body{font-family:sans-serif;margin:14px;color:#222;background:#fff}\n"
        "h1{font-size:18px;margin:0 0 4px 0} .sub{font-family:monospace;font-size:12px;color:#555;margin:0 0 8px 0}\n"
        ".failbox{border:2px solid #c00;background:#fff0f0;padding:6px 10px;margin:8px 0}\n"
        ".failbox pre,.frames{font-family:monospace;font-size:12px;white-space:pre-wrap;margin:4px 0}\n"
        ".okbox{border:2px solid #2e9e44;background:#f0fff2;padding:6px 10px;margin:8px 0}\n"
        ".legend{font-size:12px;margin:6px 0} .legend span{display:inline-block;width:10px;height:10px;margin:0 3px 0 10px}\n"
        ".timeline{display:flex;border:1px solid #ccc} .labels{flex:none}\n"
        ".scroll{overflow-x:auto;direction:rtl;flex:1} .scroll svg{direction:ltr;min-width:100%}\n"
        "text.lbl{font-family:monospace;font-size:11px} text.time{font-family:monospace;font-size:10px;fill:#555}\n"
        "line.tick{stroke:#ddd;stroke-width:1} .park{fill:#999;fill-opacity:0.35}\n"
        ".spawn{fill:#2e9e44} .exit{fill:none;stroke:#333} .unpark{fill:#1f5fbf} .timer{fill:#888}\n"
        ".conn{fill:#555} .write{fill:#aaa} .fault{fill:#e00;stroke:#600} .close{fill:#000}\n"
        ".note{fill:#ff9f1c;stroke:#a60} .reach{fill:#6fa8ff} line.failure{stroke:#e00;stroke-width:2}\n"
        "text.failtext{font-family:sans-serif;font-size:11px;font-weight:bold;fill:#e00}\n",
        "</style>\n</head>\n<body>\n<h1>", Escape(o_.title), "</h1>\n<p class=\"sub\">",
        Escape(o_.subtitle), "</p>\n");
  }

  std::string Summary() const {
    const Recorder::Counts& c = r_.counts();
    std::string out = absl::StrCat(
        "<p class=\"sub\">", c.events, " events in ", all_.size(), " marks (",
        first_ > 0 ? absl::StrCat("the last ", all_.size() - first_, " drawn") : std::string("all drawn"),
        r_.dropped() > 0 ? absl::StrCat("; the recorder dropped the first ", r_.dropped(), " events") : std::string(),
        "), ", c.fibers, " fibers, ", c.connections, " connections, ", c.streams_opened,
        " streams, ", c.frames_sent, " frames sent, ", c.faults, " faults</p>\n");
    if (!r_.failed()) return absl::StrCat(out, "<div class=\"okbox\">the run passed</div>\n");
    absl::StrAppend(&out, "<div class=\"failbox\"><b>failure</b><pre>", Escape(r_.failure()), "</pre>");
    if (auto f = r_.focus(); f.has_value()) {
      std::vector<const Item*> frames;
      for (const Item& item : all_) {
        const RunEvent& e = *item.e;
        if (e.type == RunEventType::kFrame && e.subject == f->first && e.id.stream == f->second) frames.push_back(&item);
      }
      const size_t skip = frames.size() > o_.focus_frames_max ? frames.size() - o_.focus_frames_max : 0;
      absl::StrAppend(&out, "<b>last frames of ", Escape(LaneLabel(StreamLane(f->first, f->second))),
                      "</b><div class=\"frames\">");
      for (size_t i = skip; i < frames.size(); ++i) {
        absl::StrAppend(&out, Escape(FormatTime(frames[i]->e->time)), "  ", Escape(FrameText(*frames[i])), "\n");
      }
      out += "</div>";
    }
    return absl::StrCat(out, "</div>\n");
  }

  static std::string Legend() {
    std::string out = "<div class=\"legend\">frames:";
    for (Kind k : {Kind::kInvokeMetadata, Kind::kInvoke, Kind::kMessage, Kind::kCloseSend, Kind::kClose,
                   Kind::kError, Kind::kCancel, Kind::kWindowUpdate}) {
      absl::StrAppend(&out, "<span style=\"background:", KindColor(k), "\"></span>", KindName(k));
    }
    absl::StrAppend(&out, " &#160; (stream lanes: sent filled above, received outlined below)<br>",
                    "<span style=\"background:#e00\"></span>fault <span style=\"background:#000\"></span>close "
                    "<span style=\"background:#555\"></span>connect <span style=\"background:#ff9f1c\"></span>note "
                    "<span style=\"background:#6fa8ff\"></span>situation <span style=\"background:#2e9e44\"></span>spawn "
                    "<span style=\"background:#ccc\"></span>parked <span style=\"background:#1f5fbf\"></span>unpark "
                    "<span style=\"background:#888\"></span>timer fired &#160; hover a mark for details</div>\n");
    return out;
  }

  const Recorder& r_;
  const TimelineOptions& o_;
  std::vector<Item> all_;
  size_t first_ = 0;
  std::vector<Item> window_;
  std::vector<double> xs_;
  double width_ = 0;
  std::map<LaneKey, int> lanes_;
  std::set<uint64_t> framed_;  // connections with frames: their writes are not drawn
};

}  // namespace

std::string RenderTimelineHtml(const Recorder& recorder, const TimelineOptions& options) {
  return TimelineWriter(recorder, options).Html();
}

absl::Status WriteTimelineHtml(const Recorder& recorder, const TimelineOptions& options,
                               const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  out << RenderTimelineHtml(recorder, options);
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("error writing ", path));
  return absl::OkStatus();
}

}  // namespace drpc::sim
