/*
 * berth's native module: the few Linux system calls Node does not expose.
 * Every call runs on libuv's thread pool (napi_async_work) and returns a
 * Promise, so the daemon's event loop never waits on the kernel. Failures
 * reject with an Error whose `code` is the errno name (ENOENT, EPERM, ...),
 * the same shape as errors from node:fs.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/mount.h>
#include <sched.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <linux/mount.h>
#include <malloc.h>

enum op_kind { OP_MKNOD, OP_LSETXATTR, OP_LGETXATTR, OP_LLISTXATTR, OP_MOUNT, OP_UMOUNT, OP_CONNECT_NETNS, OP_RDONLY_RECURSIVE, OP_WRITE_FILES, OP_TRIM, OP_IDMAP };

/* One file of a writeFiles batch; its bytes are a JS Buffer held by `ref`. */
struct file_item {
  char *path;
  void *data;
  size_t len;
  napi_ref ref;
  unsigned int uid, gid, mode;
  double mtime;
};

struct job {
  napi_async_work work;
  napi_deferred deferred;
  enum op_kind kind;
  char *path;
  char *name;
  void *data;
  size_t data_len;
  unsigned int mode;
  unsigned int major;
  unsigned int minor;
  char *target;
  char *fstype;
  char *cwd;
  unsigned int flags;
  ssize_t result_len;
  int err;
  const char *syscall;
  struct file_item *items;
  uint32_t item_count;
};

static void job_free(napi_env env, struct job *j) {
  if (j->work) napi_delete_async_work(env, j->work);
  free(j->path);
  free(j->name);
  free(j->data);
  free(j->target);
  free(j->fstype);
  free(j->cwd);
  for (uint32_t i = 0; i < j->item_count; i++) {
    free(j->items[i].path);
    if (j->items[i].ref) napi_delete_reference(env, j->items[i].ref);
  }
  free(j->items);
  free(j);
}

/*
 * mount(2), optionally with relative paths in its data resolved against
 * `cwd`. overlayfs copies mount data into a single page, so images with
 * many layers name them by short relative paths. A thread's working
 * directory is shared with the whole process, so the mount runs on a fresh
 * thread that first unshares its filesystem context (CLONE_FS): the
 * chdir then affects nobody else, and dies with the thread.
 */
static void *mount_thread(void *arg) {
  struct job *j = arg;
  if (j->cwd) {
    if (unshare(CLONE_FS) != 0 || chdir(j->cwd) != 0) {
      j->err = errno;
      return NULL;
    }
  }
  const char *source = j->path[0] ? j->path : NULL;
  const char *fstype = j->fstype && j->fstype[0] ? j->fstype : NULL;
  if (mount(source, j->target, fstype, j->flags, j->data) != 0) j->err = errno;
  return NULL;
}

/*
 * A TCP connection made from inside a network namespace (a pod's): the
 * socket belongs to the namespace it was created in, so a fresh thread
 * joins the namespace (setns affects only the calling thread), creates
 * and connects the socket, and hands back the descriptor for Node to use.
 */
static void *connect_thread(void *arg) {
  struct job *j = arg;
  int ns = open(j->path, O_RDONLY | O_CLOEXEC);
  if (ns < 0) { j->err = errno; j->syscall = "open"; return NULL; }
  if (setns(ns, CLONE_NEWNET) != 0) { j->err = errno; j->syscall = "setns"; close(ns); return NULL; }
  close(ns);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  int family;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, j->name, &v4->sin_addr) == 1) {
    family = AF_INET; v4->sin_family = AF_INET; v4->sin_port = htons((uint16_t)j->mode); len = sizeof *v4;
  } else if (inet_pton(AF_INET6, j->name, &v6->sin6_addr) == 1) {
    family = AF_INET6; v6->sin6_family = AF_INET6; v6->sin6_port = htons((uint16_t)j->mode); len = sizeof *v6;
  } else { j->err = EINVAL; j->syscall = "inet_pton"; return NULL; }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { j->err = errno; j->syscall = "socket"; return NULL; }
  struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&ss, len) != 0) { j->err = errno; j->syscall = "connect"; close(fd); return NULL; }
  tv.tv_sec = 0;
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  j->result_len = fd;
  return NULL;
}

static void run_connect(struct job *j) {
  pthread_t t;
  int rc = pthread_create(&t, NULL, connect_thread, j);
  if (rc != 0) { j->err = rc; return; }
  pthread_join(t, NULL);
}

static void run_mount(struct job *j) {
  pthread_t t;
  int rc = pthread_create(&t, NULL, mount_thread, j);
  if (rc != 0) {
    j->err = rc;
    return;
  }
  pthread_join(t, NULL);
}

/* Reads the buffer an xattr call needs, growing it when the value changed
 * size between the probe and the read. */
static void run_getxattr(struct job *j, int list) {
  for (int attempt = 0; attempt < 4; attempt++) {
    ssize_t n = list ? llistxattr(j->path, NULL, 0) : lgetxattr(j->path, j->name, NULL, 0);
    if (n < 0) { j->err = errno; return; }
    free(j->data);
    j->data = malloc(n > 0 ? (size_t)n : 1);
    if (!j->data) { j->err = ENOMEM; return; }
    ssize_t m = list ? llistxattr(j->path, j->data, (size_t)n) : lgetxattr(j->path, j->name, j->data, (size_t)n);
    if (m >= 0) { j->result_len = m; return; }
    if (errno != ERANGE) { j->err = errno; return; }
  }
  j->err = ERANGE;
}

/*
 * A new file with its content, owner, mode and modification time in one
 * trip to the thread pool: unpacking a layer of thousands of small files
 * would otherwise queue six file system calls for each. chmod comes after
 * chown, which clears the setuid and setgid bits.
 */
static int write_one(const char *path, const void *data, size_t len, unsigned int uid, unsigned int gid, unsigned int mode, double mtime, const char **syscall) {
  *syscall = "open";
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  int err = 0;
  size_t off = 0;
  while (off < len) {
    ssize_t n = write(fd, (const char *)data + off, len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno; *syscall = "write"; break;
    }
    off += (size_t)n;
  }
  if (!err && fchown(fd, (uid_t)uid, (gid_t)gid) != 0) { err = errno; *syscall = "fchown"; }
  if (!err && fchmod(fd, (mode_t)mode) != 0) { err = errno; *syscall = "fchmod"; }
  if (!err) {
    struct timespec ts[2];
    ts[0].tv_sec = (time_t)mtime;
    ts[0].tv_nsec = (long)((mtime - (double)ts[0].tv_sec) * 1e9);
    if (ts[0].tv_nsec < 0 || ts[0].tv_nsec >= 1000000000L) ts[0].tv_nsec = 0;
    ts[1] = ts[0];
    if (futimens(fd, ts) != 0) { err = errno; *syscall = "futimens"; }
  }
  close(fd);
  return err;
}

/* The files of a batch in order; the first failure stops it and names its path. */
static void run_write_files(struct job *j) {
  for (uint32_t i = 0; i < j->item_count; i++) {
    struct file_item *f = &j->items[i];
    int err = write_one(f->path, f->data, f->len, f->uid, f->gid, f->mode, f->mtime, &j->syscall);
    if (err) {
      j->err = err;
      j->path = strdup(f->path);
      return;
    }
  }
}

/*
 * An idmapped copy of the tree at `path`, attached at `target`: open_tree
 * clones it detached, mount_setattr gives the clone the ID mapping of the
 * user namespace pinned at `name` (MOUNT_ATTR_IDMAP), move_mount attaches
 * it. Files owned by N on disk appear owned by the namespace's mapping of
 * N, so a user-namespaced container sees the image's owners as its own.
 */
static void run_idmap(struct job *j) {
  j->syscall = "open_tree";
  int tree = (int)syscall(__NR_open_tree, AT_FDCWD, j->path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) { j->err = errno; return; }
  j->syscall = "open";
  int userns = open(j->name, O_RDONLY | O_CLOEXEC);
  if (userns < 0) { j->err = errno; close(tree); return; }
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_IDMAP;
  attr.userns_fd = (unsigned long long)userns;
  j->syscall = "mount_setattr";
  if (syscall(__NR_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) j->err = errno;
  close(userns);
  if (!j->err) {
    j->syscall = "move_mount";
    if (syscall(__NR_move_mount, tree, "", AT_FDCWD, j->target, MOVE_MOUNT_F_EMPTY_PATH) != 0) j->err = errno;
  }
  close(tree);
}

static void execute(napi_env env, void *arg) {
  (void)env;
  struct job *j = arg;
  switch (j->kind) {
  case OP_MKNOD:
    j->syscall = "mknod";
    if (mknod(j->path, (mode_t)j->mode, makedev(j->major, j->minor)) != 0) j->err = errno;
    break;
  case OP_LSETXATTR:
    j->syscall = "lsetxattr";
    if (lsetxattr(j->path, j->name, j->data, j->data_len, 0) != 0) j->err = errno;
    break;
  case OP_LGETXATTR:
    j->syscall = "lgetxattr";
    run_getxattr(j, 0);
    break;
  case OP_LLISTXATTR:
    j->syscall = "llistxattr";
    run_getxattr(j, 1);
    break;
  case OP_MOUNT:
    j->syscall = "mount";
    run_mount(j);
    break;
  case OP_UMOUNT:
    j->syscall = "umount2";
    if (umount2(j->path, (int)j->flags) != 0) j->err = errno;
    break;
  case OP_CONNECT_NETNS:
    j->syscall = "connect";
    run_connect(j);
    break;
  case OP_WRITE_FILES:
    run_write_files(j);
    break;
  case OP_TRIM:
    /* Gives the C heap's free pages back to the kernel, in every arena:
       after a pull, zlib's and the unpacker's buffers leave tens of MiB
       free but resident. */
    j->syscall = "malloc_trim";
    malloc_trim(0);
    break;
  case OP_IDMAP:
    run_idmap(j);
    break;
  case OP_RDONLY_RECURSIVE: {
    /* mount_setattr(2) with AT_RECURSIVE: every mount of the tree read-only. */
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_RDONLY;
    j->syscall = "mount_setattr";
    if (syscall(__NR_mount_setattr, AT_FDCWD, j->path, AT_RECURSIVE, &attr, sizeof attr) != 0) j->err = errno;
    break;
  }
  }
}

static napi_value make_error(napi_env env, struct job *j) {
  char msg[4096];
  const char *code = strerrorname_np(j->err);
  const char *subject = j->kind == OP_MOUNT ? j->target : j->path;
  snprintf(msg, sizeof msg, "%s: %s, %s '%s'", code ? code : "E?", strerror(j->err), j->syscall, subject);
  napi_value m, c, e, n, s, p;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &c);
  napi_create_error(env, c, m, &e);
  napi_create_int32(env, -j->err, &n);
  napi_set_named_property(env, e, "errno", n);
  napi_create_string_utf8(env, j->syscall, NAPI_AUTO_LENGTH, &s);
  napi_set_named_property(env, e, "syscall", s);
  napi_create_string_utf8(env, j->path, NAPI_AUTO_LENGTH, &p);
  napi_set_named_property(env, e, "path", p);
  return e;
}

static void complete(napi_env env, napi_status status, void *arg) {
  struct job *j = arg;
  napi_value value;
  if (status != napi_ok && !j->err) j->err = ECANCELED;
  if (j->err == ENODATA && j->kind == OP_LGETXATTR) {
    napi_get_null(env, &value); /* absent attribute: resolve null */
    napi_resolve_deferred(env, j->deferred, value);
  } else if (j->err) {
    napi_reject_deferred(env, j->deferred, make_error(env, j));
  } else {
    if (j->kind == OP_LGETXATTR || j->kind == OP_LLISTXATTR) {
      void *copy;
      napi_create_buffer_copy(env, (size_t)j->result_len, j->data, &copy, &value);
    } else if (j->kind == OP_CONNECT_NETNS) {
      napi_create_int32(env, (int32_t)j->result_len, &value);
    } else {
      napi_get_undefined(env, &value);
    }
    napi_resolve_deferred(env, j->deferred, value);
  }
  job_free(env, j);
}

static char *get_string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

static napi_value start(napi_env env, struct job *j) {
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "berth_native", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

static struct job *new_job(napi_env env, napi_callback_info info, enum op_kind kind, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return NULL;
  }
  struct job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->kind = kind;
  j->path = get_string(env, argv[0]);
  if (!j->path) {
    napi_throw_type_error(env, NULL, "path must be a string");
    free(j);
    return NULL;
  }
  return j;
}

/* Copies a Buffer argument into the job, which then owns its bytes whatever becomes of the Buffer. */
static int copy_buffer(napi_env env, napi_value value, struct job *j) {
  void *buf;
  size_t len;
  if (napi_get_buffer_info(env, value, &buf, &len) != napi_ok) return 0;
  j->data = malloc(len > 0 ? len : 1);
  if (!j->data) return 0;
  memcpy(j->data, buf, len);
  j->data_len = len;
  return 1;
}

/* mknod(path, mode, major, minor): mode includes the file type bits. */
static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  struct job *j = new_job(env, info, OP_MKNOD, 4, argv);
  if (!j) return NULL;
  napi_get_value_uint32(env, argv[1], &j->mode);
  napi_get_value_uint32(env, argv[2], &j->major);
  napi_get_value_uint32(env, argv[3], &j->minor);
  return start(env, j);
}

/* lsetxattr(path, name, value: Buffer) */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct job *j = new_job(env, info, OP_LSETXATTR, 3, argv);
  if (!j) return NULL;
  j->name = get_string(env, argv[1]);
  if (!j->name || !copy_buffer(env, argv[2], j)) {
    job_free(env, j);
    napi_throw_type_error(env, NULL, "name must be a string and value a Buffer");
    return NULL;
  }
  return start(env, j);
}

/* lgetxattr(path, name): Buffer, or null when the attribute is absent. */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct job *j = new_job(env, info, OP_LGETXATTR, 2, argv);
  if (!j) return NULL;
  j->name = get_string(env, argv[1]);
  if (!j->name) {
    job_free(env, j);
    napi_throw_type_error(env, NULL, "name must be a string");
    return NULL;
  }
  return start(env, j);
}

/* llistxattr(path): Buffer of NUL-terminated names. */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct job *j = new_job(env, info, OP_LLISTXATTR, 1, argv);
  if (!j) return NULL;
  return start(env, j);
}

/* mount(source, target, fstype, flags, data, cwd): data and cwd may be null. */
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  struct job *j = new_job(env, info, OP_MOUNT, 6, argv);
  if (!j) return NULL;
  j->target = get_string(env, argv[1]);
  j->fstype = get_string(env, argv[2]);
  napi_get_value_uint32(env, argv[3], &j->flags);
  napi_valuetype t;
  napi_typeof(env, argv[4], &t);
  if (t == napi_string) j->data = get_string(env, argv[4]);
  napi_typeof(env, argv[5], &t);
  if (t == napi_string) j->cwd = get_string(env, argv[5]);
  if (!j->target || !j->fstype) {
    job_free(env, j);
    napi_throw_type_error(env, NULL, "target and fstype must be strings");
    return NULL;
  }
  return start(env, j);
}

/* umount2(target, flags) */
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct job *j = new_job(env, info, OP_UMOUNT, 2, argv);
  if (!j) return NULL;
  napi_get_value_uint32(env, argv[1], &j->flags);
  return start(env, j);
}

/* connectInNetns(nsPath, address, port): a connected TCP socket fd. */
static napi_value js_connect_in_netns(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct job *j = new_job(env, info, OP_CONNECT_NETNS, 3, argv);
  if (!j) return NULL;
  j->name = get_string(env, argv[1]);
  napi_get_value_uint32(env, argv[2], &j->mode);
  if (!j->name) {
    job_free(env, j);
    napi_throw_type_error(env, NULL, "address must be a string");
    return NULL;
  }
  return start(env, j);
}

/* idmapMount(source, target, usernsPath): an idmapped clone of source attached at target. */
static napi_value js_idmap_mount(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  struct job *j = new_job(env, info, OP_IDMAP, 3, argv);
  if (!j) return NULL;
  j->target = get_string(env, argv[1]);
  j->name = get_string(env, argv[2]);
  if (!j->target || !j->name) {
    job_free(env, j);
    napi_throw_type_error(env, NULL, "target and user namespace path must be strings");
    return NULL;
  }
  return start(env, j);
}

/* readOnlyRecursive(path): makes the mount at path and all below it read-only. */
static napi_value js_read_only_recursive(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct job *j = new_job(env, info, OP_RDONLY_RECURSIVE, 1, argv);
  if (!j) return NULL;
  return start(env, j);
}

/* A number (not NaN) within [lo, hi]. */
static int in_range(double v, double lo, double hi) { return v >= lo && v <= hi; }

/*
 * writeFiles(paths: string[], data: Buffer[], meta: Float64Array): many new
 * files in one trip to the thread pool, each as writeFile makes it; meta
 * holds uid, gid, mode and mtime for each file in turn. A layer of
 * thousands of small files otherwise pays a promise, a job and a wake-up
 * per file on the event loop.
 */
static napi_value js_write_files(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t n = 0, nd = 0;
  napi_typedarray_type type;
  size_t meta_len = 0;
  void *meta_data = NULL;
  if (argc < 3 || napi_get_array_length(env, argv[0], &n) != napi_ok || napi_get_array_length(env, argv[1], &nd) != napi_ok || nd != n ||
      napi_get_typedarray_info(env, argv[2], &type, &meta_len, &meta_data, NULL, NULL) != napi_ok || type != napi_float64_array || meta_len != (size_t)n * 4) {
    napi_throw_type_error(env, NULL, "writeFiles(paths: string[], data: Buffer[], meta: Float64Array of 4 per file)");
    return NULL;
  }
  struct job *j = calloc(1, sizeof *j);
  if (!j || (n > 0 && !(j->items = calloc(n, sizeof *j->items)))) {
    free(j);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->kind = OP_WRITE_FILES;
  const double *meta = meta_data;
  for (uint32_t i = 0; i < n; i++) {
    napi_value p, d;
    struct file_item *f = &j->items[i];
    j->item_count = i + 1;
    napi_get_element(env, argv[0], i, &p);
    napi_get_element(env, argv[1], i, &d);
    f->path = get_string(env, p);
    if (!f->path || napi_get_buffer_info(env, d, &f->data, &f->len) != napi_ok || napi_create_reference(env, d, 1, &f->ref) != napi_ok) {
      job_free(env, j);
      napi_throw_type_error(env, NULL, "writeFiles: each path must be a string and each data a Buffer");
      return NULL;
    }
    const double *m = meta + (size_t)i * 4;
    /* Converting a double C cannot represent is undefined: refuse it here. */
    if (!in_range(m[0], 0, 4294967295.0) || !in_range(m[1], 0, 4294967295.0) || !in_range(m[2], 0, 07777) || !in_range(m[3], -9e15, 9e15)) {
      job_free(env, j);
      napi_throw_range_error(env, NULL, "writeFiles: uid, gid, mode or mtime out of range");
      return NULL;
    }
    f->uid = (unsigned int)m[0];
    f->gid = (unsigned int)m[1];
    f->mode = (unsigned int)m[2];
    f->mtime = m[3];
  }
  return start(env, j);
}

/* trimMemory(): malloc_trim(0) on the thread pool. */
static napi_value js_trim_memory(napi_env env, napi_callback_info info) {
  (void)info;
  struct job *j = calloc(1, sizeof *j);
  if (!j) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  j->kind = OP_TRIM;
  return start(env, j);
}

void register_spawn(napi_env env, napi_value exports);
void register_hash(napi_env env, napi_value exports);
void register_notify(napi_env env, napi_value exports);
void register_zstd(napi_env env, napi_value exports);
napi_value berth_memory_pressure(napi_env env, napi_callback_info info);

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
    {"umount2", NULL, js_umount2, NULL, NULL, NULL, napi_enumerable, NULL},
    {"connectInNetns", NULL, js_connect_in_netns, NULL, NULL, NULL, napi_enumerable, NULL},
    {"readOnlyRecursive", NULL, js_read_only_recursive, NULL, NULL, NULL, napi_enumerable, NULL},
    {"idmapMount", NULL, js_idmap_mount, NULL, NULL, NULL, napi_enumerable, NULL},
    {"writeFiles", NULL, js_write_files, NULL, NULL, NULL, napi_enumerable, NULL},
    {"trimMemory", NULL, js_trim_memory, NULL, NULL, NULL, napi_enumerable, NULL},
    {"memoryPressure", NULL, berth_memory_pressure, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  register_spawn(env, exports);
  register_hash(env, exports);
  register_notify(env, exports);
  register_zstd(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
