/*
 * berth-pinns: creates new network, IPC and UTS namespaces for a pod and
 * pins each one to a file with a bind mount, so the pod's namespaces live
 * without any process in them (containers join them by path). It also sets
 * the pod's hostname and namespaced sysctls from inside the namespaces,
 * where their values belong, and brings up the loopback interface.
 *
 *   berth-pinns [--net FILE] [--ipc FILE] [--uts FILE] [--hostname NAME]
 *               [--sysctl key=value]... [--user FILE --uid-map "C H N" --gid-map "C H N"]
 *
 * With --user, the namespaces are made by a child process that first
 * enters a new user namespace (mapped by this process, as host root), so
 * they belong to that user namespace: a container joining them is root
 * over its pod's network, IPC and hostname, but nothing on the host.
 *
 * Each FILE must not exist yet. On any failure every pin made so far is
 * undone, the error goes to stderr and the exit status is 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

struct pin {
  const char *ns;
  int flag;
  const char *file;
  int done;
};

static struct pin pins[] = {
  {"user", CLONE_NEWUSER, NULL, 0},
  {"net", CLONE_NEWNET, NULL, 0},
  {"ipc", CLONE_NEWIPC, NULL, 0},
  {"uts", CLONE_NEWUTS, NULL, 0},
};
#define NPINS (sizeof pins / sizeof pins[0])

static void undo(void) {
  for (size_t i = 0; i < NPINS; i++) {
    if (!pins[i].file) continue;
    if (pins[i].done) umount2(pins[i].file, MNT_DETACH);
    unlink(pins[i].file);
  }
}

static void fail(const char *what, const char *arg) {
  fprintf(stderr, "berth-pinns: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
  undo();
  exit(1);
}

/* The loopback interface of a new network namespace starts down. */
static void loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket", "");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0) fail("get flags of", "lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(fd, SIOCSIFFLAGS, &ifr) != 0) fail("bring up", "lo");
  close(fd);
}

static void write_sysctl(const char *kv) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv) {
    errno = EINVAL;
    fail("invalid sysctl", kv);
  }
  char path[512];
  size_t klen = (size_t)(eq - kv);
  if (klen + 11 >= sizeof path) {
    errno = ENAMETOOLONG;
    fail("sysctl name too long", kv);
  }
  memcpy(path, "/proc/sys/", 10);
  for (size_t i = 0; i < klen; i++) {
    char c = kv[i];
    if (c == '/') {
      errno = EINVAL;
      fail("invalid sysctl name", kv);
    }
    path[10 + i] = c == '.' ? '/' : c;
  }
  path[10 + klen] = 0;
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open sysctl", path);
  const char *value = eq + 1;
  size_t len = strlen(value);
  if (write(fd, value, len) != (ssize_t)len) fail("cannot set sysctl", kv);
  close(fd);
}

static void setup_inside(int flags, const char *hostname, int argc, char **argv) {
  if (flags && unshare(flags) != 0) fail("unshare", "");
  if (hostname && sethostname(hostname, strlen(hostname)) != 0) fail("sethostname", hostname);
  if (flags & CLONE_NEWNET) loopback_up();
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sysctl") && i + 1 < argc) write_sysctl(argv[++i]);
  }
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open", path);
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len) fail("cannot write", path);
  close(fd);
}

static void pin_from(const char *proc_root, size_t p) {
  char src[128];
  snprintf(src, sizeof src, "%s/ns/%s", proc_root, pins[p].ns);
  if (mount(src, pins[p].file, NULL, MS_BIND, NULL) != 0) fail("cannot pin", pins[p].file);
  pins[p].done = 1;
}

int main(int argc, char **argv) {
  const char *hostname = NULL;
  const char *uid_map = NULL, *gid_map = NULL;
  int flags = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--hostname") && v) { hostname = v; i++; continue; }
    if (!strcmp(a, "--sysctl") && v) { i++; continue; } /* applied after unshare */
    if (!strcmp(a, "--uid-map") && v) { uid_map = v; i++; continue; }
    if (!strcmp(a, "--gid-map") && v) { gid_map = v; i++; continue; }
    int matched = 0;
    for (size_t p = 0; p < NPINS; p++) {
      char opt[16];
      snprintf(opt, sizeof opt, "--%s", pins[p].ns);
      if (!strcmp(a, opt) && v) {
        pins[p].file = v;
        flags |= pins[p].flag;
        matched = 1;
        i++;
      }
    }
    if (!matched) {
      fprintf(stderr, "berth-pinns: unknown or incomplete argument %s\n", a);
      return 2;
    }
  }
  for (size_t p = 0; p < NPINS; p++) {
    if (!pins[p].file) continue;
    int fd = open(pins[p].file, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) {
      const char *file = pins[p].file;
      pins[p].file = NULL; /* not ours: never unlink it */
      fail("cannot create", file);
    }
    close(fd);
  }
  if (!(flags & CLONE_NEWUSER)) {
    setup_inside(flags, hostname, argc, argv);
    for (size_t p = 0; p < NPINS; p++) if (pins[p].file) pin_from("/proc/self", p);
    return 0;
  }
  if (!uid_map || !gid_map) {
    errno = EINVAL;
    fail("--user needs --uid-map and --gid-map", "");
  }
  /* A child enters the new user namespace; this process maps it; the child
   * then makes the other namespaces inside it and waits to be pinned. */
  int to_child[2], to_parent[2];
  if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(to_parent, O_CLOEXEC) != 0) fail("pipe", "");
  pid_t child = fork();
  if (child < 0) fail("fork", "");
  char c = 0;
  if (child == 0) {
    if (unshare(CLONE_NEWUSER) != 0) _exit(10);
    if (write(to_parent[1], "u", 1) != 1) _exit(11);
    if (read(to_child[0], &c, 1) != 1) _exit(12);
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0) _exit(13);
    setup_inside(flags & ~CLONE_NEWUSER, hostname, argc, argv);
    if (write(to_parent[1], "r", 1) != 1) _exit(14);
    if (read(to_child[0], &c, 1) < 0) _exit(15); /* until pinned */
    _exit(0);
  }
  close(to_child[0]);
  close(to_parent[1]);
  char proc_root[64], path[96], line[128];
  snprintf(proc_root, sizeof proc_root, "/proc/%d", (int)child);
  int status;
  if (read(to_parent[0], &c, 1) != 1) {
    waitpid(child, &status, 0);
    errno = ECHILD;
    fail("entering a new user namespace failed", "");
  }
  snprintf(path, sizeof path, "%s/uid_map", proc_root);
  snprintf(line, sizeof line, "%s\n", uid_map);
  write_file(path, line);
  snprintf(path, sizeof path, "%s/gid_map", proc_root);
  snprintf(line, sizeof line, "%s\n", gid_map);
  write_file(path, line);
  if (write(to_child[1], "m", 1) != 1) fail("signal child", "");
  if (read(to_parent[0], &c, 1) != 1) {
    waitpid(child, &status, 0);
    errno = ECHILD;
    fail("setting up namespaces in the user namespace failed", "");
  }
  for (size_t p = 0; p < NPINS; p++) if (pins[p].file) pin_from(proc_root, p);
  kill(child, SIGKILL);
  waitpid(child, &status, 0);
  return 0;
}
