#include "tools/prod_flags.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace drpc::cli {
namespace {

// `bazel run` starts tools in their runfiles tree; relative paths mean the caller's directory.
std::string UserPath(const std::string& path) {
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (cwd == nullptr || path.empty() || path[0] == '/') return path;
  return absl::StrCat(cwd, "/", path);
}

}  // namespace

bool ProdFlags::Apply(const CliFlag& f) {
  auto file = [&](std::string* into) {
    if (!f.value || f.value->empty()) {
      error_ = absl::InvalidArgumentError(absl::StrCat("--", f.name, " needs a file"));
    } else {
      *into = UserPath(*f.value);
    }
    return true;
  };
  if (f.name == "tls" && !f.value) {
    tls_ = true;
    return true;
  }
  if (f.name == "insecure" && !f.value) {
    tls_ = insecure_ = true;
    return true;
  }
  if (f.name == "stats" && !f.value) {
    stats_ = true;
    return true;
  }
  if (f.name == "tls_server_name" && f.value) {
    tls_ = true;
    server_name_ = *f.value;
    return true;
  }
  if (f.name == "tls_ca") {
    tls_ = true;
    return file(&ca_);
  }
  if (f.name == "tls_cert") return file(&cert_);
  if (f.name == "tls_key") return file(&key_);
  if (f.name == "tls_client_ca") return file(&client_ca_);
  return false;
}

absl::StatusOr<runtime::TlsServerConfig> ProdFlags::ServerTls() const {
  if (cert_.empty() || key_.empty()) {
    return absl::InvalidArgumentError("TLS needs both --tls_cert and --tls_key");
  }
  runtime::TlsServerConfig c;
  absl::StatusOr<std::string> cert = runtime::ReadPemFile(cert_);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = runtime::ReadPemFile(key_);
  if (!key.ok()) return key.status();
  c.cert_chain_pem = *std::move(cert);
  c.private_key_pem = *std::move(key);
  if (!client_ca_.empty()) {
    absl::StatusOr<std::string> ca = runtime::ReadPemFile(client_ca_);
    if (!ca.ok()) return ca.status();
    c.client_ca_pem = *std::move(ca);
  }
  return c;
}

absl::StatusOr<runtime::TlsClientConfig> ProdFlags::ClientTls() const {
  runtime::TlsClientConfig c;
  c.insecure_skip_verify = insecure_;
  c.server_name = server_name_;
  if (!ca_.empty()) {
    absl::StatusOr<std::string> ca = runtime::ReadPemFile(ca_);
    if (!ca.ok()) return ca.status();
    c.ca_pem = *std::move(ca);
  }
  if (cert_.empty() != key_.empty()) {
    return absl::InvalidArgumentError("a client certificate needs both --tls_cert and --tls_key");
  }
  if (!cert_.empty()) {
    absl::StatusOr<std::string> cert = runtime::ReadPemFile(cert_);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = runtime::ReadPemFile(key_);
    if (!key.ok()) return key.status();
    c.cert_chain_pem = *std::move(cert);
    c.private_key_pem = *std::move(key);
  }
  return c;
}

}  // namespace drpc::cli
