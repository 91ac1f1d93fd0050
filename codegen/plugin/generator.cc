#include "codegen/plugin/generator.h"

#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream.h"

namespace drpc::codegen {
namespace {

// Generated text is built line by line; `indent` is in steps of two spaces.
class Out {
 public:
  void Line(int indent, absl::string_view text) {
    if (!text.empty()) text_.append(2 * indent, ' ');
    absl::StrAppend(&text_, text, "\n");
  }
  void Blank() { text_ += "\n"; }
  void Comment(int indent, const std::vector<std::string>& lines) {
    for (const std::string& l : lines) {
      Line(indent, absl::StrCat("//", l.empty() || l[0] == ' ' ? "" : " ", l));
    }
  }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

std::string IncludeGuard(const FileModel& file) {
  std::string guard = absl::StrCat("DRPC_GENERATED_", file.base, "_PROTO_DRPC_H_");
  for (char& c : guard) c = absl::ascii_isalnum(c) ? absl::ascii_toupper(c) : '_';
  return guard;
}

std::string RuntimeInclude(const Options& options, absl::string_view header) {
  if (options.drpc_include_prefix.empty()) return std::string(header);
  return absl::StrCat(options.drpc_include_prefix, "/", header);
}

// The client method's return type and parameters.
std::string ClientSignature(const MethodModel& m, absl::string_view qualifier) {
  std::string ret;
  std::string params = "::drpc::CallContext& ctx";
  switch (m.shape) {
    case Shape::kUnary:
      ret = absl::StrCat("absl::StatusOr<", m.response, ">");
      absl::StrAppend(&params, ", const ", m.request, "& request");
      break;
    case Shape::kServerStream:
      ret = absl::StrCat("absl::StatusOr<::drpc::ServerStreamCall<", m.response, ">>");
      absl::StrAppend(&params, ", const ", m.request, "& request");
      break;
    case Shape::kClientStream:
      ret = absl::StrCat("absl::StatusOr<::drpc::ClientStreamCall<", m.request, ", ", m.response,
                         ">>");
      break;
    case Shape::kBidi:
      ret = absl::StrCat("absl::StatusOr<::drpc::BidiStreamCall<", m.request, ", ", m.response,
                         ">>");
      break;
  }
  return absl::StrCat(ret, " ", qualifier, m.cpp_name, "(", params, ") const");
}

// The server method's return type and parameters (names of unused parameters in comments).
std::string ServerSignature(const MethodModel& m, bool named) {
  auto name = [named](absl::string_view n) {
    return named ? std::string(n) : absl::StrCat("/*", n, "*/");
  };
  const std::string ctx = absl::StrCat("::drpc::CallContext& ", name("ctx"));
  switch (m.shape) {
    case Shape::kUnary:
      return absl::StrCat("absl::StatusOr<", m.response, "> ", m.cpp_name, "(", ctx, ", const ",
                          m.request, "& ", name("request"), ")");
    case Shape::kServerStream:
      return absl::StrCat("absl::Status ", m.cpp_name, "(", ctx, ", const ", m.request, "& ",
                          name("request"), ", ::drpc::ServerStreamWriter<", m.response, ">& ",
                          name("stream"), ")");
    case Shape::kClientStream:
      return absl::StrCat("absl::StatusOr<", m.response, "> ", m.cpp_name, "(", ctx,
                          ", ::drpc::ClientStreamReader<", m.request, ">& ", name("stream"), ")");
    case Shape::kBidi:
      return absl::StrCat("absl::Status ", m.cpp_name, "(", ctx, ", ::drpc::BidiStreamServer<",
                          m.request, ", ", m.response, ">& ", name("stream"), ")");
  }
  return "";
}

void EmitServiceHeader(const ServiceModel& s, const Options& options, Out& out) {
  out.Comment(0, s.comment);
  out.Line(0, absl::StrCat("class ", s.cpp_name, " final {"));
  out.Line(0, " public:");
  out.Line(1, absl::StrCat(s.cpp_name, "() = delete;"));
  out.Blank();
  out.Line(1, "// The service's full name and each method's RPC name on the wire.");
  out.Line(1, absl::StrCat("static constexpr char kServiceName[] = \"", s.full_name, "\";"));
  for (const MethodModel& m : s.methods) {
    out.Line(1, absl::StrCat("static constexpr char ", m.constant, "[] = \"", m.rpc, "\";"));
  }
  out.Blank();
  out.Line(1, "// Typed calls over any ClientConn, which must outlive the Client.");
  out.Line(1, "class Client {");
  out.Line(1, " public:");
  out.Line(2, "explicit Client(::drpc::ClientConn& conn) : conn_(&conn) {}");
  out.Line(2, "::drpc::ClientConn& conn() const { return *conn_; }");
  for (const MethodModel& m : s.methods) {
    out.Blank();
    out.Comment(2, m.comment);
    out.Line(2, absl::StrCat(ClientSignature(m, ""), ";"));
  }
  out.Blank();
  out.Line(1, " private:");
  out.Line(2, "::drpc::ClientConn* conn_;");
  out.Line(1, "};");
  out.Blank();
  out.Line(1, "// What a server implements: one method per RPC, called concurrently for different");
  out.Line(1, "// calls. A returned error reaches the client with its code (impl/errors.h).");
  out.Line(1, "class Server {");
  out.Line(1, " public:");
  out.Line(2, "virtual ~Server() = default;");
  for (const MethodModel& m : s.methods) {
    out.Blank();
    out.Comment(2, m.comment);
    out.Line(2, absl::StrCat("virtual ", ServerSignature(m, true), " = 0;"));
  }
  out.Line(1, "};");
  if (options.unimplemented) {
    out.Blank();
    out.Line(1, "// Every method fails with code 12 \"Unimplemented\" (as in Go); derive from it to");
    out.Line(1, "// implement some of the methods.");
    out.Line(1, "class UnimplementedServer : public Server {");
    out.Line(1, " public:");
    for (const MethodModel& m : s.methods) {
      out.Line(2, absl::StrCat(ServerSignature(m, false), " override;"));
    }
    out.Line(1, "};");
  }
  out.Blank();
  out.Line(1, "// Registers every method of `impl` on `router`; kAlreadyExists, and nothing");
  out.Line(1, "// registered, if a name is taken. `impl` must outlive the router's servers.");
  out.Line(1, "static absl::Status Register(::drpc::Router& router, Server& impl);");
  out.Line(0, "};");
}

void EmitClientMethod(const ServiceModel& s, const MethodModel& m, Out& out) {
  out.Line(0, absl::StrCat(ClientSignature(m, absl::StrCat(s.cpp_name, "::Client::")), " {"));
  const std::string types = absl::StrCat("<", m.request, ", ", m.response, ">");
  const std::string rpc = absl::StrCat(s.cpp_name, "::", m.constant);
  switch (m.shape) {
    case Shape::kUnary:
      out.Line(1, absl::StrCat("return ::drpc::CallUnary", types, "(*conn_, ctx, ", rpc,
                               ", request);"));
      break;
    case Shape::kServerStream:
      out.Line(1, absl::StrCat("return ::drpc::CallServerStream", types, "(*conn_, ctx, ", rpc,
                               ", request);"));
      break;
    case Shape::kClientStream:
      out.Line(1, absl::StrCat("return ::drpc::CallClientStream", types, "(*conn_, ctx, ", rpc, ");"));
      break;
    case Shape::kBidi:
      out.Line(1, absl::StrCat("return ::drpc::CallBidi", types, "(*conn_, ctx, ", rpc, ");"));
      break;
  }
  out.Line(0, "}");
  out.Blank();
}

void EmitRegistration(const MethodModel& m, Out& out) {
  const std::string types = absl::StrCat("<", m.request, ", ", m.response, ">");
  std::string call;
  switch (m.shape) {
    case Shape::kUnary:
      call = absl::StrCat("::drpc::RegisterUnary", types, "(router, ", m.constant,
                          ", [s](::drpc::CallContext& ctx, const ", m.request,
                          "& request) { return s->", m.cpp_name, "(ctx, request); })");
      break;
    case Shape::kServerStream:
      call = absl::StrCat("::drpc::RegisterServerStream", types, "(router, ", m.constant,
                          ", [s](::drpc::CallContext& ctx, const ", m.request,
                          "& request, ::drpc::ServerStreamWriter<", m.response,
                          ">& stream) { return s->", m.cpp_name, "(ctx, request, stream); })");
      break;
    case Shape::kClientStream:
      call = absl::StrCat("::drpc::RegisterClientStream", types, "(router, ", m.constant,
                          ", [s](::drpc::CallContext& ctx, ::drpc::ClientStreamReader<", m.request,
                          ">& stream) { return s->", m.cpp_name, "(ctx, stream); })");
      break;
    case Shape::kBidi:
      call = absl::StrCat("::drpc::RegisterBidi", types, "(router, ", m.constant,
                          ", [s](::drpc::CallContext& ctx, ::drpc::BidiStreamServer", types,
                          "& stream) { return s->", m.cpp_name, "(ctx, stream); })");
      break;
  }
  out.Line(1, absl::StrCat("if (absl::Status st = ", call, "; !st.ok()) return st;"));
}

void EmitServiceSource(const ServiceModel& s, const Options& options, Out& out) {
  for (const MethodModel& m : s.methods) EmitClientMethod(s, m, out);
  if (options.unimplemented) {
    for (const MethodModel& m : s.methods) {
      const std::string qualified =
          absl::StrCat(s.cpp_name, "::UnimplementedServer::", m.cpp_name, "(");
      out.Line(0, absl::StrCat(
                      absl::StrReplaceAll(ServerSignature(m, false), {{m.cpp_name + "(", qualified}}),
                      " {"));
      out.Line(1, "return ::drpc::UnimplementedMethod();");
      out.Line(0, "}");
      out.Blank();
    }
  }
  out.Line(0, absl::StrCat("absl::Status ", s.cpp_name,
                           "::Register(::drpc::Router& router, Server& impl) {"));
  if (s.methods.empty()) {
    out.Line(1, "(void)router;");
    out.Line(1, "(void)impl;");
  } else {
    std::vector<std::string> constants;
    for (const MethodModel& m : s.methods) constants.push_back(m.constant);
    out.Line(1, absl::StrCat("for (const char* rpc : {", absl::StrJoin(constants, ", "), "}) {"));
    out.Line(2, "if (router.Has(rpc)) {");
    out.Line(3,
             "return absl::AlreadyExistsError(absl::StrCat(\"rpc \", rpc, \" is already "
             "registered\"));");
    out.Line(2, "}");
    out.Line(1, "}");
    out.Line(1, "Server* const s = &impl;");
    for (const MethodModel& m : s.methods) EmitRegistration(m, out);
  }
  out.Line(1, "return absl::OkStatus();");
  out.Line(0, "}");
}

void OpenNamespaces(const FileModel& file, Out& out) {
  for (const std::string& ns : file.namespaces) out.Line(0, absl::StrCat("namespace ", ns, " {"));
  if (!file.namespaces.empty()) out.Blank();
}

void CloseNamespaces(const FileModel& file, Out& out) {
  for (auto it = file.namespaces.rbegin(); it != file.namespaces.rend(); ++it) {
    out.Line(0, absl::StrCat("}  // namespace ", *it));
  }
}

absl::Status Write(google::protobuf::compiler::GeneratorContext* context, const std::string& name,
                   const std::string& content) {
  std::unique_ptr<google::protobuf::io::ZeroCopyOutputStream> stream(context->Open(name));
  google::protobuf::io::CodedOutputStream coded(stream.get());
  coded.WriteRaw(content.data(), static_cast<int>(content.size()));
  if (coded.HadError()) return absl::InternalError(absl::StrCat("cannot write ", name));
  return absl::OkStatus();
}

}  // namespace

std::string GenerateHeader(const FileModel& file, const Options& options) {
  Out out;
  out.Line(0, "// Generated by protoc-gen-drpc-cpp. DO NOT EDIT.");
  out.Line(0, absl::StrCat("// source: ", file.proto_path));
  const std::string guard = IncludeGuard(file);
  out.Line(0, absl::StrCat("#ifndef ", guard));
  out.Line(0, absl::StrCat("#define ", guard));
  out.Blank();
  out.Line(0, "#include \"absl/status/status.h\"");
  out.Line(0, "#include \"absl/status/statusor.h\"");
  out.Line(0, absl::StrCat("#include \"", RuntimeInclude(options, "codegen/service.h"), "\""));
  out.Line(0, absl::StrCat("#include \"", file.base, ".pb.h\""));
  out.Blank();
  OpenNamespaces(file, out);
  for (size_t i = 0; i < file.services.size(); ++i) {
    if (i > 0) out.Blank();
    EmitServiceHeader(file.services[i], options, out);
  }
  if (!file.services.empty()) out.Blank();
  CloseNamespaces(file, out);
  if (!file.namespaces.empty()) out.Blank();
  out.Line(0, absl::StrCat("#endif  // ", guard));
  return out.Take();
}

std::string GenerateSource(const FileModel& file, const Options& options) {
  Out out;
  out.Line(0, "// Generated by protoc-gen-drpc-cpp. DO NOT EDIT.");
  out.Line(0, absl::StrCat("// source: ", file.proto_path));
  out.Line(0, absl::StrCat("#include \"", file.base, ".drpc.h\""));
  out.Blank();
  if (file.services.empty()) return out.Take();
  out.Line(0, "#include \"absl/strings/str_cat.h\"");
  out.Blank();
  OpenNamespaces(file, out);
  for (size_t i = 0; i < file.services.size(); ++i) {
    if (i > 0) out.Blank();
    EmitServiceSource(file.services[i], options, out);
  }
  out.Blank();
  CloseNamespaces(file, out);
  return out.Take();
}

bool DrpcCppGenerator::Generate(const google::protobuf::FileDescriptor* file,
                                const std::string& parameter,
                                google::protobuf::compiler::GeneratorContext* context,
                                std::string* error) const {
  absl::StatusOr<Options> options = ParseOptions(parameter);
  if (!options.ok()) {
    *error = std::string(options.status().message());
    return false;
  }
  absl::StatusOr<FileModel> model = BuildFileModel(*file);
  if (!model.ok()) {
    *error = std::string(model.status().message());
    return false;
  }
  absl::Status written = Write(context, model->base + ".drpc.h", GenerateHeader(*model, *options));
  if (written.ok()) {
    written = Write(context, model->base + ".drpc.cc", GenerateSource(*model, *options));
  }
  if (!written.ok()) {
    *error = std::string(written.message());
    return false;
  }
  return true;
}

}  // namespace drpc::codegen
