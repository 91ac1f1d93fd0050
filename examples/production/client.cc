// A production drpc client: TLS with the server verified against a CA, an auth token, deadlines
// sent along, retries of idempotent calls, from plain threads — blocking, with generated stubs,
// and a stream.
//
//   bazel run //examples/production:client -- --ca=/tmp/drpc-certs/ca.pem --token=s3cret
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "drpc/client.h"
#include "examples/echo/echo.drpc.h"
#include "impl/app/standard_interceptors.h"
#include "impl/runtime/tls.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7777", "server address");
ABSL_FLAG(std::string, ca, "", "CA certificate(s) the server's certificate must chain to (PEM)");
ABSL_FLAG(std::string, token, "s3cret", "bearer token");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<std::string> ca = drpc::runtime::ReadPemFile(absl::GetFlag(FLAGS_ca));
  if (!ca.ok()) {
    std::fprintf(stderr, "client: %s\n", ca.status().ToString().c_str());
    return 1;
  }
  drpc::RetryPolicy retry;
  retry.idempotent = [](absl::string_view rpc) { return rpc == "/interop.Echo/Unary"; };
  absl::StatusOr<std::unique_ptr<drpc::Client>> client = drpc::Client::Dial(
      absl::GetFlag(FLAGS_addr),
      {.tls = drpc::runtime::TlsClientConfig{.ca_pem = *ca},
       .interceptors = {drpc::AttachMetadata("authorization", "Bearer " + absl::GetFlag(FLAGS_token)),
                        drpc::SendDeadlineInMetadata(), drpc::RetryIdempotentUnary(retry)}});
  if (!client.ok()) {
    std::fprintf(stderr, "client: %s\n", client.status().ToString().c_str());
    return 1;
  }

  // Generated stubs from this thread: Run puts the call on the client's reactor.
  absl::StatusOr<interop::EchoMessage> reply = (*client)->Run(
      [](drpc::ClientConn& conn, drpc::CallContext& ctx) {
        interop::EchoMessage request;
        request.set_text("hello over TLS");
        return interop::Echo::Client(conn).Unary(ctx, request);
      },
      {.timeout = drpc::Duration::Seconds(5)});
  if (!reply.ok()) {
    std::fprintf(stderr, "client: %s\n", reply.status().ToString().c_str());
    return 1;
  }
  std::printf("Unary: %s\n", reply->text().c_str());

  // Four threads share the client (raw bytes: drpc itself has no schema).
  std::vector<std::thread> threads;
  std::vector<std::string> texts(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      interop::EchoMessage m;
      m.set_text("thread " + std::to_string(t));
      absl::StatusOr<std::string> bytes =
          (*client)->Call("/interop.Echo/Unary", m.SerializeAsString(),
                          {.timeout = drpc::Duration::Seconds(5)});
      if (bytes.ok() && m.ParseFromString(*bytes)) texts[t] = m.text();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& text : texts) std::printf("Call: %s\n", text.c_str());

  // A bidi stream driven from this thread.
  absl::StatusOr<std::unique_ptr<drpc::BlockingStream>> stream =
      (*client)->OpenStream("/interop.Echo/Bidi", {.timeout = drpc::Duration::Seconds(5)});
  if (!stream.ok()) return 1;
  for (const char* text : {"one", "two"}) {
    interop::EchoMessage m;
    m.set_text(text);
    absl::StatusOr<std::string> back;
    if ((*stream)->Send(m.SerializeAsString()).ok()) back = (*stream)->Recv();
    if (!back.ok() || !m.ParseFromString(*back)) return 1;
    std::printf("Bidi: %s\n", m.text().c_str());
  }
  (*stream)->CloseSend().IgnoreError();
  stream->reset();
  return 0;
}
