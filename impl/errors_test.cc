#include "impl/errors.h"

#include "gtest/gtest.h"
#include "impl/options.h"

namespace drpc {
namespace {

TEST(ErrorsTest, ClassesAreRecognisedAfterAnnotationAndCopy) {
  absl::Status eof = EofError();
  EXPECT_TRUE(IsEof(eof));
  EXPECT_FALSE(IsEof(absl::OutOfRangeError("EOF")));  // a look-alike is not our EOF
  absl::Status closed = ClosedError("connection closed", absl::UnavailableError("transport: EOF"));
  EXPECT_TRUE(IsClosed(closed));
  EXPECT_EQ(closed.message(), "closed: connection closed: transport: EOF");
  EXPECT_TRUE(IsProtocolError(ProtocolError("bad frame")));
  EXPECT_EQ(ProtocolError("bad frame").message(), "protocol error: bad frame");
}

TEST(ErrorsTest, RemoteErrorsKeepTheirCodeAndExactText) {
  absl::Status s = RemoteErrorStatus(12, "Unimplemented");
  EXPECT_EQ(s.message(), "Unimplemented");
  EXPECT_EQ(RemoteErrorCode(s), 12u);
  EXPECT_TRUE(absl::IsUnimplemented(s));
  absl::Status app = RemoteErrorStatus(uint64_t{1} << 40, "custom");
  EXPECT_EQ(RemoteErrorCode(app), uint64_t{1} << 40);
  EXPECT_EQ(app.code(), absl::StatusCode::kUnknown);
  EXPECT_TRUE(absl::IsResourceExhausted(RemoteErrorStatus(0, RefusedError(2).message())));
}

TEST(ErrorsTest, WireErrorUsesAnExplicitCodeElseTheAbslCode) {
  EXPECT_EQ(ToWireError(absl::NotFoundError("x")), (std::pair<uint64_t, std::string>{5, "x"}));
  EXPECT_EQ(ToWireError(WithRemoteErrorCode(absl::InternalError("boom"), 42)),
            (std::pair<uint64_t, std::string>{42, "boom"}));
  // A remote error relayed by a handler keeps its original code.
  EXPECT_EQ(ToWireError(RemoteErrorStatus(7, "denied")).first, 7u);
}

TEST(OptionsTest, DefaultsAreValidAndEachRangeIsChecked) {
  EXPECT_TRUE(Options{}.Validate().ok());
  Options o;
  o.split_bytes = 0;
  EXPECT_EQ(o.Validate().message(), "Options.split_bytes = 0 is outside [1, 4194304]");
  o = Options{};
  o.packet_max_bytes = size_t{1} << 40;
  EXPECT_FALSE(o.Validate().ok());
  o = Options{};
  o.flow.stream_window_bytes = 0;
  EXPECT_FALSE(o.Validate().ok());
  o = Options{};
  o.inactivity_timeout = Duration::Zero();
  EXPECT_FALSE(o.Validate().ok());
  o = Options{};
  o.recv_stall_timeout = Duration::Infinite();
  EXPECT_EQ(o.Validate().message(),
            "Options.recv_stall_timeout = inf is outside [1ms, 3600000ms]");
  o = Options{};
  o.connections_max_count = 0;
  EXPECT_FALSE(o.Validate().ok());
  EXPECT_EQ(Options{}.recv_stall_timeout, Duration::Seconds(10));
  EXPECT_EQ(Options{}.write_buffer_bytes, 4096u);
}

}  // namespace
}  // namespace drpc
