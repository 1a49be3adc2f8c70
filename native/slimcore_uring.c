// Submits a window's reads through io_uring: hundreds of small reads for one system call, where each pread costs one.
//
// Each thread-pool thread keeps a ring of its own. Where io_uring is missing or refused (old kernels, seccomp,
// kernel.io_uring_disabled, SLIMCORE_NO_IO_URING set), uring_read_runs says so and the caller uses pread.

#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "slimcore_native.h"

#define RING_ENTRIES 256

typedef struct {
  int fd;
  unsigned entries;
  _Atomic unsigned *sq_tail;
  unsigned *sq_mask, *sq_array;
  _Atomic unsigned *cq_head, *cq_tail;
  unsigned *cq_mask;
  struct io_uring_cqe *cqes;
  struct io_uring_sqe *sqes;
} Ring;

static __thread Ring ring;
static __thread int ring_state;  // 0: not tried, 1: ready, -1: unavailable on this thread
static atomic_int unavailable;  // set once setup is refused anywhere: the others would be refused too

static int ring_setup(void) {
  const char *off = getenv("SLIMCORE_NO_IO_URING");
  if (off != NULL && off[0] != '\0' && strcmp(off, "0") != 0) return -1;
  struct io_uring_params params;
  memset(&params, 0, sizeof params);
  int fd = (int)syscall(__NR_io_uring_setup, RING_ENTRIES, &params);
  if (fd < 0) return -1;
  size_t sq_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  size_t cq_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
  char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
  char *cq = mmap(NULL, cq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
  void *sqes = mmap(NULL, params.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
    close(fd);
    return -1;
  }
  ring.fd = fd;
  ring.entries = params.sq_entries;
  ring.sq_tail = (_Atomic unsigned *)(sq + params.sq_off.tail);
  ring.sq_mask = (unsigned *)(sq + params.sq_off.ring_mask);
  ring.sq_array = (unsigned *)(sq + params.sq_off.array);
  ring.cq_head = (_Atomic unsigned *)(cq + params.cq_off.head);
  ring.cq_tail = (_Atomic unsigned *)(cq + params.cq_off.tail);
  ring.cq_mask = (unsigned *)(cq + params.cq_off.ring_mask);
  ring.cqes = (struct io_uring_cqe *)(cq + params.cq_off.cqes);
  ring.sqes = sqes;
  return 1;
}

static int ring_ready(void) {
  if (ring_state == 0) ring_state = atomic_load(&unavailable) ? -1 : ring_setup();
  if (ring_state < 0) atomic_store(&unavailable, 1);
  return ring_state > 0;
}

static void record(double *failed, size_t *failed_count, double start, double end, double result) {
  double *f = failed + 3 * (*failed_count)++;
  f[0] = start;
  f[1] = end;
  f[2] = result;
}

// Orders the (start, end, result) triples by start: completions come in any order, the caller's log wants file order.
static void sort_failed(double *failed, size_t count) {
  for (size_t i = 1; i < count; i++) {
    double t[3] = {failed[3 * i], failed[3 * i + 1], failed[3 * i + 2]};
    size_t j = i;
    for (; j > 0 && failed[3 * (j - 1)] > t[0]; j--) memcpy(failed + 3 * j, failed + 3 * (j - 1), sizeof t);
    memcpy(failed + 3 * j, t, sizeof t);
  }
}

// The ring itself failed (it never should): every run not done yet is reported failed, for the caller to read again
// page by page, and this thread reads with pread from now on. Reads still in flight write the same file bytes.
static void give_up(const WindowCall *w, const unsigned char *done, int err, double *failed, size_t *failed_count) {
  for (size_t i = 0; i < w->pair_count; i++) {
    if (!done[i] && w->pairs[2 * i + 1] > w->pairs[2 * i]) record(failed, failed_count, w->pairs[2 * i], w->pairs[2 * i + 1], -(double)err);
  }
  ring_state = -1;
}

int uring_read_runs(const WindowCall *w, double *failed, size_t *failed_count) {
  if (!ring_ready()) return -1;
  unsigned char *done = calloc(w->pair_count > 0 ? w->pair_count : 1, 1);
  if (done == NULL) return -1;
  size_t next = 0;
  unsigned unsubmitted = 0, inflight = 0;
  while (next < w->pair_count || unsubmitted > 0 || inflight > 0) {
    unsigned tail = atomic_load_explicit(ring.sq_tail, memory_order_relaxed);
    for (; next < w->pair_count && unsubmitted + inflight < ring.entries; next++) {
      size_t start = (size_t)w->pairs[2 * next], end = (size_t)w->pairs[2 * next + 1];
      if (end <= start) continue;
      unsigned slot = tail & *ring.sq_mask;
      struct io_uring_sqe *sqe = &ring.sqes[slot];
      memset(sqe, 0, sizeof *sqe);
      sqe->opcode = IORING_OP_READ;
      sqe->fd = w->fd;
      sqe->addr = (unsigned long long)(uintptr_t)(w->dst + start);
      sqe->len = (unsigned)(end - start);
      sqe->off = (unsigned long long)(w->position + (int64_t)start);
      sqe->user_data = next;
      ring.sq_array[slot] = slot;
      tail++;
      unsubmitted++;
    }
    atomic_store_explicit(ring.sq_tail, tail, memory_order_release);
    // Submits, then waits for what the kernel took. A read it refuses at submission (a bad descriptor) ends the batch
    // there with that read's completion: waiting for the reads it never took as well would never end.
    int submitted = unsubmitted > 0 ? (int)syscall(__NR_io_uring_enter, ring.fd, unsubmitted, 0, 0, NULL, 0) : 0;
    if (submitted < 0) {
      if (errno != EINTR && errno != EAGAIN && errno != EBUSY) {
        give_up(w, done, errno, failed, failed_count);
        break;
      }
      submitted = 0;
    }
    unsubmitted -= (unsigned)submitted;
    inflight += (unsigned)submitted;
    if (inflight == 0) {
      // Nothing taken and nothing to wait for: the kernel is out of room; the caller reads the rest page by page.
      if (unsubmitted > 0) give_up(w, done, EAGAIN, failed, failed_count);
      if (unsubmitted > 0) break;
      continue;
    }
    // Waits for everything in flight: a window's reads go together.
    if (syscall(__NR_io_uring_enter, ring.fd, 0, inflight, IORING_ENTER_GETEVENTS, NULL, 0) < 0 && errno != EINTR) {
      give_up(w, done, errno, failed, failed_count);
      break;
    }
    unsigned head = atomic_load_explicit(ring.cq_head, memory_order_relaxed);
    unsigned cq_tail = atomic_load_explicit(ring.cq_tail, memory_order_acquire);
    for (; head != cq_tail; head++, inflight--) {
      struct io_uring_cqe *cqe = &ring.cqes[head & *ring.cq_mask];
      size_t i = (size_t)cqe->user_data;
      double start = w->pairs[2 * i], end = w->pairs[2 * i + 1];
      done[i] = 1;
      if (cqe->res != (int)(end - start)) record(failed, failed_count, start, end, (double)cqe->res);
    }
    atomic_store_explicit(ring.cq_head, head, memory_order_release);
  }
  free(done);
  sort_failed(failed, *failed_count);
  return 0;
}
