// The `cnm` CNI executable's fast path: a runtime starts it once per call, and Node alone takes
// longer to start than the reference plugins' whole ADD. This forwarder answers VERSION itself,
// sends everything else (the CNI_* environment and the configuration read from stdin) to the cnm
// daemon's `POST /v1/cni` over its unix socket, prints the answer and exits with its code. When no
// daemon answers (no socket, refused, an old daemon), it execs the Node executable installed
// beside it (`.cnm-cni-node`) with the same environment and the same stdin (kept in a memfd), which
// does the work in process on the store. No shell, no allocation beyond the request and answer.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

#define MAX_INPUT (16 * 1024 * 1024)
#define DEFAULT_SOCKET "/run/cnm/cnm.sock"
#define FALLBACK_NAME ".cnm-cni-node"

struct buf {
  char *data;
  size_t len, cap;
};

static int grow(struct buf *b, size_t need) {
  if (b->len + need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + need) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

static int put(struct buf *b, const char *s, size_t n) {
  if (grow(b, n) < 0) return -1;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

static int puts_(struct buf *b, const char *s) { return put(b, s, strlen(s)); }

/* A JSON string (quoted), escaping quotes, backslashes and control characters. */
static int put_json(struct buf *b, const char *s, size_t n) {
  if (put(b, "\"", 1) < 0) return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      if (put(b, esc, 2) < 0) return -1;
    } else if (c < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      if (put(b, esc, 6) < 0) return -1;
    } else if (put(b, (const char *)&c, 1) < 0) {
      return -1;
    }
  }
  return put(b, "\"", 1);
}

static int read_all(int fd, struct buf *b, size_t max) {
  for (;;) {
    if (grow(b, 65536) < 0) return -1;
    ssize_t n = read(fd, b->data + b->len, b->cap - b->len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) return 0;
    b->len += (size_t)n;
    if (b->len > max) return -1;
  }
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Execs the Node executable beside this one, with stdin replayed from a memfd. */
static int fallback(char **argv, const struct buf *in) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return 1;
  self[n] = 0;
  char *slash = strrchr(self, '/');
  if (!slash) return 1;
  slash[1] = 0;
  if (strlen(self) + sizeof FALLBACK_NAME > sizeof self) return 1;
  strcat(self, FALLBACK_NAME);
  int mfd = memfd_create("cnm-cni-stdin", MFD_CLOEXEC);
  if (mfd < 0 || write_all(mfd, in->data ? in->data : "", in->len) < 0 || lseek(mfd, 0, SEEK_SET) < 0) return 1;
  if (dup2(mfd, 0) < 0) return 1;
  argv[0] = self;
  execve(self, argv, environ);
  fprintf(stderr, "cnm: no daemon answered and %s could not run: %s\n", self, strerror(errno));
  return 1;
}

/* The configuration's cniVersion if it is one this plugin speaks, else the newest. */
static const char *config_version(const struct buf *in) {
  static const char *versions[] = {"0.3.1", "0.4.0", "1.0.0", "1.1.0"};
  if (in->data) {
    char *key = memmem(in->data, in->len, "\"cniVersion\"", 12);
    if (key) {
      char *end = in->data + in->len;
      char *q = memchr(key + 12, '"', (size_t)(end - key - 12));
      if (q) {
        for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
          size_t l = strlen(versions[i]);
          if (q + 1 + l < end && memcmp(q + 1, versions[i], l) == 0 && q[1 + l] == '"') return versions[i];
        }
      }
    }
  }
  return "1.1.0";
}

static int connect_daemon(void) {
  const char *host = getenv("CNM_HOST");
  const char *path = host && strncmp(host, "unix://", 7) == 0 ? host + 7 : DEFAULT_SOCKET;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int main(int argc, char **argv) {
  (void)argc;
  struct buf in = {0}, body = {0}, req = {0}, res = {0};
  if (read_all(0, &in, MAX_INPUT) < 0) {
    fprintf(stderr, "cnm: could not read the network configuration from stdin\n");
    return 1;
  }
  const char *command = getenv("CNI_COMMAND");
  if (command && strcmp(command, "VERSION") == 0) {
    printf("{\"cniVersion\":\"%s\",\"supportedVersions\":[\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n", config_version(&in));
    return 0;
  }
  int fd = connect_daemon();
  if (fd < 0) return fallback(argv, &in);
  int first = 1;
  if (puts_(&body, "{\"env\":{") < 0) return 1;
  for (char **e = environ; *e; e++) {
    if (strncmp(*e, "CNI_", 4) != 0) continue;
    char *eq = strchr(*e, '=');
    if (!eq) continue;
    if ((!first && puts_(&body, ",") < 0) || put_json(&body, *e, (size_t)(eq - *e)) < 0 || puts_(&body, ":") < 0 ||
        put_json(&body, eq + 1, strlen(eq + 1)) < 0)
      return 1;
    first = 0;
  }
  if (puts_(&body, "},\"stdin\":") < 0 || put_json(&body, in.data ? in.data : "", in.len) < 0 || puts_(&body, "}") < 0)
    return 1;
  char head[256];
  int hn = snprintf(head, sizeof head,
                    "POST /v1/cni HTTP/1.1\r\nHost: cnm\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n",
                    body.len);
  if (put(&req, head, (size_t)hn) < 0 || put(&req, body.data, body.len) < 0) return 1;
  if (write_all(fd, req.data, req.len) < 0 || read_all(fd, &res, MAX_INPUT) < 0 || grow(&res, 1) < 0) {
    close(fd);
    return fallback(argv, &in);
  }
  close(fd);
  res.data[res.len] = 0;
  // HTTP/1.1 200, a cni-exit-code header, and the body to print; anything else: the Node path.
  char *end = strstr(res.data, "\r\n\r\n");
  if (strncmp(res.data, "HTTP/1.1 200 ", 13) != 0 || !end) return fallback(argv, &in);
  *end = 0;
  char *hdr = strcasestr(res.data, "\r\ncni-exit-code: ");
  if (!hdr) return fallback(argv, &in);
  int code = atoi(hdr + 17);
  char *payload = end + 4;
  size_t plen = res.len - (size_t)(payload - res.data);
  char *cl = strcasestr(res.data, "\r\ncontent-length: ");
  if (cl) {
    size_t want = strtoul(cl + 18, NULL, 10);
    if (want < plen) plen = want;
  }
  if (write_all(1, payload, plen) < 0) return 1;
  return code == 0 ? 0 : 1;
}
