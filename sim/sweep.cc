#include "sim/sweep.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "proto/base/check.h"

namespace drpc::sim {
namespace {

struct SeedOutcome {
  FailureClass failure = FailureClass::kNone;
  std::string message;
  uint64_t trace_hash = 0;
  uint64_t decisions = 0;
  std::string tape_path;
  std::vector<std::string> reached;
};

SeedOutcome RunOne(const ScenarioSpec& spec, uint64_t seed, const SweepOptions& options) {
  RunOptions run = OptionsFor(spec, options.run);
  run.replay_command = ReplayCommand(options, spec.name, seed);
  RunResult r = RunSeed(spec.body, seed, run);
  SeedOutcome o;
  o.failure = r.failure;
  o.message = r.message;
  o.trace_hash = r.trace_hash;
  o.decisions = r.decisions;
  o.reached.assign(r.reached.begin(), r.reached.end());
  if (!r.ok() && !options.tape_dir.empty()) {
    // Determinism makes a second, recorded run identical; it is paid only for failures.
    SeededDecisions recording(seed, /*record=*/true);
    RunSimulation(spec.body, recording, run);
    Tape tape = recording.tape();
    SetTapeHeader(tape, spec.name, seed, run);
    const std::string path = absl::StrCat(options.tape_dir, "/", spec.name, "-", seed, ".tape");
    if (tape.SaveToFile(path).ok()) o.tape_path = path;
  }
  return o;
}

// --- Worker records over a pipe -------------------------------------------------------------------

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void PutString(std::string& out, absl::string_view s) {
  PutU64(out, s.size());
  out.append(s.data(), s.size());
}

class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}
  bool U64(uint64_t* v) {
    if (data_.size() < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) *v |= static_cast<uint64_t>(static_cast<unsigned char>(data_[i])) << (8 * i);
    data_.remove_prefix(8);
    return true;
  }
  bool String(std::string* s) {
    uint64_t n;
    if (!U64(&n) || data_.size() < n) return false;
    s->assign(data_.data(), n);
    data_.remove_prefix(n);
    return true;
  }
  size_t consumed(absl::string_view all) const { return all.size() - data_.size(); }

 private:
  absl::string_view data_;
};

constexpr uint64_t kBegin = 1;
constexpr uint64_t kResult = 2;

std::string EncodeResult(uint64_t seed, const SeedOutcome& o) {
  std::string body;
  PutU64(body, static_cast<uint64_t>(o.failure));
  PutU64(body, o.trace_hash);
  PutU64(body, o.decisions);
  PutString(body, o.message);
  PutString(body, o.tape_path);
  PutU64(body, o.reached.size());
  for (const std::string& s : o.reached) PutString(body, s);
  std::string rec;
  PutU64(rec, kResult);
  PutU64(rec, seed);
  PutString(rec, body);
  return rec;
}

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

struct Worker {
  pid_t pid = -1;
  int fd = -1;
  std::deque<uint64_t> pending;  // seeds not yet reported
  std::optional<uint64_t> running;
  std::string buffer;
};

Worker StartWorker(const ScenarioSpec& spec, const SweepOptions& options, std::deque<uint64_t> seeds) {
  int fds[2];
  DRPC_CHECK_EQ(pipe(fds), 0) << std::strerror(errno);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  DRPC_CHECK_GE(pid, 0) << "fork: " << std::strerror(errno);
  if (pid == 0) {
    close(fds[0]);
    for (uint64_t seed : seeds) {
      std::string begin;
      PutU64(begin, kBegin);
      PutU64(begin, seed);
      PutString(begin, "");
      if (!WriteAll(fds[1], begin)) _exit(3);
      if (!WriteAll(fds[1], EncodeResult(seed, RunOne(spec, seed, options)))) _exit(3);
    }
    _exit(0);
  }
  close(fds[1]);
  Worker w;
  w.pid = pid;
  w.fd = fds[0];
  w.pending = std::move(seeds);
  return w;
}

// Parses complete records in w.buffer into `results`.
void DrainRecords(Worker& w, std::map<uint64_t, SeedOutcome>& results) {
  absl::string_view all = w.buffer;
  size_t used = 0;
  for (;;) {
    Reader r(all.substr(used));
    uint64_t type, seed;
    std::string body;
    if (!r.U64(&type) || !r.U64(&seed) || !r.String(&body)) break;
    used += r.consumed(all.substr(used));
    if (type == kBegin) {
      w.running = seed;
      continue;
    }
    Reader b(body);
    SeedOutcome o;
    uint64_t failure = 0, n_reached = 0;
    b.U64(&failure);
    b.U64(&o.trace_hash);
    b.U64(&o.decisions);
    b.String(&o.message);
    b.String(&o.tape_path);
    b.U64(&n_reached);
    for (uint64_t i = 0; i < n_reached; ++i) {
      std::string s;
      if (b.String(&s)) o.reached.push_back(std::move(s));
    }
    o.failure = static_cast<FailureClass>(failure);
    results[seed] = std::move(o);
    w.running.reset();
    if (!w.pending.empty() && w.pending.front() == seed) w.pending.pop_front();
  }
  w.buffer.erase(0, used);
}

std::string DescribeExit(int status) {
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(status), " (", strsignal(WTERMSIG(status)), ")");
  }
  if (WEXITSTATUS(status) == ExitCodeFor(FailureClass::kCrash)) {
    return absl::StrCat("exited with status ", WEXITSTATUS(status), " (a failed DRPC_CHECK)");
  }
  return absl::StrCat("exited with status ", WEXITSTATUS(status));
}

class Progress {
 public:
  Progress(bool enabled, uint64_t total) : enabled_(enabled), total_(total), tty_(isatty(2)) {
    start_ = std::chrono::steady_clock::now();
  }
  void Update(uint64_t done, uint64_t failed, bool final_update = false) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!final_update && now - last_ < std::chrono::milliseconds(tty_ ? 100 : 5000)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const int width = 30;
    const int filled = total_ == 0 ? width : static_cast<int>(width * done / total_);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "%s[%s] %llu/%llu seeds  %.0f seeds/s  failures: %llu%s", tty_ ? "\r" : "",
                 bar.c_str(), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total_), secs > 0 ? done / secs : 0.0,
                 static_cast<unsigned long long>(failed), tty_ && !final_update ? "" : "\n");
    std::fflush(stderr);
  }

 private:
  bool enabled_;
  uint64_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_;
};

std::vector<uint64_t> SeedsOf(const SweepOptions& o) {
  std::vector<uint64_t> seeds;
  for (uint64_t i = 0; i < o.seeds; ++i) {
    if (o.shard_count <= 1 || i % o.shard_count == o.shard_index) seeds.push_back(o.first_seed + i);
  }
  return seeds;
}

void RunIsolated(const ScenarioSpec& spec, const SweepOptions& options, const std::vector<uint64_t>& seeds,
                 std::map<uint64_t, SeedOutcome>& results, Progress& progress) {
  const size_t jobs = static_cast<size_t>(std::max(1, options.jobs));
  const size_t chunk = std::clamp<size_t>(seeds.size() / (jobs * 8), 1, 64);
  std::deque<std::deque<uint64_t>> todo;
  for (size_t i = 0; i < seeds.size(); i += chunk) {
    todo.emplace_back(seeds.begin() + static_cast<ptrdiff_t>(i),
                      seeds.begin() + static_cast<ptrdiff_t>(std::min(seeds.size(), i + chunk)));
  }
  std::vector<Worker> workers;
  uint64_t failed = 0;
  while (!todo.empty() || !workers.empty()) {
    while (workers.size() < jobs && !todo.empty()) {
      workers.push_back(StartWorker(spec, options, std::move(todo.front())));
      todo.pop_front();
    }
    std::vector<pollfd> fds;
    for (const Worker& w : workers) fds.push_back({w.fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    for (size_t i = 0; i < workers.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Worker& w = workers[i];
      char buf[65536];
      const ssize_t n = read(w.fd, buf, sizeof(buf));
      if (n > 0) {
        w.buffer.append(buf, static_cast<size_t>(n));
        DrainRecords(w, results);
        continue;
      }
      // The worker is gone: a crash if it died in the middle of a seed.
      close(w.fd);
      int status = 0;
      waitpid(w.pid, &status, 0);
      if (w.running.has_value()) {
        SeedOutcome crash;
        crash.failure = FailureClass::kCrash;
        crash.message = absl::StrCat("worker ", DescribeExit(status),
                                     " while running this seed (its stderr shows the check)");
        results[*w.running] = crash;
        if (!w.pending.empty() && w.pending.front() == *w.running) w.pending.pop_front();
      }
      if (!w.pending.empty()) todo.push_front(std::move(w.pending));
      workers.erase(workers.begin() + static_cast<ptrdiff_t>(i));
      break;
    }
    failed = 0;
    for (const auto& [seed, o] : results) failed += o.failure != FailureClass::kNone;
    progress.Update(results.size(), failed);
  }
}

}  // namespace

uint64_t SweepResult::failed() const {
  uint64_t n = 0;
  for (const auto& [c, count] : by_class) {
    if (c != FailureClass::kNone) n += count;
  }
  return n;
}

std::string ReplayCommand(const SweepOptions& options, absl::string_view scenario, uint64_t seed) {
  return absl::StrReplaceAll(options.replay_template, {{"{scenario}", scenario},
                                                       {"{seed}", absl::StrCat(seed)},
                                                       {"{flags}", ReplayFlags(options.run)}});
}

std::string ReplayFlags(const RunOptions& run) {
  if (run.policy.kind == PolicySpec::Kind::kSwarm) return "";
  return absl::StrCat(" --policy=", run.policy.ToString());
}

void SetTapeHeader(Tape& tape, absl::string_view scenario, uint64_t seed, const RunOptions& run) {
  tape.header["scenario"] = std::string(scenario);
  tape.header["seed"] = absl::StrCat(seed);
  tape.header["policy"] = ResolvePolicy(run.policy, seed).ToString();
}

absl::Status ApplyTapeHeader(const Tape& tape, RunOptions& run) {
  auto it = tape.header.find("policy");
  if (it == tape.header.end()) return absl::OkStatus();
  absl::StatusOr<PolicySpec> policy = PolicySpec::Parse(it->second);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tape header: ", policy.status().message()));
  }
  run.policy = *policy;
  return absl::OkStatus();
}

SweepResult Sweep(const ScenarioSpec& spec, const SweepOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<uint64_t> seeds = SeedsOf(options);
  Progress progress(options.progress, seeds.size());
  std::map<uint64_t, SeedOutcome> results;
  if (options.isolate) {
    RunIsolated(spec, options, seeds, results, progress);
  } else {
    uint64_t failed = 0;
    for (uint64_t seed : seeds) {
      SeedOutcome o = RunOne(spec, seed, options);
      failed += o.failure != FailureClass::kNone;
      results[seed] = std::move(o);
      progress.Update(results.size(), failed);
    }
  }
  SweepResult r;
  r.scenario = spec.name;
  for (auto& [seed, o] : results) {
    ++r.runs;
    ++r.by_class[o.failure];
    r.total_decisions += o.decisions;
    for (const std::string& s : o.reached) ++r.reached[s];
    if (o.failure == FailureClass::kNone) continue;
    if (r.failures.size() < options.max_failures_kept) {
      r.failures.push_back({seed, o.failure, std::move(o.message), o.trace_hash, std::move(o.tape_path),
                            ReplayCommand(options, spec.name, seed)});
    } else {
      r.more_failures.push_back({seed, o.failure, "", o.trace_hash, std::move(o.tape_path),
                                 ReplayCommand(options, spec.name, seed)});
    }
  }
  if (options.shard_count == 1) {
    for (const Situation s : spec.situations) {
      if (!r.reached.contains(std::string(s.name()))) r.unreached.emplace_back(s.name());
    }
  }
  progress.Update(results.size(), r.failed(), /*final_update=*/true);
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

void PrintSummary(const ScenarioSpec& spec, const SweepResult& r, std::FILE* out) {
  std::fprintf(out, "scenario %s: %llu runs in %.2fs (%.0f seeds/s)\n", r.scenario.c_str(),
               static_cast<unsigned long long>(r.runs), r.wall_seconds,
               r.wall_seconds > 0 ? static_cast<double>(r.runs) / r.wall_seconds : 0.0);
  std::string classes;
  for (FailureClass c : {FailureClass::kNone, FailureClass::kCorrectness, FailureClass::kLiveness,
                         FailureClass::kDeadlock, FailureClass::kLeak, FailureClass::kCrash}) {
    auto it = r.by_class.find(c);
    const uint64_t n = it == r.by_class.end() ? 0 : it->second;
    absl::StrAppend(&classes, classes.empty() ? "" : ", ", FailureClassName(c), " ", n);
  }
  std::fprintf(out, "  %s\n", classes.c_str());
  for (const SeedFailure& f : r.failures) {
    std::fprintf(out, "FAIL seed %llu (%s): %s\n", static_cast<unsigned long long>(f.seed),
                 std::string(FailureClassName(f.failure)).c_str(), f.message.c_str());
    std::fprintf(out, "  replay: %s\n", f.replay_command.c_str());
    if (!f.tape_path.empty()) std::fprintf(out, "  tape:   %s\n", f.tape_path.c_str());
  }
  if (!r.more_failures.empty()) {
    std::fprintf(out, "%zu more failures (messages not kept; replay to see them):\n",
                 r.more_failures.size());
  }
  for (const SeedFailure& f : r.more_failures) {
    std::fprintf(out, "FAIL seed %llu (%s)  replay: %s\n", static_cast<unsigned long long>(f.seed),
                 std::string(FailureClassName(f.failure)).c_str(), f.replay_command.c_str());
  }
  for (const Situation situation : spec.situations) {
    const std::string s(situation.name());
    auto it = r.reached.find(s);
    std::fprintf(out, "  situation %-50s reached in %llu runs (required)%s\n", s.c_str(),
                 static_cast<unsigned long long>(it == r.reached.end() ? 0 : it->second),
                 it == r.reached.end() ? "  <-- NEVER REACHED" : "");
  }
  for (const auto& [s, runs] : r.reached) {
    if (std::find(spec.situations.begin(), spec.situations.end(), Situation(s)) !=
        spec.situations.end()) {
      continue;
    }
    std::fprintf(out, "  situation %-50s reached in %llu runs\n", s.c_str(),
                 static_cast<unsigned long long>(runs));
  }
}

int SweepExitCode(const SweepResult& r) {
  int code = 0;
  for (const auto& [c, n] : r.by_class) {
    if (c != FailureClass::kNone && n > 0) code = std::max(code, ExitCodeFor(c));
  }
  if (code == 0 && !r.unreached.empty()) code = kBlindExitCode;
  return code;
}

}  // namespace drpc::sim
