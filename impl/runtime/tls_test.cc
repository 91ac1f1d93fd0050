// TLS over real loopback TCP on the production runtime, with certificates made by each test:
// DRPC calls through it, ALPN, mutual TLS, and every way a handshake must fail with a clear error
// and no hang — an unknown CA, the wrong host, an expired certificate, a missing client
// certificate, a silent peer (timeout), a plaintext peer on a TLS port and a TLS client on a
// plaintext port.
#include "impl/runtime/tls.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "impl/conn.h"
#include "impl/context.h"
#include "impl/errors.h"
#include "impl/router.h"
#include "impl/runtime/cert_gen.h"
#include "impl/runtime/tcp_server.h"
#include "impl/runtime/test_util.h"
#include "impl/sync.h"

namespace drpc::runtime {
namespace {

using testing::StartRuntime;

struct Pki {
  Certificate ca;
  Certificate server;        // localhost, 127.0.0.1
  Certificate client;        // clientAuth
  Certificate other_ca;
  Certificate stranger;      // 127.0.0.1, signed by other_ca
  Certificate wrong_host;    // only other.example
  Certificate expired;       // 127.0.0.1, expired yesterday
};

const Pki& TestPki() {
  static const Pki* pki = [] {
    auto* p = new Pki;
    auto must = [](absl::StatusOr<Certificate> c) {
      EXPECT_TRUE(c.ok()) << c.status();
      return c.ok() ? *std::move(c) : Certificate{};
    };
    p->ca = must(MakeCa("drpc test CA"));
    p->other_ca = must(MakeCa("some other CA"));
    p->server = must(IssueCertificate(
        {.common_name = "server", .dns_names = {"localhost"}, .ip_addresses = {"127.0.0.1"}},
        p->ca));
    p->client = must(IssueCertificate({.common_name = "client-7", .server = false, .client = true},
                                      p->ca));
    p->stranger = must(IssueCertificate(
        {.common_name = "stranger", .ip_addresses = {"127.0.0.1"}}, p->other_ca));
    p->wrong_host = must(IssueCertificate(
        {.common_name = "other", .dns_names = {"other.example"}}, p->ca));
    p->expired = must(IssueCertificate({.common_name = "old",
                                        .ip_addresses = {"127.0.0.1"},
                                        .not_before_offset_seconds = -3 * 86400,
                                        .lifetime_seconds = 2 * 86400},
                                       p->ca));
    return p;
  }();
  return *pki;
}

Router EchoRouter() {
  Router r;
  r.Unary("/t.S/Echo", [](CallContext&, absl::string_view req) -> absl::StatusOr<std::string> {
     return std::string(req);
   }).IgnoreError();
  return r;
}

struct TlsServer {
  std::unique_ptr<TcpServer> server;
  std::shared_ptr<const TlsContext> context;
};

// `options` may carry on_handshake_error; the TLS handshake is set here.
TlsServer StartTlsServer(Runtime& rt, const Router& router, TlsServerConfig config,
                         TcpServerOptions options = TcpServerOptions{}) {
  absl::StatusOr<std::shared_ptr<const TlsContext>> ctx = TlsContext::ForServer(config);
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  std::shared_ptr<const TlsContext> shared = *ctx;
  options.accept_handshake = [shared](Reactor& r, std::unique_ptr<Transport> t,
                                                  const std::string& peer)
      -> absl::StatusOr<std::unique_ptr<Transport>> {
    absl::StatusOr<std::unique_ptr<TlsTransport>> tls =
        TlsTransport::Accept(r.env(), std::move(t), *shared, peer);
    if (!tls.ok()) return tls.status();
    return std::unique_ptr<Transport>(*std::move(tls));
  };
  absl::StatusOr<std::unique_ptr<TcpServer>> s = TcpServer::Start(rt, router, options);
  EXPECT_TRUE(s.ok()) << s.status();
  return TlsServer{s.ok() ? *std::move(s) : nullptr, shared};
}

TlsServerConfig ServerConfig(const Certificate& cert) {
  return TlsServerConfig{.cert_chain_pem = cert.cert_pem, .private_key_pem = cert.key_pem};
}

// Dials with TLS (the connect bounded by `dial_timeout`) and makes one call; returns the reply or
// the first error.
absl::StatusOr<std::string> CallOverTls(Runtime& rt, const std::string& address,
                                        TlsClientConfig config, std::string* alpn = nullptr,
                                        Duration dial_timeout = Duration::Seconds(10)) {
  absl::StatusOr<std::shared_ptr<const TlsContext>> ctx = TlsContext::ForClient(config);
  if (!ctx.ok()) return ctx.status();
  return rt.Run(0, [&](Reactor& r) -> absl::StatusOr<std::string> {
    TlsDialer dialer(r, *ctx);
    absl::StatusOr<std::unique_ptr<Transport>> t = dialer.Dial(address, r.Now() + dial_timeout);
    if (!t.ok()) return t.status();
    if (alpn != nullptr) *alpn = static_cast<TlsTransport&>(**t).peer().alpn;
    absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(r.env(), *std::move(t));
    if (!conn.ok()) return conn.status();
    CallContext call(r.env());
    call.SetTimeout(Duration::Seconds(10));
    absl::StatusOr<std::string> reply = (*conn)->Invoke(call, "/t.S/Echo", "over tls");
    (*conn)->Close();
    return reply;
  });
}

TEST(TlsTest, DrpcCallsWorkOverTlsAndAgreeOnTheDrpcAlpn) {
  auto rt = StartRuntime(2);
  const Router router = EchoRouter();
  TlsServer s = StartTlsServer(*rt, router, ServerConfig(TestPki().server));
  std::string alpn;
  absl::StatusOr<std::string> reply =
      CallOverTls(*rt, s.server->address(), {.ca_pem = TestPki().ca.cert_pem}, &alpn);
  EXPECT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply.value_or(""), "over tls");
  EXPECT_EQ(alpn, "drpc");
  // By name too: the certificate names localhost.
  const std::string port = s.server->address().substr(s.server->address().rfind(':'));
  EXPECT_TRUE(CallOverTls(*rt, absl::StrCat("localhost", port), {.ca_pem = TestPki().ca.cert_pem})
                  .ok());
  s.server->Shutdown(Duration::Seconds(1));
}

TEST(TlsTest, LargeMessagesCrossManyRecords) {
  auto rt = StartRuntime(1);
  const Router router = EchoRouter();
  TlsServer s = StartTlsServer(*rt, router, ServerConfig(TestPki().server));
  absl::StatusOr<std::shared_ptr<const TlsContext>> ctx =
      TlsContext::ForClient({.ca_pem = TestPki().ca.cert_pem});
  ASSERT_TRUE(ctx.ok());
  absl::Status st = rt->Run(0, [&](Reactor& r) -> absl::Status {
    TlsDialer dialer(r, *ctx);
    absl::StatusOr<std::unique_ptr<Transport>> t =
        dialer.Dial(s.server->address(), r.Now() + Duration::Seconds(10));
    if (!t.ok()) return t.status();
    absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(r.env(), *std::move(t));
    if (!conn.ok()) return conn.status();
    CallContext call(r.env());
    std::string big(3 << 20, 'x');
    for (size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>('a' + i % 26);
    absl::StatusOr<std::string> reply = (*conn)->Invoke(call, "/t.S/Echo", big);
    (*conn)->Close();
    if (!reply.ok()) return reply.status();
    return *reply == big ? absl::OkStatus() : absl::InternalError("corrupted");
  });
  EXPECT_TRUE(st.ok()) << st;
  s.server->Shutdown(Duration::Seconds(1));
}

void ExpectHandshakeError(const absl::Status& s, absl::string_view want) {
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "tls handshake with")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), want)) << s << "\nwant: " << want;
}

TEST(TlsTest, AServerCertificateFromAnUnknownCaIsRefused) {
  auto rt = StartRuntime(1);
  const Router router = EchoRouter();
  TlsServer s = StartTlsServer(*rt, router, ServerConfig(TestPki().stranger));
  absl::StatusOr<std::string> r =
      CallOverTls(*rt, s.server->address(), {.ca_pem = TestPki().ca.cert_pem});
  ExpectHandshakeError(r.status(), "certificate verify failed: unable to get local issuer");
  // Without verification (tests and demos only) the same server is reachable.
  EXPECT_TRUE(CallOverTls(*rt, s.server->address(), {.insecure_skip_verify = true}).ok());
  s.server->Shutdown(Duration::Seconds(1));
}

TEST(TlsTest, ACertificateForAnotherHostIsRefused) {
  auto rt = StartRuntime(1);
  const Router router = EchoRouter();
  TlsServer s = StartTlsServer(*rt, router, ServerConfig(TestPki().wrong_host));
  absl::StatusOr<std::string> r =
      CallOverTls(*rt, s.server->address(), {.ca_pem = TestPki().ca.cert_pem});
  ExpectHandshakeError(r.status(), "certificate verify failed: IP address mismatch");
  // The name it does carry passes when asked for explicitly.
  EXPECT_TRUE(CallOverTls(*rt, s.server->address(),
                          {.ca_pem = TestPki().ca.cert_pem, .server_name = "other.example"})
                  .ok());
  s.server->Shutdown(Duration::Seconds(1));
}

TEST(TlsTest, AnExpiredCertificateIsRefused) {
  auto rt = StartRuntime(1);
  const Router router = EchoRouter();
  TlsServer s = StartTlsServer(*rt, router, ServerConfig(TestPki().expired));
  absl::StatusOr<std::string> r =
      CallOverTls(*rt, s.server->address(), {.ca_pem = TestPki().ca.cert_pem});
  ExpectHandshakeError(r.status(), "certificate verify failed: certificate has expired");
  s.server->Shutdown(Duration::Seconds(1));
}

TEST(TlsTest, MutualTlsRequiresAClientCertificateFromTheTrustedCa) {
  auto rt = StartRuntime(1);
  const Router router = EchoRouter();
  TlsServerConfig config = ServerConfig(TestPki().server);
  config.client_ca_pem = TestPki().ca.cert_pem;
  TlsServer s = StartTlsServer(*rt, router, config);
  const std::string& ca = TestPki().ca.cert_pem;
  // TLS 1.3 clients learn of the refusal on their first read: the call fails, never hangs.
  absl::StatusOr<std::string> without = CallOverTls(*rt, s.server->address(), {.ca_pem = ca});
  EXPECT_FALSE(without.ok());
  absl::StatusOr<std::string> with =
      CallOverTls(*rt, s.server->address(),
                  {.ca_pem = ca, .cert_chain_pem = TestPki().client.cert_pem,
                   .private_key_pem = TestPki().client.key_pem});
  EXPECT_TRUE(with.ok()) << with.status();
  absl::StatusOr<std::string> foreign =
      CallOverTls(*rt, s.server->address(),
                  {.ca_pem = ca, .cert_chain_pem = TestPki().stranger.cert_pem,
                   .private_key_pem = TestPki().stranger.key_pem});
  EXPECT_FALSE(foreign.ok());
  // The server closes a failed handshake's socket before counting it: read after Shutdown.
  s.server->Shutdown(Duration::Seconds(1));
  EXPECT_GE(s.server->stats().handshake_failures, 2u);
}

// A TCP listener on reactor 0 that accepts (the kernel's backlog does) and never answers; returns
// its address. Reset `listener` on reactor 0.
absl::StatusOr<std::string> ListenSilently(Runtime& rt, std::unique_ptr<TcpListener>& listener) {
  return rt.Run(0, [&](Reactor& r) -> absl::StatusOr<std::string> {
    absl::StatusOr<std::unique_ptr<TcpListener>> l = TcpListener::Listen(r, "127.0.0.1:0");
    if (!l.ok()) return l.status();
    listener = *std::move(l);
    return listener->address();
  });
}

void CloseOnReactor(Runtime& rt, std::unique_ptr<TcpListener>& listener) {
  rt.Run(0, [&](Reactor&) -> absl::Status {
      listener.reset();
      return absl::OkStatus();
    }).IgnoreError();
}

// Dials a server that accepts and never answers, with `handshake_timeout` and the dialer's
// `deadline`; returns how the call ended and how long it waited.
struct SilentDial {
  absl::Status status;
  std::chrono::steady_clock::duration waited;
};
SilentDial DialASilentServer(Duration handshake_timeout, Duration deadline) {
  auto rt = StartRuntime(1);
  std::unique_ptr<TcpListener> listener;
  absl::StatusOr<std::string> address = ListenSilently(*rt, listener);
  if (!address.ok()) return {address.status(), {}};
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> r = CallOverTls(
      *rt, *address, {.ca_pem = TestPki().ca.cert_pem, .handshake_timeout = handshake_timeout},
      nullptr, deadline);
  SilentDial out{r.status(), std::chrono::steady_clock::now() - start};
  CloseOnReactor(*rt, listener);
  return out;
}

TEST(TlsTest, ASilentServerTimesTheHandshakeOut) {
  // The dial itself has no deadline: only the handshake timeout can end the wait (a hang here,
  // up to the test's timeout, means it did not), and not before it is due.
  SilentDial d = DialASilentServer(Duration::Millis(200), Duration::Infinite());
  EXPECT_TRUE(absl::IsDeadlineExceeded(d.status)) << d.status;
  EXPECT_TRUE(absl::StrContains(d.status.message(), "tls handshake with")) << d.status;
  EXPECT_TRUE(absl::StrContains(d.status.message(), "timed out")) << d.status;
  EXPECT_GE(d.waited, std::chrono::milliseconds(200));
}

// The dialer's deadline bounds the handshake as well as the connect: with an hour's handshake
// timeout, only the caller's deadline can end the wait on a silent server.
TEST(TlsTest, TheDialersDeadlineBoundsTheHandshake) {
  SilentDial d = DialASilentServer(Duration::Seconds(3600), Duration::Millis(100));
  EXPECT_TRUE(absl::IsDeadlineExceeded(d.status)) << d.status;
  EXPECT_TRUE(absl::StrContains(d.status.message(), "tls handshake with")) << d.status;
  EXPECT_GE(d.waited, std::chrono::milliseconds(100));
}

TEST(TlsTest, ASilentClientIsDroppedAfterTheServersHandshakeTimeout) {
  auto rt = StartRuntime(1);
  const Router router = EchoRouter();
  TlsServerConfig config = ServerConfig(TestPki().server);
  config.handshake_timeout = Duration::Millis(200);
  TlsServer s = StartTlsServer(*rt, router, config);
  absl::StatusOr<std::string> got = rt->Run(0, [&](Reactor& r) -> absl::StatusOr<std::string> {
    absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, s.server->address());
    if (!t.ok()) return t.status();
    return testing::ReadToEof(**t);  // we never send a ClientHello
  });
  EXPECT_TRUE(got.ok()) << got.status();
  // The server closes a failed handshake's socket before counting it: read after Shutdown.
  s.server->Shutdown(Duration::Seconds(1));
  EXPECT_EQ(s.server->stats().handshake_failures, 1u);
}

// Promptly: the server refuses on the bytes it reads, not when its handshake timeout ends the
// wait (that would be a kDeadlineExceeded "timed out" handshake error), and the client's call,
// which has no deadline, is ended by that refusal.
TEST(TlsTest, APlaintextClientOnATlsPortFailsPromptly) {
  auto rt = StartRuntime(1);
  const Router router = EchoRouter();
  std::vector<absl::Status> server_errors;  // on the reactor; read after Shutdown
  TcpServerOptions options;
  options.on_handshake_error = [&](const absl::Status& e) { server_errors.push_back(e); };
  TlsServer s = StartTlsServer(*rt, router, ServerConfig(TestPki().server), options);
  absl::Status st = rt->Run(0, [&](Reactor& r) -> absl::Status {
    absl::StatusOr<std::unique_ptr<TcpTransport>> t = Dial(r, s.server->address());
    if (!t.ok()) return t.status();
    absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(r.env(), *std::move(t));
    if (!conn.ok()) return conn.status();
    CallContext call(r.env());
    absl::Status s = (*conn)->Invoke(call, "/t.S/Echo", "plain").status();
    (*conn)->Close();
    return s;
  });
  EXPECT_TRUE(IsClosed(st)) << st;
  s.server->Shutdown(Duration::Seconds(1));
  EXPECT_EQ(s.server->stats().handshake_failures, 1u);
  ASSERT_EQ(server_errors.size(), 1u);
  EXPECT_TRUE(absl::IsUnavailable(server_errors[0])) << server_errors[0];
  EXPECT_TRUE(absl::StrContains(server_errors[0].message(), "tls handshake with")) << server_errors[0];
}

// Promptly: the handshake fails on the plaintext server's reply (kUnavailable), not when the
// client's handshake timeout ends the wait (kDeadlineExceeded "timed out").
TEST(TlsTest, ATlsClientOnAPlaintextPortFailsPromptly) {
  auto rt = StartRuntime(1);
  const Router router = EchoRouter();
  absl::StatusOr<std::unique_ptr<TcpServer>> plain = TcpServer::Start(*rt, router, {});
  ASSERT_TRUE(plain.ok());
  absl::StatusOr<std::string> r =
      CallOverTls(*rt, (*plain)->address(), {.ca_pem = TestPki().ca.cert_pem});
  EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "tls handshake with")) << r.status();
  (*plain)->Shutdown(Duration::Seconds(1));
}

TEST(TlsTest, BadConfigurationIsAClearError) {
  EXPECT_TRUE(absl::IsInvalidArgument(TlsContext::ForServer({.cert_chain_pem = "nope"}).status()));
  TlsServerConfig mismatched = ServerConfig(TestPki().server);
  mismatched.private_key_pem = TestPki().client.key_pem;
  absl::Status s = TlsContext::ForServer(mismatched).status();
  EXPECT_TRUE(absl::StrContains(s.message(), "does not match")) << s;
  EXPECT_FALSE(TlsContext::ForClient({.cert_chain_pem = TestPki().client.cert_pem}).ok());
  EXPECT_EQ(HostOfAddress("127.0.0.1:7777"), "127.0.0.1");
  EXPECT_EQ(HostOfAddress("[::1]:7777"), "::1");
}

}  // namespace
}  // namespace drpc::runtime
