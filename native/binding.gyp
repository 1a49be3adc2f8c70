# The mmap reader's addon (src/sources/mmap-addon.ts loads it); built by scripts/build-native.sh on npm install.
{
  "targets": [
    {
      "target_name": "slimcore_mmap",
      "sources": ["slimcore_mmap.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
