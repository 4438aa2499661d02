{
  "targets": [
    {
      "target_name": "procstat",
      "sources": ["native/binding.c", "native/calls.c", "native/fusermount.c", "native/lifecycle.c", "native/replies.c",
                  "native/requests.c", "native/signals.c", "native/status.c", "native/table.c", "native/threads.c",
                  "native/waiters.c", "native/watcher.c"],
      "include_dirs": ["/usr/include/fuse3"],
      "libraries": ["-lfuse3", "-lpthread"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2", "-fvisibility=hidden"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
