// Certificates made on the spot with OpenSSL: a CA and leaf certificates it signs, as PEM. For
// tests (every TLS test makes its own, so no certificate file comes from elsewhere) and demos
// (`bazel run //tools:tls_certs`); not a certificate authority for production.
//
//   absl::StatusOr<Certificate> ca = MakeCa("test CA");
//   absl::StatusOr<Certificate> server = IssueCertificate(
//       {.common_name = "server", .dns_names = {"localhost"}, .ip_addresses = {"127.0.0.1"}}, *ca);
//   TlsServerConfig{.cert_chain_pem = server->cert_pem, .private_key_pem = server->key_pem};
//
// Keys are ECDSA P-256, signatures SHA-256. Validity is relative to now: not_before_offset and
// lifetime may be negative or tiny to make expired and not-yet-valid certificates.
#ifndef DRPC_IMPL_RUNTIME_CERT_GEN_H_
#define DRPC_IMPL_RUNTIME_CERT_GEN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace drpc::runtime {

struct Certificate {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8
};

struct CertificateRequest {
  std::string common_name;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries ("127.0.0.1", "::1")
  bool server = true;                     // extendedKeyUsage serverAuth
  bool client = false;                    // extendedKeyUsage clientAuth
  int64_t not_before_offset_seconds = -3600;
  int64_t lifetime_seconds = 365 * 24 * 3600;
};

// A self-signed CA certificate (basicConstraints CA:TRUE, keyCertSign).
absl::StatusOr<Certificate> MakeCa(absl::string_view common_name,
                                   int64_t lifetime_seconds = 10 * 365 * 24 * 3600);

// A leaf certificate for `request`, signed by `issuer` (a CA from MakeCa).
absl::StatusOr<Certificate> IssueCertificate(const CertificateRequest& request,
                                             const Certificate& issuer);

}  // namespace drpc::runtime

#endif  // DRPC_IMPL_RUNTIME_CERT_GEN_H_
