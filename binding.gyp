{
  "targets": [
    {
      "target_name": "kestrel",
      "sources": [
        "native/src/addon.cc",
        "native/src/tensor.cc",
        "native/src/ops.cc",
        "native/src/autograd.cc",
        "native/src/runtime.cc",
        "native/src/allocator.cc",
        "native/src/optim.cc",
        "native/src/attention.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/libtorch.mjs include)"
      ],
      "defines": ["NAPI_VERSION=9", "NAPI_CPP_EXCEPTIONS", "<!@(node scripts/libtorch.mjs abi)"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"],
      "libraries": [
        "-L<!(node scripts/libtorch.mjs lib)",
        "-Wl,-rpath,<!(node scripts/libtorch.mjs lib)",
        "<!@(node scripts/libtorch.mjs libs)",
        "-ltorch", "-ltorch_cpu", "-lc10"
      ]
    }
  ]
}
