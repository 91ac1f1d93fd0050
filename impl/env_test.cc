// The Transport seam's default WriteV.
#include "impl/env.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace drpc {
namespace {

// Records every Write; does not override WriteV, so the default is under test.
class RecordingTransport final : public Transport {
 public:
  absl::StatusOr<size_t> Read(char*, size_t) override {
    return TransportError(TransportErrorKind::kEof, "");
  }
  absl::Status Write(absl::string_view data) override {
    writes.emplace_back(data);
    return status;
  }
  absl::Status CloseWrite() override { return absl::OkStatus(); }
  void Close() override {}

  std::vector<std::string> writes;
  absl::Status status;
};

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
