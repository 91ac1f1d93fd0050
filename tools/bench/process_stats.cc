#include "tools/bench/process_stats.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace drpc::bench {

ProcessStats ReadProcessStats() {
  ProcessStats s;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    long size_pages = 0, resident_pages = 0;
    if (std::fscanf(f, "%ld %ld", &size_pages, &resident_pages) == 2) {
      s.rss_bytes = static_cast<int64_t>(resident_pages) * sysconf(_SC_PAGESIZE);
    }
    std::fclose(f);
  }
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof(line), f) != nullptr) {
      if (std::strncmp(line, "Threads:", 8) == 0) s.threads = std::atol(line + 8);
    }
    std::fclose(f);
  }
  const struct mallinfo2 mi = mallinfo2();
  s.heap_bytes = static_cast<int64_t>(mi.uordblks + mi.hblkhd);
  return s;
}

}  // namespace drpc::bench
