#include "sim/shrink_runner.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/base/check.h"
#include "sim/recorder.h"

namespace drpc::sim::shrink_internal {
namespace {

// Records every decision the run asks (n > 1), with the answer it got: what the run consumed.
class RecordingDecisions final : public DecisionSource {
 public:
  explicit RecordingDecisions(DecisionSource& inner) : inner_(&inner) {}
  uint64_t Choose(absl::string_view site, uint64_t n) override {
    const uint64_t v = inner_->Choose(site, n);
    if (n > 1) consumed_.push_back({std::string(site), n, v});
    return v;
  }
  uint64_t count() const override { return inner_->count(); }
  const Decisions& consumed() const { return consumed_; }

 private:
  DecisionSource* inner_;
  Decisions consumed_;
};

TapeStats StatsOf(const RunResult& r, const Decisions& consumed, const Recorder* recorder) {
  TapeStats s;
  s.decisions = consumed.size();
  for (const Decision& d : consumed) s.nonzero_decisions += d.value != 0;
  s.fibers = r.fibers;
  s.switches = r.switches;
  s.connections = r.network.connections;
  s.faults_struck = r.network.faults_struck;
  if (recorder != nullptr) s.streams = recorder->counts().streams_opened;
  s.virtual_time = r.virtual_time;
  return s;
}

// --- Outcomes over a pipe (isolated candidates) ----------------------------------------------------

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

 private:
  absl::string_view data_;
};

std::string EncodeOutcome(const Outcome& o) {
  std::string out;
  PutU64(out, static_cast<uint64_t>(o.failure));
  PutU64(out, o.trace_hash);
  for (uint64_t v : {o.stats.fibers, o.stats.switches, o.stats.connections, o.stats.faults_struck,
                     o.stats.streams, static_cast<uint64_t>(o.stats.virtual_time.nanos())}) {
    PutU64(out, v);
  }
  PutString(out, o.message);
  Tape tape;
  tape.decisions = o.consumed;
  PutString(out, tape.Serialize());
  return out;
}

std::optional<Outcome> DecodeOutcome(absl::string_view data) {
  Reader r(data);
  Outcome o;
  uint64_t failure = 0, nanos = 0;
  std::string tape_text;
  if (!r.U64(&failure) || !r.U64(&o.trace_hash) || !r.U64(&o.stats.fibers) ||
      !r.U64(&o.stats.switches) || !r.U64(&o.stats.connections) ||
      !r.U64(&o.stats.faults_struck) || !r.U64(&o.stats.streams) || !r.U64(&nanos) ||
      !r.String(&o.message) || !r.String(&tape_text)) {
    return std::nullopt;
  }
  absl::StatusOr<Tape> tape = Tape::Parse(tape_text);
  if (!tape.ok()) return std::nullopt;
  o.failure = static_cast<FailureClass>(failure);
  o.consumed = std::move(tape->decisions);
  o.stats.virtual_time = Duration::Nanos(static_cast<int64_t>(nanos));
  o.stats.decisions = o.consumed.size();
  for (const Decision& d : o.consumed) o.stats.nonzero_decisions += d.value != 0;
  return o;
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

}  // namespace

Outcome RunHere(const ScenarioSpec& spec, const RunOptions& base, const Source& source, bool measure,
                int crash_fd) {
  std::optional<TapeDecisions> from_tape;
  std::optional<SeededDecisions> from_seed;
  DecisionSource* inner;
  if (source.tape != nullptr) {
    Tape t;
    t.decisions = *source.tape;
    inner = &from_tape.emplace(std::move(t));
  } else {
    inner = &from_seed.emplace(source.seed);
  }
  RecordingDecisions recording(*inner);
  Recorder recorder(Recorder::Options{.keep_events = false});
  RunOptions run = base;
  run.trace = {.echo = false, .ring_max_lines = 0};
  if (measure) run.recorder = &recorder;
  if (crash_fd >= 0) {
    run.exit_on_crash = true;
    run.on_crash = [&](absl::string_view message) {
      Outcome o;
      o.failure = FailureClass::kCrash;
      o.message = std::string(message);
      o.consumed = recording.consumed();
      // What the recorder counted (when measuring); the run's own statistics died with it.
      o.stats.fibers = recorder.counts().fibers;
      o.stats.connections = recorder.counts().connections;
      o.stats.faults_struck = recorder.counts().faults;
      o.stats.streams = recorder.counts().streams_opened;
      WriteAll(crash_fd, EncodeOutcome(o));
    };
  }
  RunResult r = RunSimulation(spec.body, recording, run);
  Outcome o;
  o.failure = r.failure;
  o.message = r.message;
  o.trace_hash = r.trace_hash;
  o.consumed = recording.consumed();
  o.stats = StatsOf(r, o.consumed, measure ? &recorder : nullptr);
  return o;
}

Child StartChild(const ScenarioSpec& spec, const RunOptions& base, const Source& source, bool measure) {
  int fds[2];
  DRPC_CHECK_EQ(pipe(fds), 0) << std::strerror(errno);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  DRPC_CHECK_GE(pid, 0) << "fork: " << std::strerror(errno);
  if (pid == 0) {
    close(fds[0]);
    // The simulator prints a crash's check and replay line to stderr: noise while shrinking.
    if (int null = open("/dev/null", O_WRONLY); null >= 0) dup2(null, STDERR_FILENO);
    const Outcome o = RunHere(spec, base, source, measure, fds[1]);
    _exit(WriteAll(fds[1], EncodeOutcome(o)) ? 0 : 3);
  }
  close(fds[1]);
  return Child{pid, fds[0]};
}

Outcome FinishChild(const Child& c, const Decisions* fallback) {
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(c.fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  close(c.fd);
  int status = 0;
  while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (std::optional<Outcome> o = DecodeOutcome(data); o.has_value()) return *std::move(o);
  // Killed before it could report (a signal): a crash whose consumed decisions are unknown.
  Outcome o;
  o.failure = FailureClass::kCrash;
  o.message = WIFSIGNALED(status) ? absl::StrCat("killed by signal ", WTERMSIG(status))
                                  : absl::StrCat("exited with status ", WEXITSTATUS(status));
  if (fallback != nullptr) o.consumed = *fallback;
  return o;
}

}  // namespace drpc::sim::shrink_internal
