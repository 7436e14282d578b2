{
  "targets": [
    {
      "target_name": "cnm_netns",
      "sources": ["native/netns.c", "native/pool.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
