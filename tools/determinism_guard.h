// The determinism guard: proto/ and impl/ reach time, scheduling, randomness and I/O only through
// impl/env.h, so the simulator can decide all of them. This scanner rejects any other doorway.
//
//   std::vector<Violation> v = ScanSource("impl/stream.cc", contents);
//   for (const Violation& x : v) std::cerr << FormatViolation(x) << "\n";
//
// What is rejected (after comments and string literals are removed):
//   * includes of threads, locks, futures, <random>, C time, sockets, epoll/poll, unistd, signals,
//     absl/time/clock.h, absl/random/, absl/synchronization/;
//   * uses of std::chrono clocks, std::this_thread, std::thread/mutex/async, random engines and
//     distributions, absl::Now/SleepFor/BitGen/Mutex/Notification;
//   * calls of rand(), srand(), random(), time(), clock(), getenv(), sleep(), usleep(),
//     nanosleep(), gettimeofday(), clock_gettime(), getpid(), fork() — unqualified, `::` or `std::`
//     qualified, and not member calls (`x.time()` is fine).
// Guarded paths: proto/** and impl/** except the production runtime package impl/runtime/**.
#ifndef DRPC_TOOLS_DETERMINISM_GUARD_H_
#define DRPC_TOOLS_DETERMINISM_GUARD_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace drpc::guard {

struct Violation {
  std::string path;
  int line = 0;         // 1-based
  std::string what;     // the offending include or identifier, e.g. "<thread>" or "rand()"
  std::string reason;   // why it is forbidden and what to use instead
};

// True if `path` (relative to the workspace root, '/'-separated) must obey the guard and is a
// C++ source or header.
bool IsGuardedPath(absl::string_view path);

// Scans one file's contents. `path` is only copied into the violations.
std::vector<Violation> ScanSource(absl::string_view path, absl::string_view contents);

// "impl/x.cc:12: forbidden <thread>: <reason>"
std::string FormatViolation(const Violation& violation);

// Walks `root`/proto and `root`/impl, scanning every guarded file. Files that cannot be read are
// reported as violations (a guard that silently skips files is no guard).
std::vector<Violation> ScanTree(const std::string& root, int* files_scanned);

}  // namespace drpc::guard

#endif  // DRPC_TOOLS_DETERMINISM_GUARD_H_
