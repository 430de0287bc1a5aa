/*
 * Digests computed on the thread pool. Verifying a layer means hashing it
 * twice (the compressed blob and the uncompressed tar), some 280 MB for a
 * 120 MB image; node:crypto hashes on the event loop, which then has no
 * time left for parsing the tar stream. These use the OpenSSL that node
 * carries (its symbols are exported to addons).
 *
 *   hashCreate(algorithm) -> handle       'sha256', 'sha384', 'sha512'
 *   hashUpdate(handle, buffer) -> Promise  in order: the caller chains them
 *   hashDigest(handle) -> hex string       after the last update settled
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hash {
  EVP_MD_CTX *ctx;
  int busy;
};

struct update_job {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer_ref;
  struct hash *hash;
  const unsigned char *data;
  size_t len;
  int ok;
};

static void hash_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct hash *h = data;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}

static napi_value js_hash_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[32] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "hashCreate(algorithm)");
    return NULL;
  }
  const EVP_MD *md = EVP_get_digestbyname(name);
  if (!md) {
    napi_throw_error(env, "ERR_UNSUPPORTED_DIGEST", "unsupported digest algorithm");
    return NULL;
  }
  struct hash *h = calloc(1, sizeof *h);
  if (!h || !(h->ctx = EVP_MD_CTX_new()) || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
    if (h) { EVP_MD_CTX_free(h->ctx); free(h); }
    napi_throw_error(env, NULL, "cannot initialise the digest");
    return NULL;
  }
  napi_value out;
  napi_create_external(env, h, hash_finalize, NULL, &out);
  return out;
}

static void update_execute(napi_env env, void *arg) {
  (void)env;
  struct update_job *j = arg;
  j->ok = EVP_DigestUpdate(j->hash->ctx, j->data, j->len) == 1;
}

static void update_complete(napi_env env, napi_status status, void *arg) {
  struct update_job *j = arg;
  j->hash->busy = 0;
  napi_value value;
  if (status == napi_ok && j->ok) {
    napi_get_undefined(env, &value);
    napi_resolve_deferred(env, j->deferred, value);
  } else {
    napi_value msg;
    napi_create_string_utf8(env, "digest update failed", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &value);
    napi_reject_deferred(env, j->deferred, value);
  }
  napi_delete_reference(env, j->buffer_ref);
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value js_hash_update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct hash *h = NULL;
  void *data = NULL;
  size_t len = 0;
  if (argc < 2 || napi_get_value_external(env, argv[0], (void **)&h) != napi_ok || napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "hashUpdate(handle, buffer)");
    return NULL;
  }
  if (h->busy) {
    /* Updates must not overlap: one context, one thread at a time. */
    napi_throw_error(env, NULL, "hashUpdate: the previous update has not settled");
    return NULL;
  }
  struct update_job *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->hash = h;
  j->data = data;
  j->len = len;
  h->busy = 1;
  /* The buffer stays alive (and its bytes in place) until the job is done. */
  napi_create_reference(env, argv[1], 1, &j->buffer_ref);
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "berth_hash", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, update_execute, update_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

static napi_value js_hash_digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  struct hash *h = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&h) != napi_ok || h->busy) {
    napi_throw_error(env, NULL, "hashDigest: not a hash, or an update has not settled");
    return NULL;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(h->ctx, md, &n) != 1) {
    napi_throw_error(env, NULL, "digest failed");
    return NULL;
  }
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  for (unsigned int i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  napi_value out;
  napi_create_string_utf8(env, hex, 2 * n, &out);
  return out;
}

void register_hash(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"hashCreate", NULL, js_hash_create, NULL, NULL, NULL, napi_enumerable, NULL},
    {"hashUpdate", NULL, js_hash_update, NULL, NULL, NULL, napi_enumerable, NULL},
    {"hashDigest", NULL, js_hash_digest, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
