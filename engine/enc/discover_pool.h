/*
 * Discovery for the job's device setup (engine/job): runs every SDK's discovery and turns
 * what can encode AV1 here into lease-pool devices. A header of its own because the job
 * includes the public engine.h, whose CmeDeviceInfo (a pool device's state) is not
 * discovery's. Policy thread only, like cme__devices_discover.
 */
#ifndef CME_ENC_DISCOVER_POOL_H
#define CME_ENC_DISCOVER_POOL_H

#include <stddef.h>

#include "sched/lease_pool.h"

/* 1 for a backend that encodes on a GPU (NVENC, oneVPL, VA-API, AMF). */
int cme__backend_is_hardware(int backend);

/*
 * Discovers and selects (enc/discover.h cme__discovery_select): the devices of backend (NULL:
 * every hardware backend) that can encode here, at most max, with their session caps (at
 * most max_hw_sessions). Returns how many; with none, why says why ("no nvenc device: no
 * NVENC device: libcuda not found"). CME_ENOMEM when discovery cannot run.
 */
int cme__discover_devices(const char *backend, int max_hw_sessions, CmeDevice *out, int max,
                          char *why, size_t whylen);

#endif
