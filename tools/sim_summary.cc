// bazel run //tools:sim_summary -- PATH...
// Merges the results of a simulation sweep split across test shards (or machines): reads the
// "drpc-sim:" lines (sim/world/shard_summary.h) of every test.log under each directory PATH, or
// of each file PATH, and prints per scenario the runs by failure class over all shards, missing
// shards, every failure with its replay line, and situations no shard reached.
//
//   bazel test //examples/kv:replicated_kv_sim_test --test_sharding_strategy=explicit
//   bazel run //tools:sim_summary -- $PWD/bazel-testlogs/examples/kv/replicated_kv_sim_test
//
// Exit code: 0 when every sweep is complete and passed; else the highest failure class's code
// (10 correctness, 11 liveness, 12 deadlock, 13 leak, 14 crash), 15 for a situation never
// reached, 3 for a missing or inconsistent shard, 2 for unreadable input.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/world/shard_summary.h"

namespace {

// Whether `dir` holds shard_I_of_N directories: Bazel then leaves the target's own test.log from
// an earlier unsharded run (a --test_output=streamed replay, say) beside them, which is not part
// of the sharded sweep.
bool HasShardDirs(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec) && it->path().filename().string().rfind("shard_", 0) == 0) {
      return true;
    }
  }
  return false;
}

// The files to read: PATH itself, or every test.log under it (but the stale one beside shard
// directories), sorted.
std::vector<std::string> LogsUnder(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return {path};
  for (fs::recursive_directory_iterator it(path, fs::directory_options::follow_directory_symlink,
                                           ec), end;
       !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().filename() == "test.log" &&
        !HasShardDirs(it->path().parent_path())) {
      out.push_back(it->path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sim_summary PATH... (test logs, or directories holding them)\n");
    return 2;
  }
  std::vector<drpc::sim::ShardReport> reports;
  int logs = 0;
  for (int i = 1; i < argc; ++i) {
    for (const std::string& file : LogsUnder(argv[i])) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "sim_summary: cannot read %s\n", file.c_str());
        return 2;
      }
      std::stringstream text;
      text << in.rdbuf();
      absl::StatusOr<std::vector<drpc::sim::ShardReport>> r =
          drpc::sim::ParseShardReports(text.str());
      if (!r.ok()) {
        std::fprintf(stderr, "sim_summary: %s: %s\n", file.c_str(),
                     std::string(r.status().message()).c_str());
        return 2;
      }
      reports.insert(reports.end(), r->begin(), r->end());
      ++logs;
    }
  }
  const drpc::sim::MergedSummary merged = drpc::sim::MergeShardReports(reports);
  std::printf("%d log(s) read\n%s", logs, drpc::sim::FormatMergedSummary(merged).c_str());
  return merged.exit_code;
}
