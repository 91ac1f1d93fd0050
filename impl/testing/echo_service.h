// The `interop.Echo` test service: the service of the Go conformance captures
// (corpus/conformance/README.md), implemented on drpc-cpp's Router, so a drpc-cpp server answers
// exactly as the Go server did. One implementation serves every user: impl/'s tests (through the
// simulator harness sim/testing/harness.h or directly), the conformance replays in tools/interop,
// the production echo server (tools/echo_server) and the TCP benchmark. That is why this library
// is not testonly and depends on nothing but impl/'s server side.
//
//   Router router = testing::EchoRouter();
//   Server server(env, router, Options{});
//
// | rpc                          | behaviour                                                        |
// |------------------------------|------------------------------------------------------------------|
// | /interop.Echo/Unary          | echoes the request                                               |
// | /interop.Echo/ServerStream   | request = decimal N: sends msg-0 .. msg-(N-1); a bad N: code 3   |
// | /interop.Echo/ClientStream   | reads until EOF; replies with the total byte count in decimal     |
// | /interop.Echo/Bidi           | echoes each message until the client's CloseSend                  |
// | /interop.Echo/Fail           | error code 42, text "boom"                                       |
// | /interop.Echo/Meta           | the incoming metadata as k=v;k=v with sorted keys ("" if none)   |
// | /interop.Echo/Slow           | blocks until the call is cancelled, then ends with that error     |
#ifndef DRPC_IMPL_TESTING_ECHO_SERVICE_H_
#define DRPC_IMPL_TESTING_ECHO_SERVICE_H_

#include "impl/router.h"

namespace drpc::testing {

Router EchoRouter();

}  // namespace drpc::testing

#endif  // DRPC_IMPL_TESTING_ECHO_SERVICE_H_
