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

/* The "vhost" netdev type: a port whose other end is a guest's virtio-net
 * device, served over vhost-user by OVS itself.
 *
 * This file is the port: its options, its vhost-user session, its link
 * state, status and counters.  One thread, "vhost_ctl", serves the sockets
 * of all ports, so that a frontend waits neither for OVS's main loop nor for
 * any other frontend.  The queues that PMD threads poll are in
 * datapath/netdev-vhost-pmd.c. */

#include <config.h>

#include "netdev-vhost.h"

#include <errno.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "coverage.h"
#include "dirs.h"
#include "dp-packet-pool.h"
#include "netdev-vhost-private.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovs-numa.h"
#include "ovs-thread.h"
#include "rtnetlink.h"
#include "seq.h"
#include "smap.h"
#include "timeval.h"
#include "userspace-tso.h"
#include "util.h"
#include "sset.h"
#include "vhost-socket.h"
#include "vhost-tap-queue.h"
#include "vhost-tap.h"
#include "vhost-user.h"

VLOG_DEFINE_THIS_MODULE(netdev_vhost);

COVERAGE_DEFINE(netdev_vhost_connect);
COVERAGE_DEFINE(netdev_vhost_disconnect);
COVERAGE_DEFINE(netdev_vhost_bad_msg);

/* The most events one port gets per turn of the vhost_ctl thread, so that a
 * chatty frontend cannot starve the others. */
#define EVENTS_PER_TURN 64

/* Receive buffers: a full Ethernet frame with VLAN tags fits; and jumbo
 * frames, up to the 9,710-byte MTU that OVS-DPDK allows, with an Ethernet
 * header and two VLAN tags (14 + 2 * 4 bytes).  Anything larger (a guest's
 * TCP segmentation offload) is malloc()ed. */
#define PACKET_POOL_DATA_SIZE 2048
#define JUMBO_POOL_DATA_SIZE (9710 + 14 + 2 * 4)

struct ovs_mutex netdev_vhost_mutex = OVS_MUTEX_INITIALIZER;

struct ovs_list netdev_vhost_ports OVS_GUARDED_BY(netdev_vhost_mutex)
    = OVS_LIST_INITIALIZER(&netdev_vhost_ports);

/* Changed to wake the vhost_ctl thread. */
static struct seq *vhost_ctl_seq;

static struct dp_packet_pool *packet_pool;

/* The taps of deleted backend=kernel ports, which netdev_vhost_run()
 * removes once QEMU lets go of them.  Not in the ports' destructors, which
 * run when ovs-vswitchd exits too, and a running VM must keep its tap
 * through a restart. */
static struct sset taps_to_remove OVS_GUARDED_BY(netdev_vhost_mutex)
    = SSET_INITIALIZER(&taps_to_remove);
/* The kernel's link notices, wanted once a backend=kernel port exists.
 * Main thread only. */
static bool tap_notices_wanted;
static struct nln_notifier *tap_notifier;
static long long int tap_notifier_retry_at;

/* When netdev_vhost_run() is to look at 'taps_to_remove': 0 for at once. */
static long long int taps_remove_at OVS_GUARDED_BY(netdev_vhost_mutex)
    = LLONG_MAX;

static void
remove_tap_later(const char *name)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    sset_add(&taps_to_remove, name);
    taps_remove_at = 0;
    /* Wakes the main loop, for netdev_vhost_run(). */
    seq_change(connectivity_seq_get());
}

static void *vhost_ctl_main(void *);

static bool
is_vhost_class(const struct netdev_class *class)
{
    return class->construct == netdev_vhost_class.construct;
}

static struct netdev_vhost *
netdev_vhost_cast__(const struct netdev *netdev)
{
    ovs_assert(is_vhost_class(netdev_get_class(netdev)));
    return netdev_vhost_cast(netdev);
}

struct dp_packet_pool *
netdev_vhost_packet_pool(void)
{
    return packet_pool;
}

static void
wake_vhost_ctl(void)
{
    seq_change(vhost_ctl_seq);
}

/* How long after a change we tell the bridge about it once more. */
#define RENOTIFY_MSEC 1000

/* Tells the bridge and PMD threads that something about 'nv' changed.
 *
 * Two races in OVS 3.1 can leave the Interface's link_state and status
 * stale when the change comes from this thread:
 *
 *   - netdev_change_seq_changed() wakes the bridge before it bumps the
 *     netdev's change_seq, so the bridge can wake, see the old change_seq,
 *     skip the port and sleep again.  Waking it once more closes that.
 *
 *   - When the change lands while the bridge creates the interface (a
 *     client-mode port whose frontend is already there, after a restart),
 *     the bridge writes the old state in its configuration transaction and
 *     the new state in its status transaction; the database still holds
 *     what the previous ovs-vswitchd wrote, so the IDL drops the second
 *     write as "unchanged" and the first one wins.  Telling the bridge
 *     again a little later, when both have completed, corrects it. */
static void
notify_change(struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    netdev_change_seq_changed(&nv->up);
    seq_change(connectivity_seq_get());
    nv->renotify_at = time_msec() + RENOTIFY_MSEC;
}

/* Called by a PMD thread that stopped a ring the guest broke. */
void
netdev_vhost_ring_broke(struct netdev_vhost *nv)
{
    atomic_store_relaxed(&nv->ring_broke, true);
    wake_vhost_ctl();
}

/* ## ------------------------------ ## */
/* ## Session state, as OVS sees it ## */
/* ## ------------------------------ ## */

/* Returns a mask with bit N set if ring '2 * N + dir' of 'nv' runs: 'dir' 0
 * for the guest's receive rings, 1 for its transmit rings. */
static uint64_t
running_rings(const struct netdev_vhost *nv, int dir)
{
    uint64_t mask = 0;

    for (size_t pair = 0; pair < VHOST_USER_MAX_QUEUE_PAIRS; pair++) {
        const struct vhost_vring *vring
            = vhost_user_get_vring(&nv->dev, 2 * pair + dir);

        if (vring && vhost_vring_is_running(vring)) {
            mask |= UINT64_C(1) << pair;
        }
    }
    return mask;
}

static void
log_link_up(const struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    const struct vhost_user_dev *dev = &nv->dev;
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "%s: link up: %"PRIuSIZE" queue pair(s), features: ",
                  netdev_get_name(&nv->up), vhost_user_n_queue_pairs(dev));
    vhost_user_format_features(&s, dev->features);
    ds_put_cstr(&s, "; protocol features: ");
    vhost_user_format_protocol_features(&s, dev->protocol_features);
    VLOG_INFO("%s", ds_cstr(&s));
    ds_destroy(&s);
}

/* Tells the rest of OVS what changed in 'nv''s session: link state, which
 * queues run, how many queue pairs the guest has. */
static void
sync_state(struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    const struct vhost_user_dev *dev = &nv->dev;
    bool ready = vhost_user_is_ready(dev);
    uint64_t guest_rx = running_rings(nv, 0);
    uint64_t guest_tx = running_rings(nv, 1);
    size_t n_pairs = vhost_user_n_queue_pairs(dev);
    bool changed = false;

    atomic_store_relaxed(&nv->ring_broke, false);

    if (ready != nv->link_up) {
        nv->link_up = ready;
        nv->link_resets++;
        if (ready) {
            log_link_up(nv);
        } else {
            VLOG_INFO("%s: link down", netdev_get_name(&nv->up));
        }
        changed = true;
    }

    if (guest_rx != nv->guest_rx_running) {
        nv->guest_rx_running = guest_rx;
        netdev_vhost_map_txqs(nv);
        changed = true;
    }
    if (guest_tx != nv->guest_tx_running) {
        nv->guest_tx_running = guest_tx;
        changed = true;
    }

    /* One receive queue per queue pair the guest set up.  Keep the count
     * while the guest is away, so that a reconnect costs no
     * reconfiguration. */
    if (n_pairs && n_pairs != nv->requested_n_rxq) {
        VLOG_INFO("%s: guest has %"PRIuSIZE" queue pair(s)",
                  netdev_get_name(&nv->up), n_pairs);
        nv->requested_n_rxq = n_pairs;
        netdev_request_reconfigure(&nv->up);
    }

    if (changed) {
        /* Wakes the bridge for the carrier, and PMD threads to look at
         * which receive queues are enabled. */
        notify_change(nv);
    }

    /* Whatever the frontend said (a ring started or stopped, a new kick
     * descriptor, an announce to send), a PMD thread asleep on this port's
     * rings must look again. */
    seq_change(nv->wake_seq);
}

static void
end_session(struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    vhost_user_reset(&nv->dev);
    sync_state(nv);
}

/* One log line, and the port's session ends: a frontend that breaks the
 * protocol gets no second chance on this connection. */
static void
bad_message(struct netdev_vhost *nv, char *reason)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

    COVERAGE_INC(netdev_vhost_bad_msg);
    VLOG_WARN_RL(&rl, "%s: vhost-user %s; closing the connection",
                 netdev_get_name(&nv->up), reason);
    free(reason);
}

static void
handle_message(struct netdev_vhost *nv, struct vhost_user_msg *msg)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    const char *name = netdev_get_name(&nv->up);
    struct vhost_user_msg reply;
    bool has_reply;
    char *reason;
    int error;

    VLOG_DBG("%s: vhost-user %s, %"PRIu32" bytes, %"PRIuSIZE" fd(s)", name,
             vhost_user_request_name(msg->hdr.request), msg->hdr.size,
             msg->n_fds);

    error = vhost_user_handle(&nv->dev, msg, &reply, &has_reply, &reason);
    if (has_reply) {
        int send_error = vhost_socket_send(nv->sock, &reply);

        if (send_error && !error) {
            error = send_error;
            reason = xasprintf("%s: cannot send the reply (%s)",
                               vhost_user_request_name(msg->hdr.request),
                               ovs_strerror(send_error));
        }
    }
    if (error) {
        bad_message(nv, reason);
        vhost_socket_disconnect(nv->sock);
        end_session(nv);
    }
}

/* Serves 'nv''s socket: connections, messages, disconnections.  Returns
 * the number of events handled; EVENTS_PER_TURN means there may be more. */
static int
run_session(struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    const char *name = netdev_get_name(&nv->up);

    if (!nv->sock) {
        return 0;
    }

    for (int i = 0; i < EVENTS_PER_TURN; i++) {
        struct vhost_user_msg msg;
        char *reason;

        switch (vhost_socket_run(nv->sock, &msg, &reason)) {
        case VHOST_SOCKET_IDLE:
            {
                int listen_error = vhost_socket_listen_error(nv->sock);
                bool ring_broke;

                atomic_read_relaxed(&nv->ring_broke, &ring_broke);
                if (ring_broke) {
                    sync_state(nv);
                }
                if (listen_error != nv->listen_error) {
                    /* For the status column's "socket_error". */
                    nv->listen_error = listen_error;
                    notify_change(nv);
                }
            }
            return i;

        case VHOST_SOCKET_CONNECTED:
            COVERAGE_INC(netdev_vhost_connect);
            VLOG_INFO("%s: vhost-user frontend connected (%s mode, %s)",
                      name, nv->server ? "server" : "client",
                      nv->socket_path);
            vhost_user_reset(&nv->dev);
            break;

        case VHOST_SOCKET_MESSAGE:
            handle_message(nv, &msg);
            vhost_user_msg_close_fds(&msg);
            break;

        case VHOST_SOCKET_BAD_MESSAGE:
            bad_message(nv, reason);
            end_session(nv);
            break;

        case VHOST_SOCKET_DISCONNECTED:
            COVERAGE_INC(netdev_vhost_disconnect);
            VLOG_INFO("%s: vhost-user frontend disconnected (%s)", name,
                      reason);
            free(reason);
            end_session(nv);
            break;
        }
        sync_state(nv);
    }
    return EVENTS_PER_TURN;
}

static void
run_renotify(struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    if (nv->renotify_at != LLONG_MAX) {
        if (time_msec() >= nv->renotify_at) {
            netdev_change_seq_changed(&nv->up);
            seq_change(connectivity_seq_get());
            nv->renotify_at = LLONG_MAX;
        } else {
            poll_timer_wait_until(nv->renotify_at);
        }
    }
}

static void *
vhost_ctl_main(void *arg OVS_UNUSED)
{
    /* When this thread must wake again so that what it counted reaches
     * coverage/show (coverage_clear() in poll_block() passes a thread's
     * counts on at most once a second).  Kept across turns: a wake-up for
     * something else must not make us forget it. */
    long long int coverage_flush_at = LLONG_MAX;

    for (;;) {
        struct netdev_vhost *nv;
        bool busy = false;
        uint64_t seq;

        ovs_mutex_lock(&netdev_vhost_mutex);
        seq = seq_read(vhost_ctl_seq);
        LIST_FOR_EACH (nv, list_node, &netdev_vhost_ports) {
            int n = run_session(nv);
            bool rx_interrupt;

            run_renotify(nv);
            if (n == EVENTS_PER_TURN) {
                poll_immediate_wake();
            }
            busy |= n > 0;
            if (nv->sock) {
                vhost_socket_wait(nv->sock);
            }
            atomic_read_relaxed(&nv->rx_interrupt, &rx_interrupt);
            vhost_user_count_kicks(&nv->dev, rx_interrupt);
        }
        ovs_mutex_unlock(&netdev_vhost_mutex);

        if (busy) {
            coverage_flush_at = time_msec() + 1100;
        }
        if (coverage_flush_at != LLONG_MAX) {
            if (time_msec() < coverage_flush_at) {
                poll_timer_wait_until(coverage_flush_at);
            } else {
                /* More than a second since the last count: the
                 * poll_block() below passes it on. */
                coverage_flush_at = LLONG_MAX;
            }
        }
        seq_wait(vhost_ctl_seq, seq);
        poll_block();
    }
    return NULL;
}

/* ## ------------------- ## */
/* ## netdev life cycle ## */
/* ## ------------------- ## */

/* Follows the kernel's link notices for the taps of backend=kernel ports:
 * a tap's carrier tells whether a guest has it open, and a tap made again
 * (a new ifindex) needs its queues on the userspace datapath opened
 * again. */
static void
tap_changed(const struct rtnetlink_change *change, void *aux OVS_UNUSED)
{
    struct netdev_vhost *nv;

    ovs_mutex_lock(&netdev_vhost_mutex);
    LIST_FOR_EACH (nv, list_node, &netdev_vhost_ports) {
        const char *name = netdev_get_name(&nv->up);
        bool carrier, old_carrier;

        if (!nv->kernel || (change && strcmp(change->ifname, name))) {
            continue;
        }
        if (change) {
            carrier = (change->nlmsg_type == RTM_NEWLINK
                       && change->ifi_flags & IFF_RUNNING);
            if (change->nlmsg_type == RTM_NEWLINK
                && (nv->tap_ifindex
                    ? change->if_index != nv->tap_ifindex
                    : !nv->n_tap_rxqs)) {
                /* dpif-netdev calls netdev_vhost_reconfigure(), if it has
                 * the port. */
                netdev_request_reconfigure(&nv->up);
            }
        } else {
            /* Notices were lost: ask. */
            struct vhost_tap_link link;

            carrier = !vhost_tap_get_link(name, &link) && link.carrier;
        }
        atomic_read_relaxed(&nv->tap_carrier, &old_carrier);
        if (carrier != old_carrier) {
            atomic_store_relaxed(&nv->tap_carrier, carrier);
            nv->link_resets++;
            VLOG_INFO("%s: guest %s the tap", name,
                      carrier ? "opened" : "closed");
        }
        netdev_change_seq_changed(&nv->up);
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);
}

/* Removes the taps of deleted backend=kernel ports (see taps_to_remove).
 * A one-queue tap that QEMU still has is tried again every second.  Also
 * follows the taps' link notices. */
static void
netdev_vhost_run(const struct netdev_class *class OVS_UNUSED)
{
    struct sset names = SSET_INITIALIZER(&names);
    const char *name;

    if (tap_notices_wanted && !tap_notifier
        && time_msec() >= tap_notifier_retry_at) {
        tap_notifier = rtnetlink_notifier_create(tap_changed, NULL);
        if (!tap_notifier) {
            tap_notifier_retry_at = time_msec() + 1000;
        }
    }
    if (tap_notifier) {
        rtnetlink_run();
    }

    ovs_mutex_lock(&netdev_vhost_mutex);
    if (time_msec() < taps_remove_at) {
        ovs_mutex_unlock(&netdev_vhost_mutex);
        return;
    }
    sset_swap(&names, &taps_to_remove);
    taps_remove_at = LLONG_MAX;
    ovs_mutex_unlock(&netdev_vhost_mutex);

    SSET_FOR_EACH (name, &names) {
        char *reason;
        int error = vhost_tap_remove(name, &reason);

        if (error == EAGAIN) {
            ovs_mutex_lock(&netdev_vhost_mutex);
            sset_add(&taps_to_remove, name);
            taps_remove_at = MIN(taps_remove_at, time_msec() + 1000);
            ovs_mutex_unlock(&netdev_vhost_mutex);
        } else if (error) {
            VLOG_WARN("%s", reason);
            free(reason);
        } else {
            VLOG_INFO("%s: tap removed (gone once QEMU closes it)", name);
        }
    }
    sset_destroy(&names);
}

static void
netdev_vhost_wait(const struct netdev_class *class OVS_UNUSED)
{
    if (tap_notifier) {
        rtnetlink_wait();
    } else if (tap_notices_wanted) {
        poll_timer_wait_until(tap_notifier_retry_at);
    }
    ovs_mutex_lock(&netdev_vhost_mutex);
    poll_timer_wait_until(taps_remove_at);
    ovs_mutex_unlock(&netdev_vhost_mutex);
}

static struct netdev *
netdev_vhost_alloc(void)
{
    struct netdev_vhost *nv = xzalloc(sizeof *nv);

    return &nv->up;
}

static void
netdev_vhost_dealloc(struct netdev *netdev)
{
    free(netdev_vhost_cast(netdev));
}

static void
init_once(void)
{
    static struct ovsthread_once once = OVSTHREAD_ONCE_INITIALIZER;

    if (ovsthread_once_start(&once)) {
        vhost_ctl_seq = seq_create();
        packet_pool = dp_packet_pool_create(VHOST_PACKET_HEADROOM,
                                            PACKET_POOL_DATA_SIZE);
        dp_packet_pool_set_larger(packet_pool,
                                  dp_packet_pool_create(VHOST_PACKET_HEADROOM,
                                                        JUMBO_POOL_DATA_SIZE));
        ovs_thread_create("vhost_ctl", vhost_ctl_main, NULL);
        ovsthread_once_done(&once);
    }
}

static int
netdev_vhost_construct(struct netdev *netdev)
{
    struct netdev_vhost *nv = netdev_vhost_cast(netdev);

    init_once();

    /* The features offered follow the port's offload flags, both fixed
     * here: a port made before userspace TSO was turned on offers none. */
    vhost_user_dev_init(&nv->dev, netdev_get_name(netdev),
                        userspace_tso_enabled());
    eth_addr_random(&nv->hwaddr);
    nv->mtu = ETH_PAYLOAD_MAX;
    nv->flags = NETDEV_UP | NETDEV_PROMISC;
    nv->renotify_at = LLONG_MAX;
    atomic_init(&nv->admin_up, true);
    atomic_init(&nv->rx_interrupt, false);
    nv->wake_seq = seq_create();
    atomic_init(&nv->tx_retries_max, VHOST_TX_RETRIES_DEFAULT);
    atomic_init(&nv->tx_mtu, nv->mtu);
    if (userspace_tso_enabled()) {
        /* What the guest cannot do, vhost_net_enqueue() does. */
        netdev->ol_flags |= (NETDEV_TX_OFFLOAD_TCP_TSO
                             | NETDEV_TX_OFFLOAD_TCP_CKSUM
                             | NETDEV_TX_OFFLOAD_UDP_CKSUM);
    }
    nv->requested_n_txq = netdev->n_txq;
    nv->requested_n_rxq = netdev->n_rxq;
    nv->txq_map = xmalloc(sizeof *nv->txq_map);
    atomic_init(&nv->txq_map[0], -1);
    atomic_init(&nv->tx_not_ready, 0);
    atomic_init(&nv->tap_carrier, false);
    atomic_init(&nv->ring_broke, false);

    ovs_mutex_lock(&netdev_vhost_mutex);
    ovs_list_push_back(&netdev_vhost_ports, &nv->list_node);
    ovs_mutex_unlock(&netdev_vhost_mutex);
    return 0;
}

static void
netdev_vhost_destruct(struct netdev *netdev)
{
    struct netdev_vhost *nv = netdev_vhost_cast(netdev);

    ovs_mutex_lock(&netdev_vhost_mutex);
    ovs_list_remove(&nv->list_node);
    if (nv->kernel) {
        remove_tap_later(netdev_get_name(netdev));
    }
    vhost_socket_close(nv->sock);
    /* dpif-netdev has stopped polling and sending before this. */
    netdev_vhost_tap_close(nv);
    vhost_user_dev_destroy(&nv->dev);
    free(nv->socket_path);
    free(nv->txq_map);
    ovs_mutex_unlock(&netdev_vhost_mutex);
    seq_destroy(nv->wake_seq);

    wake_vhost_ctl();
}

/* ## ------------- ## */
/* ## Configuration ## */
/* ## ------------- ## */

static int
netdev_vhost_get_config(const struct netdev *netdev, struct smap *args)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);
    bool rx_interrupt;
    int retries_max;

    ovs_mutex_lock(&netdev_vhost_mutex);
    if (nv->socket_path) {
        smap_add(args, nv->server ? "vhost-listen-path" : "vhost-server-path",
                 nv->socket_path);
    }
    atomic_read_relaxed(&nv->tx_retries_max, &retries_max);
    if (retries_max != VHOST_TX_RETRIES_DEFAULT) {
        smap_add_format(args, "tx-retries-max", "%d", retries_max);
    }
    atomic_read_relaxed(&nv->rx_interrupt, &rx_interrupt);
    if (rx_interrupt) {
        smap_add(args, "rx-mode", "interrupt");
    }
    if (nv->kernel) {
        smap_add(args, "backend", "kernel");
        if (nv->tap.n_queues != 1) {
            smap_add_format(args, "queues", "%d", nv->tap.n_queues);
        }
        if (nv->tap.owner != (uid_t) -1) {
            smap_add_format(args, "owner", "%lu",
                            (unsigned long) nv->tap.owner);
        }
        if (nv->tap.group != (gid_t) -1) {
            smap_add_format(args, "group", "%lu",
                            (unsigned long) nv->tap.group);
        }
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);
    return 0;
}

/* Parses the options of backend=kernel into '*cfg'. */
static int
parse_tap_options(const char *name, const struct smap *args,
                  struct vhost_tap_config *cfg, char **errp)
{
    const char *queues = smap_get(args, "queues");
    const char *owner = smap_get(args, "owner");
    const char *group = smap_get(args, "group");
    unsigned int id;

    cfg->n_queues = 1;
    cfg->owner = (uid_t) -1;
    cfg->group = (gid_t) -1;
    cfg->mtu = 0;
    if (queues && (!str_to_int(queues, 10, &cfg->n_queues)
                   || cfg->n_queues < 1
                   || cfg->n_queues > VHOST_TAP_MAX_QUEUES)) {
        *errp = xasprintf("%s: queues \"%s\" is not a number from 1 to %d",
                          name, queues, VHOST_TAP_MAX_QUEUES);
        return EINVAL;
    }
    if (owner) {
        if (vhost_tap_parse_id(owner, false, &id)) {
            *errp = xasprintf("%s: owner \"%s\" is not a user", name, owner);
            return EINVAL;
        }
        cfg->owner = id;
    }
    if (group) {
        if (vhost_tap_parse_id(group, true, &id)) {
            *errp = xasprintf("%s: group \"%s\" is not a group", name,
                              group);
            return EINVAL;
        }
        cfg->group = id;
    }
    return 0;
}

/* Switches 'nv' to backend=kernel, if it is not yet, and sets up its tap as
 * 'cfg' says. */
static int
set_kernel_backend(struct netdev_vhost *nv, struct vhost_tap_config *cfg,
                   char **errp)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    const char *name = netdev_get_name(&nv->up);
    char *reason;
    int error;

    if (nv->sock) {
        vhost_socket_close(nv->sock);
        nv->sock = NULL;
        end_session(nv);
    }
    free(nv->socket_path);
    nv->socket_path = NULL;
    sset_find_and_delete(&taps_to_remove, name);

    cfg->mtu = nv->mtu;
    if (nv->kernel && !memcmp(cfg, &nv->tap, sizeof *cfg)
        && vhost_tap_is_set_up(name, cfg->n_queues)) {
        /* Nothing changed: set_config() comes with every change of the
         * database. */
        return 0;
    }
    error = vhost_tap_setup(name, cfg, &reason);
    if (error) {
        VLOG_WARN("%s", reason);
        *errp = reason;
        return error;
    }
    if (!nv->kernel || memcmp(cfg, &nv->tap, sizeof *cfg)) {
        VLOG_INFO("%s: kernel backend: tap %s, %d queue(s)", name, name,
                  cfg->n_queues);
    }
    if (!nv->kernel || cfg->n_queues != nv->tap.n_queues
        || (nv->tap_ifindex && nv->tap_ifindex != if_nametoindex(name))) {
        /* The userspace datapath (re)opens the tap's queues. */
        netdev_request_reconfigure(&nv->up);
    }
    nv->kernel = true;
    nv->tap = *cfg;
    tap_notices_wanted = true;

    struct vhost_tap_link link;
    atomic_store_relaxed(&nv->tap_carrier,
                         !vhost_tap_get_link(name, &link) && link.carrier);
    return 0;
}

static int
netdev_vhost_set_config(struct netdev *netdev, const struct smap *args,
                        char **errp)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);
    const char *name = netdev_get_name(netdev);
    const char *server_path = smap_get(args, "vhost-server-path");
    const char *listen_path = smap_get(args, "vhost-listen-path");
    const char *retries = smap_get(args, "tx-retries-max");
    const char *rx_mode = smap_get_def(args, "rx-mode", "poll");
    const char *backend = smap_get_def(args, "backend", "user");
    static const char *const keys[] = {
        "vhost-server-path", "vhost-listen-path", "tx-retries-max",
        "rx-mode", "backend", "queues", "owner", "group",
    };
    struct vhost_tap_config tap_cfg;
    const struct smap_node *node;
    bool server = !server_path;
    bool rx_interrupt, was_interrupt;
    bool kernel;
    int retries_max;
    char *path = NULL;
    int error = 0;

    SMAP_FOR_EACH (node, args) {
        size_t i;

        for (i = 0; i < ARRAY_SIZE(keys); i++) {
            if (!strcmp(node->key, keys[i])) {
                break;
            }
        }
        if (i == ARRAY_SIZE(keys)) {
            VLOG_WARN("%s: ignoring unknown option \"%s\"", name, node->key);
        }
    }
    retries_max = VHOST_TX_RETRIES_DEFAULT;
    if (retries && (!str_to_int(retries, 10, &retries_max)
                    || retries_max < 0
                    || retries_max > VHOST_TX_RETRIES_MAX)) {
        *errp = xasprintf("%s: tx-retries-max \"%s\" is not a number from "
                          "0 to %d", name, retries, VHOST_TX_RETRIES_MAX);
        return EINVAL;
    }
    if (!strcmp(rx_mode, "poll") || !strcmp(rx_mode, "interrupt")) {
        rx_interrupt = !strcmp(rx_mode, "interrupt");
    } else {
        *errp = xasprintf("%s: rx-mode \"%s\" is not \"poll\" or "
                          "\"interrupt\"", name, rx_mode);
        return EINVAL;
    }
    if (!strcmp(backend, "user") || !strcmp(backend, "kernel")) {
        kernel = !strcmp(backend, "kernel");
    } else {
        *errp = xasprintf("%s: backend \"%s\" is not \"user\" or "
                          "\"kernel\"", name, backend);
        return EINVAL;
    }
    if (kernel) {
        if (server_path || listen_path) {
            *errp = xasprintf("%s: vhost-server-path and vhost-listen-path "
                              "are for backend=user", name);
            return EINVAL;
        }
        error = parse_tap_options(name, args, &tap_cfg, errp);
        if (error) {
            return error;
        }
    } else if (smap_get(args, "queues") || smap_get(args, "owner")
               || smap_get(args, "group")) {
        *errp = xasprintf("%s: queues, owner and group are for "
                          "backend=kernel", name);
        return EINVAL;
    }
    if (server_path && listen_path) {
        *errp = xasprintf("%s: set vhost-server-path (OVS connects to the "
                          "frontend) or vhost-listen-path (the frontend "
                          "connects to OVS), not both", name);
        return EINVAL;
    }
    if ((server_path && !server_path[0]) || (listen_path && !listen_path[0])) {
        *errp = xasprintf("%s: the socket path is empty", name);
        return EINVAL;
    }
    atomic_store_relaxed(&nv->tx_retries_max, retries_max);

    ovs_mutex_lock(&netdev_vhost_mutex);
    atomic_read_relaxed(&nv->rx_interrupt, &was_interrupt);
    if (rx_interrupt != was_interrupt) {
        VLOG_INFO("%s: rx-mode %s", name, rx_mode);
        atomic_store_relaxed(&nv->rx_interrupt, rx_interrupt);
        /* PMD threads reload the port's queues, and with them whether they
         * may sleep. */
        netdev_request_reconfigure(netdev);
        seq_change(nv->wake_seq);
    }
    if (kernel) {
        error = set_kernel_backend(nv, &tap_cfg, errp);
        ovs_mutex_unlock(&netdev_vhost_mutex);
        return error;
    }
    if (nv->kernel) {
        /* From backend=kernel to user: the tap goes, and so do its queues
         * on the userspace datapath. */
        nv->kernel = false;
        remove_tap_later(name);
        netdev_request_reconfigure(netdev);
    }

    path = (server_path ? xstrdup(server_path)
            : listen_path ? xstrdup(listen_path)
            : xasprintf("%s/%s", ovs_rundir(), name));
    if (!nv->sock || server != nv->server || strcmp(path, nv->socket_path)) {
        struct vhost_socket *sock;
        char *reason;

        vhost_socket_close(nv->sock);
        nv->sock = NULL;
        end_session(nv);

        error = vhost_socket_open(name, path, server, &sock, &reason);
        if (error) {
            VLOG_WARN("%s: %s", name, reason);
            *errp = xasprintf("%s: %s", name, reason);
            free(reason);
        } else {
            VLOG_INFO("%s: vhost-user %s mode, socket %s", name,
                      server ? "server" : "client", path);
            nv->sock = sock;
            nv->server = server;
            free(nv->socket_path);
            nv->socket_path = path;
            path = NULL;
            wake_vhost_ctl();
        }
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);

    free(path);
    return error;
}

static int
netdev_vhost_get_numa_id(const struct netdev *netdev OVS_UNUSED)
{
    /* The guest's memory may be anywhere; on a one-node machine it does not
     * matter. */
    return ovs_numa_get_n_numas() <= 1 ? 0 : NETDEV_NUMA_UNSPEC;
}

static int
netdev_vhost_set_tx_multiq(struct netdev *netdev, unsigned int n_txq)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);

    ovs_mutex_lock(&netdev_vhost_mutex);
    if (nv->requested_n_txq != n_txq) {
        nv->requested_n_txq = n_txq;
        netdev_request_reconfigure(netdev);
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);
    return 0;
}

/* dpif-netdev calls this with the port out of every PMD thread's hands. */
static int
netdev_vhost_reconfigure(struct netdev *netdev)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);
    int error;

    ovs_mutex_lock(&netdev_vhost_mutex);
    if (netdev->n_txq != nv->requested_n_txq) {
        free(nv->txq_map);
        nv->txq_map = xmalloc(nv->requested_n_txq * sizeof *nv->txq_map);
        netdev->n_txq = nv->requested_n_txq;
    }
    netdev_vhost_map_txqs(nv);

    /* On the userspace datapath, a tap's queues are opened here, again
     * only if the tap, its MTU or its queue count changed. */
    if (nv->kernel) {
        netdev->n_rxq = nv->tap.n_queues;
        if (!netdev_vhost_tap_is_current(nv)) {
            netdev_vhost_tap_close(nv);
            error = netdev_vhost_tap_open(nv);
            if (error) {
                /* dpif-netdev would drop the port: keep it, without
                 * traffic, until the tap changes. */
                VLOG_WARN("%s: tap not attached to the userspace datapath "
                          "(%s)", netdev_get_name(netdev),
                          ovs_strerror(error));
            }
        }
    } else {
        netdev_vhost_tap_close(nv);
        netdev->n_rxq = MAX(nv->requested_n_rxq, 1);
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);
    return 0;
}

/* ## --------------- ## */
/* ## Port properties ## */
/* ## --------------- ## */

static int
netdev_vhost_set_etheraddr(struct netdev *netdev, const struct eth_addr mac)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);

    ovs_mutex_lock(&netdev_vhost_mutex);
    if (!eth_addr_equals(nv->hwaddr, mac)) {
        nv->hwaddr = mac;
        netdev_change_seq_changed(netdev);
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);
    return 0;
}

static int
netdev_vhost_get_etheraddr(const struct netdev *netdev, struct eth_addr *mac)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);

    ovs_mutex_lock(&netdev_vhost_mutex);
    *mac = nv->hwaddr;
    ovs_mutex_unlock(&netdev_vhost_mutex);
    return 0;
}

static int
netdev_vhost_get_mtu(const struct netdev *netdev, int *mtup)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);

    ovs_mutex_lock(&netdev_vhost_mutex);
    *mtup = nv->mtu;
    ovs_mutex_unlock(&netdev_vhost_mutex);
    return 0;
}

static int
netdev_vhost_set_mtu(struct netdev *netdev, int mtu)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);

    if (mtu < ETH_PAYLOAD_MIN || mtu > VHOST_MAX_PACKET_SIZE
                                       - ETH_HEADER_LEN - VLAN_HEADER_LEN) {
        return EINVAL;
    }
    ovs_mutex_lock(&netdev_vhost_mutex);
    if (nv->kernel) {
        int error = vhost_tap_set_mtu(netdev_get_name(netdev), mtu);

        if (error) {
            ovs_mutex_unlock(&netdev_vhost_mutex);
            return error;
        }
        if (nv->tap.mtu != mtu) {
            /* The receive rings' frames follow the MTU. */
            netdev_request_reconfigure(netdev);
        }
        nv->tap.mtu = mtu;
    }
    if (nv->mtu != mtu) {
        nv->mtu = mtu;
        atomic_store_relaxed(&nv->tx_mtu, mtu);
        netdev_change_seq_changed(netdev);
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);
    return 0;
}

static int
netdev_vhost_get_carrier(const struct netdev *netdev, bool *carrier)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);

    ovs_mutex_lock(&netdev_vhost_mutex);
    if (nv->kernel) {
        /* The tap has carrier while a guest has it open. */
        atomic_read_relaxed(&nv->tap_carrier, carrier);
    } else {
        *carrier = nv->link_up;
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);
    return 0;
}

static long long int
netdev_vhost_get_carrier_resets(const struct netdev *netdev)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);
    long long int resets;

    ovs_mutex_lock(&netdev_vhost_mutex);
    resets = nv->link_resets;
    ovs_mutex_unlock(&netdev_vhost_mutex);
    return resets;
}

static int
netdev_vhost_update_flags(struct netdev *netdev, enum netdev_flags off,
                          enum netdev_flags on, enum netdev_flags *old_flagsp)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);

    if ((off | on) & ~(NETDEV_UP | NETDEV_PROMISC)) {
        return EINVAL;
    }
    ovs_mutex_lock(&netdev_vhost_mutex);
    *old_flagsp = nv->flags;
    nv->flags = (nv->flags | on) & ~off;
    if (nv->flags != *old_flagsp) {
        atomic_store_relaxed(&nv->admin_up, nv->flags & NETDEV_UP);
        netdev_change_seq_changed(netdev);
        seq_change(nv->wake_seq);
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);
    return 0;
}

/* ## ------------------- ## */
/* ## Status and counters ## */
/* ## ------------------- ## */

/* Adds the counters of every ring of 'nv' into 'rx' (the guest's transmit
 * rings, which OVS receives from) and 'tx' (the guest's receive rings). */
static void
sum_ring_stats(struct netdev_vhost *nv, struct vhost_queue_stats *rx,
               struct vhost_queue_stats *tx)
{
    memset(rx, 0, sizeof *rx);
    memset(tx, 0, sizeof *tx);
    for (size_t i = 0; i < VHOST_USER_MAX_VRINGS; i++) {
        struct vhost_vring *vring = vhost_user_get_vring(&nv->dev, i);
        struct vhost_queue_stats *sum = i % 2 ? rx : tx;

        if (!vring) {
            continue;
        }
        ovs_spin_lock(&vring->lock);
        vhost_queue_stats_add(sum, &vring->stats);
        ovs_spin_unlock(&vring->lock);
    }

    ovs_mutex_lock(&netdev_vhost_mutex);
    netdev_vhost_tap_stats(nv, rx, tx);
    ovs_mutex_unlock(&netdev_vhost_mutex);
}

static int
netdev_vhost_get_stats(const struct netdev *netdev, struct netdev_stats *stats)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);
    struct vhost_queue_stats rx, tx;
    uint64_t not_ready;
    bool kernel;

    sum_ring_stats(nv, &rx, &tx);
    atomic_read_relaxed(&nv->tx_not_ready, &not_ready);

    stats->rx_packets = rx.packets;
    stats->rx_bytes = rx.bytes;
    stats->rx_errors = (rx.drops[VHOST_DROP_BAD_DESCRIPTOR]
                        + rx.drops[VHOST_DROP_MALFORMED]
                        + rx.drops[VHOST_DROP_INVALID_OFFLOAD]
                        + rx.drops[VHOST_DROP_OVERSIZE]);
    stats->rx_dropped = 0;
    stats->rx_length_errors = (rx.drops[VHOST_DROP_MALFORMED]
                               + rx.drops[VHOST_DROP_OVERSIZE]);

    stats->tx_packets = tx.packets;
    stats->tx_bytes = tx.bytes;
    stats->tx_errors = (tx.drops[VHOST_DROP_BAD_DESCRIPTOR]
                        + tx.drops[VHOST_DROP_INVALID_OFFLOAD]);
    stats->tx_dropped = (tx.drops[VHOST_DROP_RING_FULL]
                         + tx.drops[VHOST_DROP_OVERSIZE]
                         + tx.drops[VHOST_DROP_NOT_READY] + not_ready);

    ovs_mutex_lock(&netdev_vhost_mutex);
    kernel = nv->kernel;
    ovs_mutex_unlock(&netdev_vhost_mutex);
    if (kernel) {
        /* The guest's packets cross the tap, whichever datapath takes them
         * from there: its kernel counters count them (rx is what the guest
         * sent), and its drops (a guest that does not take its packets).
         * The userspace datapath adds its own drops. */
        struct netdev_stats ours = *stats;
        struct vhost_tap_link link;
        int error = vhost_tap_get_link(netdev_get_name(netdev), &link);

        if (error) {
            return error;
        }
        *stats = link.stats;
        stats->rx_errors += ours.rx_errors;
        stats->rx_length_errors += ours.rx_length_errors;
        stats->rx_dropped += rx.drops[VHOST_DROP_RING_FULL];
        stats->tx_errors += ours.tx_errors;
        /* The tap counted the packets it found no room for itself. */
        stats->tx_dropped += (ours.tx_dropped
                              - tx.drops[VHOST_DROP_RING_FULL]);
    }
    return 0;
}

static void
add_counter(struct netdev_custom_stats *cs, size_t *allocated,
            uint64_t value, const char *format, ...)
    OVS_PRINTF_FORMAT(4, 5);

static void
add_counter(struct netdev_custom_stats *cs, size_t *allocated,
            uint64_t value, const char *format, ...)
{
    va_list args;

    if (cs->size >= *allocated) {
        cs->counters = x2nrealloc(cs->counters, allocated,
                                  sizeof *cs->counters);
    }
    va_start(args, format);
    vsnprintf(cs->counters[cs->size].name, NETDEV_CUSTOM_STATS_NAME_SIZE,
              format, args);
    va_end(args);
    cs->counters[cs->size++].value = value;
}

/* A queue's packets, bytes and drops, as DIR_q<QUEUE>_<counter>. */
static void
add_queue_counters(struct netdev_custom_stats *cs, size_t *allocated,
                   const char *dir, int queue,
                   const struct vhost_queue_stats *s)
{
    uint64_t dropped = 0;

    for (int r = 0; r < N_VHOST_DROP_REASONS; r++) {
        dropped += s->drops[r];
    }
    add_counter(cs, allocated, s->packets, "%s_q%d_packets", dir, queue);
    add_counter(cs, allocated, s->bytes, "%s_q%d_bytes", dir, queue);
    add_counter(cs, allocated, dropped, "%s_q%d_dropped", dir, queue);
}

/* Per queue counters, and drops by reason. */
static int
netdev_vhost_get_custom_stats(const struct netdev *netdev,
                              struct netdev_custom_stats *cs)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);
    struct vhost_queue_stats rx, tx;
    size_t allocated = 0;
    uint64_t not_ready;

    cs->size = 0;
    cs->counters = NULL;

    for (size_t pair = 0; pair < VHOST_USER_MAX_QUEUE_PAIRS; pair++) {
        for (int dir = 0; dir < 2; dir++) {
            struct vhost_vring *vring
                = vhost_user_get_vring(&nv->dev, 2 * pair + dir);
            struct vhost_queue_stats s;

            if (!vring) {
                continue;
            }
            ovs_spin_lock(&vring->lock);
            s = vring->stats;
            ovs_spin_unlock(&vring->lock);

            /* Ring 2N is the guest's receive ring: OVS transmits on it. */
            const char *dir_name = dir ? "rx" : "tx";
            add_queue_counters(cs, &allocated, dir_name, pair, &s);
            add_counter(cs, &allocated, s.notifications,
                        "%s_q%"PRIuSIZE"_guest_notifications", dir_name,
                        pair);
        }
    }

    ovs_mutex_lock(&netdev_vhost_mutex);
    for (int i = 0; i <= nv->n_tap_rxqs && nv->tap_txq; i++) {
        bool is_rx = i < nv->n_tap_rxqs;
        struct vhost_queue_stats q;

        memset(&q, 0, sizeof q);
        vhost_tap_queue_get_stats(is_rx ? nv->tap_rxqs[i] : nv->tap_txq,
                                  &q);
        add_queue_counters(cs, &allocated, is_rx ? "rx" : "tx",
                           is_rx ? i : 0, &q);
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);

    sum_ring_stats(nv, &rx, &tx);
    atomic_read_relaxed(&nv->tx_not_ready, &not_ready);
    tx.drops[VHOST_DROP_NOT_READY] += not_ready;
    for (int r = 0; r < N_VHOST_DROP_REASONS; r++) {
        const char *reason = vhost_drop_reason_name(r);

        /* What the guest sends can be broken; what OVS sends can also find
         * no room or no queue. */
        if (r == VHOST_DROP_BAD_DESCRIPTOR || r == VHOST_DROP_MALFORMED
            || r == VHOST_DROP_INVALID_OFFLOAD || r == VHOST_DROP_OVERSIZE
            || r == VHOST_DROP_RING_FULL) {
            add_counter(cs, &allocated, rx.drops[r], "rx_%s_drops", reason);
        }
        if (r != VHOST_DROP_MALFORMED) {
            add_counter(cs, &allocated, tx.drops[r], "tx_%s_drops", reason);
        }
    }
    add_counter(cs, &allocated, tx.retries, "tx_retries");
    add_counter(cs, &allocated, rx.waits, "rx_interrupt_waits");
    add_counter(cs, &allocated, rx.kicks, "rx_interrupt_kicks");
    add_counter(cs, &allocated, rx.csum_offloads, "rx_csum_offloads");
    add_counter(cs, &allocated, rx.tso_packets, "rx_tso_packets");
    add_counter(cs, &allocated, rx.sw_csums, "rx_sw_csums");
    add_counter(cs, &allocated, rx.sw_segmented, "rx_sw_segmented");
    add_counter(cs, &allocated, rx.segments, "rx_sw_segments");
    add_counter(cs, &allocated, tx.csum_offloads, "tx_csum_offloads");
    add_counter(cs, &allocated, tx.tso_packets, "tx_tso_packets");
    add_counter(cs, &allocated, tx.sw_csums, "tx_sw_csums");
    add_counter(cs, &allocated, tx.sw_segmented, "tx_sw_segmented");
    add_counter(cs, &allocated, tx.segments, "tx_sw_segments");
    return 0;
}

static int
netdev_vhost_get_status(const struct netdev *netdev, struct smap *args)
{
    struct netdev_vhost *nv = netdev_vhost_cast__(netdev);
    const struct vhost_user_dev *dev = &nv->dev;
    struct ds s = DS_EMPTY_INITIALIZER;
    bool rx_interrupt;

    ovs_mutex_lock(&netdev_vhost_mutex);
    if (nv->kernel) {
        smap_add(args, "backend", "kernel");
        smap_add(args, "tap", netdev_get_name(netdev));
        smap_add_format(args, "queues", "%d", nv->tap.n_queues);
        atomic_read_relaxed(&nv->rx_interrupt, &rx_interrupt);
        if (nv->n_tap_rxqs) {
            smap_add(args, "attachment", "userspace-datapath");
            smap_add(args, "rx_mode", rx_interrupt ? "interrupt" : "poll");
        } else {
            struct vhost_tap_link link;

            smap_add(args, "attachment",
                     (!vhost_tap_get_link(netdev_get_name(netdev), &link)
                      && link.in_kernel_datapath)
                     ? "kernel-datapath" : "none");
        }
        goto out;
    }
    smap_add(args, "backend", "user");
    smap_add(args, "mode", nv->server ? "server" : "client");
    atomic_read_relaxed(&nv->rx_interrupt, &rx_interrupt);
    smap_add(args, "rx_mode", rx_interrupt ? "interrupt" : "poll");
    if (nv->socket_path) {
        smap_add(args, "socket", nv->socket_path);
    }
    if (!nv->sock || !vhost_socket_is_connected(nv->sock)) {
        int listen_error = nv->sock ? vhost_socket_listen_error(nv->sock) : 0;

        smap_add(args, "status", "disconnected");
        if (listen_error) {
            smap_add_format(args, "socket_error", "cannot listen (%s)",
                            ovs_strerror(listen_error));
        }
        goto out;
    }
    smap_add(args, "status", "connected");
    smap_add(args, "link_state", nv->link_up ? "up" : "down");

    smap_add_format(args, "features", "0x%016"PRIx64, dev->features);
    vhost_user_format_features(&s, dev->features);
    smap_add(args, "negotiated_features", ds_cstr(&s));
    ds_clear(&s);
    smap_add_format(args, "protocol_features", "0x%016"PRIx64,
                    dev->protocol_features);
    vhost_user_format_protocol_features(&s, dev->protocol_features);
    smap_add(args, "negotiated_protocol_features", ds_cstr(&s));
    if (dev->mtu) {
        smap_add_format(args, "mtu", "%"PRIu16, dev->mtu);
    }
    smap_add_format(args, "queue_pairs", "%"PRIuSIZE,
                    vhost_user_n_queue_pairs(dev));
    smap_add_format(args, "num_of_vrings", "%"PRIuSIZE, dev->n_vrings);
    for (size_t i = 0; i < dev->n_vrings; i++) {
        const struct vhost_vring *vring = vhost_user_get_vring(dev, i);

        if (vring && vring->size) {
            smap_add_nocopy(args, xasprintf("vring_%"PRIuSIZE"_size", i),
                            xasprintf("%"PRIu16, vring->size));
            smap_add_nocopy(args, xasprintf("vring_%"PRIuSIZE"_state", i),
                            xstrdup(vhost_vring_is_running(vring) ? "running"
                                    : vring->started ? "started"
                                    : "stopped"));
        }
    }

out:
    ovs_mutex_unlock(&netdev_vhost_mutex);
    ds_destroy(&s);
    return 0;
}

const struct netdev_class netdev_vhost_class = {
    .type = "vhost",
    .is_pmd = true,
    .run = netdev_vhost_run,
    .wait = netdev_vhost_wait,

    .alloc = netdev_vhost_alloc,
    .construct = netdev_vhost_construct,
    .destruct = netdev_vhost_destruct,
    .dealloc = netdev_vhost_dealloc,
    .get_config = netdev_vhost_get_config,
    .set_config = netdev_vhost_set_config,
    .get_numa_id = netdev_vhost_get_numa_id,
    .set_tx_multiq = netdev_vhost_set_tx_multiq,
    .reconfigure = netdev_vhost_reconfigure,

    .send = netdev_vhost_send,
    .set_etheraddr = netdev_vhost_set_etheraddr,
    .get_etheraddr = netdev_vhost_get_etheraddr,
    .get_mtu = netdev_vhost_get_mtu,
    .set_mtu = netdev_vhost_set_mtu,
    .get_carrier = netdev_vhost_get_carrier,
    .get_carrier_resets = netdev_vhost_get_carrier_resets,
    .get_stats = netdev_vhost_get_stats,
    .get_custom_stats = netdev_vhost_get_custom_stats,
    .get_status = netdev_vhost_get_status,
    .update_flags = netdev_vhost_update_flags,

    .rxq_alloc = netdev_vhost_rxq_alloc,
    .rxq_construct = netdev_vhost_rxq_construct,
    .rxq_destruct = netdev_vhost_rxq_destruct,
    .rxq_dealloc = netdev_vhost_rxq_dealloc,
    .rxq_enabled = netdev_vhost_rxq_enabled,
    .rxq_arm = netdev_vhost_rxq_arm,
    .rxq_recv = netdev_vhost_rxq_recv,
};
