{
  "targets": [
    {
      "target_name": "ipmp_native",
      "sources": [
        "src/addon.c",
        "src/util.c",
        "src/tun.c",
        "src/packet.c",
        "src/netlink.c",
        "src/watch.c",
        "src/proc.c",
        "src/loadgen.c",
        "src/floor.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O3", "-O0"],
      "configurations": {
        "Release": {
          "cflags": ["-O2"],
          "cflags!": ["-O3"]
        },
        "Debug": {
          "cflags": ["-O0", "-g"]
        }
      }
    }
  ]
}
