{
  "targets": [
    {
      # A helper executable, not an addon: the REAP monitor runs in its own small process per
      # restoring instance, so its fault loop never shares a thread with the JS event loop and the
      # worker sees its death as a child exit (and then kills the instance it was serving).
      "target_name": "reap-monitor",
      "type": "executable",
      "sources": ["src/main.c", "src/page_map.c", "src/working_set.c", "src/fault_loop.c", "src/checksum.c", "src/file_pages.c", "src/events.c", "src/fault_log.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "cflags!": ["-fno-exceptions"],
      "ldflags": ["-pthread"]
    }
  ]
}
