#include "tools/bench/drpc_bench.h"

#include <chrono>
#include <cstdio>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "impl/context.h"
#include "impl/errors.h"
#include "impl/runtime/tcp.h"
#include "impl/sync.h"
#include "proto/base/check.h"
#include "impl/testing/echo_service.h"
#include "tools/bench/alloc_counter.h"
#include "tools/bench/process_stats.h"

namespace drpc::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

uint64_t NanosSince(SteadyClock::time_point t0) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now() - t0).count());
}

double SecondsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}


// One unary call of `payload`, checked.
absl::Status CallOnce(runtime::Reactor& r, Conn& conn, const std::string& payload) {
  CallContext ctx(r.env());
  absl::StatusOr<std::string> reply = conn.Invoke(ctx, kUnaryRpc, payload);
  if (!reply.ok()) return reply.status();
  if (reply->size() != payload.size()) return absl::InternalError("unary: wrong reply size");
  return absl::OkStatus();
}

// Closed-loop unary calls on `conn` until `duration` passes.
absl::Status TimedCalls(const DrpcBench& bench, runtime::Reactor& r, Conn& conn,
                        size_t message_bytes, absl::Duration duration, LatencyResult& result) {
  const std::string payload(message_bytes, 'u');
  const auto start = SteadyClock::now();
  const auto end = start + absl::ToChronoNanoseconds(duration);
  const uint64_t allocations_before = AllocationCount();
  const uint64_t syscalls_before = bench.SyscallCount();
  uint64_t calls = 0;
  for (auto t = start; t < end; t = SteadyClock::now(), ++calls) {
    if (absl::Status st = CallOnce(r, conn, payload); !st.ok()) return st;
    result.latency_ns.Record(NanosSince(t));
  }
  result.calls_per_second = calls / SecondsSince(start);
  result.calls = calls;
  result.allocations = AllocationCount() - allocations_before;
  result.syscalls = bench.SyscallCount() - syscalls_before;
  return absl::OkStatus();
}

absl::Status WarmUp(runtime::Reactor& r, Conn& conn, size_t message_bytes) {
  const std::string payload(message_bytes, 'w');
  for (int i = 0; i < 100; ++i) {
    if (absl::Status st = CallOnce(r, conn, payload); !st.ok()) return st;
  }
  return absl::OkStatus();
}

// Runs fn(reactor, conn) on the client reactor with a fresh connection, closed afterwards.
template <typename T, typename F>
absl::StatusOr<T> WithConn(DrpcBench& bench, F fn) {
  return bench.client_runtime().Run(0, [&](runtime::Reactor& r) -> absl::StatusOr<T> {
    absl::StatusOr<std::unique_ptr<Conn>> conn = bench.Connect(r);
    if (!conn.ok()) return conn.status();
    absl::StatusOr<T> result = fn(r, **conn);
    (*conn)->Close();
    return result;
  });
}

}  // namespace

DrpcBench::DrpcBench(const DrpcBenchOptions& options)
    : options_(options), router_(testing::EchoRouter()) {
  client_options_.mux = options.mux;
  client_options_.concurrent_streams_max_count = options.streams_max_count;
  if (options.split_bytes != 0) client_options_.split_bytes = options.split_bytes;
}

absl::StatusOr<std::unique_ptr<DrpcBench>> DrpcBench::Start(const DrpcBenchOptions& options) {
  std::unique_ptr<DrpcBench> b(new DrpcBench(options));
  if (absl::Status st = b->client_options_.Validate(); !st.ok()) return st;
  absl::StatusOr<std::unique_ptr<runtime::Runtime>> rt =
      runtime::Runtime::Start({.reactor_count = options.reactor_count});
  if (!rt.ok()) return rt.status();
  b->server_rt_ = *std::move(rt);
  if (options.placement == Placement::kTwoReactors) {
    rt = runtime::Runtime::Start({.reactor_count = options.reactor_count});
    if (!rt.ok()) return rt.status();
    b->client_rt_ = *std::move(rt);
  }
  runtime::TcpServerOptions server_options;
  server_options.address = "127.0.0.1:0";
  server_options.connection = b->client_options_;
  absl::StatusOr<std::unique_ptr<runtime::TcpServer>> server =
      runtime::TcpServer::Start(*b->server_rt_, b->router_, server_options);
  if (!server.ok()) return server.status();
  b->server_ = *std::move(server);
  return b;
}

DrpcBench::~DrpcBench() {
  if (server_ != nullptr) server_->Shutdown(Duration::Seconds(1));
  server_.reset();
  if (client_rt_ != nullptr) client_rt_->Stop();
  if (server_rt_ != nullptr) server_rt_->Stop();
}

uint64_t DrpcBench::SyscallCount() const {
  uint64_t total = 0;
  for (runtime::Runtime* rt : {server_rt_.get(), client_rt_.get()}) {
    if (rt == nullptr) continue;
    for (size_t i = 0; i < rt->reactor_count(); ++i) total += rt->reactor(i).syscall_count();
  }
  return total;
}

absl::StatusOr<std::unique_ptr<Conn>> DrpcBench::Connect(runtime::Reactor& r) const {
  absl::StatusOr<std::unique_ptr<runtime::TcpTransport>> t = runtime::Dial(r, server_->address());
  if (!t.ok()) return t.status();
  return Conn::Create(r.env(), *std::move(t), client_options_);
}

absl::StatusOr<LatencyResult> UnaryLatency(DrpcBench& bench, size_t message_bytes,
                                           absl::Duration duration) {
  return WithConn<LatencyResult>(bench, [&](runtime::Reactor& r, Conn& conn) -> absl::StatusOr<LatencyResult> {
    if (absl::Status st = WarmUp(r, conn, message_bytes); !st.ok()) return st;
    LatencyResult result;
    if (absl::Status st = TimedCalls(bench, r, conn, message_bytes, duration, result); !st.ok()) {
      return st;
    }
    return result;
  });
}

absl::StatusOr<LatencyResult> ConcurrentUnary(DrpcBench& bench, size_t concurrency,
                                              size_t message_bytes, absl::Duration duration) {
  return WithConn<LatencyResult>(bench, [&](runtime::Reactor& r, Conn& conn) -> absl::StatusOr<LatencyResult> {
    if (absl::Status st = WarmUp(r, conn, message_bytes); !st.ok()) return st;
    std::vector<LatencyResult> per_caller(concurrency);
    std::vector<absl::Status> errors(concurrency);
    const uint64_t allocations_before = AllocationCount();
    WaitGroup callers(r.env());
    for (size_t i = 0; i < concurrency; ++i) {
      callers.Add();
      DRPC_CHECK_OK(r.Spawn(absl::StrCat("bench caller ", i), [&, i] {
        errors[i] = TimedCalls(bench, r, conn, message_bytes, duration, per_caller[i]);
        callers.Done();
      }));
    }
    callers.Wait("bench: joining the callers");
    LatencyResult total;
    for (size_t i = 0; i < concurrency; ++i) {
      if (!errors[i].ok()) return errors[i];
      total.latency_ns.Merge(per_caller[i].latency_ns);
      total.calls_per_second += per_caller[i].calls_per_second;
      total.calls += per_caller[i].calls;
    }
    total.allocations = AllocationCount() - allocations_before;
    return total;
  });
}

absl::StatusOr<StreamResult> ClientStreaming(DrpcBench& bench, size_t message_bytes,
                                             absl::Duration duration) {
  return WithConn<StreamResult>(bench, [&](runtime::Reactor& r, Conn& conn) -> absl::StatusOr<StreamResult> {
    const std::string payload(message_bytes, 's');
    CallContext ctx(r.env());
    const auto start = SteadyClock::now();
    const auto end = start + absl::ToChronoNanoseconds(duration);
    const uint64_t allocations_before = AllocationCount();
    absl::StatusOr<std::shared_ptr<RpcStream>> s = conn.NewStream(ctx, kSinkRpc);
    if (!s.ok()) return s.status();
    uint64_t sent = 0;
    do {
      if (absl::Status st = (*s)->Send(payload); !st.ok()) return st;
      ++sent;
    } while (SteadyClock::now() < end);
    if (absl::Status st = (*s)->CloseSend(); !st.ok()) return st;
    absl::StatusOr<std::string> reply = (*s)->Recv();
    if (!reply.ok()) return reply.status();
    const double elapsed = SecondsSince(start);
    const uint64_t allocations = AllocationCount() - allocations_before;
    (*s)->Close().IgnoreError();
    if (*reply != absl::StrCat(sent * message_bytes)) {
      return absl::InternalError(absl::StrCat("stream: server counted ", *reply, " bytes"));
    }
    return StreamResult{.messages_per_second = sent / elapsed,
                        .bytes_per_second = sent * message_bytes / elapsed,
                        .messages = sent,
                        .allocations = allocations};
  });
}

absl::StatusOr<StreamResult> ServerStreaming(DrpcBench& bench, absl::Duration duration) {
  return WithConn<StreamResult>(bench, [&](runtime::Reactor& r, Conn& conn) -> absl::StatusOr<StreamResult> {
    constexpr uint64_t kPerCall = 100000;  // messages per server stream; calls repeat until done
    const auto start = SteadyClock::now();
    const auto end = start + absl::ToChronoNanoseconds(duration);
    const uint64_t allocations_before = AllocationCount();
    uint64_t received = 0, bytes = 0;
    std::string m;
    do {
      CallContext ctx(r.env());
      absl::StatusOr<std::shared_ptr<RpcStream>> s = conn.NewStream(ctx, kSourceRpc);
      if (!s.ok()) return s.status();
      if (absl::Status st = (*s)->SendLast(absl::StrCat(kPerCall)); !st.ok()) return st;
      for (uint64_t i = 0;; ++i) {
        absl::Status st = (*s)->RecvInto(&m);
        if (IsEof(st) && i == kPerCall) break;
        if (!st.ok()) return st;
        if (i == kPerCall) return absl::InternalError("server stream: more messages than asked");
        ++received;
        bytes += m.size();
      }
      (*s)->Close().IgnoreError();
    } while (SteadyClock::now() < end);
    const double elapsed = SecondsSince(start);
    return StreamResult{.messages_per_second = received / elapsed,
                        .bytes_per_second = bytes / elapsed,
                        .messages = received,
                        .allocations = AllocationCount() - allocations_before};
  });
}

absl::StatusOr<IdleStreamsResult> IdleStreams(DrpcBench& bench, size_t streams,
                                              absl::Duration probe_duration) {
  return WithConn<IdleStreamsResult>(bench, [&](runtime::Reactor& r, Conn& conn) -> absl::StatusOr<IdleStreamsResult> {
    if (absl::Status st = WarmUp(r, conn, 64); !st.ok()) return st;
    IdleStreamsResult result;
    result.streams = streams;
    const ProcessStats before = ReadProcessStats();
    result.threads_before = before.threads;
    // Each stream keeps its context: a stream is cancelled through it.
    std::vector<std::unique_ptr<CallContext>> contexts;
    std::vector<std::shared_ptr<RpcStream>> open;
    contexts.reserve(streams);
    open.reserve(streams);
    const auto start = SteadyClock::now();
    for (size_t i = 0; i < streams; ++i) {
      contexts.push_back(std::make_unique<CallContext>(r.env()));
      absl::StatusOr<std::shared_ptr<RpcStream>> s = conn.NewStream(*contexts.back(), kHoldRpc);
      if (!s.ok()) return s.status();
      if (absl::Status st = (*s)->Send("x"); !st.ok()) return st;
      open.push_back(*std::move(s));
    }
    std::string m;
    for (const std::shared_ptr<RpcStream>& s : open) {
      if (absl::Status st = s->RecvInto(&m); !st.ok()) return st;
    }
    result.open_seconds = SecondsSince(start);
    const ProcessStats during = ReadProcessStats();
    result.threads_with_streams = during.threads;
    result.rss_bytes_per_stream = static_cast<double>(during.rss_bytes - before.rss_bytes) / streams;
    result.heap_bytes_per_stream = static_cast<double>(during.heap_bytes - before.heap_bytes) / streams;
    if (absl::Status st = TimedCalls(bench, r, conn, 64, probe_duration, result.probe); !st.ok()) {
      return st;
    }
    for (const std::shared_ptr<RpcStream>& s : open) {
      if (absl::Status st = s->CloseSend(); !st.ok()) return st;
    }
    for (const std::shared_ptr<RpcStream>& s : open) {
      absl::Status st = s->RecvInto(&m);
      if (!IsEof(st)) return st.ok() ? absl::InternalError("hold: message after CloseSend") : st;
    }
    return result;
  });
}

}  // namespace drpc::bench
