{
  "targets": [
    {
      "target_name": "kestrel_jpeg",
      "sources": ["jpeg.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=9", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wno-unused-parameter", "-Wno-clobbered"],
      "libraries": ["-ljpeg"]
    }
  ]
}
