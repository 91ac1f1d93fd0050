#include "tools/bench/idle_connections.h"

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "impl/router.h"
#include "impl/runtime/memory_return.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp_server.h"
#include "impl/testing/echo_service.h"
#include "impl/tunables.h"
#include "tools/bench/process_stats.h"
#include "tools/bench/wire_client.h"

namespace drpc::bench {
namespace {

constexpr char kUnary[] = "/interop.Echo/Unary";

absl::Status OneCall(WireClient& c, const std::string& payload) {
  if (absl::Status st = c.Send(UnaryCallBytes(1, kUnary, payload)); !st.ok()) return st;
  absl::StatusOr<std::string> reply = c.ReadReply(1, absl::Seconds(10));
  if (!reply.ok()) return reply.status();
  if (reply->size() != payload.size()) return absl::InternalError("idle: wrong reply size");
  return absl::OkStatus();
}

// Resident bytes of the fiber stacks: the mappings made of whole stack slabs (the kernel merges
// neighbouring slabs into one mapping) or, on kernels without page-table guards, of one stack;
// from /proc/self/smaps. A slab the kernel merged with a neighbouring anonymous
// mapping that is not a slab (a malloc arena, say) is missed: a lower bound.
int64_t StackRssBytes() {
  const int64_t stack_kib = tunables::kFiberStackDefaultBytes / 1024;
  const int64_t slab_kib = tunables::kFiberSlabStackCount * (stack_kib + 4);
  std::FILE* f = std::fopen("/proc/self/smaps", "r");
  if (f == nullptr) return 0;
  int64_t total_kib = 0;
  int64_t size_kib = 0;
  char line[512];
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    long long v = 0;
    if (std::sscanf(line, "Size: %lld kB", &v) == 1) {
      size_kib = v;
    } else if (std::sscanf(line, "Rss: %lld kB", &v) == 1 &&
               (size_kib % slab_kib == 0 || size_kib == stack_kib)) {
      total_kib += v;
    }
  }
  std::fclose(f);
  return total_kib * 1024;
}

// The wire clients run in a child process, forked before the server starts its threads, so the
// server process's RSS is the server's alone (the clients' own heap — after 1 MiB replies glibc
// keeps ~3 KiB per connection of it — is not an idle connection's cost). Commands go down one
// pipe as lines, one status line comes back per command ("ok" or the error):
//   "warm ADDRESS"  one connection, one call, closed (what every later connection shares)
//   "conns ADDRESS" `connections` connections, one call each, all kept open
//   end of input    close every connection and exit
class ClientProcess {
 public:
  static absl::StatusOr<ClientProcess> Fork(const IdleConnectionsConfig& config) {
    int down[2];
    int up[2];
    if (pipe(down) != 0) return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
    if (pipe(up) != 0) {
      close(down[0]);
      close(down[1]);
      return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
    }
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
    if (pid == 0) {
      close(down[1]);
      close(up[0]);
      _exit(ServeCommands(config, down[0], up[1]));
    }
    close(down[0]);
    close(up[1]);
    return ClientProcess(pid, down[1], up[0]);
  }
  ClientProcess(ClientProcess&& o) noexcept : pid_(o.pid_), to_(o.to_), from_(o.from_) {
    o.pid_ = -1;
    o.to_ = o.from_ = -1;
  }
  ClientProcess& operator=(ClientProcess&&) = delete;
  // Closes the command pipe (the child closes its connections and exits) and reaps the child.
  ~ClientProcess() {
    if (to_ >= 0) close(to_);
    if (from_ >= 0) close(from_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }

  absl::Status Run(const std::string& command) {
    if (!WriteLine(to_, command)) return absl::InternalError("idle: the client process is gone");
    std::string reply;
    if (!ReadLine(from_, reply)) return absl::InternalError("idle: the client process died");
    if (reply != "ok") return absl::InternalError(absl::StrCat("idle client: ", reply));
    return absl::OkStatus();
  }

 private:
  ClientProcess(pid_t pid, int to, int from) : pid_(pid), to_(to), from_(from) {}

  static bool WriteLine(int fd, absl::string_view line) {
    std::string bytes = absl::StrCat(line, "\n");
    absl::string_view rest = bytes;
    while (!rest.empty()) {
      const ssize_t n = write(fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      rest.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  static bool ReadLine(int fd, std::string& line) {
    line.clear();
    char c = 0;
    while (true) {
      const ssize_t n = read(fd, &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      if (c == '\n') return true;
      line.push_back(c);
    }
  }

  // The child: runs commands until its input ends. Returns the exit code.
  static int ServeCommands(const IdleConnectionsConfig& config, int in, int out) {
    const std::string payload(config.payload_bytes, 'i');
    std::vector<WireClient> clients;
    std::string line;
    while (ReadLine(in, line)) {
      absl::Status status;
      const size_t space = line.find(' ');
      const std::string verb = line.substr(0, space);
      const std::string address = space == std::string::npos ? "" : line.substr(space + 1);
      if (verb != "warm" && verb != "conns") status = absl::InvalidArgumentError(line);
      const size_t count = verb == "warm" ? 1 : config.connections;
      for (size_t i = 0; status.ok() && i < count; ++i) {
        absl::StatusOr<WireClient> c = WireClient::Connect(address);
        if (!c.ok()) {
          status = c.status();
          break;
        }
        status = OneCall(*c, payload);
        if (verb != "warm") clients.push_back(*std::move(c));
      }
      if (!WriteLine(out, status.ok() ? "ok" : status.ToString())) return 1;
    }
    return 0;
  }

  pid_t pid_;
  int to_;
  int from_;
};

// Long enough for every connection's idle trim (and the process-wide trim interval) to pass.
void Settle() {
  const int64_t ms = (tunables::kMemoryReturnIdleDelay + tunables::kMemoryReturnMinInterval +
                      Duration::Millis(200))
                         .nanos() /
                     1'000'000;
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

absl::StatusOr<IdleConnectionsResult> MeasureIdleConnections(const IdleConnectionsConfig& config) {
  // Before the runtime starts a thread: the child is a copy of a single-threaded process.
  absl::StatusOr<ClientProcess> clients = ClientProcess::Fork(config);
  if (!clients.ok()) return clients.status();
  Router router = testing::EchoRouter();
  absl::StatusOr<std::unique_ptr<runtime::Runtime>> rt =
      runtime::Runtime::Start({.reactor_count = 1});
  if (!rt.ok()) return rt.status();
  runtime::TcpServerOptions options;
  options.connection.mux = config.mux;
  absl::StatusOr<std::unique_ptr<runtime::TcpServer>> server =
      runtime::TcpServer::Start(**rt, router, options);
  if (!server.ok()) return server.status();
  const std::string address = (*server)->address();
  IdleConnectionsResult result;
  // Warm-up: the server's first connection allocates what every later one shares.
  absl::Status status = clients->Run(absl::StrCat("warm ", address));
  if (status.ok()) {
    Settle();
    malloc_trim(0);  // both samples start from a trimmed heap
    const ProcessStats before = ReadProcessStats();
    const int64_t stacks_before = StackRssBytes();
    const uint64_t trims_before = runtime::ProcessMemoryTrims();
    status = clients->Run(absl::StrCat("conns ", address));
    if (status.ok()) {
      Settle();
      const ProcessStats after = ReadProcessStats();
      const double n = static_cast<double>(config.connections);
      result.rss_bytes_per_connection = (after.rss_bytes - before.rss_bytes) / n;
      result.heap_bytes_per_connection = (after.heap_bytes - before.heap_bytes) / n;
      result.stack_rss_bytes_per_connection = (StackRssBytes() - stacks_before) / n;
      // What of the RSS is the allocator's cache (freed, still resident): gone after a full trim.
      malloc_trim(0);
      result.trimmed_rss_bytes_per_connection =
          (ReadProcessStats().rss_bytes - before.rss_bytes) / n;
      result.memory_trims = runtime::ProcessMemoryTrims() - trims_before;
    }
  }
  {
    ClientProcess done = *std::move(clients);  // the child closes its connections and exits
  }
  (*server)->Shutdown(Duration::Seconds(1));
  server->reset();
  (*rt)->Stop();
  if (!status.ok()) return status;
  return result;
}

absl::Status PrintIdleConnectionRows(size_t connections) {
  for (bool mux : {false, true}) {
    for (size_t payload : {size_t{64}, size_t{1} << 20}) {
      absl::StatusOr<IdleConnectionsResult> r = MeasureIdleConnections(
          {.mux = mux, .connections = connections, .payload_bytes = payload});
      if (!r.ok()) return r.status();
      const std::string where =
          absl::StrCat(mux ? "mux" : "upstream", ", ", connections, " conns, after one ",
                       payload >= (1 << 20) ? "1 MiB" : "64 B", " call");
      const bool pass = r->rss_bytes_per_connection <= kIdleConnectionTargetBytes;
      std::printf("| idle connection, server process RSS (%s) | %.2f KiB/conn | - | - | <= 16 KiB | %s |\n",
                  where.c_str(), r->rss_bytes_per_connection / 1024, pass ? "PASS" : "MISS");
      std::printf("| idle connection, heap (%s) | %.2f KiB/conn | - | - | - | |\n", where.c_str(),
                  r->heap_bytes_per_connection / 1024);
      std::printf("| idle connection, RSS of fiber stacks, unmerged slabs only (%s) | %.2f KiB/conn | - | - | - | |\n",
                  where.c_str(), r->stack_rss_bytes_per_connection / 1024);
      std::printf("| idle connection, RSS after a full malloc_trim (%s) | %.2f KiB/conn | - | - | - | |\n",
                  where.c_str(), r->trimmed_rss_bytes_per_connection / 1024);
      std::printf("| allocator trims while going idle (%s) | %llu | - | - | - | |\n",
                  where.c_str(), static_cast<unsigned long long>(r->memory_trims));
      std::fflush(stdout);
    }
  }
  return absl::OkStatus();
}

}  // namespace drpc::bench
