#include "codegen/protobuf_encoding.h"

#include <string>

#include "absl/strings/match.h"
#include "codegen/testdata/features.pb.h"
#include "codegen/testdata/features_dep.pb.h"
#include "gtest/gtest.h"

namespace drpc {
namespace {

using golden::deps::Record;
using golden::features::Request;

TEST(ProtobufEncodingTest, MapsMarshalSortedWhateverTheInsertionOrder) {
  const Encoding<Request>& enc = ProtobufEncoding<Request>::Get();
  Request a;
  Request b;
  for (const char* key : {"zeta", "alpha", "mid", "beta", "omega"}) (*a.mutable_labels())[key] = 1;
  for (const char* key : {"omega", "beta", "mid", "alpha", "zeta"}) (*b.mutable_labels())[key] = 1;
  std::string wire_a;
  std::string wire_b;
  ASSERT_TRUE(enc.Marshal(a, wire_a).ok());
  ASSERT_TRUE(enc.Marshal(b, wire_b).ok());
  EXPECT_EQ(wire_a, wire_b);
  EXPECT_LT(wire_a.find("alpha"), wire_a.find("beta"));
  EXPECT_LT(wire_a.find("omega"), wire_a.find("zeta"));
}

TEST(ProtobufEncodingTest, UnmarshalReplacesTheMessageAndKeepsUnknownFields) {
  const Encoding<Request>& enc = ProtobufEncoding<Request>::Get();
  Request m;
  m.set_text("old");
  m.set_maybe(3);
  // text "new", then field 15 (unknown to Request) as a varint 7.
  const std::string wire = std::string("\x0a\x03new\x78\x07", 7);
  ASSERT_TRUE(enc.Unmarshal(wire, m).ok());
  EXPECT_EQ(m.text(), "new");
  EXPECT_FALSE(m.has_maybe()) << "fields of the old contents are cleared";
  std::string again;
  ASSERT_TRUE(enc.Marshal(m, again).ok());
  EXPECT_EQ(again, wire) << "the unknown field travels on";
}

TEST(ProtobufEncodingTest, MalformedBytesFailNamingTheType) {
  const Encoding<Request>& enc = ProtobufEncoding<Request>::Get();
  Request m;
  for (const std::string& bad : {std::string("\x0a\x05" "ab", 4),           // length past the end
                                 std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11),
                                 std::string("\x07", 1)}) {               // wire type 7
    const absl::Status st = enc.Unmarshal(bad, m);
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
    EXPECT_TRUE(absl::StrContains(st.message(), "golden.features.Request")) << st;
  }
}

TEST(ProtobufEncodingTest, RequiredFieldsAreCheckedBothWays) {
  const Encoding<Record>& enc = ProtobufEncoding<Record>::Get();
  std::string wire = "untouched";
  const absl::Status missing = enc.Marshal(Record(), wire);
  EXPECT_TRUE(absl::IsInvalidArgument(missing)) << missing;
  EXPECT_TRUE(absl::StrContains(missing.message(), "missing required fields: id")) << missing;
  Record parsed;
  EXPECT_TRUE(absl::IsInvalidArgument(enc.Unmarshal("", parsed)));
  Record ok;
  ok.set_id(1);
  ASSERT_TRUE(enc.Marshal(ok, wire).ok());
  EXPECT_EQ(wire, std::string("\x08\x01", 2));
  EXPECT_TRUE(enc.Unmarshal(wire, parsed).ok());
}

}  // namespace
}  // namespace drpc
