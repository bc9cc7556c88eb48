{
  # The hnv native addon: syscalls only (TAP, raw GRE sockets, a uv_poll batch reader).
  # Built offline by node-gyp against the installed node headers; node-addon-api is header-only.
  "targets": [
    {
      "target_name": "hnv_native",
      "sources": [
        "src/addon.cc",
        "src/bpf.cc",
        "src/copy.cc",
        "src/link.cc",
        "src/physical.cc",
        "src/reader.cc",
        "src/sockets.cc",
        "src/tap.cc",
        "src/virtio.c"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # C++ exceptions off: errors become JS exceptions or negative errno values.
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags_cc": ["-fno-exceptions", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "conditions": [
        ["OS!='linux'", {"type": "none"}]
      ]
    }
  ]
}
