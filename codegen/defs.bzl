"""drpc_cc_library: C++ protobuf messages and drpc-cpp services from .proto files, as one cc_library.

    load("@drpc_cpp//codegen:defs.bzl", "drpc_cc_library")   # or "//codegen:defs.bzl" inside drpc-cpp

    drpc_cc_library(
        name = "kv_proto",
        srcs = ["kv.proto"],            # .proto files of this package
        deps = ["//common:types_proto"],  # other drpc_cc_library targets whose .proto files these import
    )

Runs Debian's protoc (@system//:bin/protoc) with its C++ generator and protoc-gen-drpc-cpp
(//codegen/plugin) on `srcs`, offline: no toolchain or rules are downloaded. For `kv.proto` the
library has `kv.pb.h`, `kv.pb.cc`, `kv.drpc.h` and `kv.drpc.cc`; include them by their workspace
path (`#include "examples/kv/kv.drpc.h"`). Import paths are workspace-relative (as with
proto_library): `import "common/types.proto";`, also for files of another repository that pulls
drpc-cpp in (its files are imported by their path inside that repository). The well-known types
(`google/protobuf/empty.proto`, ...) come from libprotobuf-dev and need no dep.

Arguments:
  name: the cc_library. `<name>_drpc_gen` is the generating rule.
  srcs: .proto files in this package (or its subdirectories).
  deps: drpc_cc_library targets (labels as strings) that `srcs` import.
  plugin_options: protoc-gen-drpc-cpp options, e.g. ["unimplemented=false"] (codegen/README.md).
  **kwargs: passed to the cc_library (visibility, testonly, tags, ...).
"""

DrpcProtoInfo = provider(
    doc = "The .proto files of a drpc_cc_library and of everything it depends on.",
    fields = {"sources": "depset of .proto Files"},
)

def _strip_repo(short_path):
    # An external repository's files have short paths "../<repo>/<path>".
    if short_path.startswith("../"):
        return short_path.split("/", 2)[2]
    return short_path

def _proto_root(f):
    # The directory that `f`'s import path is relative to (its repository's root).
    parts = [p for p in [f.root.path, f.owner.workspace_root] if p]
    return "/".join(parts) if parts else "."

def _import_path(f):
    return _strip_repo(f.short_path)

def _root_order(root):
    return -len(root)

def _outputs_for(import_path, package):
    stem = import_path[:-len(".proto")]
    if package:
        stem = stem[len(package) + 1:]
    return [stem + ext for ext in [".pb.h", ".pb.cc", ".drpc.h", ".drpc.cc"]]

def _drpc_proto_gen_impl(ctx):
    package = ctx.label.package
    for f in ctx.files.srcs:
        if not f.basename.endswith(".proto"):
            fail("drpc_cc_library srcs must be .proto files: %s" % f.short_path)
        if f.owner.workspace_root != ctx.label.workspace_root or f.owner.package != package:
            fail("drpc_cc_library srcs must be files of package %s: %s" % (package, f.owner))
    sources = depset(
        ctx.files.srcs,
        transitive = [d[DrpcProtoInfo].sources for d in ctx.attr.deps],
    )
    wkt = ctx.files._well_known_protos
    roots = {}
    for f in sources.to_list():
        roots[_proto_root(f)] = True
    if wkt:
        wkt_root = wkt[0].path[:-len("/google/protobuf/" + wkt[0].basename)]
        roots[wkt_root] = True

    # protoc maps each input to the first root that contains it: more specific roots first, the
    # main repository's "." last (it contains every external repository too).
    ordered_roots = sorted([r for r in roots.keys() if r != "."], key = _root_order)
    if "." in roots:
        ordered_roots.append(".")

    out_dir = ctx.bin_dir.path
    if ctx.label.workspace_root:
        out_dir += "/" + ctx.label.workspace_root
    args = ctx.actions.args()
    args.add("--plugin=protoc-gen-drpc-cpp=" + ctx.executable._plugin.path)
    args.add("--cpp_out=" + out_dir)
    args.add("--drpc-cpp_out=" + out_dir)
    if ctx.attr.plugin_options:
        args.add("--drpc-cpp_opt=" + ",".join(ctx.attr.plugin_options))
    for r in ordered_roots:
        args.add("--proto_path=" + r)
    args.add_all([f.path for f in ctx.files.srcs])

    expected = {}
    for f in ctx.files.srcs:
        for o in _outputs_for(_import_path(f), package):
            expected[o] = True
    outputs = ctx.outputs.outs
    for o in outputs:
        path = _strip_repo(o.short_path)
        rel = path[len(package) + 1:] if package else path
        if rel not in expected:
            fail("drpc_cc_library: unexpected output %s (want one of %s)" % (rel, sorted(expected.keys())))

    ctx.actions.run(
        executable = ctx.executable._protoc,
        arguments = [args],
        inputs = depset(wkt, transitive = [sources]),
        tools = [ctx.executable._plugin],
        outputs = outputs,
        mnemonic = "DrpcProtoc",
        progress_message = "Generating C++ protobuf and drpc code for %s" % ctx.label,
    )
    return [
        DefaultInfo(files = depset(outputs)),
        DrpcProtoInfo(sources = sources),
    ]

_drpc_proto_gen = rule(
    implementation = _drpc_proto_gen_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".proto"], mandatory = True),
        "deps": attr.label_list(providers = [DrpcProtoInfo]),
        "outs": attr.output_list(mandatory = True),
        "plugin_options": attr.string_list(),
        "_protoc": attr.label(
            default = Label("@system//:bin/protoc"),
            allow_single_file = True,
            executable = True,
            cfg = "host",
        ),
        "_plugin": attr.label(
            default = Label("//codegen/plugin:protoc-gen-drpc-cpp"),
            executable = True,
            cfg = "host",
        ),
        "_well_known_protos": attr.label(
            default = Label("@system//:well_known_protos"),
            allow_files = True,
        ),
    },
)

def _gen_target(dep):
    # "//a/b:c" -> "//a/b:c_drpc_gen"; "//a/b" -> "//a/b:b_drpc_gen"; ":c" -> ":c_drpc_gen".
    if ":" in dep:
        return dep + "_drpc_gen"
    return "%s:%s_drpc_gen" % (dep, dep.split("/")[-1])

def drpc_cc_library(name, srcs, deps = [], plugin_options = [], **kwargs):
    """C++ messages and drpc-cpp services for `srcs` as one cc_library (see the file comment)."""
    package = native.package_name()
    outs = []
    for src in srcs:
        if src.startswith(":"):
            src = src[1:]
        if ":" in src or src.startswith("//") or not src.endswith(".proto"):
            fail("drpc_cc_library %s: srcs must be .proto files of this package, got %s" % (name, src))
        path = package + "/" + src if package else src
        outs += _outputs_for(path, package)
    gen_kwargs = {k: kwargs[k] for k in ["testonly", "visibility", "tags"] if k in kwargs}
    _drpc_proto_gen(
        name = name + "_drpc_gen",
        srcs = srcs,
        deps = [_gen_target(d) for d in deps],
        outs = outs,
        plugin_options = plugin_options,
        **gen_kwargs
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + [
            Label("//codegen:service"),
            Label("@system//:absl"),
            Label("@system//:protobuf"),
        ],
        **kwargs
    )
