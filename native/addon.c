/*
 * ikev2-vpn: the esp addon's one entry point. It registers the ESP SA functions (native/esp.c:
 * create, seal, open, batches, the replay window) and the threaded data plane
 * (native/dataplane_js.c over native/dataplane.c). The dependencies go one way only: addon.c →
 * esp.c and dataplane*.c; dataplane*.c → esp.c (the SA structure, esp_seal_one, esp_open_one) and
 * packet.c; esp.c → neither.
 */
#include <node_api.h>

#include "dataplane.h"
#include "esp_core.h"
#include "notify.h"

static napi_value init(napi_env env, napi_value exports) {
  if (!esp_register(env, exports) || !dp_register(env, exports)) return NULL;
  if (!notify_register(env, exports)) return NULL; /* sd_notify: native/notify.c */
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
