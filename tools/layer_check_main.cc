// bazel run //tools:layer_check [-- ROOT]
// Checks that every #include of proto/, impl/, sim/, fuzz/, properties/ and tools/ keeps the layer
// order tools -> fuzz/properties -> sim -> impl -> proto (see layer_check.h); prints each
// violation as file:line and exits 1 if there are any.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tools/layer_check.h"

int main(int argc, char** argv) {
  std::string root = ".";
  if (argc > 1) {
    root = argv[1];
  } else if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY"); ws != nullptr) {
    root = ws;
  }
  int files = 0;
  const auto violations = drpc::layers::CheckTree(root, &files);
  for (const auto& v : violations) {
    std::printf("%s\n", drpc::layers::FormatViolation(v).c_str());
  }
  std::printf("layer check: %d files checked under %s, %zu violation(s)\n", files, root.c_str(),
              violations.size());
  if (files == 0) {
    std::printf("layer check: no sources found; wrong root?\n");
    return 2;
  }
  return violations.empty() ? 0 : 1;
}
