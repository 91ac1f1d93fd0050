// bazel run //tools:determinism_guard [-- ROOT] [-- --scan=FOLDER ...]
// Without --scan: scans proto/, impl/ (except impl/runtime/) and sim/ of the workspace for
// forbidden sources of nondeterminism (see determinism_guard.h). With --scan=FOLDER (repeatable,
// relative to ROOT): scans those folders instead, every C++ source with every rule — point it at
// the folders of your own services that run on the Env seam. Prints each violation as
// file:line and exits 1 if there are any, 2 if there was nothing to scan.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "tools/determinism_guard.h"

int main(int argc, char** argv) {
  std::string root = ".";
  if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY"); ws != nullptr) root = ws;
  std::vector<std::string> folders;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--scan=")) {
      folders.emplace_back(arg);
    } else if (absl::StartsWith(arg, "--")) {
      std::fprintf(stderr, "usage: determinism_guard [ROOT] [--scan=FOLDER ...]\n");
      return 2;
    } else {
      root = std::string(arg);
    }
  }
  int files = 0;
  const auto violations =
      folders.empty() ? drpc::guard::ScanTree(root, &files)
                      : drpc::guard::ScanFolders(root, folders, drpc::guard::kAllRules, &files);
  for (const auto& v : violations) {
    std::printf("%s\n", drpc::guard::FormatViolation(v).c_str());
  }
  std::printf("determinism guard: %d files scanned under %s, %zu violation(s)\n", files,
              root.c_str(), violations.size());
  if (files == 0) {
    std::printf("determinism guard: no C++ sources found%s; wrong root?\n",
                folders.empty() ? " in proto/, impl/ or sim/" : " in the --scan folders");
    return 2;
  }
  return violations.empty() ? 0 : 1;
}
