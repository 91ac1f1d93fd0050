// Fairness on a reactor (issue 13 finding 2): a handler streaming to a client that reads as fast as
// it writes never sees its socket block, and used to keep its reactor for the whole transfer —
// other connections got no reply, no connection was accepted, and shutdown ignored its grace.
// Each test asserts on the order of events, never on how long anything took: the flood has no end
// of its own (it stops when told to or when cancelled), so an unfair server shows as a call that
// never returns, up to the test's timeout, however slowly a loaded machine runs the client.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/context.h"
#include "impl/router.h"
#include "impl/runtime/net.h"
#include "impl/runtime/tcp_server.h"
#include "impl/runtime/test_util.h"
#include "proto/base/check.h"
#include "proto/frame.h"

namespace drpc::runtime {
namespace {

using testing::StartRuntime;

// Small messages: the reader drains the socket far faster than the server fills it, so the
// server's writes never block however busy the machine is, and only the turn budget (its time
// slice) can make the flood's fiber yield.
constexpr size_t kFloodMessageBytes = 64;

enum class FloodEnd { kRunning, kStopped, kCancelled };

struct Flood {
  std::atomic<int> sent{0};
  std::atomic<bool> stop{false};
  std::atomic<FloodEnd> end{FloodEnd::kRunning};
};

Router FairRouter(Flood* flood) {
  Router r;
  r.ServerStream("/f.F/Flood", [flood](CallContext& ctx, absl::string_view,
                                       RpcStream& s) -> absl::Status {
     const std::string message(kFloodMessageBytes, 'x');
     for (;;) {
       if (flood->stop.load()) {
         flood->end = FloodEnd::kStopped;
         return absl::OkStatus();
       }
       if (ctx.done() || !s.Send(message).ok()) {
         flood->end = FloodEnd::kCancelled;
         return ctx.err();
       }
       ++flood->sent;
     }
   }).IgnoreError();
  r.Unary("/f.F/Echo", [](CallContext&, absl::string_view req) -> absl::StatusOr<std::string> {
     return std::string(req);
   }).IgnoreError();
  return r;
}

// A client on its own thread that invokes the flood (upstream wire bytes) and reads everything
// as fast as the kernel hands it over, so the server's writes never block.
class FastReader {
 public:
  explicit FastReader(const std::string& address) {
    absl::StatusOr<SocketAddress> a = SocketAddress::Parse(address);
    DRPC_CHECK_OK(a.status());
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    DRPC_CHECK_GE(fd_, 0);
    DRPC_CHECK_EQ(connect(fd_, a->get(), a->size()), 0);
    std::string invoke;
    AppendFrame(invoke, Frame{.id = {1, 1}, .kind = Kind::kInvoke, .done = true,
                              .data = "/f.F/Flood"});
    AppendFrame(invoke, Frame{.id = {1, 2}, .kind = Kind::kMessage, .done = true, .data = ""});
    AppendFrame(invoke, Frame{.id = {1, 3}, .kind = Kind::kCloseSend, .done = true});
    DRPC_CHECK_EQ(send(fd_, invoke.data(), invoke.size(), MSG_NOSIGNAL),
                  static_cast<ssize_t>(invoke.size()));
    thread_ = std::thread([this] {
      std::string buf(1 << 20, '\0');
      while (recv(fd_, buf.data(), buf.size(), 0) > 0) {
      }
    });
  }
  ~FastReader() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }

 private:
  int fd_ = -1;
  std::thread thread_;
};

absl::StatusOr<std::string> EchoOn(Runtime& rt, Conn& conn, absl::string_view text) {
  return rt.Run(0, [&](Reactor& r) -> absl::StatusOr<std::string> {
    CallContext ctx(r.env());
    return conn.Invoke(ctx, "/f.F/Echo", text);
  });
}

absl::StatusOr<std::unique_ptr<Conn>> Connect(Runtime& rt, const std::string& address) {
  return rt.Run(0, [&](Reactor& r) -> absl::StatusOr<std::unique_ptr<Conn>> {
    absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, address);
    if (!t.ok()) return t.status();
    return Conn::Create(r.env(), *std::move(t));
  });
}

void CloseOn(Runtime& rt, std::unique_ptr<Conn>& conn) {
  DRPC_CHECK_OK(rt.Run(0, [&](Reactor&) -> absl::Status {
    conn->Close();
    conn.reset();
    return absl::OkStatus();
  }));
}

// Waits until the flood is under way (a bound only turns a hang into a failure).
void WaitForFlood(const Flood& flood) {
  for (int i = 0; i < 6000 && flood.sent.load() < 1000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(flood.sent.load(), 1000) << "the flood never started";
}

TEST(FairnessTest, AFastStreamDoesNotStarveOtherConnectionsOrTheAcceptor) {
  auto server_rt = StartRuntime(1);  // the stream, the acceptor and every connection on one reactor
  auto client_rt = StartRuntime(1);
  Flood flood;
  const Router router = FairRouter(&flood);
  absl::StatusOr<std::unique_ptr<TcpServer>> server = TcpServer::Start(*server_rt, router, {});
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  absl::StatusOr<std::unique_ptr<Conn>> existing = Connect(*client_rt, address);
  ASSERT_TRUE(existing.ok()) << existing.status();

  {
    FastReader reader(address);
    WaitForFlood(flood);
    // A connection that was already open is answered while the flood still runs (it ends only
    // when told to, below)...
    EXPECT_EQ(EchoOn(*client_rt, **existing, "existing").value_or("?"), "existing");
    // ...and so is a connection the acceptor takes while the flood runs.
    absl::StatusOr<std::unique_ptr<Conn>> fresh = Connect(*client_rt, address);
    ASSERT_TRUE(fresh.ok()) << fresh.status();
    EXPECT_EQ(EchoOn(*client_rt, **fresh, "fresh").value_or("?"), "fresh");
    CloseOn(*client_rt, *fresh);
    // Both replies came while the flood was still live, not because it had been cancelled.
    EXPECT_EQ(flood.end.load(), FloodEnd::kRunning);
    flood.stop = true;
    // The flood ends at its next message; only then does the reader go. Closed first, it could
    // reset a Send already under way (parked on a full socket when this thread outran the
    // reader's, or begun just before the stop), and the flood would end cancelled instead.
    while (flood.end.load() == FloodEnd::kRunning) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  CloseOn(*client_rt, *existing);
  (*server)->Shutdown(Duration::Seconds(5));
  EXPECT_EQ(flood.end.load(), FloodEnd::kStopped);
  absl::StatusOr<Reactor::Stats> stats =
      server_rt->Run(0, [](Reactor& r) -> absl::StatusOr<Reactor::Stats> { return r.stats(); });
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(stats->turns_ended, 0u) << "the flood's fiber was made to yield";
}

TEST(FairnessTest, ShutdownGraceIsHonouredWhileAFastStreamRuns) {
  auto server_rt = StartRuntime(1);
  Flood flood;
  const Router router = FairRouter(&flood);
  absl::StatusOr<std::unique_ptr<TcpServer>> server = TcpServer::Start(*server_rt, router, {});
  ASSERT_TRUE(server.ok()) << server.status();
  FastReader reader((*server)->address());
  WaitForFlood(flood);
  // The flood never finishes on its own: only the grace's end can stop it, by cancelling it (a
  // shutdown whose timer waits behind the flood hangs here until the test's timeout).
  (*server)->Shutdown(Duration::Millis(50));
  EXPECT_EQ(flood.end.load(), FloodEnd::kCancelled)
      << "the shutdown returned without cancelling the flood (" << flood.sent.load() << " sent)";
}

}  // namespace
}  // namespace drpc::runtime
