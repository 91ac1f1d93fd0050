// protoc-gen-drpc-cpp: the protoc plugin that generates drpc-cpp services (codegen/README.md).
//
//   protoc --plugin=protoc-gen-drpc-cpp=PATH --cpp_out=OUT --drpc-cpp_out=OUT foo.proto
//   protoc ... --drpc-cpp_opt=unimplemented=false,drpc_include_prefix=third_party/drpc
//
// protoc runs it with a CodeGeneratorRequest on stdin; it answers on stdout. Exit code 0 also when
// generation fails: protoc prints the error (which names the file and element) and fails itself.
#include "codegen/plugin/generator.h"
#include "google/protobuf/compiler/plugin.h"

int main(int argc, char* argv[]) {
  drpc::codegen::DrpcCppGenerator generator;
  return google::protobuf::compiler::PluginMain(argc, argv, &generator);
}
