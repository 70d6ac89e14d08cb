/*
 * Copyright (c) 2026 The ovs-vhost authors.
 *
 * Licensed under the Apache License, Version 2.0 (the "License");
 * you may not use this file except in compliance with the License.
 * You may obtain a copy of the License at:
 *
 *     http://www.apache.org/licenses/LICENSE-2.0
 *
 * Unless required by applicable law or agreed to in writing, software
 * distributed under the License is distributed on an "AS IS" BASIS,
 * WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 * See the License for the specific language governing permissions and
 * limitations under the License.
 */

#ifndef VHOST_TAP_H
#define VHOST_TAP_H 1

/* The tap of a "vhost" port with the kernel backend (options:backend=kernel)
 * that QEMU attaches to with "-netdev tap,ifname=NAME,vhost=on,queues=N":
 * the guest's queues are then served by the vhost-net kernel worker.
 *
 * The tap is persistent: OVS makes it, sets it up and lets go of it, so
 * that it outlives ovs-vswitchd and QEMU can open every queue of it.  It is
 * removed only when the port is deleted, and then only once QEMU closes
 * it. */

#include <stdbool.h>
#include <sys/types.h>

#include "openvswitch/compiler.h"
#include "openvswitch/netdev.h"

/* Most queues of a tap (the kernel's MAX_TAP_QUEUES). */
#define VHOST_TAP_MAX_QUEUES 256

struct vhost_tap_config {
    int n_queues;               /* 1 to VHOST_TAP_MAX_QUEUES. */
    uid_t owner;                /* (uid_t) -1 for any user. */
    gid_t group;                /* (gid_t) -1 for any group. */
    int mtu;                    /* 0 to leave it. */
};

int vhost_tap_setup(const char *name, const struct vhost_tap_config *,
                    char **errp)
    OVS_WARN_UNUSED_RESULT;
bool vhost_tap_is_set_up(const char *name, int n_queues);
int vhost_tap_set_mtu(const char *name, int mtu);
int vhost_tap_remove(const char *name, char **errp)
    OVS_WARN_UNUSED_RESULT;
int vhost_tap_parse_id(const char *s, bool group, unsigned int *id);

/* What the kernel says of the tap: its counters (rx is what the guest
 * sent), whether a guest has it open (carrier), and whether it is a port of
 * a kernel datapath (the openvswitch module's). */
struct vhost_tap_link {
    struct netdev_stats stats;
    bool carrier;
    bool in_kernel_datapath;
};

int vhost_tap_get_link(const char *name, struct vhost_tap_link *);

#endif /* vhost-tap.h */
