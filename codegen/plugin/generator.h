// protoc-gen-drpc-cpp's code generator: for each .proto file, `<file>.drpc.h` and `<file>.drpc.cc`
// with, per service, a nested Client (typed stubs over any drpc::ClientConn), Server (the
// interface to implement), UnimplementedServer and Register (serves a Server on a drpc::Router).
// See codegen/README.md for the generated API and the plugin's options.
//
//   DrpcCppGenerator generator;
//   return google::protobuf::compiler::PluginMain(argc, argv, &generator);
//
// Every file gets both outputs, also one without services (build rules can name them up front).
// Errors (bad options, names that would collide in C++) name the file and the element.
#ifndef DRPC_CODEGEN_PLUGIN_GENERATOR_H_
#define DRPC_CODEGEN_PLUGIN_GENERATOR_H_

#include <cstdint>
#include <string>

#include "codegen/plugin/model.h"
#include "google/protobuf/compiler/code_generator.h"
#include "google/protobuf/descriptor.h"

namespace drpc::codegen {

// The generated header and source of one file.
std::string GenerateHeader(const FileModel& file, const Options& options);
std::string GenerateSource(const FileModel& file, const Options& options);

class DrpcCppGenerator final : public google::protobuf::compiler::CodeGenerator {
 public:
  bool Generate(const google::protobuf::FileDescriptor* file, const std::string& parameter,
                google::protobuf::compiler::GeneratorContext* context,
                std::string* error) const override;
  uint64_t GetSupportedFeatures() const override { return FEATURE_PROTO3_OPTIONAL; }
};

}  // namespace drpc::codegen

#endif  // DRPC_CODEGEN_PLUGIN_GENERATOR_H_
