// bazel run //tools:dump -- FILE [--mode=upstream|mux] [--packets-only]
//     [--error_format=upstream|grpc-status] [--compression=snappy|minlz-fastest]
//
// Prints one line per frame and per packet of a captured DRPC byte stream (see dump_lib.h for
// the format). A relative FILE is resolved against the directory `bazel run` was started from.
// Exit status: 0 clean, 1 protocol error or truncated input (the line says where), 2 usage or
// I/O error.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "tools/dump_lib.h"

namespace {

int Usage(const char* message) {
  std::cerr << "dump: " << message << "\n"
            << "usage: bazel run //tools:dump -- FILE [--mode=upstream|mux] [--packets-only]\n"
            << "         [--error_format=upstream|grpc-status]"
            << " [--compression=snappy|minlz-fastest]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  drpc::dump::DumpOptions options;
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--mode=upstream") {
      options.mode = drpc::dump::DumpMode::kUpstream;
    } else if (arg == "--mode=mux") {
      options.mode = drpc::dump::DumpMode::kMux;
    } else if (arg == "--packets-only") {
      options.frames = false;
    } else if (arg.rfind("--error_format=", 0) == 0) {
      std::optional<drpc::ErrorFormat> f = drpc::ErrorFormatFromName(arg.substr(15));
      if (!f.has_value()) return Usage(("unknown error format in " + arg).c_str());
      options.error_format = *f;
    } else if (arg.rfind("--compression=", 0) == 0) {
      std::optional<drpc::Compression> c = drpc::CompressionFromName(arg.substr(14));
      if (!c.has_value()) return Usage(("unknown compression in " + arg).c_str());
      options.compression = *c;
    } else if (arg.rfind("--", 0) == 0 || !path.empty()) {
      return Usage(("unexpected argument " + arg).c_str());
    } else {
      path = arg;
    }
  }
  if (path.empty()) return Usage("missing FILE");
  // `bazel run` starts the binary in its runfiles tree; the user's directory is passed along.
  const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY");
  if (path[0] != '/' && cwd != nullptr) path = std::string(cwd) + "/" + path;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "dump: cannot open " << path << "\n";
    return 2;
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return drpc::dump::DumpStream(bytes.str(), options, std::cout);
}
