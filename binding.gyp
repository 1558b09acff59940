{
  "targets": [
    {
      "target_name": "tun",
      "sources": ["native/tun.c", "native/netlink.c", "native/napi_util.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "esp",
      "sources": [
        "native/addon.c",
        "native/esp.c",
        "native/dataplane.c",
        "native/dataplane_js.c",
        "native/packet.c",
        "native/notify.c",
        "native/napi_util.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden", "-pthread"],
      "ldflags": ["-Wl,-z,now", "-pthread"],
      "libraries": ["-lpthread"]
    }
  ]
}
