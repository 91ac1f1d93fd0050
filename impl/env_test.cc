// The Transport seam's defaults: WriteV, ReadV.
#include "impl/env.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace drpc {
namespace {

// Records every Write; does not override WriteV, so the default is under test.
class RecordingTransport final : public Transport {
 public:
  // Hands out `readable` (then EOF) and records each Read's size.
  absl::StatusOr<size_t> Read(char* buf, size_t size) override {
    read_sizes.push_back(size);
    if (readable.empty()) return TransportError(TransportErrorKind::kEof, "");
    const size_t n = std::min(size, readable.size());
    readable.copy(buf, n);
    readable.erase(0, n);
    return n;
  }
  absl::Status Write(absl::string_view data) override {
    writes.emplace_back(data);
    return status;
  }
  absl::Status CloseWrite() override { return absl::OkStatus(); }
  void Close() override {}

  std::vector<std::string> writes;
  absl::Status status;
  std::string readable;
  std::vector<size_t> read_sizes;
};

// A transport without vectored reads (TLS) reads into the first buffer only: never more than it
// holds, never into the next.
TEST(TransportTest, DefaultReadVReadsIntoTheFirstBufferOnly) {
  RecordingTransport t;
  t.readable = "0123456789";
  char first[4];
  char second[8] = {'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'};
  const absl::Span<char> spans[2] = {absl::Span<char>(first, 4), absl::Span<char>(second, 8)};
  absl::StatusOr<size_t> n = t.ReadV(spans);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(absl::string_view(first, 4), "0123");
  EXPECT_EQ(absl::string_view(second, 8), "xxxxxxxx");
  EXPECT_EQ(t.read_sizes, std::vector<size_t>{4});
  t.readable.clear();
  EXPECT_EQ(GetTransportErrorKind(t.ReadV(spans).status()), TransportErrorKind::kEof);
}

TEST(TransportTest, DefaultWriteVIsOneWriteOfThePiecesInOrder) {
  RecordingTransport t;
  const std::string big(100000, 'b');
  std::vector<absl::string_view> pieces = {"head", "", big, "", "tail"};
  ASSERT_TRUE(t.WriteV(pieces).ok());
  ASSERT_EQ(t.writes.size(), 1u);
  EXPECT_EQ(t.writes[0], "head" + big + "tail");
}

TEST(TransportTest, DefaultWriteVOfNothingIsOneEmptyWriteThatReportsTheState) {
  RecordingTransport t;
  t.status = TransportError(TransportErrorKind::kWriteAfterClose, "x");
  EXPECT_EQ(GetTransportErrorKind(t.WriteV({})), TransportErrorKind::kWriteAfterClose);
  std::vector<absl::string_view> empties = {"", ""};
  EXPECT_EQ(GetTransportErrorKind(t.WriteV(empties)), TransportErrorKind::kWriteAfterClose);
  ASSERT_EQ(t.writes.size(), 2u);
  EXPECT_EQ(t.writes[0], "");
  EXPECT_EQ(t.writes[1], "");
}

TEST(TransportTest, DefaultWriteVPassesOnePieceStraightThroughAndReturnsWriteErrors) {
  RecordingTransport t;
  std::vector<absl::string_view> one = {"only"};
  ASSERT_TRUE(t.WriteV(one).ok());
  t.status = TransportError(TransportErrorKind::kReset, "peer");
  std::vector<absl::string_view> two = {"a", "b"};
  EXPECT_EQ(GetTransportErrorKind(t.WriteV(two)), TransportErrorKind::kReset);
  ASSERT_EQ(t.writes.size(), 2u);
  EXPECT_EQ(t.writes[0], "only");
  EXPECT_EQ(t.writes[1], "ab");
}

}  // namespace
}  // namespace drpc
