// The few syscalls Node lacks, for network namespaces: setns, unshare, mount, umount2 (and, in
// pool.c, netlink requests sent and answered on the thread pool).
// Every function returns 0 on success or -errno; the JS side turns that into a typed error.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <node_api.h>
#include "pool.h"

#define CHECK(call)                                                                  \
  do {                                                                               \
    if ((call) != napi_ok) {                                                         \
      napi_throw_error(env, "ERR_NETNS_ADDON", "native call failed: " #call);        \
      return NULL;                                                                   \
    }                                                                                \
  } while (0)

static napi_value int_result(napi_env env, int rc) {
  napi_value out;
  CHECK(napi_create_int32(env, rc == 0 ? 0 : -errno, &out));
  return out;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "missing arguments");
    return -1;
  }
  return 0;
}

// Returns a malloc'd copy of a JS string, or NULL for null/undefined.
static char *get_string(napi_env env, napi_value v, int *failed) {
  napi_valuetype t;
  *failed = 0;
  if (napi_typeof(env, v, &t) != napi_ok) { *failed = 1; return NULL; }
  if (t == napi_null || t == napi_undefined) return NULL;
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) { *failed = 1; return NULL; }
  char *buf = malloc(len + 1);
  if (buf == NULL) { *failed = 1; return NULL; }
  if (napi_get_value_string_utf8(env, v, buf, len + 1, &len) != napi_ok) {
    free(buf);
    *failed = 1;
    return NULL;
  }
  return buf;
}

static napi_value js_unshare(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t flags;
  if (get_args(env, info, 1, argv) != 0) return NULL;
  CHECK(napi_get_value_int32(env, argv[0], &flags));
  return int_result(env, unshare(flags));
}

static napi_value js_setns(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd, nstype;
  if (get_args(env, info, 2, argv) != 0) return NULL;
  CHECK(napi_get_value_int32(env, argv[0], &fd));
  CHECK(napi_get_value_int32(env, argv[1], &nstype));
  return int_result(env, setns(fd, nstype));
}

static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int failed = 0;
  double flags;
  if (get_args(env, info, 5, argv) != 0) return NULL;
  char *source = get_string(env, argv[0], &failed);
  char *target = failed ? NULL : get_string(env, argv[1], &failed);
  char *fstype = failed ? NULL : get_string(env, argv[2], &failed);
  char *data = failed ? NULL : get_string(env, argv[4], &failed);
  if (!failed && napi_get_value_double(env, argv[3], &flags) != napi_ok) failed = 1;
  napi_value out = NULL;
  if (failed || target == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "mount: bad arguments");
  } else {
    out = int_result(env, mount(source, target, fstype, (unsigned long)flags, data));
  }
  free(source);
  free(target);
  free(fstype);
  free(data);
  return out;
}

static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int failed = 0;
  int32_t flags;
  if (get_args(env, info, 2, argv) != 0) return NULL;
  CHECK(napi_get_value_int32(env, argv[1], &flags));
  char *target = get_string(env, argv[0], &failed);
  if (failed || target == NULL) {
    free(target);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "umount2: bad target");
    return NULL;
  }
  napi_value out = int_result(env, umount2(target, flags));
  free(target);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"unshare", NULL, js_unshare, NULL, NULL, NULL, napi_default, NULL},
    {"setns", NULL, js_setns, NULL, NULL, NULL, napi_default, NULL},
    {"mount", NULL, js_mount, NULL, NULL, NULL, napi_default, NULL},
    {"umount2", NULL, js_umount2, NULL, NULL, NULL, napi_default, NULL},
    {"netlinkOpen", NULL, cnm_netlink_open, NULL, NULL, NULL, napi_default, NULL},
    {"netlinkRequest", NULL, cnm_netlink_request, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
