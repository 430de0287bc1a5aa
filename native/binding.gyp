{
  "targets": [
    {
      "target_name": "berth_native",
      "sources": ["berth_native.c", "berth_spawn.c", "berth_hash.c", "berth_notify.c", "berth_zstd.c", "berth_memory.cc"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "libraries": ["-lzstd"]
    },
    {
      "target_name": "berth-stream",
      "type": "executable",
      "sources": ["berth_stream.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    },
    {
      "target_name": "berth-pinns",
      "type": "executable",
      "sources": ["berth_pinns.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
