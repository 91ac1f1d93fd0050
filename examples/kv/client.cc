// A command-line client of the key-value server (examples/kv/server.cc), through the generated
// kv::KeyValue::Client.
//
//   bazel run //examples/kv:client -- put greeting hello        # revision 1
//   bazel run //examples/kv:client -- get greeting              # greeting = hello (revision 1)
//   bazel run //examples/kv:client -- delete greeting           # deleted at revision 2
//   bazel run //examples/kv:client -- watch greet --count=2     # prints the next 2 changes
//
// Flags: --addr (default 127.0.0.1:7878), --mux, --from=REV (watch from an older revision),
// --count=N (watch: stop after N changes; 0 = until interrupted), --timeout (get/put/delete).
// Exit codes: 0 ok, 1 the call failed (the error on stderr), 2 usage error.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "examples/kv/kv.drpc.h"
#include "impl/conn.h"
#include "impl/errors.h"
#include "impl/runtime/runtime.h"
#include "impl/runtime/tcp.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7878", "server address");
ABSL_FLAG(bool, mux, false, "multiplexed mode (the server must use --mux too)");
ABSL_FLAG(int64_t, from, 0, "watch: the first revision to report (0: changes from now on)");
ABSL_FLAG(int64_t, count, 0, "watch: stop after this many changes (0: until interrupted)");
ABSL_FLAG(int64_t, timeout_ms, 10000, "get/put/delete: deadline in milliseconds");

namespace {

constexpr char kUsage[] =
    "usage: client [flags] get KEY | put KEY VALUE | delete KEY | watch [PREFIX]\n";

void PrintEvent(const kv::Event& e) {
  if (e.type() == kv::Event::DELETE) {
    std::printf("DELETE %s (revision %lld)\n", e.entry().key().c_str(),
                static_cast<long long>(e.entry().revision()));
  } else {
    std::printf("PUT %s = %s (revision %lld)\n", e.entry().key().c_str(),
                e.entry().value().c_str(), static_cast<long long>(e.entry().revision()));
  }
  std::fflush(stdout);
}

absl::Status Watch(const kv::KeyValue::Client& client, drpc::CallContext& ctx,
                   const std::string& prefix) {
  kv::WatchRequest request;
  request.set_prefix(prefix);
  request.set_start_revision(absl::GetFlag(FLAGS_from));
  absl::StatusOr<drpc::ServerStreamCall<kv::Event>> watch = client.Watch(ctx, request);
  if (!watch.ok()) return watch.status();
  const int64_t count = absl::GetFlag(FLAGS_count);
  for (int64_t seen = 0; count == 0 || seen < count; ++seen) {
    absl::StatusOr<kv::Event> event = watch->Recv();
    if (!event.ok()) return event.status();
    PrintEvent(*event);
  }
  return watch->Close();  // tells the server to stop
}

absl::Status Run(const kv::KeyValue::Client& client, drpc::CallContext& ctx,
                 const std::vector<std::string>& args) {
  const std::string& cmd = args[0];
  if (cmd == "watch" && args.size() <= 2) return Watch(client, ctx, args.size() == 2 ? args[1] : "");
  ctx.SetTimeout(drpc::Duration::Millis(absl::GetFlag(FLAGS_timeout_ms)));
  if (cmd == "get" && args.size() == 2) {
    kv::GetRequest request;
    request.set_key(args[1]);
    absl::StatusOr<kv::GetResponse> r = client.Get(ctx, request);
    if (!r.ok()) return r.status();
    if (!r->found()) {
      std::printf("%s not found (store revision %lld)\n", args[1].c_str(),
                  static_cast<long long>(r->revision()));
    } else {
      std::printf("%s = %s (revision %lld)\n", args[1].c_str(), r->entry().value().c_str(),
                  static_cast<long long>(r->entry().revision()));
    }
    return absl::OkStatus();
  }
  if (cmd == "put" && args.size() == 3) {
    kv::PutRequest request;
    request.set_key(args[1]);
    request.set_value(args[2]);
    absl::StatusOr<kv::PutResponse> r = client.Put(ctx, request);
    if (!r.ok()) return r.status();
    std::printf("revision %lld\n", static_cast<long long>(r->revision()));
    return absl::OkStatus();
  }
  if (cmd == "delete" && args.size() == 2) {
    kv::DeleteRequest request;
    request.set_key(args[1]);
    absl::StatusOr<kv::DeleteResponse> r = client.Delete(ctx, request);
    if (!r.ok()) return r.status();
    if (r->deleted()) {
      std::printf("deleted at revision %lld\n", static_cast<long long>(r->revision()));
    } else {
      std::printf("%s not found\n", args[1].c_str());
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(kUsage);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  auto rt = drpc::runtime::Runtime::Start({.reactor_count = 1});
  if (!rt.ok()) {
    std::fprintf(stderr, "kv client: %s\n", rt.status().ToString().c_str());
    return 1;
  }
  const absl::Status st = (*rt)->Run(0, [&](drpc::runtime::Reactor& r) -> absl::Status {
    auto transport = drpc::runtime::Dial(r, absl::GetFlag(FLAGS_addr));
    if (!transport.ok()) return transport.status();
    drpc::Options options;
    options.mux = absl::GetFlag(FLAGS_mux);
    auto conn = drpc::Conn::Create(r.env(), *std::move(transport), options);
    if (!conn.ok()) return conn.status();
    absl::Status result;
    {
      drpc::CallContext ctx(r.env());
      result = Run(kv::KeyValue::Client(**conn), ctx, args);
    }
    (*conn)->Close();
    return result;
  });
  (*rt)->Stop();
  if (absl::IsInvalidArgument(st) && st.message() == kUsage) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  if (!st.ok()) {
    const std::optional<uint64_t> code = drpc::RemoteErrorCode(st);
    std::fprintf(stderr, "kv client: %s%s\n",
                 code ? absl::StrCat("code=", *code, " ").c_str() : "",
                 std::string(code ? st.message() : st.ToString()).c_str());
    return 1;
  }
  return 0;
}
