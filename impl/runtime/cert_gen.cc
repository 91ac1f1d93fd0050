#include "impl/runtime/cert_gen.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace drpc::runtime {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

absl::Status Error(absl::string_view what) {
  std::string detail;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    const char* r = ERR_reason_error_string(e);
    absl::StrAppend(&detail, detail.empty() ? "" : "; ", r != nullptr ? r : "?");
  }
  return absl::InternalError(absl::StrCat("cert_gen: ", what, detail.empty() ? "" : ": ", detail));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

absl::StatusOr<Certificate> ToPem(X509* cert, EVP_PKEY* key) {
  Owned<BIO> c(BIO_new(BIO_s_mem())), k(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(c.get(), cert) != 1 ||
      PEM_write_bio_PrivateKey(k.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Error("writing PEM");
  }
  return Certificate{BioText(c.get()), BioText(k.get())};
}

absl::StatusOr<Owned<EVP_PKEY>> ParseKey(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Owned<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return Error("parsing the issuer's key");
  return key;
}

absl::StatusOr<Owned<X509>> ParseCert(const std::string& pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Owned<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return Error("parsing the issuer's certificate");
  return cert;
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return Error(absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  const int added = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return added == 1 ? absl::OkStatus() : Error("adding an extension");
}

// A certificate for `key` named `common_name`, valid from now+offset for `lifetime` seconds.
absl::StatusOr<Owned<X509>> NewCert(EVP_PKEY* key, absl::string_view common_name,
                                    int64_t not_before_offset, int64_t lifetime) {
  Owned<X509> cert(X509_new());
  if (cert == nullptr) return Error("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return Error("serial");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(not_before_offset));
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(not_before_offset + lifetime));
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn(common_name);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

}  // namespace

absl::StatusOr<Certificate> MakeCa(absl::string_view common_name, int64_t lifetime_seconds) {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) return Error("generating a key");
  absl::StatusOr<Owned<X509>> cert = NewCert(key.get(), common_name, -3600, lifetime_seconds);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(c));
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (absl::Status s = AddExtension(c, c, nid, value); !s.ok()) return s;
  }
  if (X509_sign(c, key.get(), EVP_sha256()) == 0) return Error("signing");
  return ToPem(c, key.get());
}

absl::StatusOr<Certificate> IssueCertificate(const CertificateRequest& request,
                                             const Certificate& issuer) {
  absl::StatusOr<Owned<EVP_PKEY>> issuer_key = ParseKey(issuer.key_pem);
  if (!issuer_key.ok()) return issuer_key.status();
  absl::StatusOr<Owned<X509>> issuer_cert = ParseCert(issuer.cert_pem);
  if (!issuer_cert.ok()) return issuer_cert.status();
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) return Error("generating a key");
  absl::StatusOr<Owned<X509>> cert =
      NewCert(key.get(), request.common_name, request.not_before_offset_seconds,
              request.lifetime_seconds);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  X509* ca = issuer_cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(ca));
  std::vector<std::string> sans;
  for (const std::string& d : request.dns_names) sans.push_back(absl::StrCat("DNS:", d));
  for (const std::string& ip : request.ip_addresses) sans.push_back(absl::StrCat("IP:", ip));
  std::vector<std::string> usages;
  if (request.server) usages.push_back("serverAuth");
  if (request.client) usages.push_back("clientAuth");
  std::vector<std::pair<int, std::string>> extensions = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
      {NID_authority_key_identifier, "keyid"},
  };
  if (!usages.empty()) extensions.push_back({NID_ext_key_usage, absl::StrJoin(usages, ",")});
  if (!sans.empty()) extensions.push_back({NID_subject_alt_name, absl::StrJoin(sans, ",")});
  for (const auto& [nid, value] : extensions) {
    if (absl::Status s = AddExtension(c, ca, nid, value); !s.ok()) return s;
  }
  if (X509_sign(c, issuer_key->get(), EVP_sha256()) == 0) return Error("signing");
  return ToPem(c, key.get());
}

}  // namespace drpc::runtime
