// tools/bench: drpc-cpp over real loopback TCP on the production runtime, each number next to a
// raw TCP baseline measured in the same process and window, with the ratio and the targets of
// tracker issues 7 and 18, and the allocations per call and per message. See BENCHMARKS.md for the method and results.
//
//   bazel run -c opt //tools:bench                                   # everything, ~2 minutes
//   taskset -c 0 bazel-bin/tools/bench --placement=two --modes=unary  # the pinned latency target
//   bazel run -c opt //tools:bench -- --smoke                        # seconds; what the test runs
//
// Every row is the median over --rounds rounds; each round measures the baseline and then drpc,
// back to back, so both see the same machine load.
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "proto/limits.h"
#include "tools/bench/alloc_counter.h"
#include "tools/bench/drpc_bench.h"
#include "tools/bench/many_connections.h"
#include "tools/bench/idle_connections.h"
#include "tools/bench/raw_tcp.h"
#include "tools/cli_flags.h"

namespace drpc::bench {
namespace {

constexpr char kUsage[] =
    "usage: bench [--modes=unary,unary_mux,mux16,stream,stream_mux,server_stream,streams,idle,\n"
    "                      conns] [--placement=one,two] [--connections=256]\n"
    "             [--idle_connections=1000]\n"    "             [--duration=1s] [--rounds=3] [--stream_sizes=64,4096,1048576]\n"
    "             [--streams=10000] [--concurrency=16] [--idle_connections=1000] [--smoke]\n"
    "             [--split_bytes=65536] [--verbose]\n"
    "  --modes         what to measure (default: all)\n"
    "  --placement     one: client and server on one reactor thread; two: one reactor thread\n"
    "                  each (default: one,two)\n"
    "  --duration      length of each measurement (default 1s)\n"
    "  --rounds        rounds per row; each prints the median (default 3)\n"
    "  --stream_sizes  message sizes of the streaming rows (default 64,4096,1048576)\n"
    "  --streams       concurrent idle streams on one mux connection (default 10000)\n"
    "  --concurrency   concurrent unary calls on one mux connection (default 16)\n"
    "  --connections   connections of the conns rows, one call in flight each (default 256)\n"
    "  --idle_connections  idle connections of the idle rows, both modes (default 1000)\n"
    "  --split_bytes   frame size of the streaming rows' messages, both ends (default 65536,\n"
    "                  Go's; larger frames go from the socket straight into the message)\n"
    "  --smoke         tiny counts, for the test (50ms, 1 round, 200 streams)\n"
    "  --verbose       print every round\n";

struct Config {
  std::vector<std::string> modes = {"unary",         "unary_mux", "mux16", "stream", "stream_mux",
                                    "server_stream", "streams",   "idle",  "conns"};  std::vector<Placement> placements = {Placement::kOneReactor, Placement::kTwoReactors};
  absl::Duration duration = absl::Seconds(1);
  int rounds = 3;
  std::vector<size_t> stream_sizes = {64, 4096, 1 << 20};
  size_t streams = 10000;
  size_t concurrency = 16;
  size_t connections = 256;
  size_t idle_connections = 1000;
  size_t split_bytes = 0;  // 0: Options' default
  bool verbose = false;
};

// One line of the results table. ratio = drpc / baseline (medians).
struct Row {
  std::string name;
  std::string unit;
  std::vector<double> drpc;      // one per round
  std::string baseline_name;
  std::vector<double> baseline;  // one per round; empty: no baseline
  std::string target;            // "<= 1.4x", ">= 0.8x", or text
  std::function<bool(double ratio, double drpc)> pass;  // empty: no verdict
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string PlacementName(Placement p) {
  return p == Placement::kOneReactor ? "1 thread" : "2 threads";
}

RawTcpShape ShapeOf(Placement p) {
  return p == Placement::kOneReactor ? RawTcpShape::kOneThread : RawTcpShape::kTwoThreads;
}

std::string SizeName(size_t bytes) {
  if (bytes >= (1 << 20) && bytes % (1 << 20) == 0) return absl::StrCat(bytes >> 20, " MiB");
  if (bytes >= 1024 && bytes % 1024 == 0) return absl::StrCat(bytes >> 10, " KiB");
  return absl::StrCat(bytes, " B");
}

std::string Format(double v) {
  if (v >= 100000) return absl::StrFormat("%.0f", v);
  if (v >= 100) return absl::StrFormat("%.1f", v);
  if (v > 0 && v < 1) return absl::StrFormat("%.3f", v);
  return absl::StrFormat("%.2f", v);
}

void PrintRow(const Row& row, bool verbose) {
  const double d = Median(row.drpc);
  std::string baseline = "-", ratio = "-", verdict = "";
  if (!row.baseline.empty()) {
    const double b = Median(row.baseline);
    baseline = absl::StrCat(Format(b), " (", row.baseline_name, ")");
    const double r = b > 0 ? d / b : 0;
    ratio = absl::StrFormat("%.2fx", r);
    if (row.pass) verdict = row.pass(r, d) ? "PASS" : "MISS";
  } else if (row.pass) {
    verdict = row.pass(0, d) ? "PASS" : "MISS";
  }
  std::printf("| %s | %s %s | %s | %s | %s | %s |\n", row.name.c_str(), Format(d).c_str(),
              row.unit.c_str(), baseline.c_str(), ratio.c_str(), row.target.c_str(), verdict.c_str());
  if (verbose) {
    std::string rounds;
    for (size_t i = 0; i < row.drpc.size(); ++i) {
      absl::StrAppend(&rounds, " ", Format(row.drpc[i]));
      if (i < row.baseline.size()) absl::StrAppend(&rounds, "/", Format(row.baseline[i]));
    }
    std::printf("|   rounds (drpc/baseline):%s | | | | | |\n", rounds.c_str());
  }
  std::fflush(stdout);
}

// Runs `round` cfg.rounds times; `round` appends one value to each row's vectors.
template <typename F>
absl::Status Rounds(const Config& cfg, F round) {
  for (int i = 0; i < cfg.rounds; ++i) {
    if (absl::Status st = round(); !st.ok()) return st;
  }
  return absl::OkStatus();
}

double Micros(uint64_t ns) { return ns / 1000.0; }

double PerItem(uint64_t allocations, uint64_t items) {
  return items == 0 ? 0 : static_cast<double>(allocations) / items;
}

// operator new calls per call or message, client and server together (no baseline, no target).
Row AllocationsRow(std::string name) {
  return Row{.name = std::move(name), .unit = "", .target = "-"};
}

void PrintAllocationsRow(const Row& row, bool verbose) {
  if (HasAllocationCounter()) PrintRow(row, verbose);
}

absl::Status RunUnary(const Config& cfg, Placement p, bool mux) {
  const std::string where = absl::StrCat(mux ? "mux" : "upstream", ", ", PlacementName(p));
  Row p50{.name = absl::StrCat("unary 64 B p50 (", where, ")"), .unit = "us",
          .baseline_name = "raw ping-pong p50", .target = "<= 1.25x",
          .pass = [](double r, double) { return r <= 1.25; }};
  Row p99{.name = absl::StrCat("unary 64 B p99 (", where, ")"), .unit = "us",
          .baseline_name = "raw ping-pong p99", .target = "-"};
  Row rate{.name = absl::StrCat("unary 64 B calls/s (", where, ")"), .unit = "/s",
           .baseline_name = "raw round trips/s", .target = "-"};
  Row allocs = AllocationsRow(absl::StrCat("allocations per unary call (", where, ")"));
  // The raw ping-pong makes 4 by construction (a write and a read each way).
  Row syscalls{.name = absl::StrCat("system calls per unary call (", where, ")"), .unit = "",
               .baseline_name = "raw ping-pong: write + read each way", .target = "-"};
  absl::StatusOr<std::unique_ptr<DrpcBench>> bench = DrpcBench::Start({.placement = p, .mux = mux});
  if (!bench.ok()) return bench.status();
  absl::Status st = Rounds(cfg, [&]() -> absl::Status {
    absl::StatusOr<PingPongResult> raw = RawPingPong(ShapeOf(p), 64, cfg.duration);
    if (!raw.ok()) return raw.status();
    absl::StatusOr<LatencyResult> d = UnaryLatency(**bench, 64, cfg.duration);
    if (!d.ok()) return d.status();
    p50.baseline.push_back(Micros(raw->latency_ns.Percentile(0.5)));
    p50.drpc.push_back(Micros(d->latency_ns.Percentile(0.5)));
    p99.baseline.push_back(Micros(raw->latency_ns.Percentile(0.99)));
    p99.drpc.push_back(Micros(d->latency_ns.Percentile(0.99)));
    rate.baseline.push_back(raw->round_trips_per_second);
    rate.drpc.push_back(d->calls_per_second);
    allocs.drpc.push_back(PerItem(d->allocations, d->calls));
    syscalls.drpc.push_back(PerItem(d->syscalls, d->calls));
    syscalls.baseline.push_back(4);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  for (const Row* r : {&p50, &p99, &rate, &syscalls}) PrintRow(*r, cfg.verbose);
  PrintAllocationsRow(allocs, cfg.verbose);
  return absl::OkStatus();
}

absl::Status RunConcurrent(const Config& cfg, Placement p) {
  Row rate{.name = absl::StrCat(cfg.concurrency, "-way unary 64 B on one mux conn (",
                                PlacementName(p), ")"),
           .unit = "calls/s", .baseline_name = "raw round trips/s, 1 in flight",
           .target = ">= 2x gRPC: tools/bench_grpc.sh"};
  Row p99{.name = absl::StrCat(cfg.concurrency, "-way unary 64 B p99 (", PlacementName(p), ")"),
          .unit = "us", .target = "-"};
  Row allocs = AllocationsRow(
      absl::StrCat("allocations per call, ", cfg.concurrency, "-way (", PlacementName(p), ")"));
  absl::StatusOr<std::unique_ptr<DrpcBench>> bench = DrpcBench::Start({.placement = p, .mux = true});
  if (!bench.ok()) return bench.status();
  absl::Status st = Rounds(cfg, [&]() -> absl::Status {
    absl::StatusOr<PingPongResult> raw = RawPingPong(ShapeOf(p), 64, cfg.duration);
    if (!raw.ok()) return raw.status();
    absl::StatusOr<LatencyResult> d = ConcurrentUnary(**bench, cfg.concurrency, 64, cfg.duration);
    if (!d.ok()) return d.status();
    rate.baseline.push_back(raw->round_trips_per_second);
    rate.drpc.push_back(d->calls_per_second);
    p99.drpc.push_back(Micros(d->latency_ns.Percentile(0.99)));
    allocs.drpc.push_back(PerItem(d->allocations, d->calls));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  PrintRow(rate, cfg.verbose);
  PrintRow(p99, cfg.verbose);
  PrintAllocationsRow(allocs, cfg.verbose);
  return absl::OkStatus();
}

absl::Status RunStreaming(const Config& cfg, Placement p, bool mux) {
  absl::StatusOr<std::unique_ptr<DrpcBench>> bench =
      DrpcBench::Start({.placement = p, .mux = mux, .split_bytes = cfg.split_bytes});
  if (!bench.ok()) return bench.status();
  const std::string where =
      absl::StrCat(mux ? "mux" : "upstream", ", ", PlacementName(p),
                   cfg.split_bytes == 0 ? "" : absl::StrCat(", split ", SizeName(cfg.split_bytes)));
  for (size_t size : cfg.stream_sizes) {
    const bool small = size < 1024;
    Row row{.name = absl::StrCat("stream ", SizeName(size), " (", where, ")"),
            .unit = small ? "msgs/s" : "MB/s",
            .baseline_name = absl::StrCat("raw TCP ", SizeName(size), " writes"),
            .target = "-"};
    if (size == 64) {
      row.target = ">= 1.0x";
      row.pass = [](double r, double) { return r >= 1.0; };
    } else if (size == (1 << 20)) {
      row.target = ">= 0.9x";
      row.pass = [](double r, double) { return r >= 0.9; };
    }
    Row allocs = AllocationsRow(
        absl::StrCat("allocations per ", SizeName(size), " message (", where, ")"));
    absl::Status st = Rounds(cfg, [&]() -> absl::Status {
      absl::StatusOr<double> raw = RawBulk(ShapeOf(p), size, cfg.duration);
      if (!raw.ok()) return raw.status();
      absl::StatusOr<StreamResult> d = ClientStreaming(**bench, size, cfg.duration);
      if (!d.ok()) return d.status();
      row.baseline.push_back(small ? *raw / size : *raw / 1e6);
      row.drpc.push_back(small ? d->messages_per_second : d->bytes_per_second / 1e6);
      allocs.drpc.push_back(PerItem(d->allocations, d->messages));
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    PrintRow(row, cfg.verbose);
    PrintAllocationsRow(allocs, cfg.verbose);
  }
  return absl::OkStatus();
}

// The server's send path (a server stream of small messages) next to its receive path (a client
// stream of 64 B messages) on one connection, same rounds: receiving should not be the slower.
absl::Status RunServerStream(const Config& cfg, Placement p) {
  absl::StatusOr<std::unique_ptr<DrpcBench>> bench = DrpcBench::Start({.placement = p, .mux = false});
  if (!bench.ok()) return bench.status();
  const std::string where = absl::StrCat("upstream, ", PlacementName(p));
  Row send{.name = absl::StrCat("server stream, 5-10 B msgs (", where, ")"), .unit = "msgs/s",
           .target = "-"};
  Row ratio{.name = absl::StrCat("server receive / send rate (", where, ")"), .unit = "msgs/s",
            .baseline_name = "server stream msgs/s", .target = ">= 1.0x",
            .pass = [](double r, double) { return r >= 1.0; }};
  Row allocs = AllocationsRow(absl::StrCat("allocations per server-stream message (", where, ")"));
  absl::Status st = Rounds(cfg, [&]() -> absl::Status {
    absl::StatusOr<StreamResult> out = ServerStreaming(**bench, cfg.duration);
    if (!out.ok()) return out.status();
    absl::StatusOr<StreamResult> in = ClientStreaming(**bench, 64, cfg.duration);
    if (!in.ok()) return in.status();
    send.drpc.push_back(out->messages_per_second);
    ratio.drpc.push_back(in->messages_per_second);
    ratio.baseline.push_back(out->messages_per_second);
    allocs.drpc.push_back(PerItem(out->allocations, out->messages));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  PrintRow(send, cfg.verbose);
  PrintRow(ratio, cfg.verbose);
  PrintAllocationsRow(allocs, cfg.verbose);
  return absl::OkStatus();
}

absl::Status RunIdleStreams(const Config& cfg, Placement p) {
  const std::string where = absl::StrCat(cfg.streams, " streams, ", PlacementName(p));
  Row rss{.name = absl::StrCat("idle stream memory, RSS (", where, ")"), .unit = "KiB/stream",
          .target = "-"};
  Row heap{.name = absl::StrCat("idle stream memory, heap (", where, ")"), .unit = "KiB/stream",
           .target = "<= 4 KiB", .pass = [](double, double d) { return d <= 4.0; }};
  Row threads{.name = absl::StrCat("threads with the streams open (", where, ")"), .unit = "",
              .baseline_name = "before", .target = "no thread per stream",
              .pass = [streams = cfg.streams](double, double d) { return d < streams / 2.0; }};
  Row open{.name = absl::StrCat("open + first echo (", where, ")"), .unit = "streams/s",
           .target = "-"};
  Row probe{.name = absl::StrCat("unary 64 B p99 while open (", where, ")"), .unit = "us",
            .baseline_name = "same conn, no streams", .target = "-"};
  absl::StatusOr<std::unique_ptr<DrpcBench>> bench = DrpcBench::Start(
      {.placement = p, .mux = true, .streams_max_count = cfg.streams + 64});
  if (!bench.ok()) return bench.status();
  absl::Status st = Rounds(cfg, [&]() -> absl::Status {
    absl::StatusOr<LatencyResult> quiet = UnaryLatency(**bench, 64, cfg.duration);
    if (!quiet.ok()) return quiet.status();
    absl::StatusOr<IdleStreamsResult> d = IdleStreams(**bench, cfg.streams, cfg.duration);
    if (!d.ok()) return d.status();
    rss.drpc.push_back(d->rss_bytes_per_stream / 1024);
    heap.drpc.push_back(d->heap_bytes_per_stream / 1024);
    threads.drpc.push_back(d->threads_with_streams);
    threads.baseline.push_back(d->threads_before);
    open.drpc.push_back(d->streams / d->open_seconds);
    probe.drpc.push_back(Micros(d->probe.latency_ns.Percentile(0.99)));
    probe.baseline.push_back(Micros(quiet->latency_ns.Percentile(0.99)));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  for (const Row* r : {&rss, &heap, &threads, &open, &probe}) PrintRow(*r, cfg.verbose);
  return absl::OkStatus();
}

void PrintMachine(const Config& cfg) {
  std::string cpu = "unknown";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  utsname u{};
  uname(&u);
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof(set), &set);
  std::printf("machine: %ld CPUs online, %d allowed (affinity), %s, %s %s\n",
              sysconf(_SC_NPROCESSORS_ONLN), CPU_COUNT(&set), cpu.c_str(), u.sysname, u.release);
  std::printf("bench: %s per measurement, %d round(s), median shown; ratio = drpc / baseline\n\n",
              absl::FormatDuration(cfg.duration).c_str(), cfg.rounds);
  std::printf("| measurement | drpc | baseline | ratio | target | |\n");
  std::printf("|---|---|---|---|---|---|\n");
}

// Many connections with one call in flight each, on 1 and on 2 reactors (threads) per side, next
// to raw epoll echo threads in the same rounds; then how each scales from 1 to 2.
absl::Status RunManyConnections(const Config& cfg) {
  constexpr size_t kMessageBytes = 64;
  Row rate[2], p99[2], allocs[2];
  for (size_t r = 1; r <= 2; ++r) {
    const std::string where =
        absl::StrCat(cfg.connections, " conns x 1 call, upstream, ", r, " reactor", r > 1 ? "s" : "",
                     " per side");
    rate[r - 1] = Row{.name = absl::StrCat("calls/s (", where, ")"), .unit = "/s",
                      .baseline_name = "raw epoll echo calls/s", .target = "-"};
    p99[r - 1] = Row{.name = absl::StrCat("p99 (", where, ")"), .unit = "us",
                     .baseline_name = "raw epoll echo p99", .target = "-"};
    allocs[r - 1] = AllocationsRow(absl::StrCat("allocations per call (", where, ")"));
  }
  absl::Status st = Rounds(cfg, [&]() -> absl::Status {
    for (size_t r = 1; r <= 2; ++r) {
      absl::StatusOr<ManyConnectionsResult> raw =
          RawEpollEcho(r, cfg.connections, kMessageBytes, cfg.duration);
      if (!raw.ok()) return raw.status();
      absl::StatusOr<ManyConnectionsResult> d =
          DrpcManyConnections(r, cfg.connections, kMessageBytes, cfg.duration);
      if (!d.ok()) return d.status();
      rate[r - 1].baseline.push_back(raw->calls_per_second);
      rate[r - 1].drpc.push_back(d->calls_per_second);
      p99[r - 1].baseline.push_back(Micros(raw->latency_ns.Percentile(0.99)));
      p99[r - 1].drpc.push_back(Micros(d->latency_ns.Percentile(0.99)));
      allocs[r - 1].drpc.push_back(PerItem(d->allocations, d->calls));
    }
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  for (int i = 0; i < 2; ++i) {
    PrintRow(rate[i], cfg.verbose);
    PrintRow(p99[i], cfg.verbose);
    PrintAllocationsRow(allocs[i], cfg.verbose);
  }
  Row scaling{.name = absl::StrCat("scaling 1 -> 2 reactors (", cfg.connections,
                                   " conns, calls/s ratio)"),
              .unit = "x", .baseline_name = "raw epoll echo scaling", .target = "-"};
  for (size_t i = 0; i < rate[0].drpc.size(); ++i) {
    scaling.drpc.push_back(rate[1].drpc[i] / rate[0].drpc[i]);
    scaling.baseline.push_back(rate[1].baseline[i] / rate[0].baseline[i]);
  }
  PrintRow(scaling, cfg.verbose);
  return absl::OkStatus();
}

bool Has(const Config& cfg, absl::string_view mode) {
  return std::find(cfg.modes.begin(), cfg.modes.end(), mode) != cfg.modes.end();
}

absl::Status RunAll(const Config& cfg) {
  for (Placement p : cfg.placements) {
    if (Has(cfg, "unary")) {
      if (absl::Status st = RunUnary(cfg, p, /*mux=*/false); !st.ok()) return st;
    }
    if (Has(cfg, "unary_mux")) {
      if (absl::Status st = RunUnary(cfg, p, /*mux=*/true); !st.ok()) return st;
    }
    if (Has(cfg, "mux16")) {
      if (absl::Status st = RunConcurrent(cfg, p); !st.ok()) return st;
    }
    if (Has(cfg, "stream")) {
      if (absl::Status st = RunStreaming(cfg, p, /*mux=*/false); !st.ok()) return st;
    }
    if (Has(cfg, "stream_mux")) {
      if (absl::Status st = RunStreaming(cfg, p, /*mux=*/true); !st.ok()) return st;
    }
    if (Has(cfg, "server_stream")) {
      if (absl::Status st = RunServerStream(cfg, p); !st.ok()) return st;
    }
    if (Has(cfg, "streams")) {
      if (absl::Status st = RunIdleStreams(cfg, p); !st.ok()) return st;
    }
  }
  // Placement does not apply: both sides have their own reactors (1, then 2).
  if (Has(cfg, "conns")) {
    if (absl::Status st = RunManyConnections(cfg); !st.ok()) return st;
  }
  if (Has(cfg, "idle")) return PrintIdleConnectionRows(cfg.idle_connections);
  return absl::OkStatus();
}

// False (after printing why) on a usage error.
bool ParseArgs(int argc, char** argv, Config& cfg) {
  for (int i = 1; i < argc; ++i) {
    std::optional<cli::CliFlag> f = cli::ParseCliFlag(argv[i]);
    const std::string v = f && f->value ? *f->value : "";
    bool ok = f.has_value();
    if (!ok) {
    } else if (f->name == "help" || f->name == "h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (f->name == "modes" && f->value) {
      cfg.modes = absl::StrSplit(v, ',', absl::SkipEmpty());
      for (const std::string& m : cfg.modes) {
        ok = ok && (m == "unary" || m == "unary_mux" || m == "mux16" || m == "stream" ||
                    m == "stream_mux" || m == "server_stream" || m == "streams" ||
                    m == "idle" || m == "conns");      }
    } else if (f->name == "placement" && f->value) {
      cfg.placements.clear();
      for (absl::string_view p : absl::StrSplit(v, ',', absl::SkipEmpty())) {
        if (p == "one") cfg.placements.push_back(Placement::kOneReactor);
        else if (p == "two") cfg.placements.push_back(Placement::kTwoReactors);
        else ok = false;
      }
    } else if (f->name == "duration" && f->value) {
      absl::StatusOr<Duration> d = cli::ParseCliDuration(v);
      ok = d.ok() && *d > Duration::Zero();
      if (ok) cfg.duration = absl::Nanoseconds(d->nanos());
    } else if (f->name == "rounds" && f->value) {
      ok = absl::SimpleAtoi(v, &cfg.rounds) && cfg.rounds >= 1;
    } else if (f->name == "stream_sizes" && f->value) {
      cfg.stream_sizes.clear();
      for (absl::string_view s : absl::StrSplit(v, ',', absl::SkipEmpty())) {
        size_t n = 0;
        ok = ok && absl::SimpleAtoi(s, &n) && n >= 1 && n <= (4 << 20) - 64;
        cfg.stream_sizes.push_back(n);
      }
    } else if (f->name == "split_bytes" && f->value) {
      ok = absl::SimpleAtoi(v, &cfg.split_bytes) && cfg.split_bytes >= limits::kSplitMinBytes &&
           cfg.split_bytes <= limits::kSplitMaxBytes;
    } else if (f->name == "streams" && f->value) {
      ok = absl::SimpleAtoi(v, &cfg.streams) && cfg.streams >= 1 && cfg.streams <= 100000;
    } else if (f->name == "concurrency" && f->value) {
      ok = absl::SimpleAtoi(v, &cfg.concurrency) && cfg.concurrency >= 1 && cfg.concurrency <= 1000;
    } else if (f->name == "connections" && f->value) {
      ok = absl::SimpleAtoi(v, &cfg.connections) && cfg.connections >= 2 &&
           cfg.connections <= 4096;
    } else if (f->name == "idle_connections" && f->value) {
      ok = absl::SimpleAtoi(v, &cfg.idle_connections) && cfg.idle_connections >= 1 &&
           cfg.idle_connections <= 20000;
    } else if (f->name == "smoke" && !f->value) {
      cfg.idle_connections = 20;
      cfg.duration = absl::Milliseconds(50);
      cfg.rounds = 1;
      cfg.streams = 200;
      cfg.connections = 16;
    } else if (f->name == "verbose" && !f->value) {
      cfg.verbose = true;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "bench: bad argument \"%s\"\n%s", argv[i], kUsage);
      return false;
    }
  }
  return true;
}

int Main(int argc, char** argv) {
  Config cfg;
  if (!ParseArgs(argc, argv, cfg)) return 2;
  SetAllocationCounter(&CountedAllocations);
  PrintMachine(cfg);
  if (absl::Status st = RunAll(cfg); !st.ok()) {
    std::fprintf(stderr, "bench: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace drpc::bench

int main(int argc, char** argv) { return drpc::bench::Main(argc, argv); }
