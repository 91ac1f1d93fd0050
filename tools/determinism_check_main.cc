// main() of drpc_determinism_test (tools/determinism.bzl): scans the files given as arguments
// (paths relative to the test's working directory, the runfiles root) with every rule of the
// determinism guard; prints each violation as file:line and fails if there are any, or if no C++
// source was given.
#include <cstdio>
#include <string>
#include <vector>

#include "tools/determinism_guard.h"

int main(int argc, char** argv) {
  std::vector<std::string> files(argv + 1, argv + argc);
  int scanned = 0;
  const auto violations = drpc::guard::ScanFiles(files, drpc::guard::kAllRules, &scanned);
  for (const auto& v : violations) std::printf("%s\n", drpc::guard::FormatViolation(v).c_str());
  std::printf("determinism guard: %d file(s) scanned, %zu violation(s)\n", scanned,
              violations.size());
  if (scanned == 0) {
    std::printf("determinism guard: no C++ sources given (check the test's srcs)\n");
    return 1;
  }
  return violations.empty() ? 0 : 1;
}
