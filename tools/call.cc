// call: a command-line drpc client ("the grpcurl of drpc"). Messages are raw bytes (drpc has no
// schema on the wire); see README.md "Running the echo server and calling it".
//
//   call ADDR RPC [--data=STR ... | --data_file=F] [--meta=k=v ...] [--stream=unary|client|server|bidi]
//        [--mux] [--migrate_header] [--timeout=10s] [--format=text|hex|raw]
//        [--fork | --flow_control=on|off --stream_window=N ... --error_format=F --compression=C]
//        [--tls [--tls_ca=ca.pem | --insecure] [--tls_server_name=N] [--tls_cert=F --tls_key=F]]
//
// Exit codes: 0 ok, 1 remote error (printed as "error: code=<n> <text>"), 2 usage error,
// 3 connection failure (dial, closed connection, protocol error), 4 timeout.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "impl/conn.h"
#include "impl/context.h"
#include "impl/error_body.h"
#include "impl/errors.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp.h"
#include "impl/runtime/tls.h"
#include "impl/sync.h"
#include "tools/cli_flags.h"
#include "tools/mux_flags.h"
#include "tools/prod_flags.h"

namespace drpc {
namespace {

enum ExitCode { kOk = 0, kRemoteError = 1, kUsage = 2, kConnection = 3, kTimeout = 4 };

constexpr char kUsageText[] =
    "usage: call ADDR RPC [flags]\n"
    "  ADDR                 host:port of the server, e.g. 127.0.0.1:7777\n"
    "  RPC                  the rpc name, e.g. /interop.Echo/Unary\n"
    "  --data=STR           a request message (repeat for several messages in client/bidi streams)\n"
    "  --data_file=F        read the request from file F instead\n"
    "                       (without --data/--data_file the request is read from stdin:\n"
    "                       unary/server streams send all of it as one message, client/bidi\n"
    "                       streams send one message per line)\n"
    "  --meta=k=v           request metadata (repeatable)\n"
    "  --stream=KIND        unary (default), client, server or bidi\n"
    "  --mux                multiplexed mode (the server must run in mux mode)\n"
    "  --migrate_header     send the drpcmigrate header DRPC!!!1 first\n"
    "  --timeout=D          deadline for the whole call including the dial (default 10s)\n"
    "  --format=F           how replies are printed: text (default; one per line), hex (one per\n"
    "                       line) or raw (bytes only, no separators)\n"
    "exit codes: 0 ok, 1 remote error, 2 usage error, 3 connection failure, 4 timeout\n";

enum class StreamKind { kUnary, kClient, kServer, kBidi };
enum class Format { kText, kHex, kRaw };

struct Request {
  std::string address;
  std::string rpc;
  StreamKind kind = StreamKind::kUnary;
  std::vector<std::string> data;  // from --data
  std::optional<std::string> data_file;
  Metadata metadata;
  Options options;
  runtime::DialOptions dial;
  Duration timeout = Duration::Seconds(10);
  Format format = Format::kText;
  cli::ProdFlags prod;
  cli::MuxFlags mux{/*client=*/true};
};

absl::Status Usage(absl::string_view why) { return absl::InvalidArgumentError(why); }

absl::Status ApplyFlag(const cli::CliFlag& f, Request* req) {
  const std::string v = f.value.value_or("");
  if (req->prod.Apply(f)) return req->prod.error();
  if (req->mux.Apply(f)) return req->mux.error();
  if (f.name == "data" && f.value) {
    req->data.push_back(v);
  } else if (f.name == "data_file" && f.value) {
    req->data_file = v;
  } else if (f.name == "meta" && f.value && v.find('=') != std::string::npos) {
    const size_t eq = v.find('=');
    req->metadata[v.substr(0, eq)] = v.substr(eq + 1);
  } else if (f.name == "stream" && f.value) {
    if (v == "unary") req->kind = StreamKind::kUnary;
    else if (v == "client") req->kind = StreamKind::kClient;
    else if (v == "server") req->kind = StreamKind::kServer;
    else if (v == "bidi") req->kind = StreamKind::kBidi;
    else return Usage("--stream must be unary, client, server or bidi");
  } else if (f.name == "mux" && !f.value) {
    req->options.mux = true;
  } else if (f.name == "migrate_header" && !f.value) {
    req->dial.migrate_header = true;
  } else if (f.name == "timeout" && f.value) {
    absl::StatusOr<Duration> d = cli::ParseCliDuration(v);
    if (!d.ok()) return d.status();
    req->timeout = *d;
  } else if (f.name == "format" && f.value) {
    if (v == "text") req->format = Format::kText;
    else if (v == "hex") req->format = Format::kHex;
    else if (v == "raw") req->format = Format::kRaw;
    else return Usage("--format must be text, hex or raw");
  } else {
    return Usage(absl::StrCat("unknown or malformed flag --", f.name));
  }
  return absl::OkStatus();
}

absl::StatusOr<Request> ParseArgs(int argc, char** argv) {
  Request req;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::optional<cli::CliFlag> f = cli::ParseCliFlag(argv[i]);
    if (!f) {
      positional.push_back(argv[i]);
      continue;
    }
    if (absl::Status s = ApplyFlag(*f, &req); !s.ok()) return s;
  }
  if (positional.size() != 2) return Usage("want exactly two arguments: ADDR RPC");
  if (absl::Status s = req.mux.ApplyTo(req.options); !s.ok()) return Usage(s.message());
  req.address = positional[0];
  req.rpc = positional[1];
  if (!req.data.empty() && req.data_file) return Usage("--data and --data_file exclude each other");
  const bool one_message = req.kind == StreamKind::kUnary || req.kind == StreamKind::kServer;
  if (one_message && req.data.size() > 1) return Usage("unary and server streams take one --data");
  req.dial.timeout = req.timeout;
  if (req.prod.client_tls()) {
    if (absl::StatusOr<runtime::TlsClientConfig> c = req.prod.ClientTls(); !c.ok()) {
      return Usage(c.status().message());
    }
  }
  return req;
}

// The request messages: --data as given; a file or stdin whole (one-message kinds) or by line.
absl::StatusOr<std::vector<std::string>> LoadMessages(const Request& req) {
  if (!req.data.empty()) return req.data;
  std::string input;
  if (req.data_file) {
    std::string path = *req.data_file;
    // `bazel run` starts tools in their runfiles tree; relative paths mean the caller's directory.
    if (const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY"); cwd != nullptr && !path.empty() &&
                                                                  path[0] != '/') {
      path = absl::StrCat(cwd, "/", path);
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return Usage(absl::StrCat("cannot read --data_file ", *req.data_file));
    input.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else {
    input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (req.kind == StreamKind::kUnary || req.kind == StreamKind::kServer) return std::vector{input};
  std::vector<std::string> lines = absl::StrSplit(input, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // the final newline ends a line
  return lines;
}

void Print(Format format, absl::string_view reply) {
  if (format == Format::kRaw) {
    std::fwrite(reply.data(), 1, reply.size(), stdout);
  } else {
    const std::string text = format == Format::kHex ? absl::BytesToHexString(reply) : std::string(reply);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
}

// Receives until EOF, printing each message.
absl::Status PrintUntilEof(RpcStream& s, Format format) {
  std::string m;
  for (;;) {
    absl::Status st = s.RecvInto(&m);
    if (IsEof(st)) return absl::OkStatus();
    if (!st.ok()) return st;
    Print(format, m);
  }
}

absl::Status CallStream(runtime::Reactor& r, Conn& conn, CallContext& ctx, const Request& req,
                        const std::vector<std::string>& messages) {
  absl::StatusOr<std::shared_ptr<RpcStream>> opened = conn.NewStream(ctx, req.rpc);
  if (!opened.ok()) return opened.status();
  RpcStream& s = **opened;
  switch (req.kind) {
    case StreamKind::kServer:
      if (absl::Status st = s.SendLast(messages.empty() ? "" : messages[0]); !st.ok()) return st;
      return PrintUntilEof(s, req.format);
    case StreamKind::kClient: {
      for (const std::string& m : messages) {
        if (absl::Status st = s.Send(m); !st.ok()) return st;
      }
      if (absl::Status st = s.CloseSend(); !st.ok()) return st;
      absl::StatusOr<std::string> reply = s.Recv();
      if (!reply.ok()) return reply.status();
      Print(req.format, *reply);
      return s.Close();
    }
    default: {  // bidi: send everything while printing what comes back
      Signal sent(r.env());
      absl::Status send_error;
      absl::Status spawned = r.Spawn("call: bidi sender", [&] {
        for (const std::string& m : messages) {
          if (send_error = s.Send(m); !send_error.ok()) break;
        }
        if (send_error.ok()) send_error = s.CloseSend();
        sent.Set();
      });
      if (!spawned.ok()) return spawned;
      absl::Status recv_error = PrintUntilEof(s, req.format);
      if (!recv_error.ok()) s.Close().IgnoreError();  // unblocks the sender
      sent.Wait("call: joining the bidi sender");
      return recv_error.ok() ? send_error : recv_error;
    }
  }
}

// TCP, or TLS with --tls (the handshake within the call's --timeout).
absl::StatusOr<std::unique_ptr<Transport>> DialTransport(runtime::Reactor& r, const Request& req) {
  if (!req.prod.client_tls()) {
    absl::StatusOr<std::unique_ptr<runtime::TcpTransport>> t =
        runtime::Dial(r, req.address, req.dial);
    if (!t.ok()) return t.status();
    return std::unique_ptr<Transport>(*std::move(t));
  }
  absl::StatusOr<runtime::TlsClientConfig> config = req.prod.ClientTls();
  if (!config.ok()) return config.status();
  config->handshake_timeout = req.timeout;
  absl::StatusOr<std::shared_ptr<const runtime::TlsContext>> ctx =
      runtime::TlsContext::ForClient(*config);
  if (!ctx.ok()) return ctx.status();
  runtime::TlsDialer dialer(r, *ctx, req.dial);
  return dialer.Dial(req.address, r.Now() + req.timeout);
}

absl::Status DoCall(runtime::Reactor& r, const Request& req, const std::vector<std::string>& messages) {
  CallContext ctx(r.env());
  ctx.SetTimeout(req.timeout);
  ctx.metadata() = req.metadata;
  absl::StatusOr<std::unique_ptr<Transport>> t = DialTransport(r, req);
  if (!t.ok()) return t.status();
  absl::StatusOr<std::unique_ptr<Conn>> conn = Conn::Create(r.env(), *std::move(t), req.options);
  if (!conn.ok()) return conn.status();
  absl::Status result;
  if (req.kind == StreamKind::kUnary) {
    absl::StatusOr<std::string> reply = (*conn)->Invoke(ctx, req.rpc, messages.empty() ? "" : messages[0]);
    if (reply.ok()) Print(req.format, *reply);
    result = reply.status();
  } else {
    result = CallStream(r, **conn, ctx, req, messages);
  }
  // A stream that ended because the deadline passed reports the deadline, whatever it saw.
  if (!result.ok() && ctx.done()) result = ctx.err();
  (*conn)->Close();
  return result;
}

int Report(const absl::Status& st, const Request& req) {
  if (st.ok()) return kOk;
  if (std::optional<uint64_t> code = RemoteErrorCode(st)) {
    std::fprintf(stderr, "error: code=%llu %s\n", static_cast<unsigned long long>(*code),
                 std::string(st.message()).c_str());
    // The body decoded in the configured format but reads as the other one too: say so, since
    // the two ends most likely disagree about --error_format.
    if (std::optional<std::string> note = ErrorFormatNote(st)) {
      std::fprintf(stderr, "note: %s; do both ends use the same --error_format?\n", note->c_str());
    }
    return kRemoteError;
  }
  if (absl::IsDeadlineExceeded(st)) {
    std::fprintf(stderr, "error: timeout after %s: %s\n", req.timeout.ToString().c_str(),
                 std::string(st.message()).c_str());
    return kTimeout;
  }
  std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
  return kConnection;
}

int Main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      std::printf("%smux (the cockroachdb/drpc fork's wire):\n%sTLS:\n%s", kUsageText,
                  cli::MuxFlags::kClientUsage, cli::ProdFlags::kClientUsage);
      return kOk;
    }
  }
  absl::StatusOr<Request> req = ParseArgs(argc, argv);
  absl::StatusOr<std::vector<std::string>> messages =
      req.ok() ? LoadMessages(*req) : absl::StatusOr<std::vector<std::string>>(req.status());
  if (!messages.ok()) {
    if (!messages.status().message().empty()) {
      std::fprintf(stderr, "call: %s\n", std::string(messages.status().message()).c_str());
    }
    std::fputs(kUsageText, stderr);
    return kUsage;
  }
  absl::StatusOr<std::unique_ptr<runtime::Runtime>> rt = runtime::Runtime::Start({.reactor_count = 1});
  if (!rt.ok()) {
    std::fprintf(stderr, "error: %s\n", rt.status().ToString().c_str());
    return kConnection;
  }
  const absl::Status st =
      (*rt)->Run(0, [&](runtime::Reactor& r) { return DoCall(r, *req, *messages); });
  (*rt)->Stop();
  return Report(st, *req);
}

}  // namespace
}  // namespace drpc

int main(int argc, char** argv) { return drpc::Main(argc, argv); }
