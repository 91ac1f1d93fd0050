// The key-value server (examples/kv/kv.proto) on drpc-cpp's production runtime.
//
//   bazel run //examples/kv:server                          # 127.0.0.1:7878
//   bazel run //examples/kv:server -- --addr=127.0.0.1:0 --mux
//
// Prints "READY <address>" once listening; serves until SIGINT/SIGTERM, then shuts down
// gracefully and exits 0. One reactor thread: the Store belongs to one scheduler (store.h).
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "examples/kv/kv.drpc.h"
#include "examples/kv/kv_service.h"
#include "examples/kv/store.h"
#include "impl/router.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/signals.h"
#include "impl/runtime/tcp_server.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7878", "listen address (port 0 picks a free port)");
ABSL_FLAG(bool, mux, false, "multiplexed mode (clients must use --mux too)");

namespace {

int Fail(const char* what, const absl::Status& status) {
  std::fprintf(stderr, "kv server: %s: %s\n", what, status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto signals = drpc::runtime::TerminationSignals::Install();
  if (!signals.ok()) return Fail("signals", signals.status());
  auto rt = drpc::runtime::Runtime::Start({.reactor_count = 1});
  if (!rt.ok()) return Fail("runtime", rt.status());

  // The store lives on reactor 0, where every connection is served.
  kv::Store store((*rt)->reactor(0).env());
  kv::KvService service(store);
  drpc::Router router;
  if (absl::Status st = kv::KeyValue::Register(router, service); !st.ok()) {
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
