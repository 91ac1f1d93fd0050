// Server: Serve's accept loop (temporary errors retried with a bounded backoff, never spinning;
// OK after Shutdown), the connection limit (docs/protocol.md §13 item 18), and the error observer.
#include "impl/server.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/sync.h"
#include "impl/testing/echo_service.h"
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

// A listener whose Accept fails with `error` while `failing` is set (like accept(2) with EMFILE),
// then hands out the simulated listener's connections. Counts Accept calls.
class FlakyListener final : public Listener {
 public:
  FlakyListener(std::unique_ptr<Listener> inner, absl::Status error)
      : inner_(std::move(inner)), error_(std::move(error)) {}
  absl::StatusOr<std::unique_ptr<Transport>> Accept() override {
    ++attempts;
    if (failing && !closed_) return error_;
    return inner_->Accept();
  }
  void Close() override {
    closed_ = true;
    inner_->Close();
  }
  int attempts = 0;
  bool failing = true;

 private:
  std::unique_ptr<Listener> inner_;
  absl::Status error_;
  bool closed_ = false;
};

struct ServeRig {
  sim::SimContext& sim;
  Router router = testing::EchoRouter();
  Server server;
  std::unique_ptr<FlakyListener> listener;
  Signal served;
  std::vector<absl::Status> observed;
  ServeRig(sim::SimContext& s, absl::Status accept_error, Options options = Options{})
      : sim(s), server(s.env(), router, options), served(s.env()) {
    absl::StatusOr<std::unique_ptr<Listener>> l = s.network().Listen("server");
    s.Check(l.ok(), l.status().ToString());
    listener = std::make_unique<FlakyListener>(*std::move(l), std::move(accept_error));
    server.set_error_observer([this](const absl::Status& e) { observed.push_back(e); });
    DRPC_CHECK_OK(s.env().scheduler().Spawn("serve", [this] { served.Set(server.Serve(*listener)); }));
  }
  absl::StatusOr<std::string> Call(Conn& conn, const std::string& body) {
    CallContext ctx(sim.env());
    return conn.Invoke(ctx, "/interop.Echo/Unary", body);
  }
  std::unique_ptr<Conn> Dial() {
    absl::StatusOr<std::unique_ptr<Transport>> t = sim.network().Dial("server");
    sim.Check(t.ok(), t.status().ToString());
    absl::StatusOr<std::unique_ptr<Conn>> c = Conn::Create(sim.env(), *std::move(t));
    sim.Check(c.ok(), c.status().ToString());
    return *std::move(c);
  }
};

// Go's TestServerTemporarySleep: a temporary accept error (EMFILE) is retried after a backoff that
// grows to 500 ms, so Serve does not spin; once accepting works again connections are served, and
// Serve returns OK when Shutdown closes the listener.
TEST(ServerTest, ServeRetriesTemporaryAcceptErrorsWithoutSpinning) {
  ExpectOk(sim::RunSeed([](sim::SimContext& s) {
    ServeRig rig(s, absl::ResourceExhaustedError("accept: too many open files"));
    SleepFor(s.env(), Duration::Seconds(3));
    // 5+10+20+40+80+160+320 ms, then every 500 ms: about 11 attempts in 3 s.
    s.Check(rig.listener->attempts >= 8 && rig.listener->attempts <= 13,
            absl::StrCat(rig.listener->attempts, " accept attempts in 3 s"));
    s.Check(static_cast<int>(rig.observed.size()) == rig.listener->attempts &&
                absl::StrContains(rig.observed[0].message(), "too many open files") &&
                absl::IsResourceExhausted(rig.observed[0]),
            "each retried accept error is observed");
    rig.listener->failing = false;
    std::unique_ptr<Conn> conn = rig.Dial();
    absl::StatusOr<std::string> r = rig.Call(*conn, "after EMFILE");
    s.Check(r.ok() && *r == "after EMFILE", r.status().ToString());
    conn->Close();
    rig.server.Shutdown(s.now() + Duration::Seconds(1));
    s.Check(rig.served.Wait("serve", s.now() + Duration::Millis(1)) && rig.served.status().ok(),
            rig.served.status().ToString());
  }, 1, testing::ScriptedRunOptions()));
}

TEST(ServerTest, ShutdownEndsServeAtOnceEvenWhileItBacksOff) {
  ExpectOk(sim::RunSeed([](sim::SimContext& s) {
    ServeRig rig(s, absl::UnavailableError("accept: network is down"));
    SleepFor(s.env(), Duration::Seconds(2));  // the backoff is at its 500 ms ceiling
    const Instant start = s.now();
    rig.server.Shutdown(s.now() + Duration::Seconds(1));
    rig.served.Wait("serve");
    s.Check(rig.served.status().ok(), rig.served.status().ToString());
    s.Check(s.now() - start < Duration::Millis(1), "Serve waited out its backoff");
  }, 1, testing::ScriptedRunOptions()));
}

TEST(ServerTest, ServeReturnsAPermanentListenerError) {
  ExpectOk(sim::RunSeed([](sim::SimContext& s) {
    ServeRig rig(s, absl::InternalError("accept: bad file descriptor"));
    rig.served.Wait("serve");
    s.Check(absl::IsInternal(rig.served.status()) && rig.listener->attempts == 1,
            rig.served.status().ToString());
    rig.server.Shutdown(s.now());
  }, 1, testing::ScriptedRunOptions()));
}

// docs/protocol.md §13 item 18 (Go's drpcserver has no connection limit): beyond connections_max_count a new
// connection is closed at once; when one ends, a new one is served again.
// A connection over the limit is told why: its first call gets "server busy: connection
// refused ..." (an Error), then the connection closes; the limit frees up as connections end.
TEST(ServerTest, ConnectionsBeyondTheConnectionLimitAreRefusedWithAnError) {
  ExpectOk(sim::RunSeed([](sim::SimContext& s) {
    Options o;
    o.connections_max_count = 2;
    ServeRig rig(s, absl::OkStatus(), o);
    rig.listener->failing = false;
    std::unique_ptr<Conn> a = rig.Dial(), b = rig.Dial(), c = rig.Dial();
    s.Check(rig.Call(*a, "a").ok() && rig.Call(*b, "b").ok(), "the first two are served");
    absl::StatusOr<std::string> refused = rig.Call(*c, "c");
    s.Check(absl::IsResourceExhausted(refused.status()) &&
                absl::StrContains(refused.status().message(),
                                  "server busy: connection refused: 2 connections are served "
                                  "(Options::connections_max_count = 2)"),
            refused.status().ToString());
    s.Check(rig.server.connections_refused_with_error() == 1, "one refusal answered");
    absl::StatusOr<std::string> after = rig.Call(*c, "c again");
    s.Check(IsClosed(after.status()), "the refused connection is closed: " + after.status().ToString());
    s.Check(rig.server.active_connections() == 2, "connection count");
    s.Check(!rig.observed.empty() && absl::IsResourceExhausted(rig.observed.back()) &&
                absl::StrContains(rig.observed.back().message(), "connections_max_count = 2"),
            "the refusal is observed");
    a->Close();
    SleepFor(s.env(), Duration::Millis(1));
    std::unique_ptr<Conn> d = rig.Dial();
    s.Check(rig.Call(*d, "d").ok(), "a connection after one ended is served");
    for (Conn* conn : {b.get(), c.get(), d.get()}) conn->Close();
    rig.server.Shutdown(s.now() + Duration::Seconds(1));
    rig.served.Wait("serve");
  }, 1, testing::ScriptedRunOptions()));
}

// The error observer sees a handler's error (code kept, rpc named) and the protocol error that
// ended a connection; a clean close by the peer is not reported.
TEST(ServerTest, ErrorObserverSeesHandlerAndConnectionErrors) {
  std::vector<absl::Status> observed;
  ExpectOk(RunServer(Options{}, [&observed](ServerSide& s) {
    s.server.set_error_observer([&observed](const absl::Status& e) { observed.push_back(e); });
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 2, 1, "/interop.Echo/Fail"),
                                F(Kind::kMessage, 2, 2, "x"), F(Kind::kCloseSend, 2, 3)})
                    .ok(),
                "w");
    s.client.ReadFrame().IgnoreError();  // the Error
    s.sim.Check(s.client.Write({F(Kind::kInvoke, 1, 1, "/interop.Echo/Unary")}).ok(), "w");
    s.served.Wait("ServeConn");
  }));
  ASSERT_EQ(observed.size(), 2u);
  EXPECT_EQ(observed[0].message(), "rpc /interop.Echo/Fail: boom");
  EXPECT_EQ(RemoteErrorCode(observed[0]), 42u);
  EXPECT_TRUE(absl::StartsWith(observed[1].message(), "connection: protocol error")) << observed[1];
  std::vector<absl::Status> clean;
  ExpectOk(RunServer(Options{}, [&clean](ServerSide& s) {
    s.server.set_error_observer([&clean](const absl::Status& e) { clean.push_back(e); });
    s.client.Close();
    s.served.Wait("ServeConn");
  }));
  EXPECT_TRUE(clean.empty()) << clean[0];
}

}  // namespace
}  // namespace drpc
