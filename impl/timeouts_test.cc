// A connection's time limits (Options: first_frame_timeout, frame_timeout, inactivity_timeout)
// and half-closed clients (half_close_grace), on the simulator's clock, in both modes: a peer
// that connects and says nothing, one whose frame stops one byte short, one that goes idle, and
// one that half-closes right after a complete call (issue 13 findings 6 and 7).
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/sync.h"
#include "impl/testing/echo_service.h"
#include "impl/tunables.h"
#include "proto/base/check.h"
#include "sim/testing/expect.h"
#include "sim/testing/harness.h"
#include "sim/testing/wire_harness.h"

namespace drpc {
namespace {

using testing::ExpectOk;
using testing::F;
using testing::RawFrame;
using testing::RunServer;
using testing::ServerSide;

Options ModeOptions(bool mux) { return mux ? testing::MuxOptions() : Options{}; }

// Waits until the server closes the connection; returns how long that took (virtual time).
Duration ClosedAfter(ServerSide& s, Duration limit) {
  const Instant start = s.sim.now();
  absl::StatusOr<std::vector<RawFrame>> rest = s.client.ReadUntilClosed(limit);
  s.sim.Check(rest.ok(), absl::StrCat("the server kept the connection: ", rest.status().ToString()));
  return s.sim.now() - start;
}

// "/t.T/Later": echoes its request after 50 ms. "/t.T/Wait": returns when its context ends.
Router TimeRouter(int* cancelled) {
  Router router = testing::EchoRouter();
  DRPC_CHECK_OK(router.Unary(
      "/t.T/Later", [](CallContext& ctx, absl::string_view req) -> absl::StatusOr<std::string> {
        SleepFor(ctx.env(), Duration::Millis(50), "handler: later");
        return std::string(req);
      }));
  DRPC_CHECK_OK(router.Bidi("/t.T/Wait", [cancelled](CallContext& ctx, RpcStream&) -> absl::Status {
    ctx.done_signal().Wait("handler: waiting for its context");
    ++*cancelled;
    return ctx.err();
  }));
  return router;
}

class TimeoutsTest : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Modes, TimeoutsTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Mux" : "Upstream"; });

TEST_P(TimeoutsTest, ASilentConnectionIsClosedAfterTheFirstFrameTimeout) {
  ExpectOk(RunServer(ModeOptions(GetParam()), [](ServerSide& s) {
    const Duration took = ClosedAfter(s, Duration::Seconds(60));
    s.sim.Check(took == tunables::kFirstFrameTimeoutDefault, took.ToString());
  }));
}

TEST_P(TimeoutsTest, AFrameThatStopsOneByteShortIsNotHeldForEver) {
  ExpectOk(RunServer(ModeOptions(GetParam()), [](ServerSide& s) {
    // A complete call, answered; then an Invoke whose last byte never comes.
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/interop.Echo/Unary"),
                                F(Kind::kMessage, 1, 2, "hi"), F(Kind::kCloseSend, 1, 3)})
                    .ok(),
                "write");
    absl::StatusOr<RawFrame> reply = s.client.ReadFrame();
    s.sim.Check(reply.ok() && reply->data == "hi", "the complete call is answered");
    const std::string next = testing::Encode({F(Kind::kInvoke, 2, 1, "/interop.Echo/Unary")});
    s.sim.Check(s.client.WriteBytes(next.substr(0, next.size() - 1)).ok(), "write");
    const Duration took = ClosedAfter(s, Duration::Seconds(60));
    s.sim.Check(took >= tunables::kFrameTimeoutDefault &&
                    took < tunables::kFrameTimeoutDefault + Duration::Seconds(1),
                took.ToString());
  }));
}

// Slowloris: a new connection dribbling its first frame at 1 B/s is closed at the first-frame
// timeout, not given the longer frame timeout once its first byte arrived.
TEST_P(TimeoutsTest, ADribbledFirstFrameIsClosedAtTheFirstFrameTimeout) {
  ExpectOk(RunServer(ModeOptions(GetParam()), [](ServerSide& s) {
    const std::string invoke =
        testing::Encode({F(Kind::kInvoke, 1, 1, "/interop.Echo/Unary/with/a/long/name")});
    const Instant start = s.sim.now();
    for (char c : invoke) {
      if (!s.client.WriteBytes(std::string(1, c)).ok()) break;
      SleepFor(s.sim.env(), Duration::Seconds(1), "test: dribbling");
    }
    ClosedAfter(s, Duration::Seconds(60));
    const Duration took = s.sim.now() - start;
    s.sim.Check(took >= tunables::kFirstFrameTimeoutDefault &&
                    took <= tunables::kFirstFrameTimeoutDefault + Duration::Seconds(2),
                took.ToString());
  }));
}

// A peer that sends one byte per second never completes a 10-byte header... in time.
TEST_P(TimeoutsTest, ADribbledFrameCountsEveryWaitForItsBytes) {
  Options o = ModeOptions(GetParam());
  o.frame_timeout = Duration::Seconds(5);
  ExpectOk(RunServer(o, [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kCancel, 7, 1)}).ok(), "a first frame");
    const std::string invoke = testing::Encode({F(Kind::kInvoke, 9, 1, "/interop.Echo/Unary")});
    const Instant start = s.sim.now();
    for (char c : invoke) {
      if (!s.client.WriteBytes(std::string(1, c)).ok()) break;
      SleepFor(s.sim.env(), Duration::Seconds(1), "test: dribbling");
    }
    ClosedAfter(s, Duration::Seconds(60));
    const Duration took = s.sim.now() - start;
    s.sim.Check(took >= Duration::Seconds(5) && took <= Duration::Seconds(7), took.ToString());
  }));
}

// The frame timeout bounds the wait for the peer's bytes only: a reader that waits for the
// application (a full receive queue) is not the peer's slowness.
TEST(FrameTimeoutTest, DoesNotCountTheReadersWaitForTheApplication) {
  int cancelled = 0;
  const Router router = TimeRouter(&cancelled);
  Options o = testing::MuxOptions();
  o.frame_timeout = Duration::Seconds(1);
  o.recv_stall_timeout = Duration::Seconds(5);
  o.recv_queue_max_count = 1;
  ExpectOk(RunServer(o, [](ServerSide& s) {
    const Instant start = s.sim.now();
    // Three messages for a handler that never reads (no window announced: a bounded queue),
    // then half a frame: the reader waits for the application with a frame in progress.
    std::string bytes = testing::Encode({F(Kind::kInvoke, 1, 1, "/t.T/Wait"),
                                         F(Kind::kMessage, 1, 2, "a"), F(Kind::kMessage, 1, 3, "b"),
                                         F(Kind::kMessage, 1, 4, "c")});
    const std::string partial = testing::Encode({F(Kind::kInvoke, 3, 1, "/interop.Echo/Unary")});
    bytes += partial.substr(0, 3);
    s.sim.Check(s.client.WriteBytes(bytes).ok(), "write");
    absl::StatusOr<RawFrame> error = s.client.ReadFrame(Duration::Seconds(30));
    s.sim.Check(error.ok() && error->kind == Kind::kError, "the stalled stream fails");
    s.sim.Check(s.sim.now() - start >= Duration::Seconds(5), "after the stall timeout");
    // Only now does the reader wait for the peer's bytes again: a second more, then closed.
    const Duration took = ClosedAfter(s, Duration::Seconds(60));
    s.sim.Check(took >= Duration::Millis(900) && took <= Duration::Seconds(2), took.ToString());
  }, 1, &router));
}

// Regression (hostile.mux seed 3): a read that timed out ends the connection with a
// DeadlineExceeded, which the mux accept loop took for its own inactivity timeout while a call
// was running, and asked again at once, for ever, never yielding. The connection must end.
TEST(FrameTimeoutTest, EndsAMuxConnectionWithACallInFlight) {
  int cancelled = 0;
  const Router router = TimeRouter(&cancelled);
  ExpectOk(RunServer(testing::MuxOptions(), [&cancelled](ServerSide& s) {
    const std::string partial = testing::Encode({F(Kind::kInvoke, 3, 1, "/interop.Echo/Unary")});
    s.sim.Check(s.client.WriteBytes(testing::Encode({F(Kind::kInvoke, 1, 1, "/t.T/Wait")}) +
                                    partial.substr(0, 4))
                    .ok(),
                "write");
    const Duration took = ClosedAfter(s, Duration::Seconds(60));
    s.sim.Check(took <= tunables::kFrameTimeoutDefault, took.ToString());
    s.sim.Check(s.served.Wait("test: ServeConn returns", s.sim.now() + Duration::Seconds(1)),
                "ServeConn did not return after the read timed out");
    s.sim.Check(cancelled == 1, "the running call's context ended with the connection");
  }, 1, &router));
}

TEST_P(TimeoutsTest, AnIdleConnectionIsClosedAfterTheInactivityTimeout) {
  ExpectOk(RunServer(ModeOptions(GetParam()), [](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/interop.Echo/Unary"),
                                F(Kind::kMessage, 1, 2, "hi"), F(Kind::kCloseSend, 1, 3)})
                    .ok(),
                "write");
    s.client.ReadFrame().IgnoreError();
    const Duration took = ClosedAfter(s, Duration::Seconds(400));
    s.sim.Check(took >= tunables::kInactivityTimeoutDefault - Duration::Seconds(1) &&
                    took <= tunables::kInactivityTimeoutDefault,
                took.ToString());
  }));
}

// A complete call followed at once by a half close (shutdown(SHUT_WR)) is answered, in both
// modes and whatever the scheduling (20 seeds); the connection then closes.
TEST_P(TimeoutsTest, ACompleteCallFollowedByAHalfCloseIsAnswered) {
  int cancelled = 0;
  const Router router = TimeRouter(&cancelled);
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    ExpectOk(RunServer(ModeOptions(GetParam()), [](ServerSide& s) {
      s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/t.T/Later"),
                                  F(Kind::kMessage, 1, 2, "late reply"),
                                  F(Kind::kCloseSend, 1, 3)})
                      .ok(),
                  "write");
      s.sim.Check(s.client.CloseWrite().ok(), "half close");
      absl::StatusOr<std::vector<RawFrame>> frames =
          s.client.ReadUntilClosed(Duration::Seconds(5));
      s.sim.Check(frames.ok() && !frames->empty() && (*frames)[0].data == "late reply",
                  "the reply arrives before the close");
    }, seed, &router));
  }
}

// After a half close, a call whose client had not finished sending ends at once (its handler's
// context is cancelled) while a complete one is still answered (mux: side by side).
TEST(HalfCloseTest, EndsOnlyTheCallsStillExpectingMessages) {
  int cancelled = 0;
  const Router router = TimeRouter(&cancelled);
  ExpectOk(RunServer(testing::MuxOptions(), [&cancelled](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/t.T/Wait"), F(Kind::kMessage, 1, 2, "x"),
                                F(Kind::kInvoke, 3, 1, "/t.T/Later"),
                                F(Kind::kMessage, 3, 2, "answered"), F(Kind::kCloseSend, 3, 3)})
                    .ok(),
                "write");
    s.sim.Check(s.client.CloseWrite().ok(), "half close");
    absl::StatusOr<std::vector<RawFrame>> frames = s.client.ReadUntilClosed(Duration::Seconds(5));
    s.sim.Check(frames.ok(), "closed");
    bool answered = false;
    for (const RawFrame& f : *frames) answered = answered || f.data == "answered";
    s.sim.Check(answered, "the complete call is answered");
    s.sim.Check(cancelled == 1, "the incomplete call's handler was cancelled");
  }, 1, &router));
}

// A handler that keeps a half-closed client's complete call running gets half_close_grace.
TEST_P(TimeoutsTest, AHalfClosedConnectionEndsAfterTheGrace) {
  int cancelled = 0;
  const Router router = TimeRouter(&cancelled);
  ExpectOk(RunServer(ModeOptions(GetParam()), [&cancelled](ServerSide& s) {
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/t.T/Wait"), F(Kind::kCloseSend, 1, 2)})
                    .ok(),
                "write");
    SleepFor(s.sim.env(), Duration::Millis(1), "test: the call starts");
    s.sim.Check(s.client.CloseWrite().ok(), "half close");
    const Duration took = ClosedAfter(s, Duration::Seconds(60));
    s.sim.Check(took == tunables::kHalfCloseGraceDefault, took.ToString());
    s.sim.Check(cancelled == 1, "the handler's context ended with the connection");
  }, 1, &router));
}

}  // namespace
}  // namespace drpc
