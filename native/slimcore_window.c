// The arguments and the promise that the addon's copy and readRuns share: a window of the input read into a Buffer.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "slimcore_native.h"

napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

int window_args(napi_env env, napi_callback_info info, const char *usage, WindowArgs *out) {
  size_t argc = 4;
  napi_value argv[4];
  char message[160];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  snprintf(message, sizeof message, "%s takes 4 arguments", usage);
  if (argc != 4) return throw_type(env, message), 0;
  double position;
  void *dst, *data;
  bool is_buffer, is_typed;
  napi_typedarray_type type;
  size_t count;
  if (napi_get_value_int32(env, argv[0], &out->fd) != napi_ok) return throw_type(env, "fd must be a number"), 0;
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer) return throw_type(env, "dst must be a Buffer"), 0;
  napi_get_buffer_info(env, argv[1], &dst, &out->dst_length);
  if (napi_get_value_double(env, argv[2], &position) != napi_ok || !(position >= 0 && position <= 9007199254740992.0)) {
    return throw_type(env, "position must be a number >= 0"), 0;
  }
  if (napi_is_typedarray(env, argv[3], &is_typed) != napi_ok || !is_typed) return throw_type(env, "ranges must be a Float64Array"), 0;
  napi_get_typedarray_info(env, argv[3], &type, &count, &data, NULL, NULL);
  if (type != napi_float64_array || count % 2 != 0) return throw_type(env, "ranges must be a Float64Array of [start, end) pairs"), 0;
  const double *pairs = data;
  for (size_t i = 0; i < count; i += 2) {
    if (!(pairs[i] >= 0 && pairs[i] <= pairs[i + 1] && pairs[i + 1] <= (double)out->dst_length)) return throw_type(env, "a range lies outside dst"), 0;
  }
  out->position = (int64_t)position;
  out->dst = dst;
  out->pairs = pairs;
  out->pair_count = count / 2;
  out->dst_value = argv[1];
  return 1;
}

int window_call_init(WindowCall *call, const WindowArgs *args) {
  call->fd = args->fd;
  call->position = args->position;
  call->dst = args->dst;
  call->dst_length = args->dst_length;
  call->pair_count = args->pair_count;
  call->pairs = malloc((args->pair_count > 0 ? args->pair_count : 1) * 2 * sizeof(double));
  if (call->pairs == NULL) return 0;
  memcpy(call->pairs, args->pairs, args->pair_count * 2 * sizeof(double));
  return 1;
}

napi_value queue_window_call(napi_env env, const WindowArgs *args, const char *name, WindowCall *call, napi_async_execute_callback execute, napi_async_complete_callback complete, void *job) {
  napi_value promise, resource_name;
  napi_create_reference(env, args->dst_value, 1, &call->dst_ref);
  napi_create_promise(env, &call->deferred, &promise);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  napi_create_async_work(env, NULL, resource_name, execute, complete, job, &call->work);
  napi_queue_async_work(env, call->work);
  return promise;
}

void settle_window_call(napi_env env, WindowCall *call, const double *values, size_t count, napi_value error) {
  if (error != NULL) {
    napi_reject_deferred(env, call->deferred, error);
  } else {
    napi_value array_buffer, result;
    void *bytes;
    napi_create_arraybuffer(env, count * sizeof(double), &bytes, &array_buffer);
    memcpy(bytes, values, count * sizeof(double));
    napi_create_typedarray(env, napi_float64_array, count, array_buffer, 0, &result);
    napi_resolve_deferred(env, call->deferred, result);
  }
  napi_delete_reference(env, call->dst_ref);
  napi_delete_async_work(env, call->work);
  free(call->pairs);
}
