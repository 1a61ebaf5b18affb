{
  # npx node-gyp rebuild -- -Dsanitize=1 builds with ASan + UBSan; run node with
  # LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)".
  # native/test-sanitized.sh does all that in a scratch directory and runs the addon's suites.
  # -Dre2_archive=/abs/re2_lib.a links an RE2 library built before (the sanitized build reuses the
  # normal build's instead of compiling RE2 and Abseil again).
  # -Dpcre2=0 builds without the native matcher (native/match) even where PCRE2 is installed.
  "variables": {
    "sanitize%": 0,
    "re2_archive%": "",
    "pcre2%": "<!(node native/pcre2-config.js available)"
  },
  "targets": [
    {
      "target_name": "f2b_native",
      "sources": [
        "native/addon.cc",
        "native/log/UnixDatagram.cc",
        "native/scan/LiteralGate.cc",
        "native/scan/Prefilter.cc",
        "native/scan/ScanWrap.cc",
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
      "cflags_cc": ["-std=c++2a", "-fexceptions", "-Wall", "-Wextra", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++2a",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "conditions": [
        ["OS=='linux'", {"sources": ["native/tailer/InotifyBackend.cc"]}],
        # The native matcher: PCRE2 from the system (Debian: libpcre2-dev), found by pkg-config.
        ["pcre2==1", {
          "sources": [
            "native/match/DateDetector.cc",
            "native/match/Filter.cc",
            "native/match/LineText.cc",
            "native/match/MatchWrap.cc",
            "native/match/Regex.cc",
            "native/match/Tally.cc",
            "native/match/Tracker.cc"
          ],
          "defines": ["F2B_HAVE_PCRE2"],
          "cflags_cc": ["<!@(node native/pcre2-config.js cflags)"],
          "libraries": ["<!@(node native/pcre2-config.js libs)"]
        }],
        ["re2_archive==''", {"dependencies": ["re2_lib"]}, {
          "include_dirs": ["<!@(node native/re2-sources.js includes)"],
          "defines": ["NOMINMAX"],
          "libraries": ["<(re2_archive)"]
        }],
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-O1", "-g"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ],
  # The static RE2 library is a target only when no prebuilt one is given (make builds every
  # target it knows).
  "conditions": [
    ["re2_archive==''", {
      "targets": [
        {
          # RE2 and Abseil, compiled from the sources the `re2` npm package installs (the list is read
          # from its own binding.gyp by native/re2-sources.js). Never sanitized: it is not our code,
          # and an unsanitized static library links into the sanitized addon.
          "target_name": "re2_lib",
          "type": "static_library",
          "sources": ["<!@(node native/re2-sources.js sources)"],
          "include_dirs": ["<!@(node native/re2-sources.js includes)"],
          "defines": ["NDEBUG", "NOMINMAX"],
          "cflags": ["-fPIC", "-pthread", "-O3", "-w"],
          "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
          "cflags_cc": ["-std=c++2a"],
          "direct_dependent_settings": {
            "include_dirs": ["<!@(node native/re2-sources.js includes)"],
            "defines": ["NOMINMAX"]
          },
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++2a",
            "MACOSX_DEPLOYMENT_TARGET": "10.15",
            "OTHER_CFLAGS": ["-O3", "-w"]
          }
        }
      ]
    }]
  ]
}
