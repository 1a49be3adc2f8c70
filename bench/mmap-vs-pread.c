/* mmap + copy against pread(2) over a file, in C: what any mmap reader pays for mapping, apart from Node (issue #10).
 *
 * Build and run (the file should be in the page cache: run it twice, or cat it to /dev/null first):
 *   cc -O2 -o /tmp/mmap-vs-pread bench/mmap-vs-pread.c
 *   /tmp/mmap-vs-pread FILE WINDOW_KIB [populate]
 * Each window of the file is read once with pread(2) into a buffer, then mapped (MAP_POPULATE if asked), copied into
 * the same buffer, and unmapped, as slim-core's mmap reader does. It prints both times and their ratio.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s FILE WINDOW_KIB [populate]\n", argv[0]);
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) {
    perror(argv[1]);
    return 1;
  }
  off_t size = lseek(fd, 0, SEEK_END);
  size_t window = (size_t)atol(argv[2]) << 10;
  int populate = argc > 3 && strcmp(argv[3], "populate") == 0;
  char *buf = aligned_alloc(4096, window);
  if (window == 0 || !buf) return 2;
  memset(buf, 1, window);
  volatile char sink = 0;

  double start = now_ms();
  for (off_t at = 0; at + (off_t)window <= size; at += window) {
    if (pread(fd, buf, window, at) != (ssize_t)window) {
      perror("pread");
      return 1;
    }
    sink ^= buf[window - 1];
  }
  double read_ms = now_ms() - start;

  start = now_ms();
  for (off_t at = 0; at + (off_t)window <= size; at += window) {
    char *map = mmap(NULL, window, PROT_READ, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, at);
    if (map == MAP_FAILED) {
      perror("mmap");
      return 1;
    }
    memcpy(buf, map, window);
    sink ^= buf[window - 1];
    munmap(map, window);
  }
  double map_ms = now_ms() - start;

  printf("window %zu KiB%s: pread %.1f ms, mmap+copy %.1f ms: mmap at %.2fx the speed of pread\n", window >> 10,
         populate ? " (MAP_POPULATE)" : "", read_ms, map_ms, read_ms / map_ms);
  return 0;
}
