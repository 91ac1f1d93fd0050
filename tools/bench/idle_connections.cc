#include "tools/bench/idle_connections.h"

#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
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

// Resident bytes by kind of mapping (/proc/self/smaps): the main thread's heap ([heap]), other
// anonymous mappings (other threads' malloc arenas, large malloc'd blocks, fiber stacks: the
// kernel merges neighbouring ones, so they cannot be told apart here) and everything else.
struct RssByKind {
  int64_t main_heap = 0;
  int64_t anonymous = 0;
  int64_t other = 0;
};

RssByKind ReadRssByKind() {
  RssByKind out;
  std::FILE* f = std::fopen("/proc/self/smaps", "r");
  if (f == nullptr) return out;
  char line[512];
  int64_t* bucket = &out.other;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long lo = 0, hi = 0;
    char perms[8] = {};
    unsigned long offset = 0;
    char dev[16] = {};
    unsigned long inode = 0;
    char name[256] = {};
    const int fields = std::sscanf(line, "%lx-%lx %7s %lx %15s %lu %255s", &lo, &hi, perms,
                                   &offset, dev, &inode, name);
    if (fields >= 6) {
      if (std::strcmp(name, "[heap]") == 0) {
        bucket = &out.main_heap;
      } else if (inode == 0 && name[0] == '\0') {
        bucket = &out.anonymous;
      } else {
        bucket = &out.other;
      }
      continue;
    }
    long long v = 0;
    if (std::sscanf(line, "Rss: %lld kB", &v) == 1) *bucket += v * 1024;
  }
  std::fclose(f);
  return out;
}

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
  Router router = testing::EchoRouter();
  absl::StatusOr<std::unique_ptr<runtime::Runtime>> rt =
      runtime::Runtime::Start({.reactor_count = 1});
  if (!rt.ok()) return rt.status();
  runtime::TcpServerOptions options;
  options.connection.mux = config.mux;
  absl::StatusOr<std::unique_ptr<runtime::TcpServer>> server =
      runtime::TcpServer::Start(**rt, router, options);
  if (!server.ok()) return server.status();
  const std::string payload(config.payload_bytes, 'i');
  absl::Status status;
  IdleConnectionsResult result;
  {
    // Warm-up: the server's first connection allocates what every later one shares.
    absl::StatusOr<WireClient> warm = WireClient::Connect((*server)->address());
    if (!warm.ok()) return warm.status();
    status = OneCall(*warm, payload);
  }
  std::vector<WireClient> clients;
  clients.reserve(config.connections);
  Settle();
  malloc_trim(0);  // both samples start from a trimmed heap
  const ProcessStats before = ReadProcessStats();
  const int64_t stacks_before = StackRssBytes();
  const RssByKind kinds_before = ReadRssByKind();
  const uint64_t trims_before = runtime::ProcessMemoryReturn().trims();
  for (size_t i = 0; status.ok() && i < config.connections; ++i) {
    absl::StatusOr<WireClient> c = WireClient::Connect((*server)->address());
    if (!c.ok()) {
      status = c.status();
      break;
    }
    status = OneCall(*c, payload);
    clients.push_back(*std::move(c));
  }
  if (status.ok()) {
    Settle();
    const ProcessStats after = ReadProcessStats();
    const double n = static_cast<double>(config.connections);
    result.rss_bytes_per_connection = (after.rss_bytes - before.rss_bytes) / n;
    result.heap_bytes_per_connection = (after.heap_bytes - before.heap_bytes) / n;
    result.stack_rss_bytes_per_connection = (StackRssBytes() - stacks_before) / n;
    result.client_heap_rss_bytes_per_connection =
        (ReadRssByKind().main_heap - kinds_before.main_heap) / n;
    // What of the RSS is the allocator's cache (freed, still resident): gone after a full trim.
    malloc_trim(0);
    result.trimmed_rss_bytes_per_connection = (ReadProcessStats().rss_bytes - before.rss_bytes) / n;
    result.memory_trims = runtime::ProcessMemoryReturn().trims() - trims_before;
  }
  clients.clear();
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
      std::printf("| idle connection, RSS (%s) | %.2f KiB/conn | - | - | <= 16 KiB | %s |\n",
                  where.c_str(), r->rss_bytes_per_connection / 1024, pass ? "PASS" : "MISS");
      std::printf("| idle connection, heap (%s) | %.2f KiB/conn | - | - | - | |\n", where.c_str(),
                  r->heap_bytes_per_connection / 1024);
      std::printf("| idle connection, RSS of fiber stacks, unmerged slabs only (%s) | %.2f KiB/conn | - | - | - | |\n",
                  where.c_str(), r->stack_rss_bytes_per_connection / 1024);
      std::printf("| idle connection, RSS after a full malloc_trim (%s) | %.2f KiB/conn | - | - | - | |\n",
                  where.c_str(), r->trimmed_rss_bytes_per_connection / 1024);
      std::printf("| of the RSS: the bench's wire clients' heap (%s) | %.2f KiB/conn | - | - | - | |\n",
                  where.c_str(), r->client_heap_rss_bytes_per_connection / 1024);
      std::printf("| allocator trims while going idle (%s) | %llu | - | - | - | |\n",
                  where.c_str(), static_cast<unsigned long long>(r->memory_trims));
      std::fflush(stdout);
    }
  }
  return absl::OkStatus();
}

}  // namespace drpc::bench
