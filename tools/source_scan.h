// Source scanning shared by tools/determinism_guard and tools/layer_check: a file's text with
// comments (and optionally string literals) blanked out, its #include directives, and the list of
// C++ sources under the workspace's top-level folders.
//
//   for (const scan::Include& inc : scan::FindIncludes(contents)) {
//     if (!inc.angled && absl::StartsWith(inc.target, "sim/")) ...   // inc.line is 1-based
//   }
#ifndef DRPC_TOOLS_SOURCE_SCAN_H_
#define DRPC_TOOLS_SOURCE_SCAN_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace drpc::scan {

// `in` with comments replaced by spaces; newlines are kept, so line numbers stay valid. With
// `strip_literals`, string and character literal contents are blanked too, so text in them is
// never mistaken for code. Handles raw strings and digit separators (1'000).
std::string StripComments(absl::string_view in, bool strip_literals);

struct Include {
  int line = 0;         // 1-based
  std::string target;   // between the delimiters: "impl/env.h", "thread"
  bool angled = false;  // <...> rather than "..."
  std::string spelled;  // as written: "\"impl/env.h\"", "<thread>"
};

// The #include directives of `contents`, in order; commented-out ones are not included.
std::vector<Include> FindIncludes(absl::string_view contents);

// True for C++ sources and headers (.h, .cc, .hpp, .cpp, .inc).
bool IsCxxSource(absl::string_view path);

// Workspace-relative ('/'-separated) paths of the C++ sources under `root`/`top` for each of
// `tops`, sorted. Missing folders are skipped.
std::vector<std::string> ListCxxSources(const std::string& root,
                                        const std::vector<std::string>& tops);

// Reads `root`/`rel` whole into `*contents`; false if it cannot be read.
bool ReadSource(const std::string& root, const std::string& rel, std::string* contents);

}  // namespace drpc::scan

#endif  // DRPC_TOOLS_SOURCE_SCAN_H_
