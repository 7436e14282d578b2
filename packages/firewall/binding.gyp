{
  "targets": [
    {
      "target_name": "cnm_nft",
      "sources": ["native/nft.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "libraries": ["-ldl"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
