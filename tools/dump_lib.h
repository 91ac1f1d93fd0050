// Decodes a captured DRPC byte stream (one direction of one connection) into a readable listing:
// one line per frame and per completed packet, with decoded metadata, error codes and a payload
// preview; a protocol error is reported with its byte offset. Used by `bazel run //tools:dump`.
//
//   std::ostringstream out;
//   int rc = DumpStream(bytes, DumpOptions{.mode = DumpMode::kUpstream}, out);
//
// Listing format (columns separated by spaces):
//   frame  @OFFSET KIND FLAGS <stream,message> len=N PREVIEW        FLAGS: D=done C=control
//   packet <stream,message> KIND [control] len=N DETAIL              DETAIL by kind: rpc=, code=
//                                                                    text=, metadata={k=v, ...}
// Error bodies are decoded in the configured format: upstream (`code=N text=...`, plus `note=...`
// when the body is also a well-formed gRPC-status body) or the mux fork's gRPC status (`code=N
// grpc_code=G text=... [details=K]`, or `code=<undecodable: ...>`). InvokeMetadata that selects a
// compression shows `compression=NAME`; that stream's Message packets are then shown
// decompressed: `NAME len=N -> M PREVIEW`, or `NAME <error>`.
//   error  @OFFSET MESSAGE                                           then nothing more is read
//   eof    @OFFSET N bytes of an incomplete frame
#ifndef DRPC_TOOLS_DUMP_LIB_H_
#define DRPC_TOOLS_DUMP_LIB_H_

#include <cstddef>
#include <ostream>
#include <string>

#include "absl/strings/string_view.h"
#include "proto/compression.h"
#include "proto/error_codec.h"

namespace drpc::dump {

enum class DumpMode { kUpstream, kMux };

struct DumpOptions {
  DumpMode mode = DumpMode::kUpstream;
  bool frames = true;               // print frame lines (packets are always printed)
  size_t preview_max_bytes = 48;    // payload bytes shown per line
  ErrorFormat error_format = ErrorFormat::kUpstream;
  // Compression of every stream's Messages (for the server-to-client direction, whose capture
  // does not hold the InvokeMetadata that chose it); otherwise each stream's own metadata decides.
  Compression compression = Compression::kNone;
};

// Exit status for the tool: 0 for a clean stream, 1 after a protocol error or a trailing
// incomplete frame.
int DumpStream(absl::string_view bytes, const DumpOptions& options, std::ostream& out);

// A printable preview: "\"text\"" with C escapes when the bytes are mostly printable, else
// "hex:0a0b..."; "..." marks a cut.
std::string Preview(absl::string_view data, size_t max_bytes);

}  // namespace drpc::dump

#endif  // DRPC_TOOLS_DUMP_LIB_H_
