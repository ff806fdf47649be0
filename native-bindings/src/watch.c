/*
 * fd readiness callbacks on the event loop of the calling environment
 * (main thread or worker), built on uv_poll_t. All state is per environment
 * and reachable from its N-API instance data; nothing is shared between
 * environments.
 *
 * A watcher record (id, fd, callback) and its uv_poll_t are allocated
 * separately: the handle is closed as soon as the descriptor is closed or the
 * watcher removed, while the record lives until unwatch.
 */
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

struct env_state;

struct watcher {
  uv_poll_t *poll; /* NULL once the handle is closed */
  int32_t id;
  int fd;
  napi_ref cb;
  napi_async_context actx;
  struct env_state *st;
  struct watcher *next;
};

struct env_state {
  napi_env env;
  uv_loop_t *loop;
  int32_t next_id;
  bool tearing_down;
  struct watcher *head;
};

/*
 * Close callback: libc's free() on the handle. Close callbacks of a worker's
 * handles run after its environment is gone, when this shared object may
 * already be unloaded, so the callback must not live in it.
 */
#define free_handle ((uv_close_cb)(void (*)(void))free)

/*
 * Stops and closes the handle while the descriptor is still open: libuv
 * unregisters the descriptor number on close, which must not hit a later
 * descriptor with the same number.
 */
static void close_handle(struct watcher *w) {
  if (w->poll == NULL) return;
  uv_poll_stop(w->poll);
  w->poll->data = NULL;
  uv_close((uv_handle_t *)w->poll, free_handle);
  w->poll = NULL;
}

static void unlink_watcher(struct env_state *st, struct watcher *w) {
  for (struct watcher **pp = &st->head; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == w) {
      *pp = w->next;
      return;
    }
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  struct watcher *w = h->data;
  if (w == NULL) return;
  struct env_state *st = w->st;
  napi_env env = st->env;
  if (st->tearing_down || w->cb == NULL) return;
  /* Error conditions are delivered as readable so JS reads and sees the errno. */
  if (status == 0 && !(events & UV_READABLE)) return;

  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, global, result;
  if (napi_get_reference_value(env, w->cb, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &global) == napi_ok) {
    /* make_callback runs the microtask and nextTick queues after cb, like any I/O callback. */
    napi_status s = napi_make_callback(env, w->actx, global, cb, 0, NULL, &result);
    if (s == napi_pending_exception) {
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    }
  }
  /* cb may have called unwatch or close: w must not be touched past this point. */
  napi_close_handle_scope(env, scope);
}

/* watch(fd, cb) -> id */
static napi_value watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  CHECK(ipmp_args(env, info, 2, argv));
  CHECK(ipmp_arg_int32(env, argv[0], "watch", "fd", &fd));
  napi_valuetype t;
  NAPI_CALL(env, napi_typeof(env, argv[1], &t));
  if (t != napi_function) return ipmp_throw_type(env, "watch: cb must be a function");

  char call[48];
  snprintf(call, sizeof call, "watch(%d)", fd);
  if (fd < 0) return ipmp_throw_errno(env, call, EBADF);

  struct env_state *st = NULL;
  NAPI_CALL(env, napi_get_instance_data(env, (void **)&st));
  if (st == NULL || st->tearing_down) return ipmp_throw_errno(env, call, ESHUTDOWN);

  struct watcher *w = calloc(1, sizeof *w);
  uv_poll_t *h = malloc(sizeof *h);
  if (w == NULL || h == NULL) {
    free(w);
    free(h);
    return ipmp_throw_errno(env, call, ENOMEM);
  }
  w->fd = fd;
  w->st = st;
  /* One handle per descriptor and loop: a second watch of the same fd is EEXIST. */
  int rc = uv_poll_init(st->loop, h, fd);
  if (rc < 0) {
    free(h);
    free(w);
    return ipmp_throw_errno(env, call, -rc);
  }
  h->data = w;
  w->poll = h;
  napi_value name;
  if (napi_create_reference(env, argv[1], 1, &w->cb) != napi_ok ||
      napi_create_string_utf8(env, "ipmp:watch", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &w->actx) != napi_ok) {
    if (w->cb) napi_delete_reference(env, w->cb);
    close_handle(w);
    free(w);
    ipmp_throw_napi_failure(env, "watch");
    return NULL;
  }
  rc = uv_poll_start(h, UV_READABLE, on_poll);
  if (rc < 0) {
    napi_delete_reference(env, w->cb);
    napi_async_destroy(env, w->actx);
    close_handle(w);
    free(w);
    return ipmp_throw_errno(env, call, -rc);
  }
  if (st->next_id == INT32_MAX) st->next_id = 0;
  w->id = ++st->next_id;
  w->next = st->head;
  st->head = w;
  return ipmp_int32(env, w->id);
}

/* unwatch(id): stops the watcher and releases cb; unknown ids are ignored. */
static napi_value unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t id;
  CHECK(ipmp_args(env, info, 1, argv));
  CHECK(ipmp_arg_int32(env, argv[0], "unwatch", "id", &id));
  struct env_state *st = NULL;
  NAPI_CALL(env, napi_get_instance_data(env, (void **)&st));
  if (st == NULL) return ipmp_undefined(env);
  struct watcher *w = st->head;
  while (w != NULL && w->id != id) w = w->next;
  if (w == NULL) return ipmp_undefined(env);
  unlink_watcher(st, w);
  close_handle(w);
  napi_delete_reference(env, w->cb);
  napi_async_destroy(env, w->actx);
  free(w);
  return ipmp_undefined(env);
}

/*
 * Called before close(fd): the handles polling fd are closed; the watcher
 * records stay (their ids remain valid for unwatch) but never fire again.
 */
void ipmp_watch_fd_closing(napi_env env, int fd) {
  struct env_state *st = NULL;
  if (napi_get_instance_data(env, (void **)&st) != napi_ok || st == NULL) return;
  for (struct watcher *w = st->head; w != NULL; w = w->next) {
    if (w->fd == fd) close_handle(w);
  }
}

/*
 * Environment teardown: every handle is stopped and closed so the loop can
 * close. References and async contexts go away with the environment itself.
 */
static void env_cleanup(void *arg) {
  struct env_state *st = arg;
  st->tearing_down = true;
  struct watcher *w = st->head;
  st->head = NULL;
  while (w != NULL) {
    struct watcher *next = w->next;
    close_handle(w);
    free(w);
    w = next;
  }
}

static void env_state_finalize(napi_env env, void *data, void *hint) {
  struct env_state *st = data;
  env_cleanup(st); /* no-op when the cleanup hook already ran */
  napi_remove_env_cleanup_hook(env, env_cleanup, st);
  free(st);
}

bool ipmp_register_watch(napi_env env, napi_value exports) {
  struct env_state *st = calloc(1, sizeof *st);
  if (st == NULL) {
    napi_throw_error(env, NULL, "ipmp_native: out of memory");
    return false;
  }
  st->env = env;
  if (napi_get_uv_event_loop(env, &st->loop) != napi_ok ||
      napi_set_instance_data(env, st, env_state_finalize, NULL) != napi_ok) {
    free(st);
    ipmp_throw_napi_failure(env, "ipmp_native per-environment state");
    return false;
  }
  if (napi_add_env_cleanup_hook(env, env_cleanup, st) != napi_ok) {
    ipmp_throw_napi_failure(env, "napi_add_env_cleanup_hook");
    return false;
  }
  return ipmp_export(env, exports, "watch", watch) && ipmp_export(env, exports, "unwatch", unwatch);
}
