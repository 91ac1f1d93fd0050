// The production flags shared by tools/echo_server and tools/call — TLS and metrics — parsed in a
// block of their own:
//
//   echo_server --tls_cert=server.pem --tls_key=server.key [--tls_client_ca=ca.pem] [--stats]
//   call --tls [--tls_ca=ca.pem | --insecure] [--tls_server_name=NAME]
//        [--tls_cert=client.pem --tls_key=client.key] ADDR RPC
//
//   ProdFlags prod;
//   if (prod.Apply(flag)) continue;                   // consumed (or recorded an error)
//   absl::StatusOr<TlsServerConfig> tls = prod.ServerTls();   // nullopt-like: !prod.tls_enabled()
#ifndef DRPC_TOOLS_PROD_FLAGS_H_
#define DRPC_TOOLS_PROD_FLAGS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "impl/runtime/tls.h"
#include "tools/cli_flags.h"

namespace drpc::cli {

class ProdFlags {
 public:
  // True if `flag` is one of the production flags (then it is recorded; a malformed value is
  // reported by error()).
  bool Apply(const CliFlag& flag);
  const absl::Status& error() const { return error_; }

  bool stats() const { return stats_; }
  // Server: TLS is on when --tls_cert (with --tls_key) is given. Reads the PEM files.
  bool server_tls() const { return !cert_.empty() || !key_.empty(); }
  absl::StatusOr<runtime::TlsServerConfig> ServerTls() const;
  // Client: TLS is on with --tls (implied by --tls_ca, --insecure, --tls_server_name).
  bool client_tls() const { return tls_; }
  absl::StatusOr<runtime::TlsClientConfig> ClientTls() const;

  static constexpr char kServerUsage[] =
      "  --tls_cert=F       serve TLS with this certificate chain (PEM; needs --tls_key)\n"
      "  --tls_key=F        the certificate's private key (PEM)\n"
      "  --tls_client_ca=F  require client certificates signed by these CAs (mutual TLS)\n"
      "  --stats            print metrics in the Prometheus text format on stdout at shutdown\n";
  static constexpr char kClientUsage[] =
      "  --tls                connect with TLS, verifying the server against the system's roots\n"
      "  --tls_ca=F           ... against these CA certificates instead (PEM; implies --tls)\n"
      "  --insecure           TLS without verifying the server (tests only; implies --tls)\n"
      "  --tls_server_name=N  the name the server's certificate must carry (default: ADDR's host)\n"
      "  --tls_cert=F --tls_key=F  a client certificate for servers that require one\n";

 private:
  bool tls_ = false;
  bool insecure_ = false;
  bool stats_ = false;
  std::string ca_, cert_, key_, client_ca_, server_name_;
  absl::Status error_;
};

}  // namespace drpc::cli

#endif  // DRPC_TOOLS_PROD_FLAGS_H_
