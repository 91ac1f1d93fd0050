// hostile_soak: the attacks of issue 13 over loopback TCP against the production server (the
// echo_server's service and default budgets, 2 reactors, a fresh child process per attack), each for a bounded
// time, with an ordinary client probing the server meanwhile. Per attack it prints whether the
// server stayed alive, its peak RSS growth against the attack's budget, the probe calls' p50/p99,
// and PASS (alive, within budget, probe p99 < 1 s) or MISS.
//
//   bazel run -c opt //tools:hostile_soak                        # every attack, 10 s each
//   bazel run -c opt //tools:hostile_soak -- --duration=30s --attacks=crash,monopoly
//   bazel run -c opt //tools:hostile_soak -- --smoke             # tiny counts; what the test runs
//
// Exit status: 0 when every attack passed (--smoke: when the server stayed alive and within
// budget; timing is not judged), 1 otherwise, 2 on a usage error.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "impl/options.h"
#include "impl/router.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp_server.h"
#include "impl/testing/echo_service.h"
#include "impl/tunables.h"
#include "proto/limits.h"
#include "tools/bench/histogram.h"
#include "tools/bench/wire_client.h"
#include "tools/cli_flags.h"

namespace drpc::soak {
namespace {

using bench::FrameBytes;
using bench::Histogram;
using bench::UnaryCallBytes;
using bench::WireClient;
using Clock = std::chrono::steady_clock;

constexpr char kUnary[] = "/interop.Echo/Unary";
constexpr char kBidi[] = "/interop.Echo/Bidi";
constexpr char kServerStream[] = "/interop.Echo/ServerStream";
constexpr int64_t kMiB = 1 << 20;

constexpr char kUsage[] =
    "usage: hostile_soak [--attacks=a,b,...] [--duration=10s] [--smoke]\n"
    "  attacks: crash monopoly never_read metadata slowloris cancel_flood refusal_burst\n"
    "           half_close one_byte_short (default: all)\n"
    "  --duration  how long each attack runs (default 10s; at most 10m)\n"
    "  --smoke     tiny counts, 1 s per attack; judges alive and budget only\n";

struct Config {
  std::vector<std::string> attacks = {"crash",        "monopoly",      "never_read",
                                      "metadata",     "slowloris",     "cancel_flood",
                                      "refusal_burst", "half_close",   "one_byte_short"};
  absl::Duration duration = absl::Seconds(10);
  bool smoke = false;
  int scale(int full, int smoke_count) const { return smoke ? smoke_count : full; }
};

// --- The server, in a child process ----------------------------------------------------------------

struct ServerProcess {
  pid_t pid = -1;
  std::string upstream;  // addresses
  std::string mux;
};

// Runs in the child: both modes' servers with the echo service and default Options, until killed.
[[noreturn]] void ServeChild(int report_fd) {
  Router router = testing::EchoRouter();
  absl::StatusOr<std::unique_ptr<runtime::Runtime>> rt =
      runtime::Runtime::Start({.reactor_count = 2});
  if (!rt.ok()) _exit(3);
  runtime::TcpServerOptions up;
  runtime::TcpServerOptions mux;
  mux.connection.mux = true;
  absl::StatusOr<std::unique_ptr<runtime::TcpServer>> a = runtime::TcpServer::Start(**rt, router, up);
  absl::StatusOr<std::unique_ptr<runtime::TcpServer>> b = runtime::TcpServer::Start(**rt, router, mux);
  if (!a.ok() || !b.ok()) _exit(3);
  const std::string line = absl::StrCat((*a)->address(), " ", (*b)->address(), "\n");
  if (write(report_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(3);
  close(report_fd);
  for (;;) pause();
}

absl::StatusOr<ServerProcess> StartServer() {
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError("pipe");
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork");
  if (pid == 0) {
    close(fds[0]);
    ServeChild(fds[1]);
  }
  close(fds[1]);
  std::string line;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') line.push_back(c);
  close(fds[0]);
  std::vector<std::string> parts = absl::StrSplit(line, ' ');
  if (parts.size() != 2) return absl::InternalError("the server did not start");
  return ServerProcess{.pid = pid, .upstream = parts[0], .mux = parts[1]};
}

bool Alive(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == 0;
}

int64_t RssBytes(pid_t pid) {
  std::FILE* f = std::fopen(absl::StrCat("/proc/", pid, "/statm").c_str(), "r");
  if (f == nullptr) return 0;
  long size = 0, resident = 0;
  const int got = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  return got == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : 0;
}

// --- Probing and sampling while an attack runs ---------------------------------------------------

struct Watch {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> peak_rss{0};
  Histogram probe_ns;    // answered probes: a reply, or an Error refusing the call
  int probes_refused = 0;  // answered with an Error ("server busy": a budget the attack holds)
  int probes_failed = 0;   // no answer in 5 s, or the connection broke
};

// An ordinary client: one unary 64 B call every 10 ms on its own connection (a new one if the
// server closed it), each bounded by 5 s.
void Probe(const std::string& address, Watch& w) {
  const std::string payload(64, 'p');
  std::optional<WireClient> c;
  uint64_t stream = 0;
  while (!w.stop.load()) {
    if (!c.has_value()) {
      absl::StatusOr<WireClient> d = WireClient::Connect(address);
      if (!d.ok()) {
        ++w.probes_failed;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      c.emplace(*std::move(d));
      stream = 0;
    }
    ++stream;
    const auto t0 = Clock::now();
    absl::Status st = c->Send(UnaryCallBytes(stream, kUnary, payload));
    absl::StatusOr<std::string> r = st.ok() ? c->ReadReply(stream, absl::Seconds(5)) : st;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0);
    if (r.ok() && r->size() == payload.size()) {
      w.probe_ns.Record(static_cast<uint64_t>(ns.count()));
    } else if (absl::IsUnknown(r.status())) {  // an Error packet: refused, and told why
      w.probe_ns.Record(static_cast<uint64_t>(ns.count()));
      ++w.probes_refused;
    } else {
      ++w.probes_failed;
      c.reset();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Sample(pid_t pid, int64_t base, Watch& w) {
  while (!w.stop.load()) {
    const int64_t grown = RssBytes(pid) - base;
    if (grown > w.peak_rss.load()) w.peak_rss.store(grown);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// --- The attacks ---------------------------------------------------------------------------------

struct Attack {
  std::string name;
  std::string what;
  bool mux;
  // RSS growth the server's budgets allow for it (see BENCHMARKS.md, "Hostile soak").
  int64_t budget_bytes;
  // Runs until `stop` (or its work is done); returns a note for the table.
  std::function<std::string(const Config&, const std::string&, const std::atomic<bool>&)> run;
};

bool Stopped(const std::atomic<bool>& stop) { return stop.load(); }

void WaitForStop(const std::atomic<bool>& stop) {
  while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

std::vector<WireClient> Connect(const std::string& address, int n) {
  std::vector<WireClient> out;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<WireClient> c = WireClient::Connect(address);
    if (c.ok()) out.push_back(*std::move(c));
  }
  return out;
}

// Finding 1: 32 connections x 1,024 idle mux calls.
std::string Crash(const Config& cfg, const std::string& addr, const std::atomic<bool>& stop) {
  std::vector<WireClient> conns = Connect(addr, cfg.scale(32, 2));
  const int calls = cfg.scale(1024, 16);
  for (WireClient& c : conns) {
    std::string burst;
    for (int i = 0; i < calls; ++i) {
      absl::StrAppend(&burst, FrameBytes(2 * i + 1, 1, Kind::kInvoke, kBidi));
    }
    c.Send(burst).IgnoreError();
  }
  WaitForStop(stop);
  return absl::StrCat(conns.size(), " conns x ", calls, " idle calls");
}

// Finding 2: long server streams to clients that read as fast as they can (upstream).
std::string Monopoly(const Config& cfg, const std::string& addr, const std::atomic<bool>& stop) {
  const int n = cfg.scale(20, 2);
  std::vector<std::thread> readers;
  for (int i = 0; i < n; ++i) {
    readers.emplace_back([&] {
      while (!Stopped(stop)) {
        absl::StatusOr<WireClient> c = WireClient::Connect(addr);
        if (!c.ok()) return;
        if (!c->Send(UnaryCallBytes(1, kServerStream, "100000000")).ok()) return;
        // Reads whatever arrives as soon as it arrives, until the stream ends or the attack does.
        while (!Stopped(stop) && !c->WaitClosed(absl::Milliseconds(50))) {
        }
      }
    });
  }
  for (std::thread& t : readers) t.join();
  return absl::StrCat(n, " server streams read flat out");
}

// Finding 3: mux streams whose replies are never read (the client keeps sending).
std::string NeverRead(const Config& cfg, const std::string& addr, const std::atomic<bool>& stop) {
  absl::StatusOr<WireClient> c = WireClient::Connect(addr);
  if (!c.ok()) return "connect failed";
  const int streams = cfg.scale(256, 8);
  const std::string message(60 * 1024, 'n');
  int64_t sent = 0;
  std::string invokes;
  for (int s = 0; s < streams; ++s) absl::StrAppend(&invokes, FrameBytes(2 * s + 1, 1, Kind::kInvoke, kBidi));
  if (!c->Send(invokes).ok()) return "send failed";
  // Blocking sends: once the server stops reading (its budget), the kernel buffers fill and this
  // thread waits; the socket is closed when the attack ends.
  std::thread closer([&] {
    WaitForStop(stop);
    c->ShutdownWrite();
    shutdown(c->fd(), SHUT_RDWR);
  });
  for (uint64_t m = 2; !Stopped(stop); ++m) {
    for (int s = 0; s < streams && !Stopped(stop); ++s) {
      if (!c->Send(FrameBytes(2 * s + 1, m, Kind::kMessage, message)).ok()) break;
      sent += static_cast<int64_t>(message.size());
    }
  }
  closer.join();
  return absl::StrCat(streams, " streams, ", sent / kMiB, " MiB sent, none read");
}

// Finding 3: unfinished InvokeMetadata packets. The were 4 MiB; the server now fails a
// connection at the first frame past the metadata limit (limits::kMetadataMaxBytes, 1 MiB), so
// the attack leaves each packet one frame short of that limit instead.
std::string Metadata(const Config& cfg, const std::string& addr, const std::atomic<bool>& stop) {
  absl::StatusOr<WireClient> c = WireClient::Connect(addr);
  if (!c.ok()) return "connect failed";
  const int packets = cfg.scale(64, 2);
  const std::string chunk(64 * 1024, 'k');
  const int64_t packet_bytes = static_cast<int64_t>(limits::kMetadataMaxBytes - chunk.size());
  int sent = 0;
  for (int p = 0; p < packets && !Stopped(stop); ++p) {
    for (int64_t off = 0; off < packet_bytes && !Stopped(stop);
         off += static_cast<int64_t>(chunk.size())) {
      std::string f;
      AppendFrame(f, Frame{.id = {static_cast<uint64_t>(2 * p + 1), 1},
                           .kind = Kind::kInvokeMetadata, .done = false, .data = chunk});
      if (!c->Send(f).ok()) return absl::StrCat(sent, " packets started; the server closed");
    }
    ++sent;
  }
  WaitForStop(stop);
  return absl::StrCat(sent, " unfinished metadata packets of ", packet_bytes / 1024, " KiB held open");
}

// Finding 6: slowloris, one byte per second per connection.
std::string Slowloris(const Config& cfg, const std::string& addr, const std::atomic<bool>& stop) {
  std::vector<WireClient> conns = Connect(addr, cfg.scale(500, 10));
  const std::string frame = UnaryCallBytes(1, kUnary, "slow");
  size_t at = 0;
  int closed = 0;
  while (!Stopped(stop)) {
    closed = 0;
    for (WireClient& c : conns) {
      if (at < frame.size() && !c.Send(frame.substr(at, 1)).ok()) ++closed;
    }
    ++at;
    for (int i = 0; i < 100 && !Stopped(stop); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return absl::StrCat(conns.size(), " conns at 1 B/s; ", closed, " closed by the server");
}

// Finding 5: Cancels for unknown stream IDs stepping by 1,024 (mux).
std::string CancelFlood(const Config&, const std::string& addr, const std::atomic<bool>& stop) {
  absl::StatusOr<WireClient> c = WireClient::Connect(addr);
  if (!c.ok()) return "connect failed";
  uint64_t id = 1, frames = 0;
  while (!Stopped(stop)) {
    std::string batch;
    for (int i = 0; i < 1024; ++i, id += 1024, ++frames) {
      absl::StrAppend(&batch, FrameBytes(id, 1, Kind::kCancel));
    }
    if (!c->Send(batch).ok()) break;
    c->Drain();
  }
  return absl::StrCat(frames, " stepped-ID Cancels");
}

// Finding 4: 2,100 pipelined unary calls in one write (mux); how many are answered.
std::string RefusalBurst(const Config&, const std::string& addr, const std::atomic<bool>& stop) {
  absl::StatusOr<WireClient> c = WireClient::Connect(addr);
  if (!c.ok()) return "connect failed";
  std::string burst;
  const int calls = 2100;
  for (int i = 0; i < calls; ++i) absl::StrAppend(&burst, UnaryCallBytes(2 * i + 1, kUnary, "b"));
  if (!c->Send(burst).ok()) return "send failed";
  // Every call ends with its reply's CloseSend or with an Error (refused, and told so), in
  // whatever order the server writes them.
  int answered = 0, refused = 0;
  while (answered + refused < calls) {
    absl::StatusOr<WireClient::OwnedFrame> f = c->ReadFrame(absl::Seconds(5));
    if (!f.ok()) break;
    if (f->kind == Kind::kCloseSend || f->kind == Kind::kClose) ++answered;
    if (f->kind == Kind::kError) ++refused;
  }
  WaitForStop(stop);
  return absl::StrCat(answered, " answered, ", refused, " refused with an Error, of ", calls);
}

// Finding 7: a complete call followed at once by shutdown(SHUT_WR) (upstream here; mux in the
// simulator's hostile.mux): how many are answered.
std::string HalfClose(const Config& cfg, const std::string& addr, const std::atomic<bool>& stop) {
  const int n = cfg.scale(1000, 20);
  int answered = 0;
  for (int i = 0; i < n && !Stopped(stop); ++i) {
    absl::StatusOr<WireClient> c = WireClient::Connect(addr);
    if (!c.ok()) continue;
    c->Send(UnaryCallBytes(1, kUnary, "half")).IgnoreError();
    c->ShutdownWrite();
    if (c->ReadReply(1, absl::Seconds(5)).ok()) ++answered;
  }
  WaitForStop(stop);
  return absl::StrCat(answered, " of ", n, " answered");
}

// Finding 3: a frame that stops one byte short (held until frame_timeout closes it).
std::string OneByteShort(const Config& cfg, const std::string& addr, const std::atomic<bool>& stop) {
  std::vector<WireClient> conns = Connect(addr, cfg.scale(100, 4));
  const std::string frame = FrameBytes(1, 1, Kind::kInvoke, std::string(1000, 'r'));
  for (WireClient& c : conns) c.Send(frame.substr(0, frame.size() - 1)).IgnoreError();
  WaitForStop(stop);
  int closed = 0;
  for (WireClient& c : conns) closed += c.Drain() ? 0 : 1;
  return absl::StrCat(conns.size(), " conns one byte short; ", closed,
                      " closed by the server (frame_timeout ",
                      tunables::kFrameTimeoutDefault.ToString(), ")");
}

std::vector<Attack> Attacks() {
  const int64_t conn = static_cast<int64_t>(tunables::kConnectionBufferedDefaultMaxBytes);
  // Beyond buffered bytes: what each call's fiber (its touched stack pages and call state) and
  // each connection (its fibers and buffers) cost, and the process's own slack.
  constexpr int64_t kPerCall = 24 * 1024, kPerConn = 64 * 1024, kSlack = 64 * kMiB;
  return {
      {"crash", "32 conns x 1,024 idle mux calls", true, 32 * 1024 * kPerCall + 32 * kPerConn + kSlack,
       Crash},
      {"monopoly", "20 long server streams, fast readers (upstream)", false,
       20 * (conn + kPerConn) + kSlack, Monopoly},
      {"never_read", "256 mux streams never read", true, conn + 256 * kPerCall + kSlack, NeverRead},
      {"metadata", "64 unfinished InvokeMetadata just under the 1 MiB limit", true, conn + kSlack,
       Metadata},
      {"slowloris", "500 conns x 1 B/s", false, 500 * kPerConn + kSlack, Slowloris},
      {"cancel_flood", "Cancels stepping IDs by 1,024 (mux)", true, conn + kSlack, CancelFlood},
      {"refusal_burst", "2,100 pipelined calls (mux)", true, conn + 1024 * kPerCall + kSlack,
       RefusalBurst},
      {"half_close", "call then shutdown(SHUT_WR), 1,000 conns", false, kPerConn * 16 + kSlack,
       HalfClose},
      {"one_byte_short", "a frame one byte short, 100 conns", false, 100 * kPerConn + kSlack,
       OneByteShort},
  };
}

double Millis(uint64_t ns) { return ns / 1e6; }

// Runs one attack with the probe and the sampler beside it; prints its row. True if it passed.
bool RunAttack(const Config& cfg, const ServerProcess& server, const Attack& a) {
  const std::string& target = a.mux ? server.mux : server.upstream;
  const int64_t base = RssBytes(server.pid);
  Watch w;
  std::atomic<bool> stop{false};
  std::string note;
  std::thread attacker([&] { note = a.run(cfg, target, stop); });
  std::thread prober([&] { Probe(target, w); });
  std::thread sampler([&] { Sample(server.pid, base, w); });
  const auto end = Clock::now() + absl::ToChronoNanoseconds(cfg.duration);
  while (Clock::now() < end && Alive(server.pid)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop.store(true);
  attacker.join();
  w.stop.store(true);
  prober.join();
  sampler.join();
  // Alive: the process runs and a fresh ordinary call is answered. --smoke judges no timing, so
  // there the answer may take as long as a loaded machine needs (a wedged server hangs the test
  // until its timeout instead of missing a few seconds' deadline on a busy machine).
  bool alive = Alive(server.pid);
  if (alive) {
    const absl::Duration patience = cfg.smoke ? absl::Hours(1) : absl::Seconds(5);
    absl::StatusOr<WireClient> c = WireClient::Connect(target);
    alive = c.ok() && c->Send(UnaryCallBytes(1, kUnary, "alive")).ok() &&
            c->ReadReply(1, patience).ok();
  }
  const bool within = w.peak_rss.load() <= a.budget_bytes;
  const double p99 = Millis(w.probe_ns.Percentile(0.99));
  const bool timely = w.probe_ns.count() > 0 && p99 < 1000 && w.probes_failed == 0;
  const bool pass = alive && within && (cfg.smoke || timely);
  std::printf(
      "| %s | %s | %s | %.1f MiB / %.1f MiB | %.2f / %.2f ms (%llu answered, %d refused, %d failed) "
      "| %s | %s |\n",
      a.name.c_str(), a.what.c_str(), alive ? "yes" : "NO", w.peak_rss.load() / double(kMiB),
      a.budget_bytes / double(kMiB), Millis(w.probe_ns.Percentile(0.5)), p99,
      static_cast<unsigned long long>(w.probe_ns.count()), w.probes_refused, w.probes_failed,
      note.c_str(), pass ? "PASS" : "MISS");
  std::fflush(stdout);
  return pass;
}

bool ParseArgs(int argc, char** argv, Config& cfg) {
  for (int i = 1; i < argc; ++i) {
    std::optional<cli::CliFlag> f = cli::ParseCliFlag(argv[i]);
    bool ok = f.has_value();
    if (!ok) {
    } else if (f->name == "help" || f->name == "h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (f->name == "attacks" && f->value) {
      cfg.attacks = absl::StrSplit(*f->value, ',', absl::SkipEmpty());
      for (const std::string& name : cfg.attacks) {
        bool known = false;
        for (const Attack& a : Attacks()) known = known || a.name == name;
        ok = ok && known;
      }
    } else if (f->name == "duration" && f->value) {
      absl::StatusOr<Duration> d = cli::ParseCliDuration(*f->value);
      ok = d.ok() && *d > Duration::Zero() && *d <= Duration::Seconds(600);
      if (ok) cfg.duration = absl::Nanoseconds(d->nanos());
    } else if (f->name == "smoke" && !f->value) {
      cfg.smoke = true;
      cfg.duration = absl::Seconds(1);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "hostile_soak: bad argument \"%s\"\n%s", argv[i], kUsage);
      return false;
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Config cfg;
  if (!ParseArgs(argc, argv, cfg)) return 2;
  std::printf("hostile soak: %s per attack%s; a fresh server process per attack (2 reactors, "
              "default Options, upstream and mux listeners)\n\n",
              absl::FormatDuration(cfg.duration).c_str(), cfg.smoke ? " (smoke)" : "");
  std::printf("| attack | what | alive | peak RSS growth / budget | probe p50 / p99 | note | |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  bool all = true;
  for (const Attack& a : Attacks()) {
    if (std::find(cfg.attacks.begin(), cfg.attacks.end(), a.name) == cfg.attacks.end()) continue;
    // A fresh server: its RSS growth is this attack's alone (not memory an earlier one left).
    absl::StatusOr<ServerProcess> server = StartServer();
    if (!server.ok()) {
      std::fprintf(stderr, "hostile_soak: %s\n", server.status().ToString().c_str());
      return 1;
    }
    all = RunAttack(cfg, *server, a) && all;
    kill(server->pid, SIGKILL);
    waitpid(server->pid, nullptr, 0);
  }
  return all ? 0 : 1;
}

}  // namespace
}  // namespace drpc::soak

int main(int argc, char** argv) { return drpc::soak::Main(argc, argv); }
