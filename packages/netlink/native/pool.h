// Netlink requests sent and answered on libuv's thread pool (pool.c).
#ifndef CNM_POOL_H
#define CNM_POOL_H
#include <node_api.h>

napi_value cnm_netlink_open(napi_env env, napi_callback_info info);
napi_value cnm_netlink_request(napi_env env, napi_callback_info info);

#endif
