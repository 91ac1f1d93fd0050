// Fuzzes the MuxAssembler with frames parsed from the input. Byte 0 picks the per-stream packet
// limit (64 B .. 64 KiB), byte 1 the stream-state limit (1..16). A completed Close packet makes
// the harness Forget() its stream, as the impl does when a stream ends. Checks: per stream,
// returned packets have strictly increasing message IDs and carry the completing frame's ID and
// kind; packets fit the limit; stream-scoped errors name the frame's stream and are
// kResourceExhausted; tracked streams never exceed the limit; connection errors are sticky.
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "fuzz/no_coverage.h"
#include "proto/base/check.h"
#include "proto/frame.h"
#include "proto/packet.h"

DRPC_FUZZ_NO_COVERAGE
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max = size_t{64} << (data[0] % 11);
  const size_t streams_max = 1 + data[1] % 16;
  absl::string_view wire(reinterpret_cast<const char*>(data) + 2, size - 2);
  drpc::MuxAssembler assembler(drpc::MuxAssembler::Options{.packet_max_bytes = max,
                                                           .streams_max_count = streams_max});
  // Per stream, the last returned packet's message ID (a handful of streams: a vector reused
  // across inputs costs no allocation per stream, unlike a map's nodes).
  static auto* last_message = new std::vector<std::pair<uint64_t, uint64_t>>;
  last_message->clear();
  while (!wire.empty()) {
    size_t consumed = 0;
    auto frame = drpc::ParseFrame(wire, max, &consumed);
    if (!frame.ok() || !frame->has_value()) break;
    wire.remove_prefix(consumed);
    const drpc::Frame& f = **frame;
    absl::StatusOr<drpc::MuxAssembler::Result> r = assembler.OnFrame(f);
    if (!r.ok()) {
      DRPC_CHECK(absl::StartsWith(r.status().message(), "protocol error: "));
      DRPC_CHECK(!assembler.OnFrame(f).ok()) << "connection errors are sticky";
      break;
    }
    DRPC_CHECK_LE(assembler.streams_tracked(), streams_max);
    DRPC_CHECK_LE(assembler.partial_bytes(f.id.stream), max);
    if (const auto* e = std::get_if<drpc::StreamAssemblyError>(&*r)) {
      DRPC_CHECK_EQ(e->stream, f.id.stream);
      DRPC_CHECK(absl::IsResourceExhausted(e->status));
      DRPC_CHECK_EQ(assembler.partial_bytes(f.id.stream), size_t{0});
    } else if (const auto* p = std::get_if<drpc::Packet>(&*r)) {
      DRPC_CHECK(f.done && p->id == f.id && p->kind == f.kind);
      DRPC_CHECK_LE(p->data.size(), max);
      auto it = std::find_if(last_message->begin(), last_message->end(),
                             [&](const auto& e) { return e.first == p->id.stream; });
      if (it == last_message->end()) {
        it = last_message->emplace(last_message->end(), p->id.stream, p->id.message);
      } else {
        DRPC_CHECK_LT(it->second, p->id.message) << "message IDs on a stream must increase";
        it->second = p->id.message;
      }
      if (p->kind == drpc::Kind::kClose) {
        assembler.Forget(p->id.stream);
        last_message->erase(it);
      }
    }
  }
  return 0;
}
