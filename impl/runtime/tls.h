// TLS for the production runtime (OpenSSL 3): a Transport that wraps any other Transport — in
// practice a TcpTransport on a reactor — and runs the handshake and the records on the caller's
// fibers, through memory buffers: no thread per connection, no blocking system call; a fiber that
// needs bytes parks in the inner transport's Read like any other.
//
//   auto ctx = TlsContext::ForClient({.ca_pem = ca});          // verification on by default
//   TlsDialer dialer(reactor, *ctx);                          // a Dialer: TCP, then the handshake
//   absl::StatusOr<std::unique_ptr<Transport>> t = dialer.Dial("127.0.0.1:7777", deadline);
//   // server side, after accept:
//   auto sctx = TlsContext::ForServer({.cert_chain_pem = cert, .private_key_pem = key});
//   auto tls = TlsTransport::Accept(reactor.env(), std::move(tcp), *sctx);
//
// Defaults are the safe ones: the client verifies the server's certificate chain against
// `ca_pem` (or the system's roots) and that it names the host it dialled (a DNS name or an IP
// address; `server_name` overrides); TLS 1.2 or newer; ALPN offers and accepts "drpc" (a peer that
// offers no ALPN, like Go's drpc with a default tls.Config, is still served). With
// `client_ca_pem` a server requires and verifies client certificates (mutual TLS). The DRPC bytes
// inside are exactly those of a plain connection, so Go's drpc over crypto/tls interoperates.
//
// Errors: a handshake that fails is kUnavailable "tls handshake with ADDR: <why>" (why: OpenSSL's
// reason, e.g. "certificate verify failed: certificate has expired", "wrong version number" for a
// plaintext peer); one that does not finish within handshake_timeout is kDeadlineExceeded. After
// the handshake the Transport contract of impl/env.h holds: the peer's close_notify or a clean
// TCP close between records reads as kEof, a TCP close inside a record as kReset, a corrupted
// record as kIo.
//
// Threading: a TlsContext is immutable and thread-safe (share one per process); a TlsTransport
// belongs to its Env's Scheduler like the transport it wraps.
#ifndef DRPC_IMPL_RUNTIME_TLS_H_
#define DRPC_IMPL_RUNTIME_TLS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "impl/env.h"
#include "impl/runtime/reactor.h"
#include "impl/runtime/tcp.h"
#include "impl/sync.h"
#include "impl/time.h"

struct ssl_st;
struct ssl_ctx_st;
struct bio_st;

namespace drpc::runtime {

inline constexpr char kDrpcAlpn[] = "drpc";

enum class TlsVersion { k1_2, k1_3 };

struct TlsServerConfig {
  std::string cert_chain_pem;   // the server's certificate, then its intermediates
  std::string private_key_pem;
  // Non-empty: clients must present a certificate that chains to one of these (mutual TLS).
  std::string client_ca_pem;
  std::vector<std::string> alpn = {kDrpcAlpn};  // accepted, in preference order
  TlsVersion min_version = TlsVersion::k1_2;
  Duration handshake_timeout = Duration::Seconds(10);
};

struct TlsClientConfig {
  // Trusted roots (PEM, one or more certificates); empty: the system's default roots.
  std::string ca_pem;
  // Accept any server certificate (encryption without authentication). For tests and demos.
  bool insecure_skip_verify = false;
  // The name the server's certificate must carry (and SNI); empty: the host of the dial address.
  std::string server_name;
  // A client certificate for servers that require one (mutual TLS); both or neither.
  std::string cert_chain_pem;
  std::string private_key_pem;
  std::vector<std::string> alpn = {kDrpcAlpn};  // offered
  TlsVersion min_version = TlsVersion::k1_2;
  Duration handshake_timeout = Duration::Seconds(10);
};

class TlsContext {
 public:
  // kInvalidArgument for PEM that does not parse, a key that does not match its certificate, ...
  static absl::StatusOr<std::shared_ptr<const TlsContext>> ForServer(const TlsServerConfig& config);
  static absl::StatusOr<std::shared_ptr<const TlsContext>> ForClient(const TlsClientConfig& config);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  bool is_server() const { return server_; }
  Duration handshake_timeout() const { return handshake_timeout_; }
  bool verifies_peer() const { return verify_; }
  const std::string& server_name() const { return server_name_; }
  ssl_ctx_st* native() const { return ctx_; }

 private:
  TlsContext(ssl_ctx_st* ctx, bool server) : ctx_(ctx), server_(server) {}
  ssl_ctx_st* ctx_;
  bool server_;
  bool verify_ = true;
  Duration handshake_timeout_;
  std::string server_name_;
  std::string alpn_wire_;  // the server's accepted protocols, ALPN wire format
  friend int SelectAlpn(ssl_st*, const unsigned char**, unsigned char*, const unsigned char*,
                        unsigned int, void*);
};

class TlsTransport final : public Transport {
 public:
  // Runs the client handshake over `inner`, verifying the server for `server_name` (the
  // context's server_name wins if set), within the context's handshake_timeout and `deadline`,
  // whichever ends first. From a fiber of `env`.
  static absl::StatusOr<std::unique_ptr<TlsTransport>> Connect(
      Env& env, std::unique_ptr<Transport> inner, const TlsContext& context,
      absl::string_view server_name, std::string peer_label = "",
      Instant deadline = Instant::Infinite());
  // Runs the server handshake over `inner`. From a fiber of `env`.
  static absl::StatusOr<std::unique_ptr<TlsTransport>> Accept(Env& env,
                                                             std::unique_ptr<Transport> inner,
                                                             const TlsContext& context,
                                                             std::string peer_label = "");
  ~TlsTransport() override;

  absl::StatusOr<size_t> Read(char* buf, size_t size) override;
  absl::Status Write(absl::string_view data) override;
  // Sends close_notify, then half-closes the inner transport.
  absl::Status CloseWrite() override;
  // Closes the inner transport at once (no close_notify: Close never blocks).
  void Close() override;

  struct Peer {
    std::string version;       // "TLSv1.3"
    std::string cipher;
    std::string alpn;          // "" if none was agreed
    std::string subject;       // the peer certificate's subject, "" without one
    bool has_certificate = false;
  };
  const Peer& peer() const { return peer_; }

 private:
  TlsTransport(Env& env, std::unique_ptr<Transport> inner, std::string label);
  absl::Status Handshake(Instant deadline);
  absl::Status HandshakeFailure(int ssl_result, const absl::Status& io_error, bool timed_out);
  // Writes everything OpenSSL has produced to the inner transport (write_mu_ held).
  absl::Status FlushOutput();
  // Feeds the next bytes from the inner transport to OpenSSL.
  absl::Status FillInput();
  void CollectPeer();

  Env* env_;
  std::unique_ptr<Transport> inner_;
  std::string label_;
  ssl_st* ssl_ = nullptr;
  bio_st* network_in_ = nullptr;   // owned by ssl_
  bio_st* network_out_ = nullptr;  // owned by ssl_
  Mutex write_mu_;                 // one fiber writing to the inner transport at a time
  std::string scratch_;  // encrypted bytes on their way out (under write_mu_)
  std::string in_buf_;   // encrypted bytes on their way in (the reader's)
  bool closed_ = false;
  bool write_closed_ = false;
  absl::Status read_error_;
  absl::Status write_error_;
  Peer peer_;
};

// The Dialer (impl/env.h) of one reactor: TCP (runtime::Dial), then the client handshake, both
// within the caller's deadline (and the context's handshake_timeout for the handshake). The
// server name is the context's, else the host of the address. Use from that reactor's fibers.
class TlsDialer final : public Dialer {
 public:
  TlsDialer(Reactor& reactor, std::shared_ptr<const TlsContext> context,
            DialOptions options = DialOptions{})
      : reactor_(&reactor), context_(std::move(context)), options_(std::move(options)) {}
  absl::StatusOr<std::unique_ptr<Transport>> Dial(absl::string_view address,
                                                  Instant deadline) override;

 private:
  Reactor* reactor_;
  std::shared_ptr<const TlsContext> context_;
  DialOptions options_;
};

// "127.0.0.1" for "127.0.0.1:7777", "::1" for "[::1]:7777", "localhost" for "localhost:80".
std::string HostOfAddress(absl::string_view address);

// The contents of a PEM file (kNotFound / kInvalidArgument with the path on failure).
absl::StatusOr<std::string> ReadPemFile(const std::string& path);

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_TLS_H_
