// bazel run //tools:spec_refs [-- ROOT]
// Checks every § reference in the workspace against the sections and items of docs/protocol.md
// (see spec_refs.h); prints each dangling reference as file:line and exits 1 if there are any.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tools/spec_refs.h"

int main(int argc, char** argv) {
  namespace refs = drpc::spec_refs;
  std::string root = ".";
  if (argc > 1) {
    root = argv[1];
  } else if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY"); ws != nullptr) {
    root = ws;
  }
  const std::filesystem::path doc = std::filesystem::path(root) / std::string(refs::kDocumentPath);
  std::ifstream in(doc, std::ios::binary);
  if (!in) {
    std::printf("spec refs: cannot read %s; wrong root?\n", doc.c_str());
    return 2;
  }
  std::stringstream markdown;
  markdown << in.rdbuf();
  std::vector<std::string> problems;
  const refs::Outline outline = refs::ParseOutline(markdown.str(), &problems);
  for (const std::string& p : problems) std::printf("%s\n", p.c_str());
  int files = 0;
  int found = 0;
  const std::vector<refs::Violation> violations = refs::CheckTree(root, outline, &files, &found);
  for (const refs::Violation& v : violations) {
    std::printf("%s\n", refs::FormatViolation(v).c_str());
  }
  std::printf("spec refs: %d references in %d files under %s; %zu dangling, %zu problem(s) in %s\n",
              found, files, root.c_str(), violations.size(), problems.size(),
              std::string(refs::kDocumentPath).c_str());
  return violations.empty() && problems.empty() ? 0 : 1;
}
