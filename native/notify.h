/* ikev2-vpn: sd_notify for the esp addon (native/notify.c), registered by native/addon.c. */
#ifndef IKEV2_NOTIFY_H
#define IKEV2_NOTIFY_H

#include <node_api.h>

/* Adds notify(path, message) to the addon's exports. Returns 1, or 0 on failure. */
__attribute__((visibility("hidden"))) int notify_register(napi_env env, napi_value exports);

#endif
