// Reads many runs of a file into one buffer in the thread pool, through io_uring or one pread(2) each: the pieces of a
// window between faults.
//
// Why here: with faults every few pages a window is hundreds of small reads, and from JavaScript each costs a call
// into Node and the main thread's time; here they cost one io_uring submission, or a system call each.
// The bytes between the runs (the named faults) are never read: they are zero-filled.

#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "slimcore_native.h"

// call.pairs: the runs, [start, end) offsets in dst, sorted and disjoint.
typedef struct {
  WindowCall call;
  double *failed;  // (start, end, result) per run that did not come back whole: result is the bytes read, or -errno;
                   // the rest of such a run is left as it was, for the caller to read again page by page
  size_t failed_count;
} ReadJob;

static void run_reads(napi_env env, void *data) {
  (void)env;
  ReadJob *job = data;
  WindowCall *w = &job->call;
  // The bytes between the runs first: the reads may complete in any order.
  size_t zero_from = 0;
  for (size_t i = 0; i < w->pair_count; i++) {
    size_t start = (size_t)w->pairs[2 * i], end = (size_t)w->pairs[2 * i + 1];
    if (start > zero_from) memset(w->dst + zero_from, 0, start - zero_from);
    if (end > zero_from) zero_from = end;
  }
  if (w->dst_length > zero_from) memset(w->dst + zero_from, 0, w->dst_length - zero_from);
  if (uring_read_runs(w, job->failed, &job->failed_count) == 0) return;
  for (size_t i = 0; i < w->pair_count; i++) {
    size_t start = (size_t)w->pairs[2 * i], end = (size_t)w->pairs[2 * i + 1];
    if (end <= start) continue;
    ssize_t n;
    do n = pread(w->fd, w->dst + start, end - start, (off_t)(w->position + (int64_t)start));
    while (n < 0 && errno == EINTR);
    // One read per run, as the JavaScript reader does: what comes back short is retried there page by page.
    if (n != (ssize_t)(end - start)) {
      double *f = job->failed + 3 * job->failed_count++;
      f[0] = (double)start;
      f[1] = (double)end;
      f[2] = n < 0 ? -(double)errno : (double)n;
    }
  }
}

static void finish_reads(napi_env env, napi_status status, void *data) {
  ReadJob *job = data;
  napi_value error = NULL;
  if (status != napi_ok) {
    napi_value message;
    napi_create_string_utf8(env, "readRuns was cancelled", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
  }
  settle_window_call(env, &job->call, job->failed, job->failed_count * 3, error);
  free(job->failed);
  free(job);
}

// readRuns(fd, dst: Buffer, position: number, runs: Float64Array of sorted [start, end) pairs in dst)
//   -> Promise<Float64Array of (start, end, bytes read or -errno) for the runs that did not read whole>
static napi_value read_runs(napi_env env, napi_callback_info info) {
  WindowArgs args;
  if (!window_args(env, info, "readRuns(fd, dst, position, runs)", &args)) return NULL;
  for (size_t i = 1; i < args.pair_count; i++) {
    if (args.pairs[2 * i] < args.pairs[2 * i - 1]) return throw_type(env, "runs must be sorted and disjoint");
  }
  ReadJob *job = calloc(1, sizeof *job);
  if (job == NULL) return throw_type(env, "out of memory");
  job->failed = malloc((args.pair_count > 0 ? args.pair_count : 1) * 3 * sizeof(double));
  if (job->failed == NULL || !window_call_init(&job->call, &args)) {
    free(job->call.pairs);
    free(job->failed);
    free(job);
    return throw_type(env, "out of memory");
  }
  return queue_window_call(env, &args, "slimcore_read_runs", &job->call, run_reads, finish_reads, job);
}

void register_read_runs(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "readRuns", NAPI_AUTO_LENGTH, read_runs, NULL, &fn);
  napi_set_named_property(env, exports, "readRuns", fn);
}
