// The drpcmigrate header on both sides (docs/protocol.md §10), accept retries after descriptor exhaustion,
// and the descriptor-leak check.
#include "impl/runtime/migrate.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp.h"
#include "impl/runtime/test_util.h"
#include "impl/sync.h"
#include "proto/base/check.h"

namespace drpc::runtime {
namespace {

using testing::ConnectedPair;
using testing::CountOpenFds;
using testing::ReadExactly;
using testing::StartRuntime;
using testing::TcpPair;
using testing::WaitSet;

TEST(MigrateTest, DialerPrependsHeaderAndAcceptorStripsIt) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r, DialOptions{.migrate_header = true});
    if (!p.ok()) return p.status();
    EXPECT_TRUE(p->client->Write("hello").ok());
    EXPECT_TRUE(p->client->Write(" again").ok());
    // On the wire: the header once, then the data.
    EXPECT_EQ(ReadExactly(*p->server, 19).value_or("?"), "DRPC!!!1hello again");
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(MigrateTest, AcceptorReadsExactlyTheHeader) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r, DialOptions{.migrate_header = true});
    if (!p.ok()) return p.status();
    EXPECT_TRUE(p->client->Write("frame").ok());
    absl::Status header = ReadMigrateHeader(r.env(), *p->server, Duration::Seconds(10));
    EXPECT_TRUE(header.ok()) << header;
    EXPECT_EQ(ReadExactly(*p->server, 5).value_or("?"), "frame");
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(MigrateTest, WrongHeaderIsRejected) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    EXPECT_TRUE(p->client->Write("GET / HTTP/1.1\r\n").ok());
    absl::Status header = ReadMigrateHeader(r.env(), *p->server, Duration::Seconds(10));
    EXPECT_TRUE(absl::IsInvalidArgument(header)) << header;
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(MigrateTest, SilentClientTimesOut) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    EXPECT_TRUE(p->client->Write("DRPC").ok());  // half a header, then silence
    const Instant start = r.Now();
    absl::Status header = ReadMigrateHeader(r.env(), *p->server, Duration::Millis(30));
    EXPECT_TRUE(absl::IsDeadlineExceeded(header)) << header;
    EXPECT_GE(r.Now() - start, Duration::Millis(30));
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(MigrateTest, ClientEndingBeforeTheHeaderIsAnError) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    absl::StatusOr<TcpPair> p = ConnectedPair(r);
    if (!p.ok()) return p.status();
    EXPECT_TRUE(p->client->Write("DRP").ok());
    p->client->Close();
    absl::Status header = ReadMigrateHeader(r.env(), *p->server, Duration::Seconds(10));
    EXPECT_EQ(GetTransportErrorKind(header), TransportErrorKind::kEof) << header;
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

// Lowers RLIMIT_NOFILE for the test's duration and fills the table with /dev/null descriptors.
class DescriptorExhaustion {
 public:
  DescriptorExhaustion() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lower = saved_;
    if (lower.rlim_cur > 512) lower.rlim_cur = 512;
    setrlimit(RLIMIT_NOFILE, &lower);
    for (;;) {
      const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      fds_.push_back(fd);
    }
  }
  ~DescriptorExhaustion() {
    Release();
    setrlimit(RLIMIT_NOFILE, &saved_);
  }
  void Release() {
    for (int fd : fds_) close(fd);
    fds_.clear();
  }

 private:
  rlimit saved_{};
  std::vector<int> fds_;
};

TEST(ListenerTest, AcceptRetriesAfterDescriptorExhaustionWithBackoff) {
  auto rt = StartRuntime(1);
  absl::Status s = rt->Run(0, [](Reactor& r) -> absl::Status {
    int errors = 0;
    Signal exhausted(r.env());
    ListenOptions options;
    options.accept_backoff_min = Duration::Millis(2);
    options.accept_backoff_max = Duration::Millis(8);
    options.on_accept_error = [&](const absl::Status& e) {
      EXPECT_TRUE(absl::IsResourceExhausted(e)) << e;
      ++errors;
      exhausted.Set();
    };
    absl::StatusOr<std::unique_ptr<TcpListener>> l = TcpListener::Listen(r, "127.0.0.1:0", options);
    if (!l.ok()) return l.status();
    absl::StatusOr<std::unique_ptr<TcpTransport>> c = Dial(r, (*l)->address());
    if (!c.ok()) return c.status();
    EXPECT_TRUE((*c)->Write("x").ok());
    auto exhaustion = std::make_unique<DescriptorExhaustion>();
    Signal accepted(r.env());
    absl::StatusOr<std::unique_ptr<Transport>> server_end = absl::UnknownError("not yet");
    DRPC_CHECK_OK(r.Spawn("acceptor", [&] {
      server_end = (*l)->Accept();
      accepted.Set();
    }));
    absl::Status w = WaitSet(exhausted, r.env(), "EMFILE");
    EXPECT_FALSE(accepted.IsSet()) << "accept cannot succeed without a free descriptor";
    exhaustion->Release();
    if (w.ok()) w = WaitSet(accepted, r.env(), "accept after the descriptors came back");
    exhaustion.reset();
    if (!w.ok()) return w;
    EXPECT_GE(errors, 1);
    if (!server_end.ok()) return server_end.status();
    EXPECT_EQ(ReadExactly(**server_end, 1).value_or("?"), "x");
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
}

TEST(LeakTest, RuntimeAndConnectionsLeaveNoDescriptorsBehind) {
  const int before = CountOpenFds();
  ASSERT_GT(before, 0);
  {
    auto rt = StartRuntime(2);
    for (size_t i = 0; i < 2; ++i) {
      absl::Status s = rt->Run(i, [](Reactor& r) -> absl::Status {
        for (int k = 0; k < 20; ++k) {
          absl::StatusOr<TcpPair> p = ConnectedPair(r, DialOptions{.migrate_header = k % 2 == 0});
          if (!p.ok()) return p.status();
          EXPECT_TRUE(p->client->Write("bye").ok());
          if (k % 3 == 0) p->server->Close();
        }
        EXPECT_FALSE(Dial(r, "127.0.0.1:1").ok());
        return absl::OkStatus();
      });
      ASSERT_TRUE(s.ok()) << s;
    }
    rt->Stop();
  }
  EXPECT_EQ(CountOpenFds(), before);
}

}  // namespace
}  // namespace drpc::runtime
