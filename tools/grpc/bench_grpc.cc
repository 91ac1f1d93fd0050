// gRPC C++ (callback API) next to drpc-cpp in the same process and window: 16 concurrent unary
// calls of 64 B on ONE connection (one gRPC channel / one drpc mux Conn), and one call in flight.
// Needs Debian's gRPC packages (tools/bootstrap.sh --with-grpc); run through tools/bench_grpc.sh.
//
//   bazel run -c opt //tools/grpc:bench_grpc -- [--duration=1s] [--rounds=3] [--concurrency=16]
//
// Rounds alternate gRPC then drpc; each row prints the medians and drpc / gRPC. drpc runs its
// server and client on one reactor thread each (bench --placement=two); gRPC uses its own thread
// pools (callback server, client completion threads), as a gRPC application would.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "tools/bench/drpc_bench.h"
#include "tools/cli_flags.h"
#include "tools/grpc/bench.grpc.pb.h"

namespace drpc::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

class EchoService final : public drpcbench::Bench::CallbackService {
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, const drpcbench::Payload* req,
                                  drpcbench::Payload* resp) override {
    resp->set_data(req->data());
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// One closed-loop chain of calls: each completion starts the next call until the deadline.
struct Chain {
  drpcbench::Bench::Stub* stub = nullptr;
  SteadyClock::time_point end;
  drpcbench::Payload request;
  drpcbench::Payload response;
  std::unique_ptr<grpc::ClientContext> ctx;
  SteadyClock::time_point started;
  Histogram latency_ns;
  uint64_t calls = 0;
  std::string error;
  // Set when the chain ends.
  std::mutex* mu = nullptr;
  std::condition_variable* cv = nullptr;
  int* running = nullptr;

  void Next() {
    ctx = std::make_unique<grpc::ClientContext>();
    started = SteadyClock::now();
    stub->async()->Unary(ctx.get(), &request, &response, [this](grpc::Status s) {
      const auto now = SteadyClock::now();
      if (s.ok() && response.data().size() == request.data().size()) {
        latency_ns.Record(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - started).count()));
        ++calls;
        if (now < end) return Next();
      } else if (s.ok()) {
        error = "wrong reply size";
      } else {
        error = s.error_message();
      }
      std::lock_guard<std::mutex> lock(*mu);
      if (--*running == 0) cv->notify_all();
    });
  }
};

struct GrpcResult {
  double calls_per_second = 0;
  Histogram latency_ns;
};

absl::StatusOr<GrpcResult> GrpcConcurrent(drpcbench::Bench::Stub& stub, size_t concurrency,
                                          absl::Duration duration) {
  std::mutex mu;
  std::condition_variable cv;
  int running = static_cast<int>(concurrency);
  std::vector<std::unique_ptr<Chain>> chains;
  const auto start = SteadyClock::now();
  for (size_t i = 0; i < concurrency; ++i) {
    auto c = std::make_unique<Chain>();
    c->stub = &stub;
    c->end = start + absl::ToChronoNanoseconds(duration);
    c->request.set_data(std::string(64, 'u'));
    c->mu = &mu;
    c->cv = &cv;
    c->running = &running;
    chains.push_back(std::move(c));
  }
  for (auto& c : chains) c->Next();
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return running == 0; });
  }
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  GrpcResult result;
  uint64_t calls = 0;
  for (auto& c : chains) {
    if (!c->error.empty()) return absl::UnavailableError(absl::StrCat("grpc: ", c->error));
    calls += c->calls;
    result.latency_ns.Merge(c->latency_ns);
  }
  result.calls_per_second = calls / elapsed;
  return result;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void PrintRow(const std::string& name, const std::string& unit, const std::vector<double>& drpc,
              const std::vector<double>& grpc, const std::string& target,
              std::optional<bool> pass) {
  const double d = Median(drpc), g = Median(grpc);
  std::printf("| %s | %.1f %s | %.1f %s | %.2fx | %s | %s |\n", name.c_str(), d, unit.c_str(), g,
              unit.c_str(), g > 0 ? d / g : 0, target.c_str(),
              pass.has_value() ? (*pass ? "PASS" : "MISS") : "");
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  absl::Duration duration = absl::Seconds(1);
  int rounds = 3;
  size_t concurrency = 16;
  for (int i = 1; i < argc; ++i) {
    std::optional<cli::CliFlag> f = cli::ParseCliFlag(argv[i]);
    bool ok = f.has_value() && f->value.has_value();
    if (ok && f->name == "duration") {
      absl::StatusOr<Duration> d = cli::ParseCliDuration(*f->value);
      ok = d.ok() && *d > Duration::Zero();
      if (ok) duration = absl::Nanoseconds(d->nanos());
    } else if (ok && f->name == "rounds") {
      ok = absl::SimpleAtoi(*f->value, &rounds) && rounds >= 1;
    } else if (ok && f->name == "concurrency") {
      ok = absl::SimpleAtoi(*f->value, &concurrency) && concurrency >= 1 && concurrency <= 1000;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "bench_grpc: bad argument \"%s\"\n"
                           "usage: bench_grpc [--duration=1s] [--rounds=3] [--concurrency=16]\n", argv[i]);
      return 2;
    }
  }
  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "bench_grpc: the gRPC server did not start\n");
    return 1;
  }
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  std::unique_ptr<drpcbench::Bench::Stub> stub = drpcbench::Bench::NewStub(channel);
  absl::StatusOr<std::unique_ptr<DrpcBench>> drpc =
      DrpcBench::Start({.placement = Placement::kTwoReactors, .mux = true});
  if (!drpc.ok()) {
    std::fprintf(stderr, "bench_grpc: %s\n", drpc.status().ToString().c_str());
    return 1;
  }
  std::printf("bench_grpc: gRPC %s callback API vs drpc-cpp mux; %s per measurement, %d round(s),"
              " median shown\n\n", grpc::Version().c_str(), absl::FormatDuration(duration).c_str(),
              rounds);
  std::printf("| measurement | drpc | gRPC | drpc / gRPC | target | |\n|---|---|---|---|---|---|\n");
  std::vector<double> d_rate, g_rate, d_p50, g_p50, d_p99, g_p99;
  for (int r = 0; r < rounds; ++r) {
    absl::StatusOr<GrpcResult> g = GrpcConcurrent(*stub, concurrency, duration);
    absl::StatusOr<LatencyResult> d = ConcurrentUnary(**drpc, concurrency, 64, duration);
    absl::StatusOr<GrpcResult> g1 = GrpcConcurrent(*stub, 1, duration);
    absl::StatusOr<LatencyResult> d1 = UnaryLatency(**drpc, 64, duration);
    for (const absl::Status& st : {g.status(), d.status(), g1.status(), d1.status()}) {
      if (!st.ok()) {
        std::fprintf(stderr, "bench_grpc: %s\n", st.ToString().c_str());
        return 1;
      }
    }
    g_rate.push_back(g->calls_per_second);
    d_rate.push_back(d->calls_per_second);
    g_p99.push_back(g->latency_ns.Percentile(0.99) / 1000.0);
    d_p99.push_back(d->latency_ns.Percentile(0.99) / 1000.0);
    g_p50.push_back(g1->latency_ns.Percentile(0.5) / 1000.0);
    d_p50.push_back(d1->latency_ns.Percentile(0.5) / 1000.0);
  }
  const std::string way = absl::StrCat(concurrency, "-way");
  PrintRow(way + " unary 64 B, one connection", "calls/s", d_rate, g_rate, ">= 2x",
           Median(d_rate) >= 2 * Median(g_rate));
  PrintRow(way + " unary 64 B p99", "us", d_p99, g_p99, "-", std::nullopt);
  PrintRow("unary 64 B p50, 1 in flight", "us", d_p50, g_p50, "-", std::nullopt);
  drpc->reset();
  server->Shutdown();
  return 0;
}

}  // namespace
}  // namespace drpc::bench

int main(int argc, char** argv) { return drpc::bench::Main(argc, argv); }
