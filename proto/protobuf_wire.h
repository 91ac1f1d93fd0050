// A minimal, strict protobuf wire-format reader and writer: exactly what the mux fork's Error
// bodies need (google.rpc.Status and google.protobuf.Any, proto/grpc_status.h), without a
// protobuf dependency.
//
//   std::string out;
//   pb::AppendVarintField(out, 1, 2);          // 08 02
//   pb::AppendLenField(out, 2, "boom");        // 12 04 62 6f 6f 6d
//   pb::Reader r(out);
//   pb::Field f;
//   while (r.Next(&f)) {
//     ...  f.number, f.type, f.varint or f.bytes
//   }
//   if (!r.status().ok()) return r.status();   // malformed: says what and at which offset
//
// The reader accepts what Go's google.golang.org/protobuf accepts for these messages and rejects
// the rest with kInvalidArgument "protobuf: <what> at offset N": varints of at most 10 bytes whose
// 10th byte is 0 or 1; field numbers 1..2^29-1; wire types 0 (varint), 1 (fixed64), 2 (length-
// delimited, length within the input) and 5 (fixed32). Groups (wire types 3 and 4) are rejected:
// neither message has one and no Go peer sends one. It never allocates: `bytes` views the input.
#ifndef DRPC_PROTO_PROTOBUF_WIRE_H_
#define DRPC_PROTO_PROTOBUF_WIRE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace drpc::pb {

enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLen = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

inline constexpr uint32_t kFieldNumberMax = (uint32_t{1} << 29) - 1;

void AppendTag(std::string& out, uint32_t field, WireType type);
void AppendVarintField(std::string& out, uint32_t field, uint64_t value);
void AppendLenField(std::string& out, uint32_t field, absl::string_view bytes);

struct Field {
  uint32_t number = 0;
  WireType type = WireType::kVarint;
  uint64_t varint = 0;       // kVarint; kFixed64/kFixed32 values (little endian) too
  absl::string_view bytes;   // kLen: the payload, a view into the reader's input
  size_t offset = 0;         // of the tag, from the start of the input
};

class Reader {
 public:
  explicit Reader(absl::string_view in) : in_(in) {}

  // Reads the next field into *field. False at the end of the input or at a malformed field;
  // status() then tells which (OK at the end; a sticky kInvalidArgument otherwise). A
  // well-formed field costs no status object: decoders run this once per field.
  bool Next(Field* field);
  const absl::Status& status() const { return error_; }

 private:
  // Reads a varint into *value; false with error_ set (naming `what`) if it is truncated or
  // longer than 64 bits. No status object on the way of a well-formed varint, and no call for
  // a one-byte one (every tag of fields 1..15, every length under 128).
  bool ReadVarint(const char* what, uint64_t* value) {
    if (pos_ < in_.size() && static_cast<uint8_t>(in_[pos_]) < 0x80) {
      *value = static_cast<uint8_t>(in_[pos_++]);
      return true;
    }
    return ReadLongVarint(what, value);
  }
  bool ReadLongVarint(const char* what, uint64_t* value);
  bool Fail(absl::string_view message);  // sets error_, returns false

  absl::string_view in_;
  size_t pos_ = 0;
  absl::Status error_;
};

// Whether `text` is valid UTF-8 (what Go's proto3 `string` fields require: no surrogates, no
// overlong forms, nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view text);
// `text` with every invalid UTF-8 sequence replaced by U+FFFD, so Go accepts it in a string field.
std::string ToValidUtf8(absl::string_view text);

}  // namespace drpc::pb

#endif  // DRPC_PROTO_PROTOBUF_WIRE_H_
