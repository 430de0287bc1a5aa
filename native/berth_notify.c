/*
 * sdNotify(socketPath, message): one datagram to systemd's notification
 * socket ($NOTIFY_SOCKET), as sd_notify(3) sends it. Node has no unix
 * datagram sockets. A path starting with '@' names an abstract socket.
 * Synchronous: one non-blocking sendto, a few times in a daemon's life.
 */
#include <errno.h>
#include <node_api.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static napi_value js_sd_notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
  char message[4096];
  size_t path_len = 0, message_len = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &path_len) != napi_ok ||
      napi_get_value_string_utf8(env, argv[1], message, sizeof message, &message_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "sdNotify(socketPath: string, message: string)");
    return NULL;
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path_len == 0 || path_len >= sizeof addr.sun_path) {
    napi_throw_range_error(env, NULL, "notification socket path is empty or too long");
    return NULL;
  }
  memcpy(addr.sun_path, path, path_len);
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    napi_throw_error(env, "ENOTIFY", strerror(errno));
    return NULL;
  }
  ssize_t sent = sendto(fd, message, message_len, MSG_NOSIGNAL, (struct sockaddr *)&addr, len);
  int saved = errno;
  close(fd);
  if (sent < 0) {
    napi_throw_error(env, "ENOTIFY", strerror(saved));
    return NULL;
  }
  return NULL;
}

void register_notify(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"sdNotify", NULL, js_sd_notify, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
