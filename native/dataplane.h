/* ikev2-vpn: the data plane's entry for the addon (native/addon.c). */
#ifndef IKEV2_DATAPLANE_H
#define IKEV2_DATAPLANE_H

#include <node_api.h>

#include "esp_core.h"

/* Adds the dp* exports (and the test-only socketpairForTests) to the addon's exports. */
ESP_INTERNAL int dp_register(napi_env env, napi_value exports);

#endif
