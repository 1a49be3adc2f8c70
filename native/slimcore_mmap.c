// Copies ranges of a file through a read-only mmap into a Node buffer, turning SIGBUS on a page into a zero-filled, reported page.
//
// Why mmap: on x86, read(2) of /proc/vmcore consumes old memory in kernel mode (copy_oldmem_page is not machine-check
// safe), so poison there panics the capture kernel; through a mapping it is consumed in user mode and the capture
// kernel's memory_failure() sends this process SIGBUS instead, which the guard below survives.

#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "slimcore_native.h"

// Per copying thread: the source window it is reading now, and where to jump back to when a page in it faults.
// Set before the guard is armed, so the handler never makes glibc allocate this thread's TLS block.
static __thread volatile sig_atomic_t guard_armed;
static __thread const char *volatile guard_lo;
static __thread const char *volatile guard_hi;
static __thread sigjmp_buf guard_jump;

// The smallest readahead window a block device or FUSE has (VM_READAHEAD_PAGES), so steps leave no gaps.
#define WILLNEED_STEP ((size_t)128 << 10)

static struct sigaction previous_action;
static int handler_installed;

static void pass_on(int sig, siginfo_t *info, void *context) {
  if (previous_action.sa_flags & SA_SIGINFO) {
    if (previous_action.sa_sigaction != NULL) {
      previous_action.sa_sigaction(sig, info, context);
      return;
    }
  } else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN) {
    previous_action.sa_handler(sig);
    return;
  }
  // Default action: a fault re-executes the faulting access and dies of it; a sent signal is raised again.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, NULL);
  if (info == NULL || info->si_code <= 0) raise(SIGBUS);
}

static void on_sigbus(int sig, siginfo_t *info, void *context) {
  const char *addr = info != NULL ? (const char *)info->si_addr : NULL;
  if (guard_armed && info != NULL && info->si_code > 0 && addr >= guard_lo && addr < guard_hi) {
    guard_armed = 0;
    siglongjmp(guard_jump, 1);
  }
  pass_on(sig, info, context);
}

static int install_handler(void) {
  if (__atomic_load_n(&handler_installed, __ATOMIC_ACQUIRE)) return 0;
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_sigbus;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  if (sigaction(SIGBUS, &action, &previous_action) != 0) return errno;
  __atomic_store_n(&handler_installed, 1, __ATOMIC_RELEASE);
  return 0;
}

// One copy: ranges [start, end) of dst, where dst[0] is file offset `position`; faulted pages come back as ranges.
// call.pairs: the ranges to copy.
typedef struct {
  WindowCall call;
  double *faults;  // up to one pair per page of the ranges
  size_t fault_count;
  size_t fault_capacity;
  int error;  // errno of a failed mmap, 0 if none
  int64_t error_offset;
} CopyJob;

static void add_fault(CopyJob *job, size_t start, size_t end) {
  if (job->fault_count > 0 && (size_t)job->faults[2 * job->fault_count - 1] == start) {
    job->faults[2 * job->fault_count - 1] = (double)end;
    return;
  }
  if (job->fault_count == job->fault_capacity) return;
  job->faults[2 * job->fault_count] = (double)start;
  job->faults[2 * job->fault_count + 1] = (double)end;
  job->fault_count++;
}

// Copies dst[start, end) from the mapping page by page; a page that faults is zeroed, reported and not tried again.
static void copy_guarded(CopyJob *job, const char *map, size_t map_base, size_t start, size_t end, size_t page) {
  volatile size_t at = start;
  while (at < end) {
    size_t page_end = ((map_base + at) / page + 1) * page - map_base;
    if (page_end > end) page_end = end;
    // From the start of the page being copied (a poison SIGBUS names the page, not the byte) to the range's end.
    guard_lo = map + (((map_base + at) / page) * page - map_base);
    guard_hi = map + end;
    if (sigsetjmp(guard_jump, 1) == 0) {
      guard_armed = 1;
      while (at < end) {
        size_t next = ((map_base + at) / page + 1) * page - map_base;
        if (next > end) next = end;
        memcpy(job->call.dst + at, map + at, next - at);
        at = next;
      }
      guard_armed = 0;
    } else {
      // The page holding `at` faulted (only that page's bytes were being read).
      size_t bad_end = ((map_base + at) / page + 1) * page - map_base;
      if (bad_end > end) bad_end = end;
      memset(job->call.dst + at, 0, bad_end - at);
      add_fault(job, at, bad_end);
      at = bad_end;
    }
  }
}

static void run_copy(napi_env env, void *data) {
  (void)env;
  CopyJob *job = data;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  guard_armed = 0;
  for (size_t i = 0; i < job->call.pair_count && job->error == 0; i++) {
    size_t start = (size_t)job->call.pairs[2 * i], end = (size_t)job->call.pairs[2 * i + 1];
    if (end <= start) continue;
    int64_t file_start = job->call.position + (int64_t)start;
    int64_t map_offset = file_start - file_start % (int64_t)page;
    size_t lead = (size_t)(file_start - map_offset);
    size_t map_length = lead + (end - start);
    char *map = mmap(NULL, map_length, PROT_READ, MAP_SHARED, job->call.fd, map_offset);
    if (map == MAP_FAILED) {
      job->error = errno;
      job->error_offset = file_start;
      return;
    }
    // No readahead around a fault: it could read pages outside the range, which may be the named poisoned ones.
    // The range itself is read ahead instead, a step at a time (the kernel caps one request at the readahead size).
    madvise(map, map_length, MADV_RANDOM);
    for (size_t ahead = 0; ahead < map_length; ahead += WILLNEED_STEP) {
      madvise(map + ahead, map_length - ahead < WILLNEED_STEP ? map_length - ahead : WILLNEED_STEP, MADV_WILLNEED);
    }
    // Index the mapping by dst offsets: map_at(x) is the byte of file offset position + x.
    const char *map_at = map + lead - start;
    copy_guarded(job, map_at, (size_t)(job->call.position % (int64_t)page), start, end, page);
    munmap(map, map_length);
  }
}

static napi_value make_error(napi_env env, int err, int64_t offset) {
  napi_value message, code, error, errno_value, offset_value;
  char text[160];
  snprintf(text, sizeof text, "mmap at offset %lld: %s", (long long)offset, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_string_utf8(env, "EMMAP", NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_create_double(env, (double)offset, &offset_value);
  napi_set_named_property(env, error, "offset", offset_value);
  return error;
}

static void finish_copy(napi_env env, napi_status status, void *data) {
  CopyJob *job = data;
  if (status != napi_ok) job->error = ECANCELED;
  settle_window_call(env, &job->call, job->faults, job->fault_count * 2, job->error != 0 ? make_error(env, job->error, job->error_offset) : NULL);
  free(job->faults);
  free(job);
}

// copy(fd, dst: Buffer, position: number, ranges: Float64Array of [start, end) pairs in dst) -> Promise<Float64Array of faulted pairs>
static napi_value copy(napi_env env, napi_callback_info info) {
  WindowArgs args;
  if (!window_args(env, info, "copy(fd, dst, position, ranges)", &args)) return NULL;
  size_t pages = 0, page = (size_t)sysconf(_SC_PAGESIZE);
  for (size_t i = 0; i < args.pair_count; i++) pages += (size_t)(args.pairs[2 * i + 1] - args.pairs[2 * i]) / page + 2;
  int err = install_handler();
  if (err != 0) {
    napi_throw_error(env, "ESIGACTION", strerror(err));
    return NULL;
  }
  CopyJob *job = calloc(1, sizeof *job);
  if (job == NULL) return throw_type(env, "out of memory");
  job->fault_capacity = pages;
  job->faults = malloc((pages > 0 ? pages : 1) * 2 * sizeof(double));
  if (job->faults == NULL || !window_call_init(&job->call, &args)) {
    free(job->call.pairs);
    free(job->faults);
    free(job);
    return throw_type(env, "out of memory");
  }
  return queue_window_call(env, &args, "slimcore_mmap_copy", &job->call, run_copy, finish_copy, job);
}

// fileSize(fd) -> bytes up to the end of a file or block device (lseek SEEK_END; the offset is put back).
static napi_value file_size(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) return throw_type(env, "fileSize(fd) takes a file descriptor");
  off_t here = lseek(fd, 0, SEEK_CUR);
  off_t end = lseek(fd, 0, SEEK_END);
  if (here >= 0) lseek(fd, here, SEEK_SET);
  napi_create_double(env, end < 0 ? -1.0 : (double)end, &result);
  return result;
}

// For tests only: reads one byte of a fresh mapping with no guard, so a SIGBUS there must kill the process.
static napi_value touch_unguarded(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  int32_t fd;
  double offset;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_double(env, argv[1], &offset) != napi_ok) {
    return throw_type(env, "touchUnguarded(fd, offset)");
  }
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  int64_t base = (int64_t)offset - (int64_t)offset % (int64_t)page;
  const volatile char *map = (const volatile char *)mmap(NULL, page, PROT_READ, MAP_SHARED, fd, base);
  if ((void *)map == MAP_FAILED) return throw_type(env, strerror(errno));
  int value = map[(int64_t)offset - base];
  munmap((void *)map, page);
  napi_create_int32(env, value, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn, page;
  napi_create_function(env, "copy", NAPI_AUTO_LENGTH, copy, NULL, &fn);
  napi_set_named_property(env, exports, "copy", fn);
  napi_create_function(env, "fileSize", NAPI_AUTO_LENGTH, file_size, NULL, &fn);
  napi_set_named_property(env, exports, "fileSize", fn);
  napi_create_function(env, "touchUnguarded", NAPI_AUTO_LENGTH, touch_unguarded, NULL, &fn);
  napi_set_named_property(env, exports, "touchUnguarded", fn);
  napi_create_uint32(env, (uint32_t)sysconf(_SC_PAGESIZE), &page);
  napi_set_named_property(env, exports, "pageSize", page);
  register_read_runs(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
