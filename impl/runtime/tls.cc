#include "impl/runtime/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/base/check.h"

namespace drpc::runtime {
namespace {

// Bytes moved between OpenSSL's buffers and the inner transport per step (a TLS record holds at
// most 16 KiB of data plus its overhead).
constexpr size_t kChunkBytes = 17 * 1024;
// Application bytes handed to SSL_write at a time, so the encrypted output buffered before it is
// written stays bounded.
constexpr size_t kWriteChunkBytes = 64 * 1024;

// OpenSSL's queued errors as text ("wrong version number"), or `fallback`.
std::string OpenSslErrors(absl::string_view fallback = "unknown TLS error") {
  std::string out;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    const char* reason = ERR_reason_error_string(e);
    absl::StrAppend(&out, out.empty() ? "" : "; ",
                    reason != nullptr ? reason : absl::StrCat("error ", e));
  }
  return out.empty() ? std::string(fallback) : out;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using UniqueBio = std::unique_ptr<BIO, BioDeleter>;

UniqueBio PemBio(absl::string_view pem) {
  return UniqueBio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

absl::Status LoadChainAndKey(SSL_CTX* ctx, absl::string_view chain, absl::string_view key,
                             absl::string_view who) {
  UniqueBio bio = PemBio(chain);
  X509* leaf = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": certificate chain: no PEM certificate: ", OpenSslErrors()));
  }
  const int used = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (used != 1) return absl::InvalidArgumentError(absl::StrCat(who, ": ", OpenSslErrors()));
  while (X509* extra = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
      X509_free(extra);
      return absl::InvalidArgumentError(absl::StrCat(who, ": chain: ", OpenSslErrors()));
    }
  }
  ERR_clear_error();  // the loop ends on "no start line"
  UniqueBio key_bio = PemBio(key);
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  if (pkey == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": private key: no PEM key: ", OpenSslErrors()));
  }
  const int key_used = SSL_CTX_use_PrivateKey(ctx, pkey);
  EVP_PKEY_free(pkey);
  if (key_used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": the private key does not match the certificate: ", OpenSslErrors()));
  }
  return absl::OkStatus();
}

absl::Status LoadTrust(SSL_CTX* ctx, absl::string_view pem, absl::string_view who) {
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  UniqueBio bio = PemBio(pem);
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    const int added = X509_STORE_add_cert(store, cert);
    X509_free(cert);
    if (added != 1) return absl::InvalidArgumentError(absl::StrCat(who, ": ", OpenSslErrors()));
    ++count;
  }
  ERR_clear_error();
  if (count == 0) return absl::InvalidArgumentError(absl::StrCat(who, ": no PEM certificate"));
  return absl::OkStatus();
}

absl::StatusOr<std::string> AlpnWire(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& p : protocols) {
    if (p.empty() || p.size() > 255) {
      return absl::InvalidArgumentError(absl::StrCat("alpn: bad protocol name \"", p, "\""));
    }
    wire.push_back(static_cast<char>(p.size()));
    wire += p;
  }
  return wire;
}

SSL_CTX* NewContext(bool server, TlsVersion min_version) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx,
                                min_version == TlsVersion::k1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
  // No renegotiation and no session tickets: nothing but the peer's KeyUpdate makes a reader
  // produce output after the handshake.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx, 0);
  SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
  return ctx;
}

}  // namespace

// --- TlsContext ----------------------------------------------------------------------------------

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg) {
  const auto* self = static_cast<const TlsContext*>(arg);
  unsigned char* selected = nullptr;
  const auto* ours = reinterpret_cast<const unsigned char*>(self->alpn_wire_.data());
  if (SSL_select_next_proto(&selected, outlen, ours,
                            static_cast<unsigned int>(self->alpn_wire_.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: go on without ALPN (Go clients)
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

absl::StatusOr<std::shared_ptr<const TlsContext>> TlsContext::ForServer(
    const TlsServerConfig& config) {
  if (config.handshake_timeout <= Duration::Zero()) {
    return absl::InvalidArgumentError("tls server: handshake_timeout must be > 0");
  }
  absl::StatusOr<std::string> alpn = AlpnWire(config.alpn);
  if (!alpn.ok()) return alpn.status();
  SSL_CTX* raw = NewContext(/*server=*/true, config.min_version);
  if (raw == nullptr) return absl::InternalError(absl::StrCat("tls: ", OpenSslErrors()));
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw, /*server=*/true));
  ctx->handshake_timeout_ = config.handshake_timeout;
  ctx->alpn_wire_ = *std::move(alpn);
  if (absl::Status s = LoadChainAndKey(raw, config.cert_chain_pem, config.private_key_pem,
                                       "tls server");
      !s.ok()) {
    return s;
  }
  if (!config.client_ca_pem.empty()) {
    if (absl::Status s = LoadTrust(raw, config.client_ca_pem, "tls server: client_ca"); !s.ok()) {
      return s;
    }
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  } else {
    ctx->verify_ = false;
  }
  if (!ctx->alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(raw, SelectAlpn, ctx.get());
  return std::shared_ptr<const TlsContext>(std::move(ctx));
}

absl::StatusOr<std::shared_ptr<const TlsContext>> TlsContext::ForClient(
    const TlsClientConfig& config) {
  if (config.handshake_timeout <= Duration::Zero()) {
    return absl::InvalidArgumentError("tls client: handshake_timeout must be > 0");
  }
  if (config.cert_chain_pem.empty() != config.private_key_pem.empty()) {
    return absl::InvalidArgumentError(
        "tls client: a client certificate needs both cert_chain_pem and private_key_pem");
  }
  absl::StatusOr<std::string> alpn = AlpnWire(config.alpn);
  if (!alpn.ok()) return alpn.status();
  SSL_CTX* raw = NewContext(/*server=*/false, config.min_version);
  if (raw == nullptr) return absl::InternalError(absl::StrCat("tls: ", OpenSslErrors()));
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw, /*server=*/false));
  ctx->handshake_timeout_ = config.handshake_timeout;
  ctx->server_name_ = config.server_name;
  ctx->verify_ = !config.insecure_skip_verify;
  if (ctx->verify_) {
    if (!config.ca_pem.empty()) {
      if (absl::Status s = LoadTrust(raw, config.ca_pem, "tls client: ca"); !s.ok()) return s;
    } else if (SSL_CTX_set_default_verify_paths(raw) != 1) {
      return absl::InternalError(absl::StrCat("tls client: system roots: ", OpenSslErrors()));
    }
    SSL_CTX_set_verify(raw, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(raw, SSL_VERIFY_NONE, nullptr);
  }
  if (!config.cert_chain_pem.empty()) {
    if (absl::Status s = LoadChainAndKey(raw, config.cert_chain_pem, config.private_key_pem,
                                         "tls client certificate");
        !s.ok()) {
      return s;
    }
  }
  if (!alpn->empty()) {
    SSL_CTX_set_alpn_protos(raw, reinterpret_cast<const unsigned char*>(alpn->data()),
                            static_cast<unsigned int>(alpn->size()));
  }
  return std::shared_ptr<const TlsContext>(std::move(ctx));
}

// --- TlsTransport --------------------------------------------------------------------------------

TlsTransport::TlsTransport(Env& env, std::unique_ptr<Transport> inner, std::string label)
    : env_(&env),
      inner_(std::move(inner)),
      label_(std::move(label)),
      write_mu_(env, "tls write"),
      scratch_(kChunkBytes, '\0'),
      in_buf_(kChunkBytes, '\0') {}

TlsTransport::~TlsTransport() {
  Close();
  if (ssl_ != nullptr) SSL_free(ssl_);  // frees both BIOs
}

absl::StatusOr<std::unique_ptr<TlsTransport>> TlsTransport::Connect(
    Env& env, std::unique_ptr<Transport> inner, const TlsContext& context,
    absl::string_view server_name, std::string peer_label, Instant deadline) {
  DRPC_CHECK(!context.is_server());
  const std::string name =
      context.server_name().empty() ? std::string(server_name) : context.server_name();
  std::unique_ptr<TlsTransport> t(new TlsTransport(
      env, std::move(inner), peer_label.empty() ? name : std::move(peer_label)));
  t->ssl_ = SSL_new(context.native());
  if (t->ssl_ == nullptr) return absl::InternalError(absl::StrCat("tls: ", OpenSslErrors()));
  if (context.verifies_peer() && !name.empty()) {
    // An IP address is checked against the certificate's IP SANs, a name against its DNS names.
    X509_VERIFY_PARAM* param = SSL_get0_param(t->ssl_);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
      ERR_clear_error();
      if (SSL_set1_host(t->ssl_, name.c_str()) != 1) {
        return absl::InvalidArgumentError(absl::StrCat("tls: bad server name \"", name, "\""));
      }
    }
  }
  const bool is_ip = absl::StrContains(name, ':') ||
                     (!name.empty() && name.find_first_not_of("0123456789.") == std::string::npos);
  if (!name.empty() && !is_ip) SSL_set_tlsext_host_name(t->ssl_, name.c_str());
  SSL_set_connect_state(t->ssl_);
  const Instant handshake_deadline =
      std::min(deadline, env.clock().Now() + context.handshake_timeout());
  if (absl::Status s = t->Handshake(handshake_deadline); !s.ok()) {
    return s;
  }
  return t;
}

absl::StatusOr<std::unique_ptr<TlsTransport>> TlsTransport::Accept(
    Env& env, std::unique_ptr<Transport> inner, const TlsContext& context, std::string peer_label) {
  DRPC_CHECK(context.is_server());
  std::unique_ptr<TlsTransport> t(new TlsTransport(env, std::move(inner), std::move(peer_label)));
  t->ssl_ = SSL_new(context.native());
  if (t->ssl_ == nullptr) return absl::InternalError(absl::StrCat("tls: ", OpenSslErrors()));
  SSL_set_accept_state(t->ssl_);
  if (absl::Status s = t->Handshake(env.clock().Now() + context.handshake_timeout()); !s.ok()) {
    return s;
  }
  return t;
}

absl::Status TlsTransport::Handshake(Instant deadline) {
  network_in_ = BIO_new(BIO_s_mem());
  network_out_ = BIO_new(BIO_s_mem());
  DRPC_CHECK(network_in_ != nullptr && network_out_ != nullptr);
  SSL_set_bio(ssl_, network_in_, network_out_);
  bool timed_out = false;
  const TimerId timer = env_->clock().ScheduleAt(deadline, [this, &timed_out] {
    timed_out = true;
    inner_->Close();  // wakes the fiber waiting for the peer's bytes
  });
  absl::Status result;
  for (;;) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_);
    const int error = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
    absl::Status flushed;
    {
      MutexLock lock(write_mu_);
      flushed = FlushOutput();  // our flight (or the alert that ends a failed handshake)
    }
    if (r == 1) {
      result = flushed.ok() ? absl::OkStatus() : HandshakeFailure(r, flushed, timed_out);
      break;
    }
    if (error != SSL_ERROR_WANT_READ || !flushed.ok()) {
      result = HandshakeFailure(r, flushed, timed_out);
      break;
    }
    if (absl::Status in = FillInput(); !in.ok()) {
      result = HandshakeFailure(r, in, timed_out);
      break;
    }
  }
  env_->clock().Cancel(timer);
  if (result.ok()) CollectPeer();
  return result;
}

absl::Status TlsTransport::HandshakeFailure(int ssl_result, const absl::Status& io_error,
                                            bool timed_out) {
  const std::string prefix = absl::StrCat("tls handshake with ", label_, ": ");
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(prefix, "timed out"));
  }
  const long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK && SSL_is_server(ssl_) == 0) {
    ERR_clear_error();
    return absl::UnavailableError(absl::StrCat(prefix, "certificate verify failed: ",
                                               X509_verify_cert_error_string(verify)));
  }
  if (!io_error.ok()) {
    if (GetTransportErrorKind(io_error) == TransportErrorKind::kEof) {
      return absl::UnavailableError(absl::StrCat(
          prefix, "connection closed by the peer (", OpenSslErrors("is it speaking TLS?"), ")"));
    }
    return absl::UnavailableError(absl::StrCat(prefix, io_error.message()));
  }
  (void)ssl_result;
  return absl::UnavailableError(absl::StrCat(prefix, OpenSslErrors()));
}

void TlsTransport::CollectPeer() {
  peer_.version = SSL_get_version(ssl_);
  peer_.cipher = SSL_get_cipher_name(ssl_);
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
  if (alpn != nullptr) peer_.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  if (X509* cert = SSL_get1_peer_certificate(ssl_)) {
    peer_.has_certificate = true;
    char buf[512];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
    peer_.subject = buf;
    X509_free(cert);
  }
}

absl::Status TlsTransport::FlushOutput() {
  DRPC_DCHECK(write_mu_.HeldByCurrent());
  while (BIO_ctrl_pending(network_out_) > 0) {
    const int n = BIO_read(network_out_, scratch_.data(), static_cast<int>(scratch_.size()));
    if (n <= 0) break;
    if (absl::Status s = inner_->Write(absl::string_view(scratch_.data(), n)); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status TlsTransport::FillInput() {
  absl::StatusOr<size_t> n = inner_->Read(in_buf_.data(), in_buf_.size());
  if (!n.ok()) return n.status();
  const int written = BIO_write(network_in_, in_buf_.data(), static_cast<int>(*n));
  DRPC_CHECK_EQ(written, static_cast<int>(*n));
  return absl::OkStatus();
}

absl::StatusOr<size_t> TlsTransport::Read(char* buf, size_t size) {
  DRPC_CHECK_GT(size, 0u);
  for (;;) {
    if (closed_) return TransportError(TransportErrorKind::kClosedLocally, label_);
    if (!read_error_.ok()) return read_error_;
    ERR_clear_error();
    const int r = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(size, 1 << 30)));
    if (r > 0) {
      // A KeyUpdate answer (the only output a reader produces here) goes out unless a writer
      // is busy, in which case that writer's flush sends it.
      if (BIO_ctrl_pending(network_out_) > 0 && !write_mu_.held()) {
        MutexLock lock(write_mu_);
        FlushOutput().IgnoreError();  // a write error shows up on the next Write
      }
      return static_cast<size_t>(r);
    }
    const int error = SSL_get_error(ssl_, r);
    if (error == SSL_ERROR_ZERO_RETURN) {
      read_error_ = TransportError(TransportErrorKind::kEof, label_);
      continue;
    }
    if (error != SSL_ERROR_WANT_READ) {
      read_error_ = TransportError(TransportErrorKind::kIo,
                                   absl::StrCat(label_, ": tls: ", OpenSslErrors()));
      continue;
    }
    absl::Status in = FillInput();
    if (in.ok()) continue;
    if (closed_) continue;
    if (GetTransportErrorKind(in) == TransportErrorKind::kEof &&
        BIO_ctrl_pending(network_in_) > 0) {
      // The TCP stream ended inside a record: not a clean end.
      in = TransportError(TransportErrorKind::kReset,
                          absl::StrCat(label_, ": tls: connection closed inside a record"));
    }
    read_error_ = in;
  }
}

absl::Status TlsTransport::Write(absl::string_view data) {
  MutexLock lock(write_mu_);
  for (;;) {
    if (closed_) return TransportError(TransportErrorKind::kClosedLocally, label_);
    if (!write_error_.ok()) return write_error_;
    if (write_closed_) return TransportError(TransportErrorKind::kWriteAfterClose, label_);
    if (data.empty()) return absl::OkStatus();
    const size_t n = std::min(data.size(), kWriteChunkBytes);
    ERR_clear_error();
    const int r = SSL_write(ssl_, data.data(), static_cast<int>(n));
    if (r <= 0) {
      write_error_ = TransportError(TransportErrorKind::kIo,
                                    absl::StrCat(label_, ": tls: ", OpenSslErrors()));
      continue;
    }
    data.remove_prefix(static_cast<size_t>(r));
    if (absl::Status s = FlushOutput(); !s.ok()) {
      write_error_ = closed_ ? TransportError(TransportErrorKind::kClosedLocally, label_) : s;
    }
  }
}

absl::Status TlsTransport::CloseWrite() {
  MutexLock lock(write_mu_);
  if (closed_) return TransportError(TransportErrorKind::kClosedLocally, label_);
  if (write_closed_) return absl::OkStatus();
  write_closed_ = true;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues close_notify
  if (absl::Status s = FlushOutput(); !s.ok()) return s;
  return inner_->CloseWrite();
}

void TlsTransport::Close() {
  if (closed_) return;
  closed_ = true;
  inner_->Close();
}

// --- TlsDialer and helpers -----------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Transport>> TlsDialer::Dial(absl::string_view address,
                                                           Instant deadline) {
  DialOptions options = options_;
  options.timeout =
      std::min(options.timeout, std::max(deadline - reactor_->Now(), Duration::Zero()));
  absl::StatusOr<std::unique_ptr<TcpTransport>> tcp = runtime::Dial(*reactor_, address, options);
  if (!tcp.ok()) return tcp.status();
  absl::StatusOr<std::unique_ptr<TlsTransport>> tls =
      TlsTransport::Connect(reactor_->env(), *std::move(tcp), *context_, HostOfAddress(address),
                            std::string(address), deadline);
  if (!tls.ok()) return tls.status();
  return std::unique_ptr<Transport>(*std::move(tls));
}

std::string HostOfAddress(absl::string_view address) {
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close != absl::string_view::npos) return std::string(address.substr(1, close - 1));
  }
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return std::string(address);
  return std::string(address.substr(0, colon));
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!absl::StrContains(data, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a PEM file"));
  }
  return data;
}

}  // namespace drpc::runtime
