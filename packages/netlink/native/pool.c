// Netlink requests whose kernel work is long, run on libuv's thread pool, not on the event loop.
// The kernel does a dump's work (walking a table) inside the recvmsg that asks for the next part:
// for the conntrack table that is one walk of every hash bucket, ~13 ms here. It does a request's
// work inside the sendmsg: a link's deletion waits there for the device's last users (~20 ms). On
// the event loop, either would hold up everything else. The socket is opened on the calling
// thread (while it is in the namespace the socket must belong to; a socket keeps its namespace),
// the request runs on a pool thread, and the answer comes back as one Buffer for the JS side to
// parse. Errors are -errno, never a throw from the pool.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <node_api.h>
#include "pool.h"

#define FAIL_TYPE(msg)                                                  \
  do {                                                                  \
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);            \
    return NULL;                                                        \
  } while (0)

// netlinkOpen(protocol, timeoutMs): a netlink socket (close-on-exec, blocking, a receive timeout),
// bound to a port the kernel picks; its fd, or -errno.
napi_value cnm_netlink_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t protocol, timeout_ms;
  napi_value out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) FAIL_TYPE("netlinkOpen: missing arguments");
  if (napi_get_value_int32(env, argv[0], &protocol) != napi_ok) FAIL_TYPE("netlinkOpen: protocol must be a number");
  if (napi_get_value_int32(env, argv[1], &timeout_ms) != napi_ok || timeout_ms <= 0) FAIL_TYPE("netlinkOpen: bad timeout");
  int rc;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    rc = -errno;
  } else {
    struct sockaddr_nl local = {.nl_family = AF_NETLINK};
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int strict = 1;
    if (bind(fd, (struct sockaddr *)&local, sizeof(local)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
      rc = -errno;
      close(fd);
    } else {
      // Best effort: only replies to this socket's own requests (kernel 4.20+).
      setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &strict, sizeof(strict));
      rc = fd;
    }
  }
  if (napi_create_int32(env, rc, &out) != napi_ok) return NULL;
  return out;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref request_ref;  // keeps the request's bytes alive while the pool thread reads them
  const uint8_t *request;
  size_t request_len;
  int fd;
  uint32_t seq;
  int dump;  // NLM_F_DUMP was asked: read until NLMSG_DONE; else until the answer or the ack
  int err;  // 0, or a positive errno
  uint8_t *out;
  size_t out_len, out_cap;
} dump_job;

static int append(dump_job *job, const void *data, size_t len) {
  if (job->out_len + len > job->out_cap) {
    size_t cap = job->out_cap ? job->out_cap : 65536;
    while (cap < job->out_len + len) cap *= 2;
    uint8_t *grown = realloc(job->out, cap);
    if (grown == NULL) return ENOMEM;
    job->out = grown;
    job->out_cap = cap;
  }
  memcpy(job->out + job->out_len, data, len);
  job->out_len += len;
  return 0;
}

// On a pool thread: send the request, then read until the dump's NLMSG_DONE (or an error).
static void dump_execute(napi_env env, void *data) {
  (void)env;
  dump_job *job = data;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t sent;
  do {
    sent = sendto(job->fd, job->request, job->request_len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    job->err = errno == EAGAIN ? ETIMEDOUT : errno;
    return;
  }
  size_t cap = 65536;
  uint8_t *buf = malloc(cap);
  if (buf == NULL) {
    job->err = ENOMEM;
    return;
  }
  for (;;) {
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    struct msghdr msg = {.msg_name = &kernel, .msg_namelen = sizeof(kernel), .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(job->fd, &msg, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      job->err = errno == EAGAIN ? ETIMEDOUT : errno;
      break;
    }
    if (kernel.nl_pid != 0) continue;  // not from the kernel (another process's message): not an answer
    if (n == 0) {  // nothing a netlink socket should ever read: no end would come
      job->err = EPROTO;
      break;
    }
    if (msg.msg_flags & MSG_TRUNC) {
      job->err = EMSGSIZE;
      break;
    }
    int done = 0;
    // Walked by hand (a signed length, bounds checked before each step): NLMSG_NEXT on an unsigned
    // length wraps past the end of a last, unaligned message.
    ssize_t left = n;
    for (uint8_t *at = buf; left >= (ssize_t)NLMSG_HDRLEN;) {
      struct nlmsghdr *h = (struct nlmsghdr *)at;
      if (h->nlmsg_len < NLMSG_HDRLEN || (ssize_t)h->nlmsg_len > left) {
        job->err = EPROTO;
        done = 1;
        break;
      }
      ssize_t step = (ssize_t)NLMSG_ALIGN(h->nlmsg_len);
      if (step > left) step = left;
      at += step;
      left -= step;
      if (h->nlmsg_seq != job->seq) continue;  // not an answer to this dump
      if (h->nlmsg_type == NLMSG_DONE) {
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
          int code;
          memcpy(&code, NLMSG_DATA(h), sizeof(code));
          if (code < 0) job->err = -code;
        }
        done = 1;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
          struct nlmsgerr e;
          memcpy(&e, NLMSG_DATA(h), sizeof(e));
          if (e.error != 0) {
            job->err = -e.error;
            done = 1;
            break;
          }
          if (!job->dump) {  // a request's acknowledgement: its end
            done = 1;
            break;
          }
          continue;
        }
        job->err = EPROTO;
        done = 1;
        break;
      }
      // Whole, aligned as the kernel laid it out (the JS side steps by the aligned length too).
      if ((job->err = append(job, h, (size_t)step)) != 0 || (!job->dump && !(h->nlmsg_flags & NLM_F_MULTI))) {
        done = 1;  // a request's one answer (without NLM_F_ACK, its end)
        break;
      }
    }
    if (done) break;
  }
  free(buf);
}

// Back on the event loop: resolve with the messages (a Buffer), or reject with an Error whose
// `errno` is the positive errno.
static void dump_complete(napi_env env, napi_status status, void *data) {
  dump_job *job = data;
  napi_value result = NULL;
  if (status == napi_ok && job->err == 0) {
    void *copy;
    if (napi_create_buffer_copy(env, job->out_len, job->out_len ? (void *)job->out : (void *)"", &copy, &result) != napi_ok)
      result = NULL;
  }
  if (result != NULL) {
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    int err = job->err ? job->err : EIO;
    napi_value message, code, error, errno_value;
    napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &message);
    napi_create_string_utf8(env, "ERR_NETLINK_REQUEST", NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, message, &error);
    napi_create_int32(env, err, &errno_value);
    napi_set_named_property(env, error, "errno", errno_value);
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_reference(env, job->request_ref);
  napi_delete_async_work(env, job->work);
  free(job->out);
  free(job);
}

// netlinkRequest(fd, request, seq, dump): a Promise of every message (headers included) that answered
// `request` (a whole netlink message, sequence number `seq`), sent and read on the thread pool: a
// dump's parts up to NLMSG_DONE, or a request's answer (or its acknowledgement, then no message).
// One request at a time per socket (the JS side queues them).
napi_value cnm_netlink_request(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], promise, name;
  bool dump = false;
  int32_t fd;
  uint32_t seq;
  bool is_buffer = false;
  void *bytes;
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) FAIL_TYPE("netlinkRequest: missing arguments");
  if (napi_get_value_bool(env, argv[3], &dump) != napi_ok) FAIL_TYPE("netlinkRequest: dump must be a boolean");
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) FAIL_TYPE("netlinkRequest: bad fd");
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer) FAIL_TYPE("netlinkRequest: request must be a Buffer");
  if (napi_get_buffer_info(env, argv[1], &bytes, &len) != napi_ok || len < NLMSG_HDRLEN) FAIL_TYPE("netlinkRequest: short request");
  if (napi_get_value_uint32(env, argv[2], &seq) != napi_ok) FAIL_TYPE("netlinkRequest: bad sequence number");
  dump_job *job = calloc(1, sizeof(*job));
  if (job == NULL) {
    napi_throw_error(env, "ERR_NETLINK_REQUEST", "out of memory");
    return NULL;
  }
  job->fd = fd;
  job->seq = seq;
  job->request = bytes;
  job->request_len = len;
  job->dump = dump;  // told, not read from the flags: 0x300 is also NLM_F_REPLACE|NLM_F_EXCL
  if (napi_create_reference(env, argv[1], 1, &job->request_ref) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "cnm:netlinkRequest", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, dump_execute, dump_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    // Only reachable before the work was queued: nothing runs on the pool.
    if (job->request_ref) napi_delete_reference(env, job->request_ref);
    free(job);
    napi_throw_error(env, "ERR_NETLINK_REQUEST", "netlinkRequest: could not queue the dump");
    return NULL;
  }
  return promise;
}
