// bazel run //tools:determinism_guard [-- ROOT]
// Scans proto/, impl/ (except impl/runtime/) and sim/ of the workspace for forbidden sources of
// nondeterminism (see determinism_guard.h); prints each violation as file:line and exits 1 if
// there are any.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tools/determinism_guard.h"

int main(int argc, char** argv) {
  std::string root = ".";
  if (argc > 1) {
    root = argv[1];
  } else if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY"); ws != nullptr) {
    root = ws;
  }
  int files = 0;
  const auto violations = drpc::guard::ScanTree(root, &files);
  for (const auto& v : violations) {
    std::printf("%s\n", drpc::guard::FormatViolation(v).c_str());
  }
  std::printf("determinism guard: %d files scanned under %s, %zu violation(s)\n", files,
              root.c_str(), violations.size());
  if (files == 0) {
    std::printf("determinism guard: no proto/, impl/ or sim/ sources found; wrong root?\n");
    return 2;
  }
  return violations.empty() ? 0 : 1;
}
