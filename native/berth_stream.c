/*
 * berth-stream: the byte pumps berth's streaming server needs and Node
 * cannot do itself.
 *
 *   berth-stream attach <socket>
 *     Connects to a conmon attach socket (SOCK_SEQPACKET). Standard input
 *     is written to the container's stdin; its end shuts the socket's
 *     write side (conmon then closes the container's stdin when asked to).
 *     Every message from conmon is written to standard output as
 *     [1 byte stream][4 bytes big-endian length][payload], stream 2 being
 *     stdout and 3 stderr, so message boundaries and streams survive.
 *
 *   berth-stream console <socket> <pid-file> <runtime> <runtime args...>
 *     Runs `<runtime> <args>` (an `exec -d --tty --console-socket <socket>
 *     --pid-file <pid-file>`), receives the terminal master over
 *     SCM_RIGHTS on <socket>, then copies standard input to the terminal
 *     and the terminal to standard output. Lines "<rows> <cols>" on file
 *     descriptor 3 resize the terminal. As a child subreaper it inherits
 *     the exec'd process when the runtime exits, so it can wait for it:
 *     its own exit status is the process's (128+signal when killed), or
 *     255 when the runtime failed (its message on standard error).
 *
 * attach exits 0 when conmon closes the socket.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "berth-stream: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static void unix_addr(struct sockaddr_un *addr, const char *path) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr->sun_path) {
    errno = ENAMETOOLONG;
    die("socket path");
  }
  strcpy(addr->sun_path, path);
}

static int run_attach(const char *path) {
  int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  struct sockaddr_un addr;
  unix_addr(&addr, path);
  if (connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect to the attach socket");
  static char buf[65536];
  struct pollfd fds[2] = {{.fd = 0, .events = POLLIN}, {.fd = s, .events = POLLIN}};
  int stdin_open = 1;
  for (;;) {
    fds[0].fd = stdin_open ? 0 : -1;
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(s, buf, sizeof buf);
      if (n <= 0) return 0; /* conmon closed: the container is gone */
      unsigned char head[5];
      uint32_t len = (uint32_t)(n - 1);
      head[0] = (unsigned char)buf[0];
      head[1] = (unsigned char)(len >> 24);
      head[2] = (unsigned char)(len >> 16);
      head[3] = (unsigned char)(len >> 8);
      head[4] = (unsigned char)len;
      if (write_all(1, head, 5) != 0 || write_all(1, buf + 1, len) != 0) return 0;
    }
    if (stdin_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(0, buf, 32768);
      if (n <= 0) {
        stdin_open = 0;
        shutdown(s, SHUT_WR);
      } else if (write_all(s, buf, (size_t)n) != 0) {
        return 0;
      }
    }
  }
}

static int receive_fd(int conn) {
  char data[256];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  union {
    struct cmsghdr hdr;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0) die("recvmsg");
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return fd;
    }
  }
  errno = EPROTO;
  die("no terminal received");
  return -1;
}

static void resize(int master, char *line) {
  unsigned rows, cols;
  if (sscanf(line, "%u %u", &rows, &cols) != 2) return;
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  ioctl(master, TIOCSWINSZ, &ws);
}

static int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

static int run_console(const char *path, const char *pidfile, char **runtime_argv) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) die("prctl");
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (l < 0) die("socket");
  struct sockaddr_un addr;
  unix_addr(&addr, path);
  unlink(path);
  if (bind(l, (struct sockaddr *)&addr, sizeof addr) != 0) die("bind the console socket");
  if (listen(l, 1) != 0) die("listen");
  pid_t runtime = fork();
  if (runtime < 0) die("fork");
  if (runtime == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(2, 1); /* the runtime's complaints go to our stderr */
    execv(runtime_argv[0], runtime_argv);
    _exit(127);
  }
  /* Wait for the terminal, unless the runtime fails first. */
  struct pollfd lp = {.fd = l, .events = POLLIN};
  int status;
  for (;;) {
    int r = poll(&lp, 1, 100);
    if (r > 0) break;
    if (r < 0 && errno != EINTR) die("poll");
    if (waitpid(runtime, &status, WNOHANG) == runtime) {
      unlink(path);
      return 255;
    }
  }
  int conn = accept4(l, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0) die("accept");
  int master = receive_fd(conn);
  close(conn);
  close(l);
  unlink(path);
  if (waitpid(runtime, &status, 0) != runtime || status_code(status) != 0) return 255;
  pid_t target = 0;
  FILE *pf = fopen(pidfile, "r");
  if (pf) {
    if (fscanf(pf, "%d", &target) != 1) target = 0;
    fclose(pf);
  }
  static char buf[65536];
  char ctl[256];
  size_t ctl_len = 0;
  struct pollfd fds[3] = {{.fd = 0, .events = POLLIN}, {.fd = master, .events = POLLIN}, {.fd = 3, .events = POLLIN}};
  int stdin_open = 1, ctl_open = 1;
  for (;;) {
    fds[0].fd = stdin_open ? 0 : -1;
    fds[2].fd = ctl_open ? 3 : -1;
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n <= 0) break; /* EIO: every process on the terminal is gone */
      if (write_all(1, buf, (size_t)n) != 0) break;
    }
    if (stdin_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(0, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = 0; /* a terminal has no half-close: keep running */
      } else if (write_all(master, buf, (size_t)n) != 0) {
        break;
      }
    }
    if (ctl_open && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(3, ctl + ctl_len, sizeof ctl - 1 - ctl_len);
      if (n <= 0) {
        ctl_open = 0;
        continue;
      }
      ctl_len += (size_t)n;
      ctl[ctl_len] = 0;
      char *nl;
      while ((nl = strchr(ctl, '\n')) != NULL) {
        *nl = 0;
        resize(master, ctl);
        size_t rest = ctl_len - (size_t)(nl + 1 - ctl);
        memmove(ctl, nl + 1, rest);
        ctl_len = rest;
        ctl[ctl_len] = 0;
      }
      if (ctl_len == sizeof ctl - 1) ctl_len = 0;
    }
  }
  if (target <= 0) return 0;
  while (waitpid(target, &status, 0) < 0) {
    if (errno != EINTR) return 255;
  }
  return status_code(status);
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "attach")) return run_attach(argv[2]);
  if (argc >= 5 && !strcmp(argv[1], "console")) return run_console(argv[2], argv[3], argv + 4);
  if (argc < 3) {
    fprintf(stderr, "usage: berth-stream attach <socket> | console <socket> <pid-file> <runtime> <args...>\n");
    return 2;
  }
  fprintf(stderr, "berth-stream: unknown mode %s\n", argv[1]);
  return 2;
}
