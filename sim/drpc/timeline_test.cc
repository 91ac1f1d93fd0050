// The run recorder and the timeline page: what the engine, network and wire oracle report, that
// recording never changes a run, and what the page contains for a failing protocol run (the
// planted race) and a passing toy.
#include "sim/timeline.h"

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "sim/recorder.h"
#include "sim/scenario.h"
#include "sim/simulation.h"
#include "sim/toys.h"

namespace drpc::sim {
namespace {

const ScenarioSpec& Spec(absl::string_view name) {
  const ScenarioSpec* spec = ScenarioRegistry::Find(name);
  EXPECT_NE(spec, nullptr) << name;
  return *spec;
}

// The first seed of `spec` whose run fails (the planted race fails in a few percent of seeds).
std::optional<uint64_t> FirstFailingSeed(const ScenarioSpec& spec, uint64_t seeds) {
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    if (!RunSeed(spec.body, seed, OptionsFor(spec)).ok()) return seed;
  }
  return std::nullopt;
}

TEST(RecorderTest, KeepsTheLastEventsWithinItsBoundAndCountsTheRest) {
  Recorder r(Recorder::Options{.events_max = 3});
  for (uint64_t i = 1; i <= 5; ++i) r.TimerFired(Instant() + Duration::Micros(static_cast<int64_t>(i)), i);
  ASSERT_EQ(r.events().size(), 3u);
  EXPECT_EQ(r.events().front().subject, 3u);
  EXPECT_EQ(r.events().back().subject, 5u);
  EXPECT_EQ(r.dropped(), 2u);
  EXPECT_EQ(r.counts().events, 5u);
  EXPECT_EQ(r.last_time(), Instant() + Duration::Micros(5));
}

TEST(RecorderTest, CountingOnlyKeepsNoEvents) {
  Recorder r(Recorder::Options{.keep_events = false});
  r.Spawn(Instant(), 1, "main");
  r.Connect(Instant(), 1, "c#1", "none");
  Frame invoke;
  invoke.id = {1, 1};
  invoke.kind = Kind::kInvoke;
  r.FrameEvent(Instant(), 1, /*end=*/0, /*sent=*/true, invoke);
  r.FrameEvent(Instant(), 1, /*end=*/1, /*sent=*/false, invoke);  // received: not another stream
  EXPECT_TRUE(r.events().empty());
  EXPECT_EQ(r.counts().fibers, 1u);
  EXPECT_EQ(r.counts().connections, 1u);
  EXPECT_EQ(r.counts().streams_opened, 1u);
}

TEST(RecorderTest, TheFirstFocusAndTheFirstFailureWin) {
  Recorder r;
  r.LabelStream(1, 3, "/svc/A", {{"plan", "x"}});
  r.LabelStream(2, 5, "/svc/B", {{"plan", "y"}});
  EXPECT_FALSE(r.FocusMetadata("plan", "z"));
  EXPECT_TRUE(r.FocusMetadata("plan", "y"));
  r.Focus(1, 3);
  EXPECT_EQ(r.focus(), std::make_pair(uint64_t{2}, uint64_t{5}));
  r.Failure(Instant(), "correctness", "first");
  r.Failure(Instant(), "deadlock", "second");
  EXPECT_EQ(r.failure(), "correctness: first");
}

// A recorder observes; the run is the same bit for bit with or without one.
TEST(RecorderTest, RecordingDoesNotChangeTheRun) {
  const ScenarioSpec& spec = Spec("swarm.mux");
  for (uint64_t seed : {1, 2}) {
    const RunResult plain = RunSeed(spec.body, seed, OptionsFor(spec));
    Recorder recorder;
    RunOptions options = OptionsFor(spec);
    options.recorder = &recorder;
    const RunResult recorded = RunSeed(spec.body, seed, options);
    EXPECT_EQ(plain.trace_hash, recorded.trace_hash) << "seed " << seed;
    EXPECT_GT(recorder.counts().frames_sent, 0u);
    EXPECT_GT(recorder.counts().streams_opened, 0u);
    EXPECT_EQ(recorder.counts().fibers, recorded.fibers);
    EXPECT_EQ(recorder.counts().connections, recorded.network.connections);
  }
}

TEST(TimelineTest, AFailingRunShowsItsFramesTheFailureAndTheStreamConcerned) {
  const ScenarioSpec& spec = Spec("test.planted.shared_state");
  const std::optional<uint64_t> seed = FirstFailingSeed(spec, 300);
  ASSERT_TRUE(seed.has_value()) << "the planted race failed in none of 300 seeds";
  Recorder recorder;
  RunOptions options = OptionsFor(spec);
  options.recorder = &recorder;
  const RunResult r = RunSeed(spec.body, *seed, options);
  ASSERT_EQ(r.failure, FailureClass::kCorrectness);
  ASSERT_TRUE(recorder.failed());
  ASSERT_TRUE(recorder.focus().has_value()) << "the outcome oracle did not name the call's stream";

  const std::string html =
      RenderTimelineHtml(recorder, TimelineOptions{.title = absl::StrCat("planted seed ", *seed)});
  // Self-contained: one document, SVG inline, nothing fetched or run.
  EXPECT_TRUE(absl::StartsWith(html, "<!DOCTYPE html>"));
  EXPECT_TRUE(absl::EndsWith(html, "</html>\n"));
  EXPECT_NE(html.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  for (const char* banned : {"<script", "src=", "href=", "@import", "url(", "@font-face"}) {
    EXPECT_EQ(html.find(banned), std::string::npos) << banned;
  }
  EXPECT_EQ(html.find("http", html.find("</style>")), html.find("http://www.w3.org/2000/svg"));
  // The failure, its invariant, and the stream it concerns with its last frames.
  EXPECT_NE(html.find("wrong unary reply"), std::string::npos);
  EXPECT_NE(html.find("class=\"failure\""), std::string::npos);
  const auto [connection, stream] = *recorder.focus();
  const std::string lane = absl::StrCat(recorder.connection_names().at(connection), " stream ", stream,
                                        " /sim.Load/Unary");
  EXPECT_NE(html.find(absl::StrCat("<b>last frames of ", lane)), std::string::npos) << lane;
  EXPECT_NE(html.find("fill=\"#fbe3e3\""), std::string::npos) << "the focused lane is not highlighted";
  // A known frame: the client's Invoke of the failing call's stream, as a mark with a tooltip.
  EXPECT_NE(html.find(absl::StrCat("dialer sent Invoke &lt;", stream, ",")), std::string::npos);
  // Lanes: both directions of the connection, the stream, timers, fibers with park reasons.
  EXPECT_NE(html.find("dialer → acceptor"), std::string::npos);
  EXPECT_NE(html.find("acceptor → dialer"), std::string::npos);
  EXPECT_NE(html.find(">timers<"), std::string::npos);
  EXPECT_NE(html.find("fiber #1 main"), std::string::npos);
  EXPECT_NE(html.find("<title>parked: "), std::string::npos);
  EXPECT_NE(html.find("planted bug: shared reply state"), std::string::npos);
}

TEST(TimelineTest, APassingToyShowsConnectionsWritesAndFaults) {
  Recorder recorder;
  RunOptions options;
  options.recorder = &recorder;
  const RunResult r = RunSeed(
      [](SimContext& ctx) {
        // A ping-pong whose first connection is reset 30 bytes in (toys.h), then a clean one.
        RunPingPong(ctx, 3, 100, FaultPlan::ResetAt(Direction::kForward, 30));
      },
      1, options);
  ASSERT_TRUE(r.ok()) << r.message;
  ASSERT_EQ(recorder.counts().faults, 1u);
  const std::string html = RenderTimelineHtml(recorder, TimelineOptions{.title = "ping pong"});
  EXPECT_NE(html.find("the run passed"), std::string::npos);
  EXPECT_NE(html.find("FAULT reset@30 fwd"), std::string::npos);
  EXPECT_NE(html.find("the dialer writes 104 bytes"), std::string::npos);  // a 4-byte length + 100
  EXPECT_NE(html.find("connect echo#1 (fault plan: reset@30 fwd)"), std::string::npos);
  EXPECT_NE(html.find("the acceptor closed its end"), std::string::npos);
  EXPECT_EQ(html.find("class=\"failure\""), std::string::npos);
}

TEST(TimelineTest, DrawsOnlyTheLastMarksOfALongRun) {
  const ScenarioSpec& spec = Spec("swarm.upstream");
  Recorder recorder;
  RunOptions options = OptionsFor(spec);
  options.recorder = &recorder;
  // Seed 3's long run (a PCT seed of the swarm can end it far sooner).
  options.policy = PolicySpec::RandomFibersFirst();
  ASSERT_TRUE(RunSeed(spec.body, 3, options).ok());
  const std::string all = RenderTimelineHtml(recorder, TimelineOptions{});
  const std::string last = RenderTimelineHtml(recorder, TimelineOptions{.events_max = 10});
  auto marks = [](const std::string& html) {
    size_t n = 0;
    for (size_t at = html.find("<g>"); at != std::string::npos; at = html.find("<g>", at + 1)) ++n;
    return n;
  };
  EXPECT_NE(all.find("all drawn"), std::string::npos);
  EXPECT_NE(last.find("the last "), std::string::npos);
  EXPECT_LT(marks(last) * 2, marks(all)) << marks(last) << " of " << marks(all);
}

}  // namespace
}  // namespace drpc::sim
