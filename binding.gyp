{
  "targets": [
    {
      "target_name": "procstat",
      "sources": ["native/procstat.c"],
      "include_dirs": ["/usr/include/fuse3"],
      "libraries": ["-lfuse3", "-lpthread"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2", "-fvisibility=hidden"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
