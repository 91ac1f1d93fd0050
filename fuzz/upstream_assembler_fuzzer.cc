// Fuzzes the UpstreamAssembler with frames parsed from the input. Byte 0 picks the packet limit
// (64 B .. 64 KiB, so "data overflow" is reachable). Checks: every packet carries the ID and kind
// of the frame that completed it, fits the limit, and IDs of returned packets strictly increase
// (no packet mixes IDs or repeats); the partial packet never exceeds the limit; errors are sticky
// and start with "protocol error: ".
#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "proto/base/check.h"
#include "proto/frame.h"
#include "proto/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t max = size_t{64} << (data[0] % 11);
  absl::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
  drpc::UpstreamAssembler assembler(drpc::UpstreamAssembler::Options{.packet_max_bytes = max});
  std::optional<drpc::PacketId> last_packet;
  while (!wire.empty()) {
    size_t consumed = 0;
    auto frame = drpc::ParseFrame(wire, max, &consumed);
    if (!frame.ok() || !frame->has_value()) break;
    wire.remove_prefix(consumed);
    const drpc::Frame& f = **frame;
    const drpc::PacketId before = assembler.last();
    absl::StatusOr<std::optional<drpc::Packet>> p = assembler.OnFrame(f);
    if (!p.ok()) {
      DRPC_CHECK(absl::StartsWith(p.status().message(), "protocol error: "));
      DRPC_CHECK(!assembler.OnFrame(f).ok()) << "errors are sticky";
      break;
    }
    DRPC_CHECK(!(f.id < before)) << "a lower ID than the last one was accepted";
    DRPC_CHECK_LE(assembler.partial_bytes(), max);
    if (!p->has_value()) continue;
    const drpc::Packet& packet = **p;
    DRPC_CHECK(f.done);
    DRPC_CHECK(packet.id == f.id);
    DRPC_CHECK(packet.kind == f.kind);
    DRPC_CHECK_LE(packet.data.size(), max);
    DRPC_CHECK(!last_packet.has_value() || *last_packet < packet.id) << "packet IDs must increase";
    last_packet = packet.id;
  }
  return 0;
}
