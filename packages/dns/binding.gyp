{
  "targets": [
    {
      "target_name": "cnm_dns_udp",
      "sources": ["native/udp-loop.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "libraries": ["-lpthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
