// The interop.Echo server (examples/echo/echo.proto) on drpc-cpp's production runtime.
//
//   bazel run //examples/echo:server                        # 127.0.0.1:7777, upstream drpc mode
//   bazel run //examples/echo:server -- --addr=127.0.0.1:0 --mux
//
// Prints "READY <address>" once listening; serves until SIGINT/SIGTERM, then shuts down
// gracefully and exits 0.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/echo/echo.drpc.h"
#include "examples/echo/echo_service.h"
#include "impl/router.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/signals.h"
#include "impl/runtime/tcp_server.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7777", "listen address (port 0 picks a free port)");
ABSL_FLAG(bool, mux, false, "multiplexed mode (clients must use --mux too)");

namespace {

int Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "echo server: %s: %s\n", what, status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Before any thread starts, so every thread inherits the blocked SIGINT/SIGTERM.
  auto signals = drpc::runtime::TerminationSignals::Install();
  if (!signals.ok()) return Fail("signals", signals.status());
  auto rt = drpc::runtime::Runtime::Start();
  if (!rt.ok()) return Fail("runtime", rt.status());

  interop::EchoService service;
  drpc::Router router;
  if (absl::Status st = interop::Echo::Register(router, service); !st.ok()) {
    return Fail("register", st);
  }
  drpc::runtime::TcpServerOptions options;
  options.address = absl::GetFlag(FLAGS_addr);
  options.connection.mux = absl::GetFlag(FLAGS_mux);
  auto server = drpc::runtime::TcpServer::Start(**rt, router, options);
  if (!server.ok()) return Fail("listen", server.status());

  std::printf("READY %s\n", (*server)->address().c_str());
  std::fflush(stdout);
  (*signals)->Wait();
  (*server)->Shutdown(drpc::Duration::Seconds(5));
  server->reset();
  (*rt)->Stop();
  return 0;
}
