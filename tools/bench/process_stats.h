// What the process holds right now, for the memory-per-stream and thread-count columns of
// tools/bench (Linux: /proc/self, glibc's mallinfo2).
#ifndef DRPC_TOOLS_BENCH_PROCESS_STATS_H_
#define DRPC_TOOLS_BENCH_PROCESS_STATS_H_

#include <cstdint>

namespace drpc::bench {

struct ProcessStats {
  int64_t rss_bytes = 0;   // resident set (/proc/self/statm)
  int64_t heap_bytes = 0;  // bytes malloc has handed out, all arenas and mmap'd chunks
  long threads = 0;        // /proc/self/status "Threads:"
};

ProcessStats ReadProcessStats();

}  // namespace drpc::bench

#endif  // DRPC_TOOLS_BENCH_PROCESS_STATS_H_
