// Encode and parse throughput of the wire format (frames/s and payload MB/s).
//
//   bazel run -c opt //tools:bench_proto
//   bazel run -c opt //tools:bench_proto -- --benchmark_filter=Parse
//
// Payload sizes 64 B, 4 KiB and 1 MiB. Parsing copies the stream into the parser in 64 KiB
// "reads" (PrepareAppend/CommitAppend), as a transport read loop would, so the numbers include
// that copy. items_per_second is frames/s (packets/s for the packet benchmarks).
#include <cstring>
#include <optional>
#include <string>

#include "benchmark/benchmark.h"
#include "proto/frame.h"
#include "proto/limits.h"
#include "proto/packet.h"
#include "proto/splitter.h"

namespace drpc {
namespace {

constexpr size_t kReadBytes = 64 * 1024;

// At least 4 MiB of stream per iteration, and at least 4 frames.
size_t FramesPerIteration(size_t payload) {
  return std::max<size_t>(4, (4 * limits::kMiB) / (payload + 8));
}

void BM_EncodeFrame(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'p');
  const size_t count = FramesPerIteration(payload.size());
  std::string out;
  out.reserve(count * (payload.size() + limits::kFrameHeaderMaxBytes));
  uint64_t message = 1;
  for (auto _ : state) {
    out.clear();
    for (size_t i = 0; i < count; ++i) {
      AppendFrame(out, Frame{.id = {1, message++}, .kind = Kind::kMessage, .data = payload});
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * count));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * count * payload.size()));
}
BENCHMARK(BM_EncodeFrame)->Arg(64)->Arg(4 << 10)->Arg(1 << 20);

// Feeds `wire` to `parser` in kReadBytes reads; returns frames and payload bytes seen.
std::pair<size_t, size_t> ParseAll(FrameParser& parser, const std::string& wire) {
  size_t frames = 0, bytes = 0;
  for (size_t pos = 0; pos < wire.size(); pos += kReadBytes) {
    const size_t n = std::min(kReadBytes, wire.size() - pos);
    std::memcpy(parser.PrepareAppend(kReadBytes), wire.data() + pos, n);
    parser.CommitAppend(n);
    for (auto f = parser.Next(); f.ok() && f->has_value(); f = parser.Next()) {
      ++frames;
      bytes += (*f)->data.size();
    }
  }
  return {frames, bytes};
}

void BM_ParseFrame(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'p');
  const size_t count = FramesPerIteration(payload.size());
  std::string wire;
  for (size_t i = 0; i < count; ++i) {
    AppendFrame(wire, Frame{.id = {1, i + 1}, .kind = Kind::kMessage, .data = payload});
  }
  FrameParser parser(FrameParser::Options{});
  for (auto _ : state) {
    const auto [frames, bytes] = ParseAll(parser, wire);
    if (frames != count) state.SkipWithError("parser lost frames");
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * count));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * count * payload.size()));
}
BENCHMARK(BM_ParseFrame)->Arg(64)->Arg(4 << 10)->Arg(1 << 20);

// Whole messages: split at the default 64 KiB on the way out, parsed and reassembled upstream-
// style on the way in (the path of a 1 MiB streaming RPC).
void BM_EncodePacket(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'p');
  const size_t count = FramesPerIteration(payload.size());
  std::string out;
  uint64_t message = 1;
  for (auto _ : state) {
    out.clear();
    for (size_t i = 0; i < count; ++i) {
      AppendPacket(out, {1, message++}, Kind::kMessage, payload, false, limits::kSplitDefaultBytes);
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * count));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * count * payload.size()));
}
BENCHMARK(BM_EncodePacket)->Arg(64)->Arg(4 << 10)->Arg(1 << 20);

void BM_ParseAndAssemblePacket(benchmark::State& state) {
  const std::string payload(static_cast<size_t>(state.range(0)), 'p');
  const size_t count = FramesPerIteration(payload.size());
  for (auto _ : state) {
    state.PauseTiming();
    std::string wire;
    for (size_t i = 0; i < count; ++i) {
      AppendPacket(wire, {1, i + 1}, Kind::kMessage, payload, false, limits::kSplitDefaultBytes);
    }
    FrameParser parser(FrameParser::Options{});
    UpstreamAssembler assembler(UpstreamAssembler::Options{});
    state.ResumeTiming();
    size_t packets = 0;
    for (size_t pos = 0; pos < wire.size(); pos += kReadBytes) {
      const size_t n = std::min(kReadBytes, wire.size() - pos);
      std::memcpy(parser.PrepareAppend(kReadBytes), wire.data() + pos, n);
      parser.CommitAppend(n);
      for (auto f = parser.Next(); f.ok() && f->has_value(); f = parser.Next()) {
        auto p = assembler.OnFrame(**f);
        if (p.ok() && p->has_value()) ++packets;
      }
    }
    if (packets != count) state.SkipWithError("assembler lost packets");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * count));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * count * payload.size()));
}
BENCHMARK(BM_ParseAndAssemblePacket)->Arg(64)->Arg(4 << 10)->Arg(1 << 20);

}  // namespace
}  // namespace drpc

BENCHMARK_MAIN();
