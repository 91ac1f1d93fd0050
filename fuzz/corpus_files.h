// File access for tests and replay mains that read checked-in data (corpus/): the conformance
// captures and the fuzz corpora. Lives outside proto/, which must stay free of I/O.
//
//   std::string dir = RunfilesPath("corpus/conformance");
//   for (const std::string& path : ListFiles(dir, ".bin").value()) {
//     std::string bytes = ReadFile(path).value();
//   }
#ifndef DRPC_FUZZ_CORPUS_FILES_H_
#define DRPC_FUZZ_CORPUS_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace drpc::corpus {

// Path of a workspace-relative data file inside the runfiles tree of the running test or
// `bazel run` binary; the path unchanged when no runfiles tree is known.
std::string RunfilesPath(absl::string_view workspace_relative);

absl::StatusOr<std::string> ReadFile(const std::string& path);

// Regular files under `dir` (recursively) whose names end with `suffix`, sorted by path, so
// replays are deterministic. Hidden files (".gitkeep", editor droppings) are skipped.
absl::StatusOr<std::vector<std::string>> ListFiles(const std::string& dir,
                                                   absl::string_view suffix = "");

}  // namespace drpc::corpus

#endif  // DRPC_FUZZ_CORPUS_FILES_H_
