// Per-stream message compression of the mux fork (§19): the names, the
// `drpc-compression` metadata key, the fork's codec choice per message, and bounded decoding.
//
//   Client: SetRequestedCompression(Compression::kSnappy, md);      // md["drpc-compression"]
//   Server: absl::StatusOr<Compression> c = TakeRequestedCompression(md);   // and strips the key
//   Both:   std::string wire = CompressMessage(c, message);          // every Message on the stream
//           absl::Status s = DecompressMessage(c, wire, message_max_bytes, &message);
//
// Semantics (the fork's):
//   * The client chooses per stream; the choice travels as InvokeMetadata key "drpc-compression"
//     with value "snappy" or "minlz-fastest". No key means no compression. A client configured
//     without compression strips a caller-supplied key, so a stray key never breaks a call.
//   * The server honours a known name for both directions and removes the key before the handler
//     sees the metadata; an unknown name is an error (the fork ends the connection over it; drpc-cpp's
//     mux server refuses only that stream, docs/protocol.md §19).
//   * Only Message bodies are compressed, each as a whole before it is split into frames, every
//     one on the stream (even empty ones); nothing marks them. Flow control and size limits
//     count the compressed bytes.
//   * "snappy" is the Snappy block format. "minlz-fastest" is the MinLZ block format for messages
//     of more than 4 KiB and at most 8 MiB, and Snappy otherwise; its receiver decodes every body
//     with the MinLZ decoder, which takes Snappy blocks too (proto/minlz.h).
// Decoding never allocates more than `message_max_bytes`: the length a block states is checked
// first (kResourceExhausted, a decompression bomb allocates nothing); a corrupt body is
// kInvalidArgument naming the codec.
#ifndef DRPC_PROTO_COMPRESSION_H_
#define DRPC_PROTO_COMPRESSION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/metadata.h"

namespace drpc {

// Numbered as the fork numbers them (drpc.Compression).
enum class Compression : uint8_t { kNone = 0, kSnappy = 1, kMinLzFastest = 2 };

inline constexpr absl::string_view kCompressionMetadataKey = "drpc-compression";

// "snappy", "minlz-fastest"; "" for kNone.
absl::string_view CompressionName(Compression compression);
// The compression a wire name selects; std::nullopt for unknown names ("" included).
std::optional<Compression> CompressionFromName(absl::string_view name);

// Client: the metadata of a new stream of a client configured with `configured`.
void SetRequestedCompression(Compression configured, Metadata& metadata);
// Server: what the Invoke's metadata asks for, removing the key. kInvalidArgument
// "unsupported compression: \"NAME\"" for an unknown name (the key is removed all the same).
absl::StatusOr<Compression> TakeRequestedCompression(Metadata& metadata);

// The block format the fork's sender uses for a message of `message_bytes` on a stream.
enum class BlockFormat : uint8_t { kNone, kSnappy, kMinLz };
BlockFormat SenderBlockFormat(Compression compression, size_t message_bytes);

// The wire body of one Message. kNone returns the message unchanged. `message` may be as large
// as limits::kSnappyBlockMaxBytes (DRPC_CHECK).
std::string CompressMessage(Compression compression, absl::string_view message);
// The uncompressed length a body states (without decoding it).
absl::StatusOr<uint64_t> DecompressedLength(Compression compression, absl::string_view body);
// Replaces `*out` with the message of `body`.
absl::Status DecompressMessage(Compression compression, absl::string_view body,
                               size_t message_max_bytes, std::string* out);

}  // namespace drpc

#endif  // DRPC_PROTO_COMPRESSION_H_
