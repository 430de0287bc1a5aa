/*
 * berth-pinns: creates new network, IPC and UTS namespaces for a pod and
 * pins each one to a file with a bind mount, so the pod's namespaces live
 * without any process in them (containers join them by path). It also sets
 * the pod's hostname and namespaced sysctls from inside the namespaces,
 * where their values belong, and brings up the loopback interface.
 *
 *   berth-pinns [--net FILE] [--ipc FILE] [--uts FILE] [--hostname NAME]
 *               [--sysctl key=value]...
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
#include <sys/stat.h>
#include <unistd.h>

struct pin {
  const char *ns;
  int flag;
  const char *file;
  int done;
};

static struct pin pins[] = {
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

int main(int argc, char **argv) {
  const char *hostname = NULL;
  int flags = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--hostname") && v) { hostname = v; i++; continue; }
    if (!strcmp(a, "--sysctl") && v) { i++; continue; } /* applied after unshare */
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
  if (flags && unshare(flags) != 0) fail("unshare", "");
  if (hostname && sethostname(hostname, strlen(hostname)) != 0) fail("sethostname", hostname);
  if (flags & CLONE_NEWNET) loopback_up();
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sysctl") && i + 1 < argc) write_sysctl(argv[++i]);
  }
  for (size_t p = 0; p < NPINS; p++) {
    if (!pins[p].file) continue;
    char src[64];
    snprintf(src, sizeof src, "/proc/self/ns/%s", pins[p].ns);
    if (mount(src, pins[p].file, NULL, MS_BIND, NULL) != 0) fail("cannot pin", pins[p].file);
    pins[p].done = 1;
  }
  return 0;
}
