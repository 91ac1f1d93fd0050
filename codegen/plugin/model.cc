#include "codegen/plugin/model.h"

#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

// libprotoc's own keyword rule (exported by libprotoc.so, declared in the uninstallable
// compiler/cpp/helpers.h): using it keeps our names of messages identical to the C++ generator's.
namespace google::protobuf::compiler::cpp {
std::string ResolveKeyword(const std::string& name);
}  // namespace google::protobuf::compiler::cpp

namespace drpc::codegen {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FileDescriptor;
using google::protobuf::MethodDescriptor;
using google::protobuf::ServiceDescriptor;
using google::protobuf::SourceLocation;
using google::protobuf::compiler::cpp::ResolveKeyword;

// Names a method may not take in the generated classes: the nested classes' own names (a method
// named Client would be Client's constructor) and the members the classes already have.
const std::set<std::string>& ReservedMethodNames() {
  static const auto* const kReserved =
      new std::set<std::string>{"Client", "Server", "UnimplementedServer", "conn", "Register"};
  return *kReserved;
}

absl::Status ParseBool(absl::string_view key, absl::string_view value, bool* out) {
  if (value == "true") {
    *out = true;
  } else if (value == "false") {
    *out = false;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("option ", key, "=", value, ": want true or false"));
  }
  return absl::OkStatus();
}

// Comment lines of a source location, leading then trailing, without "//" and trailing blanks.
// A line ending in a backslash would splice the next generated line into the comment: it gets a
// '.' after it.
std::vector<std::string> CommentLines(const SourceLocation& location) {
  std::string text = location.leading_comments;
  if (!location.trailing_comments.empty()) {
    if (!text.empty()) text += "\n";
    text += location.trailing_comments;
  }
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::string l(absl::StripTrailingAsciiWhitespace(line));
    if (!l.empty() && l.back() == '\\') l += '.';
    lines.push_back(std::move(l));
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

template <typename D>
std::vector<std::string> CommentOf(const D& d) {
  SourceLocation location;
  if (!d.GetSourceLocation(&location)) return {};
  return CommentLines(location);
}

std::string Namespace(absl::string_view package) {
  std::string ns;
  if (package.empty()) return ns;
  for (absl::string_view part : absl::StrSplit(package, '.')) {
    absl::StrAppend(&ns, "::", ResolveKeyword(std::string(part)));
  }
  return ns;
}

std::string CppClass(const Descriptor& message) {
  std::string name = message.containing_type() == nullptr
                         ? message.name()
                         : absl::StrCat(CppClass(*message.containing_type()), "_", message.name());
  return ResolveKeyword(name);
}

std::string CppEnum(const EnumDescriptor& e) {
  std::string name = e.containing_type() == nullptr
                         ? e.name()
                         : absl::StrCat(CppClass(*e.containing_type()), "_", e.name());
  return ResolveKeyword(name);
}

// Every C++ class name protoc's C++ generator puts in this file's namespace, with the proto
// element it comes from.
void CollectTypeNames(const Descriptor& message, std::map<std::string, std::string>* names) {
  names->emplace(CppClass(message), absl::StrCat("message ", message.full_name()));
  for (int i = 0; i < message.nested_type_count(); ++i) {
    CollectTypeNames(*message.nested_type(i), names);
  }
  for (int i = 0; i < message.enum_type_count(); ++i) {
    names->emplace(CppEnum(*message.enum_type(i)),
                   absl::StrCat("enum ", message.enum_type(i)->full_name()));
  }
}

Shape ShapeOf(const MethodDescriptor& m) {
  if (m.client_streaming() && m.server_streaming()) return Shape::kBidi;
  if (m.client_streaming()) return Shape::kClientStream;
  if (m.server_streaming()) return Shape::kServerStream;
  return Shape::kUnary;
}

absl::StatusOr<ServiceModel> BuildService(const ServiceDescriptor& service) {
  ServiceModel model;
  model.full_name = service.full_name();
  model.cpp_name = ResolveKeyword(service.name());
  model.comment = CommentOf(service);
  const std::string where = absl::StrCat("service ", service.full_name());
  std::map<std::string, std::string> cpp_names;  // C++ method name -> proto method name
  for (int i = 0; i < service.method_count(); ++i) {
    const MethodDescriptor& m = *service.method(i);
    MethodModel method;
    method.proto_name = m.name();
    method.cpp_name = ResolveKeyword(m.name());
    if (ReservedMethodNames().contains(method.cpp_name)) method.cpp_name += "_";
    // protoc-gen-go-drpc: "/" + the service's full name + "/" + the method's proto name.
    method.rpc = absl::StrCat("/", service.full_name(), "/", m.name());
    method.constant = absl::StrCat("k", m.name(), "Rpc");
    method.request = QualifiedCppClass(*m.input_type());
    method.response = QualifiedCppClass(*m.output_type());
    method.shape = ShapeOf(m);
    method.comment = CommentOf(m);
    auto [it, inserted] = cpp_names.emplace(method.cpp_name, m.name());
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": method ", m.name(), " would be the C++ method ", method.cpp_name,
          ", which method ", it->second, " already is; rename one of them"));
    }
    model.methods.push_back(std::move(method));
  }
  return model;
}

}  // namespace

absl::StatusOr<Options> ParseOptions(absl::string_view parameter) {
  Options options;
  if (parameter.empty()) return options;
  for (absl::string_view item : absl::StrSplit(parameter, ',')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.first == "unimplemented") {
      if (absl::Status s = ParseBool(kv.first, kv.second, &options.unimplemented); !s.ok()) return s;
    } else if (kv.first == "drpc_include_prefix") {
      options.drpc_include_prefix = std::string(absl::StripSuffix(kv.second, "/"));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option \"", item,
                       "\" (known: unimplemented=true|false, drpc_include_prefix=DIR)"));
    }
  }
  return options;
}

std::string QualifiedCppClass(const Descriptor& message) {
  return absl::StrCat(Namespace(message.file()->package()), "::", CppClass(message));
}

absl::StatusOr<FileModel> BuildFileModel(const FileDescriptor& file) {
  FileModel model;
  model.proto_path = file.name();
  if (!absl::EndsWith(file.name(), ".proto")) {
    return absl::InvalidArgumentError("the file name does not end in .proto");
  }
  model.base = std::string(absl::StripSuffix(file.name(), ".proto"));
  if (!file.package().empty()) {
    for (absl::string_view part : absl::StrSplit(file.package(), '.')) {
      model.namespaces.push_back(ResolveKeyword(std::string(part)));
    }
  }
  std::map<std::string, std::string> type_names;
  for (int i = 0; i < file.message_type_count(); ++i) {
    CollectTypeNames(*file.message_type(i), &type_names);
  }
  for (int i = 0; i < file.enum_type_count(); ++i) {
    type_names.emplace(CppEnum(*file.enum_type(i)),
                       absl::StrCat("enum ", file.enum_type(i)->full_name()));
  }
  for (int i = 0; i < file.service_count(); ++i) {
    const ServiceDescriptor& service = *file.service(i);
    absl::StatusOr<ServiceModel> s = BuildService(service);
    if (!s.ok()) return s.status();
    if (auto it = type_names.find(s->cpp_name); it != type_names.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "service ", service.full_name(), " would be the C++ class ", s->cpp_name,
          ", which ", it->second, " already is; rename one of them"));
    }
    model.services.push_back(*std::move(s));
  }
  return model;
}

}  // namespace drpc::codegen
