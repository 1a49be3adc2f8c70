# The native addon (src/sources/mmap-addon.ts loads it): the mmap reader, and the reads between faults; built by scripts/build-native.sh on npm install.
{
  "targets": [
    {
      "target_name": "slimcore_mmap",
      "sources": ["slimcore_mmap.c", "slimcore_pread.c", "slimcore_window.c", "slimcore_uring.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
