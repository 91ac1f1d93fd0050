// A production drpc server: TLS, an auth token, deadlines from metadata, logging and metrics,
// graceful shutdown on SIGINT/SIGTERM. It serves the interop.Echo service of examples/echo.
//
//   bazel run //tools:tls_certs -- --out=/tmp/drpc-certs
//   bazel run //examples/production:server -- --token=s3cret
//       --cert=/tmp/drpc-certs/server.pem --key=/tmp/drpc-certs/server.key
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "drpc/server.h"
#include "examples/echo/echo.drpc.h"
#include "examples/echo/echo_service.h"
#include "impl/app/standard_interceptors.h"
#include "impl/runtime/signals.h"
#include "impl/runtime/tls.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7777", "listen address (port 0: any free port)");
ABSL_FLAG(std::string, cert, "", "certificate chain (PEM)");
ABSL_FLAG(std::string, key, "", "private key (PEM)");
ABSL_FLAG(std::string, token, "s3cret", "the bearer token clients must send");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Before any thread starts, so every thread inherits the blocked SIGINT/SIGTERM.
  auto signals = drpc::runtime::TerminationSignals::Install();
  absl::StatusOr<std::string> cert = drpc::runtime::ReadPemFile(absl::GetFlag(FLAGS_cert));
  absl::StatusOr<std::string> key = drpc::runtime::ReadPemFile(absl::GetFlag(FLAGS_key));
  if (!signals.ok() || !cert.ok() || !key.ok()) {
    std::fprintf(stderr, "server: %s %s\n", cert.status().ToString().c_str(),
                 key.status().ToString().c_str());
    return 1;
  }
  const std::string token = "Bearer " + absl::GetFlag(FLAGS_token);
  drpc::MetricsRegistry metrics;
  interop::EchoService echo;

  drpc::ServerBuilder builder;
  builder.ListenOn(absl::GetFlag(FLAGS_addr))
      .WithTls({.cert_chain_pem = *cert, .private_key_pem = *key})
      .WithMetrics(&metrics)
      .AddInterceptor(drpc::LoggingInterceptor([](const drpc::CallLog& call) {
                        std::fprintf(stderr, "%s\n", drpc::FormatCallLog(call).c_str());
                      }).server)
      .AddInterceptor(drpc::RequireToken("authorization",
                                         [token](absl::string_view got) {
                                           return got == token ? absl::OkStatus()
                                                               : absl::PermissionDeniedError(
                                                                     "wrong token");
                                         }))
      .AddInterceptor(drpc::DeadlineFromMetadata(drpc::Duration::Seconds(30)));
  if (absl::Status s = interop::Echo::Register(builder.router(), echo); !s.ok()) return 1;
  absl::StatusOr<std::unique_ptr<drpc::RunningServer>> server = builder.Start();
  if (!server.ok()) {
    std::fprintf(stderr, "server: %s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("READY %s\n", (*server)->addresses()[0].c_str());
  std::fflush(stdout);

  (*signals)->Wait();                                  // SIGINT or SIGTERM
  (*server)->Shutdown(drpc::Duration::Seconds(5));     // running calls get 5s
  std::printf("%s", drpc::RenderPrometheus(metrics.Read()).c_str());
  return 0;
}
