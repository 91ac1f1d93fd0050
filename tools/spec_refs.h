// The reference checker: every `§` reference in the repository must name a section or item that
// docs/protocol.md has, so a comment citing "§13 item 4" or a test file citing "§12.7 E9" never
// points at nothing.
//
//   std::vector<std::string> problems;
//   Outline outline = ParseOutline(protocol_md_contents, &problems);
//   for (const Violation& v : CheckReferences(outline, "impl/stream.cc", contents)) {
//     std::cerr << FormatViolation(v) << "\n";   // "impl/stream.cc:12: \"§N\": ..."
//   }
//
// What counts as a reference (in any file, whatever precedes it: "spec §7.4",
// "docs/protocol.md §7.4" and a bare "§7.4" are the same reference):
//   * `§N` or `§N.M...`: a section; a trailing period is punctuation ("§11.4." is 11.4).
//   * a range `§A–§B` or `§A-§B` of top-level sections: every section from A to B.
//   * items after a section: `§13 item 4`, `§13 items 2 and 3`, `§13 items 2,3`, `§13 items 12/13`,
//     `§13 items 1–4`, `§8.2 step 3` (also `steps`, `rule`, `rules`), and labelled items such as
//     `§12.7 E4–E12` or `§12.7 E1–E5, E13–E15`. Each item must exist in that section.
//
// What docs/protocol.md defines (ParseOutline):
//   * sections: headings `## N. Title`, `### N.M Title` (2 to 4 '#'); other headings define none;
//   * items of the section a line is in: unindented numbered-list lines `K. text` (item "K") and
//     table rows whose first cell is a label `| EK | ...` (item "EK"). Fenced code is skipped.
//   A section number defined twice, or a subsection whose parent section is missing, is a problem
//   of the document itself.
#ifndef DRPC_TOOLS_SPEC_REFS_H_
#define DRPC_TOOLS_SPEC_REFS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace drpc::spec_refs {

// The document the references point at, relative to the workspace root.
inline constexpr absl::string_view kDocumentPath = "docs/protocol.md";

// Files that contain wrong references on purpose (the checker's own test fixture): CheckTree
// skips them.
inline constexpr absl::string_view kFixturePaths[] = {"tools/testdata/spec_refs_bad_fixture.txt"};

struct Outline {
  std::set<std::string> sections;                              // "7", "7.4", ...
  std::map<std::string, std::set<std::string>> items;          // "13" -> {"1", ..., "20"}
};

// Parses docs/protocol.md; problems of the document itself are appended to `problems` as
// "docs/protocol.md:LINE: what".
Outline ParseOutline(absl::string_view markdown, std::vector<std::string>* problems);

struct Reference {
  int line = 0;                    // 1-based
  std::string text;                // as written, e.g. "§13 items 2 and 3"
  std::string section;             // "13"
  std::vector<std::string> items;  // "2", "3" (ranges expanded); empty if none named
};

// Every reference in `contents`, in order.
std::vector<Reference> FindReferences(absl::string_view contents);

struct Violation {
  std::string path;
  int line = 0;
  std::string message;  // e.g. "\"§13 item K\": docs/protocol.md §13 has no item K"
};

// The references in one file that `outline` does not define.
std::vector<Violation> CheckReferences(const Outline& outline, absl::string_view path,
                                       absl::string_view contents);

// "path:line: message"
std::string FormatViolation(const Violation& violation);

// Checks every text file under `root` (sources, headers, BUILD files, scripts, Markdown,
// dictionaries; not .git, not bazel-* output links, not symlinks, not binary files, not
// kFixturePaths) against `outline`. Files that cannot be read are violations.
std::vector<Violation> CheckTree(const std::string& root, const Outline& outline,
                                 int* files_scanned, int* references_found);

}  // namespace drpc::spec_refs

#endif  // DRPC_TOOLS_SPEC_REFS_H_
