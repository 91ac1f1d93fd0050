// The model protoc-gen-drpc-cpp generates code from: for each service of a .proto file, the C++
// names (checked for collisions), the RPC names exactly as protoc-gen-go-drpc writes them, and the
// comments to carry over; plus the plugin's options.
//
//   absl::StatusOr<Options> options = ParseOptions("unimplemented=false");
//   absl::StatusOr<FileModel> model = BuildFileModel(file_descriptor);
//   model->services[0].methods[0].rpc    // "/interop.Echo/Unary"
//
// Errors name the element ("service interop.Echo: method ..."); protoc prints them after the
// file's name as the plugin's failure ("--drpc-cpp_out: examples/echo/echo.proto: service ...").
#ifndef DRPC_CODEGEN_PLUGIN_MODEL_H_
#define DRPC_CODEGEN_PLUGIN_MODEL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace drpc::codegen {

struct Options {
  // `unimplemented=true|false`: emit <Service>::UnimplementedServer (default true).
  bool unimplemented = true;
  // `drpc_include_prefix=DIR`: where generated code finds drpc-cpp's headers (default: the
  // repository layout, `codegen/service.h`; with DIR, `DIR/codegen/service.h`).
  std::string drpc_include_prefix;
};

// The comma-separated `key=value` list protoc passes (--drpc-cpp_opt=...).
absl::StatusOr<Options> ParseOptions(absl::string_view parameter);

enum class Shape { kUnary, kServerStream, kClientStream, kBidi };

struct MethodModel {
  std::string proto_name;  // "Unary"
  std::string cpp_name;    // a C++ identifier: keywords and generated names get a trailing '_'
  std::string rpc;         // "/package.Service/Method"
  std::string constant;    // "kUnaryRpc"
  std::string request;     // "::interop::EchoMessage"
  std::string response;
  Shape shape = Shape::kUnary;
  std::vector<std::string> comment;  // lines without "//"
};

struct ServiceModel {
  std::string full_name;  // "interop.Echo"
  std::string cpp_name;   // "Echo"
  std::vector<MethodModel> methods;
  std::vector<std::string> comment;
};

struct FileModel {
  std::string proto_path;               // "examples/echo/echo.proto"
  std::string base;                     // "examples/echo/echo"
  std::vector<std::string> namespaces;  // {"interop"}
  std::vector<ServiceModel> services;
};

absl::StatusOr<FileModel> BuildFileModel(const google::protobuf::FileDescriptor& file);

// The C++ class of a message as protoc's C++ generator names it: "::pkg::Outer_Inner".
std::string QualifiedCppClass(const google::protobuf::Descriptor& message);

}  // namespace drpc::codegen

#endif  // DRPC_CODEGEN_PLUGIN_MODEL_H_
