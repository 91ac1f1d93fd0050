// tls_certs: writes a throwaway CA and a server and a client certificate it signed, for trying
// TLS with echo_server and call (not a certificate authority for production).
//
//   bazel run //tools:tls_certs -- --out=/tmp/drpc-certs [--hosts=127.0.0.1,localhost]
//
// Writes ca.pem, server.pem, server.key, client.pem, client.key into --out (created if missing;
// relative to your directory under `bazel run`). The server certificate names --hosts (IP
// addresses and DNS names). Exit codes: 0 written, 1 failure, 2 usage error.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "impl/runtime/cert_gen.h"
#include "tools/cli_flags.h"

namespace drpc {
namespace {

constexpr char kUsage[] =
    "usage: tls_certs --out=DIR [--hosts=127.0.0.1,localhost]\n"
    "  writes ca.pem, server.pem, server.key, client.pem, client.key into DIR\n";

bool IsIp(const std::string& host) {
  return host.find(':') != std::string::npos ||
         host.find_first_not_of("0123456789.") == std::string::npos;
}

bool WriteFile(const std::string& path, const std::string& data, bool secret) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out.good()) return false;
  out.close();
  if (secret) chmod(path.c_str(), 0600);
  return true;
}

int Main(int argc, char** argv) {
  std::string out_dir;
  std::string hosts = "127.0.0.1,localhost";
  for (int i = 1; i < argc; ++i) {
    std::optional<cli::CliFlag> f = cli::ParseCliFlag(argv[i]);
    if (f && f->name == "out" && f->value) {
      out_dir = *f->value;
    } else if (f && f->name == "hosts" && f->value) {
      hosts = *f->value;
    } else {
      std::fprintf(stderr, "tls_certs: bad argument \"%s\"\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (out_dir.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY"); cwd != nullptr && out_dir[0] != '/') {
    out_dir = absl::StrCat(cwd, "/", out_dir);
  }
  mkdir(out_dir.c_str(), 0755);
  runtime::CertificateRequest server{.common_name = "drpc server"};
  for (absl::string_view h : absl::StrSplit(hosts, ',', absl::SkipEmpty())) {
    (IsIp(std::string(h)) ? server.ip_addresses : server.dns_names).emplace_back(h);
  }
  absl::StatusOr<runtime::Certificate> ca = runtime::MakeCa("drpc demo CA");
  absl::StatusOr<runtime::Certificate> s =
      ca.ok() ? runtime::IssueCertificate(server, *ca) : ca.status();
  absl::StatusOr<runtime::Certificate> c =
      ca.ok() ? runtime::IssueCertificate(
                    {.common_name = "drpc client", .server = false, .client = true}, *ca)
              : ca.status();
  if (!s.ok() || !c.ok()) {
    std::fprintf(stderr, "tls_certs: %s\n", (!s.ok() ? s : c).status().ToString().c_str());
    return 1;
  }
  const std::vector<std::pair<std::string, std::pair<std::string, bool>>> files = {
      {"ca.pem", {ca->cert_pem, false}},    {"server.pem", {s->cert_pem, false}},
      {"server.key", {s->key_pem, true}},   {"client.pem", {c->cert_pem, false}},
      {"client.key", {c->key_pem, true}},
  };
  for (const auto& [name, content] : files) {
    const std::string path = absl::StrCat(out_dir, "/", name);
    if (!WriteFile(path, content.first, content.second)) {
      std::fprintf(stderr, "tls_certs: cannot write %s\n", path.c_str());
      return 1;
    }
  }
  std::printf("wrote ca.pem server.pem server.key client.pem client.key to %s (server: %s)\n",
              out_dir.c_str(), hosts.c_str());
  return 0;
}

}  // namespace
}  // namespace drpc

int main(int argc, char** argv) { return drpc::Main(argc, argv); }
