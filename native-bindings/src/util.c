/*
 * Argument checking, error construction and errno naming shared by all the
 * addon's functions.
 */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct errno_entry {
  int num;
  const char *name;
};

/* Names the daemon is likely to meet; anything else falls back to glibc or E<num>. */
static const struct errno_entry errno_table[] = {
  {EPERM, "EPERM"}, {ENOENT, "ENOENT"}, {ESRCH, "ESRCH"}, {EINTR, "EINTR"},
  {EIO, "EIO"}, {ENXIO, "ENXIO"}, {E2BIG, "E2BIG"}, {EBADF, "EBADF"},
  {ECHILD, "ECHILD"}, {EAGAIN, "EAGAIN"}, {ENOMEM, "ENOMEM"}, {EACCES, "EACCES"},
  {EFAULT, "EFAULT"}, {EBUSY, "EBUSY"}, {EEXIST, "EEXIST"}, {ENODEV, "ENODEV"},
  {ENOTDIR, "ENOTDIR"}, {EISDIR, "EISDIR"}, {EINVAL, "EINVAL"}, {ENFILE, "ENFILE"},
  {EMFILE, "EMFILE"}, {ENOTTY, "ENOTTY"}, {ENOSPC, "ENOSPC"}, {EPIPE, "EPIPE"},
  {ERANGE, "ERANGE"}, {ENAMETOOLONG, "ENAMETOOLONG"}, {ENOSYS, "ENOSYS"},
  {ENOTSOCK, "ENOTSOCK"}, {EDESTADDRREQ, "EDESTADDRREQ"}, {EMSGSIZE, "EMSGSIZE"},
  {EPROTOTYPE, "EPROTOTYPE"}, {ENOPROTOOPT, "ENOPROTOOPT"},
  {EPROTONOSUPPORT, "EPROTONOSUPPORT"}, {EOPNOTSUPP, "EOPNOTSUPP"},
  {EAFNOSUPPORT, "EAFNOSUPPORT"}, {EADDRINUSE, "EADDRINUSE"},
  {EADDRNOTAVAIL, "EADDRNOTAVAIL"}, {ENETDOWN, "ENETDOWN"},
  {ENETUNREACH, "ENETUNREACH"}, {ENETRESET, "ENETRESET"},
  {ECONNABORTED, "ECONNABORTED"}, {ECONNRESET, "ECONNRESET"}, {ENOBUFS, "ENOBUFS"},
  {EISCONN, "EISCONN"}, {ENOTCONN, "ENOTCONN"}, {ETIMEDOUT, "ETIMEDOUT"},
  {ECONNREFUSED, "ECONNREFUSED"}, {EHOSTDOWN, "EHOSTDOWN"},
  {EHOSTUNREACH, "EHOSTUNREACH"}, {EALREADY, "EALREADY"},
  {EINPROGRESS, "EINPROGRESS"}, {ENODATA, "ENODATA"}, {ENOLINK, "ENOLINK"},
  {EPROTO, "EPROTO"}, {EOVERFLOW, "EOVERFLOW"}, {ENOMEDIUM, "ENOMEDIUM"},
  {ECANCELED, "ECANCELED"}, {ENOTSUP == EOPNOTSUPP ? 0 : ENOTSUP, "ENOTSUP"},
  {ERFKILL, "ERFKILL"}, {EL2NSYNC, "EL2NSYNC"}, {EROFS, "EROFS"},
};

const char *ipmp_errno_name(int err, char *scratch, size_t scratch_len) {
  if (err < 0) err = -err;
  for (size_t i = 0; i < sizeof(errno_table) / sizeof(errno_table[0]); i++) {
    if (errno_table[i].num == err && err != 0) return errno_table[i].name;
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *g = strerrorname_np(err);
  if (g != NULL) return g;
#endif
  snprintf(scratch, scratch_len, "E%d", err);
  return scratch;
}

const char *ipmp_strerror(int err, char *scratch, size_t scratch_len) {
  if (err < 0) err = -err;
  /* GNU strerror_r returns a pointer that may or may not be scratch. */
  return strerror_r(err, scratch, scratch_len);
}

static void set_prop_string(napi_env env, napi_value obj, const char *key, const char *val) {
  napi_value s;
  if (napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &s) == napi_ok) {
    napi_set_named_property(env, obj, key, s);
  }
}

napi_value ipmp_throw_errno(napi_env env, const char *call, int err) {
  char nbuf[32], sbuf[128], msg[512];
  if (err < 0) err = -err;
  const char *name = ipmp_errno_name(err, nbuf, sizeof nbuf);
  const char *text = ipmp_strerror(err, sbuf, sizeof sbuf);
  snprintf(msg, sizeof msg, "%s: %s (%s)", call, text, name);

  napi_value jmsg, jerr, jcode;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &jcode) != napi_ok ||
      napi_create_error(env, NULL, jmsg, &jerr) != napi_ok) {
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  napi_set_named_property(env, jerr, "code", jcode);
  napi_set_named_property(env, jerr, "errno", ipmp_int32(env, -err));
  set_prop_string(env, jerr, "syscall", call);
  napi_throw(env, jerr);
  return NULL;
}

napi_value ipmp_throw_type(napi_env env, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

napi_value ipmp_throw_range(napi_env env, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

void ipmp_throw_napi_failure(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "ipmp_native: %s failed: %s", what,
           (info && info->error_message) ? info->error_message : "unknown N-API error");
  napi_throw_error(env, NULL, msg);
}

bool ipmp_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    ipmp_throw_napi_failure(env, "napi_get_cb_info");
    return false;
  }
  /* napi_get_cb_info already fills missing arguments with undefined. */
  return true;
}

/* A JS number that is an integer within [lo, hi]; throws TypeError/RangeError naming the argument. */
static bool arg_integer(napi_env env, napi_value v, const char *fn, const char *arg,
                        double lo, double hi, const char *what, double *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    ipmp_throw_type(env, "%s: %s must be a number", fn, arg);
    return false;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (!(d >= lo && d <= hi) || d != floor(d)) {
    ipmp_throw_range(env, "%s: %s must be %s (got %g)", fn, arg, what, d);
    return false;
  }
  *out = d;
  return true;
}

bool ipmp_arg_int32(napi_env env, napi_value v, const char *fn, const char *arg, int32_t *out) {
  double d;
  if (!arg_integer(env, v, fn, arg, -2147483648.0, 2147483647.0, "a 32-bit integer", &d)) return false;
  *out = (int32_t)d;
  return true;
}

bool ipmp_arg_uint32(napi_env env, napi_value v, const char *fn, const char *arg, uint32_t *out) {
  double d;
  if (!arg_integer(env, v, fn, arg, 0.0, 4294967295.0, "an unsigned 32-bit integer", &d)) return false;
  *out = (uint32_t)d;
  return true;
}

bool ipmp_arg_bool(napi_env env, napi_value v, const char *fn, const char *arg, bool *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_boolean) {
    ipmp_throw_type(env, "%s: %s must be a boolean", fn, arg);
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

static bool typed_array(napi_env env, napi_value v, const char *fn, const char *arg,
                        napi_typedarray_type want, const char *want_name,
                        void **data, size_t *len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) {
    ipmp_throw_type(env, "%s: %s must be a %s", fn, arg, want_name);
    return false;
  }
  napi_typedarray_type type;
  size_t length;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, NULL, NULL) != napi_ok) {
    ipmp_throw_napi_failure(env, "napi_get_typedarray_info");
    return false;
  }
  bool ok = type == want || (want == napi_uint8_array && type == napi_uint8_clamped_array);
  if (!ok) {
    ipmp_throw_type(env, "%s: %s must be a %s", fn, arg, want_name);
    return false;
  }
  /* ptr already includes the view's byte offset; a detached view has no data. */
  if (ptr == NULL && length != 0) {
    ipmp_throw_type(env, "%s: %s is detached", fn, arg);
    return false;
  }
  *data = ptr;
  *len = length;
  return true;
}

bool ipmp_arg_u8(napi_env env, napi_value v, const char *fn, const char *arg, uint8_t **data, size_t *len) {
  return typed_array(env, v, fn, arg, napi_uint8_array, "Uint8Array", (void **)data, len);
}

bool ipmp_arg_i32arr(napi_env env, napi_value v, const char *fn, const char *arg, int32_t **data, size_t *len) {
  return typed_array(env, v, fn, arg, napi_int32_array, "Int32Array", (void **)data, len);
}

bool ipmp_arg_i64arr(napi_env env, napi_value v, const char *fn, const char *arg, int64_t **data, size_t *len) {
  return typed_array(env, v, fn, arg, napi_bigint64_array, "BigInt64Array", (void **)data, len);
}

bool ipmp_arg_string(napi_env env, napi_value v, const char *fn, const char *arg, char *out, size_t cap, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    ipmp_throw_type(env, "%s: %s must be a string", fn, arg);
    return false;
  }
  size_t need = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &need);
  if (need + 1 > cap) {
    ipmp_throw_range(env, "%s: %s is too long (%zu bytes, at most %zu)", fn, arg, need, cap - 1);
    return false;
  }
  size_t got = 0;
  napi_get_value_string_utf8(env, v, out, cap, &got);
  if (strlen(out) != got) {
    ipmp_throw_type(env, "%s: %s must not contain NUL characters", fn, arg);
    return false;
  }
  if (len) *len = got;
  return true;
}

bool ipmp_arg_object(napi_env env, napi_value v, const char *fn, const char *arg) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_object) {
    ipmp_throw_type(env, "%s: %s must be an object", fn, arg);
    return false;
  }
  return true;
}

static bool get_prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  if (napi_get_named_property(env, obj, key, out) != napi_ok) {
    ipmp_throw_napi_failure(env, "napi_get_named_property");
    return false;
  }
  return true;
}

bool ipmp_opt_bool(napi_env env, napi_value obj, const char *fn, const char *key, bool *out) {
  napi_value v;
  char arg[64];
  snprintf(arg, sizeof arg, "opts.%s", key);
  return get_prop(env, obj, key, &v) && ipmp_arg_bool(env, v, fn, arg, out);
}

bool ipmp_opt_int32(napi_env env, napi_value obj, const char *fn, const char *key, int32_t *out) {
  napi_value v;
  char arg[64];
  snprintf(arg, sizeof arg, "opts.%s", key);
  return get_prop(env, obj, key, &v) && ipmp_arg_int32(env, v, fn, arg, out);
}

bool ipmp_opt_u8(napi_env env, napi_value obj, const char *fn, const char *key, uint8_t **data, size_t *len) {
  napi_value v;
  char arg[64];
  snprintf(arg, sizeof arg, "opts.%s", key);
  return get_prop(env, obj, key, &v) && ipmp_arg_u8(env, v, fn, arg, data, len);
}

napi_value ipmp_int32(napi_env env, int32_t v) {
  napi_value r = NULL;
  napi_create_int32(env, v, &r);
  return r;
}

double ipmp_mono_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void ipmp_set_number(napi_env env, napi_value obj, const char *key, double v) {
  napi_value x;
  if (napi_create_double(env, v, &x) == napi_ok) napi_set_named_property(env, obj, key, x);
}

napi_value ipmp_undefined(napi_env env) {
  napi_value r = NULL;
  napi_get_undefined(env, &r);
  return r;
}

bool ipmp_export(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, name, fn) != napi_ok) {
    ipmp_throw_napi_failure(env, "export");
    return false;
  }
  return true;
}
