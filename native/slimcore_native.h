// What the addon's source files share: the arguments copy and readRuns both take, their queueing, and registration.
#ifndef SLIMCORE_NATIVE_H
#define SLIMCORE_NATIVE_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

// (fd, dst: Buffer, position: number, pairs: Float64Array of [start, end) offsets in dst), checked.
typedef struct {
  int32_t fd;
  int64_t position;
  char *dst;
  size_t dst_length;
  const double *pairs;
  size_t pair_count;
  napi_value dst_value;
} WindowArgs;

// What every job starts with: the window, its own copy of the pairs, and the async work of the call.
typedef struct {
  int fd;
  int64_t position;
  char *dst;
  size_t dst_length;
  double *pairs;
  size_t pair_count;
  napi_async_work work;
  napi_deferred deferred;
  napi_ref dst_ref;
} WindowCall;

// Parses the four arguments; false when a TypeError has been thrown (named after `usage`).
int window_args(napi_env env, napi_callback_info info, const char *usage, WindowArgs *out);
// Fills `call` from the arguments, the pairs copied; false when out of memory.
int window_call_init(WindowCall *call, const WindowArgs *args);
// Holds dst until `complete` runs, and queues `execute` in the thread pool; returns the promise.
napi_value queue_window_call(napi_env env, const WindowArgs *args, const char *name, WindowCall *call, napi_async_execute_callback execute, napi_async_complete_callback complete, void *job);
// Settles the promise with a Float64Array of `count` doubles (or rejects with `error` when it is not NULL); frees the pairs and handles.
void settle_window_call(napi_env env, WindowCall *call, const double *values, size_t count, napi_value error);
napi_value throw_type(napi_env env, const char *message);

void register_read_runs(napi_env env, napi_value exports);
// Reads the call's runs through this thread's io_uring, recording those that did not read whole as readRuns does
// (sorted by start); -1 when io_uring cannot be used here, before anything is read.
int uring_read_runs(const WindowCall *call, double *failed, size_t *failed_count);

#endif
