{
  # npx node-gyp rebuild -- -Dsanitize=1 builds with ASan + UBSan; run node with
  # LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)".
  # native/test-sanitized.sh does all that in a scratch directory and runs the tailer suite.
  "variables": {"sanitize%": 0},
  "targets": [
    {
      "target_name": "f2b_native",
      "sources": [
        "native/addon.cc",
        "native/tailer/Backend.cc",
        "native/tailer/FileTail.cc",
        "native/tailer/PollBackend.cc",
        "native/tailer/TailLoop.cc",
        "native/tailer/TailerWrap.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "conditions": [
        ["OS=='linux'", {"sources": ["native/tailer/InotifyBackend.cc"]}],
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-O1", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
