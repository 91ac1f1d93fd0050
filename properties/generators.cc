#include "properties/generators.h"

#include <algorithm>

namespace drpc::properties {

rc::Gen<uint64_t> GenU64() {
  return rc::gen::oneOf(
      rc::gen::arbitrary<uint64_t>(),
      rc::gen::map(rc::gen::pair(rc::gen::inRange(0, 10), rc::gen::inRange(-1, 2)),
                   [](const std::pair<int, int>& p) {
                     // 2^(7k) + d, the points where the encoded size changes.
                     const uint64_t base = p.first == 0 ? 0 : uint64_t{1} << (7 * p.first);
                     return base + static_cast<uint64_t>(static_cast<int64_t>(p.second));
                   }),
      rc::gen::element<uint64_t>(0, 1, UINT64_MAX, uint64_t{1} << 63));
}

rc::Gen<std::string> GenData(size_t max_bytes) {
  return rc::gen::oneOf(
      rc::gen::mapcat(rc::gen::inRange<size_t>(0, std::min<size_t>(max_bytes, 40) + 1),
                      [](size_t n) {
                        return rc::gen::container<std::string>(n, rc::gen::arbitrary<char>());
                      }),
      rc::gen::map(rc::gen::pair(rc::gen::inRange<size_t>(0, max_bytes + 1),
                                 rc::gen::arbitrary<char>()),
                   [](const std::pair<size_t, char>& p) { return std::string(p.first, p.second); }));
}

rc::Gen<testing::OwnedFrame> GenFrame() {
  return rc::gen::build<testing::OwnedFrame>(
      rc::gen::set(&testing::OwnedFrame::id,
                   rc::gen::build<PacketId>(rc::gen::set(&PacketId::stream, GenU64()),
                                            rc::gen::set(&PacketId::message, GenU64()))),
      rc::gen::set(&testing::OwnedFrame::kind,
                   rc::gen::map(rc::gen::inRange<int>(0, kKindMaxValue + 1),
                                [](int k) { return static_cast<Kind>(k); })),
      rc::gen::set(&testing::OwnedFrame::done, rc::gen::arbitrary<bool>()),
      rc::gen::set(&testing::OwnedFrame::control, rc::gen::arbitrary<bool>()),
      rc::gen::set(&testing::OwnedFrame::data, GenData()));
}

rc::Gen<std::vector<size_t>> GenSegmentation(size_t total) {
  return rc::gen::map(
      rc::gen::container<std::vector<size_t>>(rc::gen::oneOf(
          rc::gen::just<size_t>(1), rc::gen::inRange<size_t>(1, 16),
          rc::gen::inRange<size_t>(1, 4096))),
      [total](std::vector<size_t> sizes) {
        std::vector<size_t> out;
        size_t covered = 0;
        for (size_t s : sizes) {
          if (covered >= total) break;
          out.push_back(std::min(s, total - covered));
          covered += out.back();
        }
        if (covered < total) out.push_back(total - covered);
        return out;
      });
}

}  // namespace drpc::properties
