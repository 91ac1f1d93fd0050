// A main() for libFuzzer harnesses without libFuzzer: runs LLVMFuzzerTestOneInput once on every
// file named on the command line or found under a directory named there. Used by the
// *_replay_test targets (so `bazel test` replays every corpus) and by the *_fuzzer binaries in
// builds without --config=fuzz.
//
//   replay_main DIR_OR_FILE...      exit 0 when every input ran; 1 if an input is unreadable or
//                                   nothing was found (a replay of nothing proves nothing)
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "fuzz/corpus_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> Inputs(int argc, char** argv, bool* ok) {
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (!arg.empty() && arg[0] == '-') continue;  // libFuzzer flags are accepted and ignored
    std::string path = drpc::corpus::RunfilesPath(arg);
    absl::StatusOr<std::vector<std::string>> files = drpc::corpus::ListFiles(path);
    if (!files.ok()) files = drpc::corpus::ListFiles(arg);
    if (files.ok() && !files->empty()) {
      inputs.insert(inputs.end(), files->begin(), files->end());
    } else if (drpc::corpus::ReadFile(arg).ok()) {
      inputs.push_back(arg);
    } else {
      std::cerr << "replay: no inputs at " << arg << "\n";
      *ok = false;
    }
  }
  return inputs;
}

}  // namespace

int main(int argc, char** argv) {
  bool ok = true;
  const std::vector<std::string> inputs = Inputs(argc, argv, &ok);
  if (inputs.empty()) {
    std::cerr << "replay: usage: " << argv[0] << " DIR_OR_FILE... (found no inputs)\n";
    return 1;
  }
  for (const std::string& path : inputs) {
    absl::StatusOr<std::string> bytes = drpc::corpus::ReadFile(path);
    if (!bytes.ok()) {
      std::cerr << "replay: " << bytes.status() << "\n";
      ok = false;
      continue;
    }
    std::cerr << "replay: " << path << " (" << bytes->size() << " bytes)\n";
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
  }
  std::cout << "replay: ran " << inputs.size() << " inputs\n";
  return ok ? 0 : 1;
}
