// In-process nftables: libnftables (loaded with dlopen, so nothing is needed at build time but
// Node's headers) runs a whole script as one transaction without spawning `nft`. A context's
// netlink socket is opened when the context is made, in the network namespace of the calling
// thread, and stays there.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>

typedef void nft_ctx;

// A context and the network namespace it belongs to (an fd opened on the thread that made it).
typedef struct {
  nft_ctx *nft;
  int nsfd;
} context_t;
static void *lib;
static nft_ctx *(*p_new)(uint32_t);
static void (*p_free)(nft_ctx *);
static int (*p_buffer_output)(nft_ctx *);
static int (*p_buffer_error)(nft_ctx *);
static const char *(*p_get_output)(nft_ctx *);
static const char *(*p_get_error)(nft_ctx *);
static int (*p_run)(nft_ctx *, const char *);
static int (*p_run_file)(nft_ctx *, const char *);
static void (*p_set_flags)(nft_ctx *, unsigned int);
static const char *load_error;

static int load(void) {
  if (lib) return 1;
  if (load_error) return 0;
  void *h = dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    load_error = "libnftables.so.1 not found";
    return 0;
  }
  *(void **)&p_new = dlsym(h, "nft_ctx_new");
  *(void **)&p_free = dlsym(h, "nft_ctx_free");
  *(void **)&p_buffer_output = dlsym(h, "nft_ctx_buffer_output");
  *(void **)&p_buffer_error = dlsym(h, "nft_ctx_buffer_error");
  *(void **)&p_get_output = dlsym(h, "nft_ctx_get_output_buffer");
  *(void **)&p_get_error = dlsym(h, "nft_ctx_get_error_buffer");
  *(void **)&p_run = dlsym(h, "nft_run_cmd_from_buffer");
  *(void **)&p_run_file = dlsym(h, "nft_run_cmd_from_filename");
  *(void **)&p_set_flags = dlsym(h, "nft_ctx_output_set_flags");
  if (!p_new || !p_free || !p_buffer_output || !p_buffer_error || !p_get_output || !p_get_error || !p_run ||
      !p_run_file || !p_set_flags) {
    load_error = "libnftables.so.1 lacks a symbol";
    dlclose(h);
    return 0;
  }
  lib = h;
  return 1;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  context_t *c = data;
  if (!c) return;
  p_free(c->nft);
  close(c->nsfd);
  free(c);
}

static napi_value js_available(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  if (load()) {
    napi_get_null(env, &out);
  } else {
    napi_create_string_utf8(env, load_error, NAPI_AUTO_LENGTH, &out);
  }
  return out;
}

// open(flags): a context whose output and errors are buffered; `flags` are output flags (JSON…).
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  uint32_t flags = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) napi_get_value_uint32(env, argv[0], &flags);
  if (!load()) {
    napi_throw_error(env, "ERR_NOT_SUPPORTED", load_error);
    return NULL;
  }
  context_t *c = calloc(1, sizeof(context_t));
  if (!c) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  c->nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  c->nft = c->nsfd >= 0 ? p_new(0) : NULL;
  if (!c->nft) {
    if (c->nsfd >= 0) close(c->nsfd);
    free(c);
    napi_throw_error(env, "ERR_NOT_SUPPORTED", "nft_ctx_new failed");
    return NULL;
  }
  p_buffer_output(c->nft);
  p_buffer_error(c->nft);
  p_set_flags(c->nft, flags);
  if (napi_create_external(env, c, finalize, NULL, &out) != napi_ok) {
    finalize(env, c, NULL);
    napi_throw_error(env, "ERR_NOT_SUPPORTED", "cannot wrap the nft context");
    return NULL;
  }
  return out;
}

// runAsync(ctx, script) -> Promise<[rc, output, error]>: the whole script is one transaction, run
// on a thread of libuv's pool (a deletion waits ~16 ms for the kernel; the event loop does not).
// The context's netlink socket was opened in its namespace when the context was made, so the
// thread's own namespace does not matter (cnm's scripts never resolve interface indexes).
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref ctx_ref;
  context_t *ctx;
  char *script;
  size_t len;
  int rc;
  char *out;
  char *err;
} job_t;

// A script runs from a memory file, as `nft -f` would: its errors then name the failing line
// (libnftables' buffer input reports every error against the first line).
static int run_script(nft_ctx *ctx, const char *script, size_t len) {
  int fd = memfd_create("cnm-nft", MFD_CLOEXEC);
  int rc;
  if (fd >= 0 && write(fd, script, len) == (ssize_t)len) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    rc = p_run_file(ctx, path);
  } else {
    rc = p_run(ctx, script);
  }
  if (fd >= 0) close(fd);
  return rc;
}

// The pool thread enters the context's namespace for the run (setns is per thread) and returns to
// its own: even if libnftables opened a socket mid-run, it would open it in the right namespace.
static void job_execute(napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0 || setns(job->ctx->nsfd, CLONE_NEWNET) != 0) {
    if (home >= 0) close(home);
    job->rc = -1;
    job->out = strdup("");
    job->err = strdup("cnm: cannot enter the firewall's network namespace\n");
    return;
  }
  job->rc = run_script(job->ctx->nft, job->script, job->len);
  if (setns(home, CLONE_NEWNET) != 0) abort(); // a pool thread must never stay in another namespace
  close(home);
  const char *o = p_get_output(job->ctx->nft);
  const char *e = p_get_error(job->ctx->nft);
  job->out = strdup(o ? o : "");
  job->err = strdup(e ? e : "");
}

static void job_complete(napi_env env, napi_status status, void *data) {
  job_t *job = data;
  napi_value out, v;
  napi_create_array_with_length(env, 3, &out);
  napi_create_int32(env, status == napi_ok ? job->rc : -1, &v);
  napi_set_element(env, out, 0, v);
  napi_create_string_utf8(env, job->out ? job->out : "", NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, out, 1, v);
  napi_create_string_utf8(env, job->err ? job->err : "", NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, out, 2, v);
  napi_resolve_deferred(env, job->deferred, out);
  napi_delete_async_work(env, job->work);
  napi_delete_reference(env, job->ctx_ref);
  free(job->script);
  free(job->out);
  free(job->err);
  free(job);
}

static napi_value js_run_async(napi_env env, napi_callback_info info) {
  size_t argc = 2, len = 0;
  napi_value argv[2], promise, name;
  void *ctx = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || napi_get_value_external(env, argv[0], &ctx) != napi_ok || !ctx ||
      napi_get_value_string_utf8(env, argv[1], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "runAsync(ctx, script)");
    return NULL;
  }
  job_t *job = calloc(1, sizeof(job_t));
  if (!job || !(job->script = malloc(len + 1))) {
    free(job);
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[1], job->script, len + 1, &len);
  job->len = len;
  job->ctx = (context_t *)ctx;
  napi_create_reference(env, argv[0], 1, &job->ctx_ref); // keep the context alive meanwhile
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "cnm-nft", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, job_execute, job_complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"available", NULL, js_available, NULL, NULL, NULL, napi_default, NULL},
    {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
    {"runAsync", NULL, js_run_async, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
