// The determinism guard: proto/ and impl/ reach time, scheduling, randomness and I/O only through
// impl/env.h, so the simulator can decide all of them. This scanner rejects any other doorway.
//
//   std::vector<Violation> v = ScanSource("impl/stream.cc", contents);
//   for (const Violation& x : v) std::cerr << FormatViolation(x) << "\n";
//
// What is rejected (after comments and string literals are removed), in two scopes:
// The Env doorway, in proto/** and impl/** except the production runtime impl/runtime/**:
//   * includes of threads, locks, futures, <random>, C time, sockets, epoll/poll, unistd, signals,
//     absl/time/clock.h, absl/random/, absl/synchronization/;
//   * uses of std::chrono clocks, std::this_thread, std::thread/mutex/async, random engines and
//     distributions, absl::Now/SleepFor/BitGen/Mutex/Notification;
//   * calls of rand(), srand(), random(), time(), clock(), getenv(), sleep(), usleep(),
//     nanosleep(), gettimeofday(), clock_gettime(), getpid(), fork() — unqualified, `::` or `std::`
//     qualified, and not member calls (`x.time()` is fine).
// Ordered iteration, in the same paths and in sim/** (whose runs must replay bit for bit):
//   * std::unordered_map/set/multimap/multiset, absl::flat_hash_map/set, absl::node_hash_map/set
//     and their headers: their iteration order is unspecified or randomised per process, so a
//     loop over one could decide what goes on the wire or which fiber runs differently per run.
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

// Which rules a file obeys (see the top of this file).
struct Scope {
  bool env_doorway = false;        // time, threads, randomness and I/O only through impl/env.h
  bool ordered_iteration = false;  // no hash containers
};

// The rules for `path` (relative to the workspace root, '/'-separated): none for files that are
// not C++ sources or headers, or that lie outside proto/, impl/ and sim/, or in impl/runtime/.
Scope ScopeOf(absl::string_view path);

// True if any rule applies to `path`.
bool IsGuardedPath(absl::string_view path);

// Every rule: what proto/ and impl/ obey, and what code of your own that runs on the Env seam
// (services, their simulation tests) should obey too.
inline constexpr Scope kAllRules{.env_doorway = true, .ordered_iteration = true};

// Scans one file's contents with the rules ScopeOf(path) gives; `path` is also copied into the
// violations.
std::vector<Violation> ScanSource(absl::string_view path, absl::string_view contents);
// The same with `scope`'s rules, wherever `path` is.
std::vector<Violation> ScanSource(absl::string_view path, absl::string_view contents, Scope scope);

// Scans the C++ sources among `files` (paths as given, read as they are) with `scope`'s rules;
// unreadable files are violations.
std::vector<Violation> ScanFiles(const std::vector<std::string>& files, Scope scope,
                                 int* files_scanned);

// Scans every C++ source under `root`/`folder` for each of `folders` with `scope`'s rules.
std::vector<Violation> ScanFolders(const std::string& root, const std::vector<std::string>& folders,
                                   Scope scope, int* files_scanned);

// "impl/x.cc:12: forbidden <thread>: <reason>"
std::string FormatViolation(const Violation& violation);

// Walks `root`/proto, `root`/impl and `root`/sim, scanning every guarded file. Files that cannot be read are
// reported as violations (a guard that silently skips files is no guard).
std::vector<Violation> ScanTree(const std::string& root, int* files_scanned);

}  // namespace drpc::guard

#endif  // DRPC_TOOLS_DETERMINISM_GUARD_H_
