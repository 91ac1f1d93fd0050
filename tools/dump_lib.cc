#include "tools/dump_lib.h"

#include <map>
#include <optional>
#include <variant>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/compression.h"
#include "proto/error_codec.h"
#include "proto/frame.h"
#include "proto/grpc_status.h"
#include "proto/limits.h"
#include "proto/metadata.h"
#include "proto/migrate.h"
#include "proto/packet.h"
#include "proto/window.h"

namespace drpc::dump {
namespace {

std::string Flags(const Frame& f) {
  return absl::StrCat(f.done ? "D" : "-", f.control ? "C" : "-");
}

// What the listing remembers across packets: the compression each stream's metadata chose.
struct DumpState {
  std::map<uint64_t, Compression> compression;
};

std::string ErrorDetail(const Packet& p, ErrorFormat format) {
  absl::StatusOr<RemoteError> e = DecodeErrorBody(format, p.data);
  if (!e.ok()) return absl::StrCat("code=<undecodable: ", e.status().message(), ">");
  std::string out = absl::StrCat("code=", e->code);
  if (format == ErrorFormat::kGrpcStatus) {
    // The gRPC code on the wire (the DRPC code may come from a detail).
    absl::StatusOr<GrpcStatus> g = DecodeGrpcStatus(absl::string_view(p.data).substr(1));
    if (g.ok()) absl::StrAppend(&out, " grpc_code=", g->code);
  }
  absl::StrAppend(&out, " text=", Preview(e->text, 1 << 10));
  if (!e->details.empty()) absl::StrAppend(&out, " details=", e->details.size());
  if (std::optional<std::string> note = OtherErrorFormatNote(format, p.data)) {
    absl::StrAppend(&out, " note=", Preview(*note, 1 << 10));
  }
  return out;
}

std::string MetadataDetail(const Packet& p, DumpState& state) {
  absl::StatusOr<Metadata> md = DecodeMetadata(p.data);
  if (!md.ok()) return absl::StrCat("metadata=<", md.status().message(), ">");
  std::string out = absl::StrCat(
      "metadata={",
      absl::StrJoin(*md, ", ",
                    [](std::string* out, const auto& kv) {
                      absl::StrAppend(out, absl::CHexEscape(kv.first), "=",
                                      absl::CHexEscape(kv.second));
                    }),
      "}");
  absl::StatusOr<Compression> c = TakeRequestedCompression(*md);
  if (!c.ok()) return absl::StrCat(out, " compression=<", c.status().message(), ">");
  if (*c != Compression::kNone) {
    state.compression[p.id.stream] = *c;
    absl::StrAppend(&out, " compression=", CompressionName(*c));
  }
  return out;
}

std::string MessageDetail(const Packet& p, const DumpOptions& options, const DumpState& state) {
  Compression c = options.compression;
  if (auto it = state.compression.find(p.id.stream); it != state.compression.end()) c = it->second;
  if (c == Compression::kNone) {
    return p.data.empty() ? "" : Preview(p.data, options.preview_max_bytes);
  }
  std::string message;
  const absl::Status s = DecompressMessage(c, p.data, limits::kPacketLimitMaxBytes, &message);
  if (!s.ok()) return absl::StrCat(CompressionName(c), " <", s.message(), ">");
  return absl::StrCat(CompressionName(c), " len=", p.data.size(), " -> ", message.size(), " ",
                      Preview(message, options.preview_max_bytes));
}

// What a receiver makes of the packet's body, by kind.
std::string Detail(const Packet& p, const DumpOptions& options, DumpState& state) {
  switch (p.kind) {
    case Kind::kInvoke:
      return absl::StrCat("rpc=", Preview(p.data, options.preview_max_bytes));
    case Kind::kError:
      return ErrorDetail(p, options.error_format);
    case Kind::kInvokeMetadata:
      return MetadataDetail(p, state);
    case Kind::kWindowUpdate: {
      absl::StatusOr<uint64_t> delta = DecodeWindowUpdate(p.data);
      return delta.ok() ? absl::StrCat("delta=", *delta)
                        : absl::StrCat("delta=<", delta.status().message(), ">");
    }
    case Kind::kMessage:
      return MessageDetail(p, options, state);
    default:
      break;
  }
  if (IsKnownKind(p.kind)) {
    return p.data.empty() ? "" : Preview(p.data, options.preview_max_bytes);
  }
  return p.control ? "(unknown kind with control bit: receivers ignore it)"
                   : "(unknown kind without control bit: receivers fail the connection)";
}

void PrintPacket(const Packet& p, const DumpOptions& options, DumpState& state,
                 std::ostream& out) {
  out << "packet " << PacketIdString(p.id) << " " << KindName(p.kind)
      << (p.control ? " control" : "") << " len=" << p.data.size();
  const std::string detail = Detail(p, options, state);
  if (!detail.empty()) out << " " << detail;
  out << "\n";
}

// Feeds one frame to the configured assembler; returns the connection-fatal error, if any.
absl::Status Assemble(const Frame& f, UpstreamAssembler& upstream, MuxAssembler& mux,
                      const DumpOptions& options, DumpState& state, std::ostream& out) {
  if (options.mode == DumpMode::kUpstream) {
    absl::StatusOr<std::optional<Packet>> p = upstream.OnFrame(f);
    if (!p.ok()) return p.status();
    if (p->has_value()) PrintPacket(**p, options, state, out);
    return absl::OkStatus();
  }
  if (f.kind == Kind::kWindowUpdate) {
    // Handled before assembly, as a mux receiver does (docs/protocol.md §11.7): message ID 0 is its norm.
    PrintPacket(Packet{.id = f.id, .kind = f.kind, .control = f.control, .data = std::string(f.data)},
                options, state, out);
    return absl::OkStatus();
  }
  absl::StatusOr<MuxAssembler::Result> r = mux.OnFrame(f);
  if (!r.ok()) return r.status();
  if (const auto* p = std::get_if<Packet>(&*r)) PrintPacket(*p, options, state, out);
  if (const auto* e = std::get_if<StreamAssemblyError>(&*r)) {
    out << "stream-error stream=" << e->stream << " " << e->status.message() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

std::string Preview(absl::string_view data, size_t max_bytes) {
  const absl::string_view shown = data.substr(0, max_bytes);
  size_t printable = 0;
  for (char c : shown) printable += (c >= 0x20 && c < 0x7F) || c == '\n' || c == '\t';
  const char* cut = data.size() > max_bytes ? "..." : "";
  if (printable * 10 >= shown.size() * 9) {
    return absl::StrCat("\"", absl::CHexEscape(shown), "\"", cut);
  }
  return absl::StrCat("hex:", absl::BytesToHexString(shown), cut);
}

int DumpStream(absl::string_view bytes, const DumpOptions& options, std::ostream& out) {
  uint64_t base = 0;
  if (bytes.substr(0, kMigrateHeader.size()) == kMigrateHeader) {
    out << "migrate @0 header \"" << kMigrateHeader << "\"\n";
    bytes.remove_prefix(kMigrateHeader.size());
    base = kMigrateHeader.size();
  }
  FrameParser parser(FrameParser::Options{.frame_data_max_bytes = limits::kPacketDefaultMaxBytes});
  UpstreamAssembler upstream(UpstreamAssembler::Options{});
  MuxAssembler mux(MuxAssembler::Options{.streams_max_count = limits::kStreamsLimitMaxCount});
  DumpState state;
  parser.Append(bytes);
  for (;;) {
    const uint64_t at = base + parser.offset();
    absl::StatusOr<std::optional<Frame>> f = parser.Next();
    if (!f.ok()) {
      out << "error  @" << at << " " << f.status().message() << "\n";
      return 1;
    }
    if (!f->has_value()) break;
    const Frame& frame = **f;
    if (options.frames) {
      out << "frame  @" << at << " " << KindName(frame.kind) << " " << Flags(frame) << " "
          << PacketIdString(frame.id) << " len=" << frame.data.size() << " "
          << Preview(frame.data, options.preview_max_bytes) << "\n";
    }
    if (absl::Status s = Assemble(frame, upstream, mux, options, state, out); !s.ok()) {
      out << "error  @" << at << " " << s.message() << "\n";
      return 1;
    }
  }
  if (parser.buffered_bytes() > 0) {
    out << "eof    @" << base + parser.offset() << " " << parser.buffered_bytes()
        << " bytes of an incomplete frame\n";
    return 1;
  }
  return 0;
}

}  // namespace drpc::dump
