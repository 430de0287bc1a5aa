/*
 * zstd decoding on the thread pool, in bounded slices, with a bounded
 * window. A zstd frame header may declare any window up to 2 GiB and a
 * decoder must then hold that much; layers are untrusted, so the window is
 * capped (ZSTD_d_windowLogMax) and a frame that asks for more fails before
 * anything is allocated for it. Each call decodes at most `capacity` bytes
 * of output off the event loop, so neither a huge window nor a bomb of RLE
 * blocks can hold the loop or grow memory past one slice per layer.
 *
 *   zstdCreate(windowLogMax) -> handle
 *   zstdDecode(handle, input, capacity) -> Promise<{ output, consumed, frameDone }>
 *       in order: the caller waits for each before the next; call again
 *       with the rest of the input (or an empty one) while output comes
 *       back full, to drain what the decoder holds.
 * Errors carry `code`: ZSTD_WINDOW_TOO_LARGE or ZSTD_DATA_ERROR.
 */
#include <node_api.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

struct zdec {
  ZSTD_DCtx *ctx;
  int busy;
  /* Whether the last call that made progress ended a frame (nothing started counts as ended). */
  int frame_done;
};

struct zjob {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref;
  struct zdec *dec;
  const unsigned char *input;
  size_t input_len;
  size_t consumed;
  unsigned char *output;
  size_t capacity;
  size_t produced;
  size_t ret;
};

static void zdec_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct zdec *d = data;
  ZSTD_freeDCtx(d->ctx);
  free(d);
}

static void free_output(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

static napi_value js_zstd_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t window_log_max = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &window_log_max) != napi_ok || window_log_max < 10 || window_log_max > 31) {
    napi_throw_type_error(env, NULL, "zstdCreate(windowLogMax)");
    return NULL;
  }
  struct zdec *d = calloc(1, sizeof *d);
  if (d) d->frame_done = 1;
  if (!d || !(d->ctx = ZSTD_createDCtx()) || ZSTD_isError(ZSTD_DCtx_setParameter(d->ctx, ZSTD_d_windowLogMax, window_log_max))) {
    if (d) { ZSTD_freeDCtx(d->ctx); free(d); }
    napi_throw_error(env, NULL, "cannot create a zstd decoder");
    return NULL;
  }
  napi_value out;
  napi_create_external(env, d, zdec_finalize, NULL, &out);
  return out;
}

static void decode_execute(napi_env env, void *arg) {
  (void)env;
  struct zjob *j = arg;
  ZSTD_inBuffer in = {j->input, j->input_len, 0};
  ZSTD_outBuffer out = {j->output, j->capacity, 0};
  size_t ret = 1;
  /* Until the slice is full or the input is used up and nothing is held back. */
  while (out.pos < out.size) {
    size_t before_in = in.pos, before_out = out.pos;
    ret = ZSTD_decompressStream(j->dec->ctx, &out, &in);
    if (ZSTD_isError(ret)) break;
    if (in.pos == before_in && out.pos == before_out) break; /* no progress: needs more input */
    j->dec->frame_done = ret == 0;
  }
  j->consumed = in.pos;
  j->produced = out.pos;
  j->ret = ret;
}

static void decode_complete(napi_env env, napi_status status, void *arg) {
  struct zjob *j = arg;
  j->dec->busy = 0;
  napi_value value;
  if (status != napi_ok || ZSTD_isError(j->ret)) {
    const char *code = "ZSTD_DATA_ERROR";
    const char *text = status != napi_ok ? "zstd decoding was cancelled" : ZSTD_getErrorName(j->ret);
    if (status == napi_ok && ZSTD_getErrorCode(j->ret) == ZSTD_error_frameParameter_windowTooLarge) code = "ZSTD_WINDOW_TOO_LARGE";
    napi_value msg, code_value;
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
    napi_create_error(env, code_value, msg, &value);
    napi_reject_deferred(env, j->deferred, value);
    free(j->output);
  } else {
    napi_value output, consumed, frame_done;
    if (j->produced > 0) {
      napi_create_external_buffer(env, j->produced, j->output, free_output, NULL, &output);
    } else {
      free(j->output);
      napi_create_buffer(env, 0, NULL, &output);
    }
    napi_create_double(env, (double)j->consumed, &consumed);
    napi_get_boolean(env, j->dec->frame_done, &frame_done);
    napi_create_object(env, &value);
    napi_set_named_property(env, value, "output", output);
    napi_set_named_property(env, value, "consumed", consumed);
    napi_set_named_property(env, value, "frameDone", frame_done);
    napi_resolve_deferred(env, j->deferred, value);
  }
  napi_delete_reference(env, j->input_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value js_zstd_decode(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct zdec *d = NULL;
  void *data = NULL;
  size_t len = 0;
  uint32_t capacity = 0;
  if (argc < 3 || napi_get_value_external(env, argv[0], (void **)&d) != napi_ok || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &capacity) != napi_ok || capacity == 0 || capacity > (16u << 20)) {
    napi_throw_type_error(env, NULL, "zstdDecode(handle, buffer, capacity)");
    return NULL;
  }
  if (d->busy) {
    napi_throw_error(env, NULL, "zstdDecode: the previous slice has not settled");
    return NULL;
  }
  struct zjob *j = calloc(1, sizeof *j);
  if (!j || !(j->output = malloc(capacity))) {
    free(j);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->dec = d;
  j->input = data;
  j->input_len = len;
  j->capacity = capacity;
  d->busy = 1;
  napi_create_reference(env, argv[1], 1, &j->input_ref);
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "berth_zstd", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, decode_execute, decode_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

void register_zstd(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"zstdCreate", NULL, js_zstd_create, NULL, NULL, NULL, napi_enumerable, NULL},
    {"zstdDecode", NULL, js_zstd_decode, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
