/*
 * Shared helpers of the ipmp native addon: argument checking, error throwing,
 * errno naming, and the limits every batch call honours.
 */
#ifndef IPMP_NATIVE_UTIL_H
#define IPMP_NATIVE_UTIL_H

#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest number of packets one batch call handles (size of the stack arrays). */
#define IPMP_MAX_BATCH 256
/* Largest number of sockets packetRecvBatch polls at once. */
#define IPMP_MAX_FDS 64
/* Size of struct virtio_net_hdr without mergeable buffers. */
#define IPMP_VNET_HDR_LEN 10

/* Returns on N-API failure, after making sure a JS exception is pending. */
#define NAPI_CALL(env, call)                         \
  do {                                               \
    if ((call) != napi_ok) {                         \
      ipmp_throw_napi_failure((env), #call);         \
      return NULL;                                   \
    }                                                \
  } while (0)

/* Returns NULL when a helper that already threw reports failure. */
#define CHECK(expr)        \
  do {                     \
    if (!(expr)) return NULL; \
  } while (0)

/* Error names and texts. */
const char *ipmp_errno_name(int err, char *scratch, size_t scratch_len);
const char *ipmp_strerror(int err, char *scratch, size_t scratch_len);

/*
 * Throws Error("<call>: <strerror> (<ERRNAME>)") with .code = ERRNAME,
 * .errno = -err and .syscall = call. Always returns NULL.
 */
napi_value ipmp_throw_errno(napi_env env, const char *call, int err);
napi_value ipmp_throw_type(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
napi_value ipmp_throw_range(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ipmp_throw_napi_failure(napi_env env, const char *what);

/* Fetches exactly the callback arguments; missing ones read as undefined. */
bool ipmp_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

/*
 * Argument readers. Each throws a TypeError/RangeError naming fn and arg and
 * returns false when the value does not fit.
 */
bool ipmp_arg_int32(napi_env env, napi_value v, const char *fn, const char *arg, int32_t *out);
bool ipmp_arg_uint32(napi_env env, napi_value v, const char *fn, const char *arg, uint32_t *out);
bool ipmp_arg_bool(napi_env env, napi_value v, const char *fn, const char *arg, bool *out);
/* Uint8Array (or Buffer): pointer to the first element and length in bytes. */
bool ipmp_arg_u8(napi_env env, napi_value v, const char *fn, const char *arg, uint8_t **data, size_t *len);
/* Int32Array: pointer to the first element and element count. */
bool ipmp_arg_i32arr(napi_env env, napi_value v, const char *fn, const char *arg, int32_t **data, size_t *len);
/* BigInt64Array: pointer to the first element and element count. */
bool ipmp_arg_i64arr(napi_env env, napi_value v, const char *fn, const char *arg, int64_t **data, size_t *len);
/* String into a fixed buffer; RangeError when it does not fit (with NUL). */
bool ipmp_arg_string(napi_env env, napi_value v, const char *fn, const char *arg, char *out, size_t cap, size_t *len);
/* Named property of an options object, read with the readers above. */
bool ipmp_opt_bool(napi_env env, napi_value obj, const char *fn, const char *key, bool *out);
bool ipmp_opt_int32(napi_env env, napi_value obj, const char *fn, const char *key, int32_t *out);
bool ipmp_opt_u8(napi_env env, napi_value obj, const char *fn, const char *key, uint8_t **data, size_t *len);
bool ipmp_arg_object(napi_env env, napi_value v, const char *fn, const char *arg);

napi_value ipmp_int32(napi_env env, int32_t v);
napi_value ipmp_undefined(napi_env env);

/* CLOCK_MONOTONIC in seconds. */
double ipmp_mono_s(void);
/* obj[key] = v (a number); failures leave the property out. */
void ipmp_set_number(napi_env env, napi_value obj, const char *key, double v);

/* Registration of each module's functions on the exports object. */
bool ipmp_register_tun(napi_env env, napi_value exports);
bool ipmp_register_packet(napi_env env, napi_value exports);
bool ipmp_register_netlink(napi_env env, napi_value exports);
bool ipmp_register_watch(napi_env env, napi_value exports);
bool ipmp_register_misc(napi_env env, napi_value exports);
bool ipmp_register_proc(napi_env env, napi_value exports);
bool ipmp_register_loadgen(napi_env env, napi_value exports);
bool ipmp_register_floor(napi_env env, napi_value exports);

/* Stops this environment's watchers on fd before the descriptor is closed. */
void ipmp_watch_fd_closing(napi_env env, int fd);

/* Defines one function property; false (with an exception pending) on failure. */
bool ipmp_export(napi_env env, napi_value exports, const char *name, napi_callback cb);

#endif
