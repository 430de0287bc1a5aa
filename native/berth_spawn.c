/*
 * Process spawning without fork(2). libuv forks to spawn, and fork copies
 * the parent's page tables while the event loop waits: with a daemon of
 * 100 MB that is 2-3 ms of blocked loop for every runc, conmon or CNI
 * plugin run. posix_spawn(3) in glibc uses clone(CLONE_VM|CLONE_VFORK),
 * whose cost does not grow with the parent's memory.
 *
 * Children spawned here are invisible to libuv, which reaps only its own,
 * so their exits are watched through a pidfd polled on the event loop and
 * collected with waitid(P_PIDFD): no zombie, no race with pid reuse.
 *
 *   spawnProcess(file, args, env, cwd, fds, setsid) -> pid
 *       fds[i] is the parent descriptor to become the child's descriptor i,
 *       or -1 for /dev/null. Throws an Error with `code` (ENOENT, ...).
 *   socketPair() -> [fd, fd]        AF_UNIX stream pair, close-on-exec
 *   closeFd(fd)
 *   watchExit(pid, ref, callback)   callback(code, signal) once, when it exits
 *   pidfdSupported() -> boolean
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

static int pidfd_open_(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

static napi_value throw_errno(napi_env env, int err, const char *syscall_name) {
  napi_value msg, code, error;
  char text[256];
  snprintf(text, sizeof text, "%s: %s", syscall_name, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  const char *name = err == ENOENT ? "ENOENT" : err == EACCES ? "EACCES" : err == ENOEXEC ? "ENOEXEC" : err == EMFILE ? "EMFILE" : err == ENOMEM ? "ENOMEM" : "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &error);
  napi_value errno_value;
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_throw(env, error);
  return NULL;
}

static char *dup_string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s) napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

/* A NULL-terminated copy of a JS array of strings. */
static char **string_array(napi_env env, napi_value arr, const char *first) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  uint32_t offset = first ? 1 : 0;
  char **out = calloc(n + offset + 1, sizeof(char *));
  if (!out) return NULL;
  if (first) out[0] = strdup(first);
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    napi_get_element(env, arr, i, &item);
    out[i + offset] = dup_string(env, item);
    if (!out[i + offset]) {
      for (uint32_t k = 0; k < i + offset; k++) free(out[k]);
      free(out);
      return NULL;
    }
  }
  return out;
}

static void free_array(char **a) {
  if (!a) return;
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

static napi_value js_spawn_process(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "spawnProcess(file, args, env, cwd, fds, setsid)");
    return NULL;
  }
  char *file = dup_string(env, argv[0]);
  char **args = file ? string_array(env, argv[1], file) : NULL;
  char **envp = string_array(env, argv[2], NULL);
  napi_valuetype cwd_type;
  napi_typeof(env, argv[3], &cwd_type);
  char *cwd = cwd_type == napi_string ? dup_string(env, argv[3]) : NULL;
  uint32_t nfds = 0;
  napi_get_array_length(env, argv[4], &nfds);
  bool setsid_flag = false;
  napi_get_value_bool(env, argv[5], &setsid_flag);

  napi_value result = NULL;
  int *fds = calloc(nfds ? nfds : 1, sizeof(int));
  int *moved = calloc(nfds ? nfds : 1, sizeof(int));
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  bool actions_ready = false, attr_ready = false;
  if (!file || !args || !envp || !fds || !moved) {
    napi_throw_error(env, NULL, "spawnProcess: out of memory or bad arguments");
    goto out;
  }
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value v;
    napi_get_element(env, argv[4], i, &v);
    napi_get_value_int32(env, v, &fds[i]);
    moved[i] = -1;
    /* A source below nfds could be overwritten by an earlier dup2 in the
       child: move it out of the way first. */
    if (fds[i] >= 0 && (uint32_t)fds[i] < nfds && (uint32_t)fds[i] != i) {
      moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, (int)nfds);
      if (moved[i] < 0) {
        throw_errno(env, errno, "fcntl");
        goto out;
      }
      fds[i] = moved[i];
    }
  }
  posix_spawn_file_actions_init(&actions);
  actions_ready = true;
  posix_spawnattr_init(&attr);
  attr_ready = true;
  for (uint32_t i = 0; i < nfds; i++) {
    int r = fds[i] >= 0 ? posix_spawn_file_actions_adddup2(&actions, fds[i], (int)i)
                        : posix_spawn_file_actions_addopen(&actions, (int)i, "/dev/null", O_RDWR, 0);
    if (r != 0) {
      throw_errno(env, r, "posix_spawn_file_actions");
      goto out;
    }
  }
  if (cwd && posix_spawn_file_actions_addchdir_np(&actions, cwd) != 0) {
    throw_errno(env, errno, "posix_spawn_file_actions_addchdir_np");
    goto out;
  }
  /* Node ignores SIGPIPE and an ignored signal survives exec: give the
     child default dispositions and an empty mask, as libuv does. */
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (setsid_flag) flags |= POSIX_SPAWN_SETSID;
  posix_spawnattr_setflags(&attr, flags);
  pid_t pid;
  int r = strchr(file, '/') ? posix_spawn(&pid, file, &actions, &attr, args, envp)
                            : posix_spawnp(&pid, file, &actions, &attr, args, envp);
  if (r != 0) {
    throw_errno(env, r, file);
    goto out;
  }
  napi_create_int32(env, pid, &result);
out:
  if (actions_ready) posix_spawn_file_actions_destroy(&actions);
  if (attr_ready) posix_spawnattr_destroy(&attr);
  if (moved) {
    for (uint32_t i = 0; i < nfds; i++)
      if (moved[i] >= 0) close(moved[i]);
  }
  free(moved);
  free(fds);
  free(file);
  free(cwd);
  free_array(args);
  free_array(envp);
  return result;
}

static napi_value js_socket_pair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return throw_errno(env, errno, "socketpair");
  napi_value arr, a, b;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, sv[0], &a);
  napi_create_int32(env, sv[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc > 0) napi_get_value_int32(env, argv[0], &fd);
  if (fd >= 0) close(fd);
  return NULL;
}

struct watch {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_ref resource;
  napi_async_context context;
  int pidfd;
};

static void watch_closed(uv_handle_t *h) { free(h->data); }

static void on_pidfd_ready(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  struct watch *w = h->data;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r = waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG);
  if (r == 0 && si.si_pid == 0) return; /* still running: a spurious wake-up */
  uv_poll_stop(h);
  close(w->pidfd);
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, resource, args[2];
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_reference_value(env, w->resource, &resource);
  if (r != 0) {
    /* Reaped by someone else: the status is lost. */
    napi_get_null(env, &args[0]);
    napi_get_null(env, &args[1]);
  } else if (si.si_code == CLD_EXITED) {
    napi_create_int32(env, si.si_status, &args[0]);
    napi_get_null(env, &args[1]);
  } else {
    napi_get_null(env, &args[0]);
    napi_create_int32(env, si.si_status, &args[1]);
  }
  napi_make_callback(env, w->context, resource, cb, 2, args, NULL);
  napi_close_handle_scope(env, scope);
  napi_delete_reference(env, w->callback);
  napi_delete_reference(env, w->resource);
  napi_async_destroy(env, w->context);
  uv_close((uv_handle_t *)h, watch_closed);
}

static napi_value js_watch_exit(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t pid = 0;
  bool ref = true;
  napi_get_value_int32(env, argv[0], &pid);
  napi_get_value_bool(env, argv[1], &ref);
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, NULL, "watchExit: no event loop");
    return NULL;
  }
  int pidfd = pidfd_open_(pid);
  if (pidfd < 0) return throw_errno(env, errno, "pidfd_open");
  struct watch *w = calloc(1, sizeof *w);
  if (!w) {
    close(pidfd);
    napi_throw_error(env, NULL, "watchExit: out of memory");
    return NULL;
  }
  w->env = env;
  w->pidfd = pidfd;
  w->poll.data = w;
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "berth:child-exit", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &w->context);
  napi_create_reference(env, argv[2], 1, &w->callback);
  napi_create_reference(env, resource, 1, &w->resource);
  uv_poll_init(loop, &w->poll, pidfd);
  uv_poll_start(&w->poll, UV_READABLE, on_pidfd_ready);
  if (!ref) uv_unref((uv_handle_t *)&w->poll);
  return NULL;
}

static napi_value js_pidfd_supported(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = pidfd_open_(getpid());
  napi_value out;
  napi_get_boolean(env, fd >= 0, &out);
  if (fd >= 0) close(fd);
  return out;
}

void register_spawn(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"spawnProcess", NULL, js_spawn_process, NULL, NULL, NULL, napi_enumerable, NULL},
    {"socketPair", NULL, js_socket_pair, NULL, NULL, NULL, napi_enumerable, NULL},
    {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_enumerable, NULL},
    {"watchExit", NULL, js_watch_exit, NULL, NULL, NULL, napi_enumerable, NULL},
    {"pidfdSupported", NULL, js_pidfd_supported, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
