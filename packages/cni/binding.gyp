{
  "targets": [
    {
      "target_name": "cnm-cni",
      "type": "executable",
      "sources": ["native/forwarder.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
