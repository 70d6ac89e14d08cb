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

#ifndef NETDEV_VHOST_PRIVATE_H
#define NETDEV_VHOST_PRIVATE_H 1

/* What lib/netdev-vhost.c (the port: configuration, the vhost-user session,
 * state and counters) shares with datapath/netdev-vhost-pmd.c (the queues
 * that dpif-netdev's PMD threads poll and send on). */

#include <stdbool.h>
#include <stdint.h>

#include "netdev-provider.h"
#include "openvswitch/list.h"
#include "openvswitch/thread.h"
#include "ovs-atomic.h"
#include "packets.h"
#include "vhost-net-rxtx.h"
#include "vhost-tap.h"
#include "vhost-user.h"

struct dp_packet_batch;
struct dp_packet_pool;
struct seq;
struct vhost_tap_queue;

/* Guards every netdev_vhost member marked OVS_GUARDED_BY(netdev_vhost_mutex)
 * and the vhost-user sessions.  Held by the thread that serves the sockets
 * while it handles a message, and by the main thread while it configures a
 * port.  Never taken by PMD threads. */
extern struct ovs_mutex netdev_vhost_mutex;

/* All "vhost" ports, linked by 'list_node'. */
extern struct ovs_list netdev_vhost_ports OVS_GUARDED_BY(netdev_vhost_mutex);

struct netdev_vhost {
    struct netdev up;

    struct ovs_list list_node OVS_GUARDED_BY(netdev_vhost_mutex);

    /* Configuration. */
    bool kernel OVS_GUARDED_BY(netdev_vhost_mutex);  /* backend=kernel. */
    struct vhost_tap_config tap OVS_GUARDED_BY(netdev_vhost_mutex);
    char *socket_path OVS_GUARDED_BY(netdev_vhost_mutex);
    bool server OVS_GUARDED_BY(netdev_vhost_mutex);
    struct eth_addr hwaddr OVS_GUARDED_BY(netdev_vhost_mutex);
    int mtu OVS_GUARDED_BY(netdev_vhost_mutex);
    enum netdev_flags flags OVS_GUARDED_BY(netdev_vhost_mutex);
    int requested_n_txq OVS_GUARDED_BY(netdev_vhost_mutex);
    int requested_n_rxq OVS_GUARDED_BY(netdev_vhost_mutex);

    /* The session with the frontend.  The data path reaches the rings of
     * 'dev' through vhost_user_get_vring(), which needs no lock. */
    struct vhost_socket *sock OVS_GUARDED_BY(netdev_vhost_mutex);
    struct vhost_user_dev dev;

    /* State last reported to the rest of OVS. */
    bool link_up OVS_GUARDED_BY(netdev_vhost_mutex);
    long long int link_resets OVS_GUARDED_BY(netdev_vhost_mutex);
    long long int renotify_at OVS_GUARDED_BY(netdev_vhost_mutex);
    int listen_error OVS_GUARDED_BY(netdev_vhost_mutex); /* Server mode. */
    /* Bit N: queue pair N's guest receive (transmit) ring runs. */
    uint64_t guest_rx_running OVS_GUARDED_BY(netdev_vhost_mutex);
    uint64_t guest_tx_running OVS_GUARDED_BY(netdev_vhost_mutex);

    /* Which guest queue pair each of OVS's 'up.n_txq' transmit queues sends
     * to, or -1 if none is running.  Rebuilt by netdev_vhost_map_txqs();
     * read by PMD threads. */
    atomic_int *txq_map;

    /* options:tx-retries-max. */
    atomic_int tx_retries_max;

    /* 'mtu', for PMD threads: the size a TCP segment cut for the guest
     * may take. */
    atomic_int tx_mtu;

    /* NETDEV_UP in 'flags': an administratively down port neither sends
     * nor receives. */
    atomic_bool admin_up;

    /* options:rx-mode=interrupt: a PMD thread whose queues are all idle may
     * sleep until the guest kicks one (see netdev_vhost_rxq_arm()).
     * Written with netdev_vhost_mutex held, which keeps the vhost_ctl
     * thread from reading the kicks meanwhile. */
    atomic_bool rx_interrupt;

    /* Changed after anything the session does, so that a PMD thread asleep
     * in interrupt mode looks at the port's rings again. */
    struct seq *wake_seq;

    /* backend=kernel on the userspace datapath: AF_PACKET queues on the
     * tap (datapath/netdev-vhost-tap.c).  Opened and closed by
     * netdev_vhost_reconfigure(), which dpif-netdev calls with the port out
     * of every PMD thread's hands, and by the destructor, so PMD threads
     * read them unlocked. */
    struct vhost_tap_queue **tap_rxqs;
    int n_tap_rxqs;
    struct vhost_tap_queue *tap_txq;
    int tap_ifindex;            /* The tap they are bound to. */
    int tap_open_mtu;           /* The MTU their rings were made for. */

    /* backend=kernel: a guest has the tap open (its carrier), as the
     * kernel's link notices last said. */
    atomic_bool tap_carrier;
    /* The counters of queues closed since. */
    struct vhost_queue_stats tap_rx_closed
        OVS_GUARDED_BY(netdev_vhost_mutex);
    struct vhost_queue_stats tap_tx_closed
        OVS_GUARDED_BY(netdev_vhost_mutex);

    /* Packets OVS sent while no guest queue was running or the port was
     * down. */
    atomic_uint64_t tx_not_ready;
    /* Set by a PMD thread that found a ring broken. */
    atomic_bool ring_broke;
};

static inline struct netdev_vhost *
netdev_vhost_cast(const struct netdev *netdev)
{
    return CONTAINER_OF(netdev, struct netdev_vhost, up);
}

struct dp_packet_pool *netdev_vhost_packet_pool(void);
void netdev_vhost_ring_broke(struct netdev_vhost *);

/* datapath/netdev-vhost-pmd.c */
void netdev_vhost_map_txqs(struct netdev_vhost *)
    OVS_REQUIRES(netdev_vhost_mutex);
struct netdev_rxq *netdev_vhost_rxq_alloc(void);
int netdev_vhost_rxq_construct(struct netdev_rxq *);
void netdev_vhost_rxq_destruct(struct netdev_rxq *);
void netdev_vhost_rxq_dealloc(struct netdev_rxq *);
bool netdev_vhost_rxq_enabled(struct netdev_rxq *);
int netdev_vhost_rxq_arm(struct netdev_rxq *);
int netdev_vhost_rxq_recv(struct netdev_rxq *, struct dp_packet_batch *,
                          int *qfill);
int netdev_vhost_send(struct netdev *, int qid, struct dp_packet_batch *,
                      bool concurrent_txq);

/* datapath/netdev-vhost-tap.c */
int netdev_vhost_tap_open(struct netdev_vhost *)
    OVS_REQUIRES(netdev_vhost_mutex);
bool netdev_vhost_tap_is_current(const struct netdev_vhost *)
    OVS_REQUIRES(netdev_vhost_mutex);
void netdev_vhost_tap_close(struct netdev_vhost *)
    OVS_REQUIRES(netdev_vhost_mutex);
void netdev_vhost_tap_stats(struct netdev_vhost *,
                            struct vhost_queue_stats *rx,
                            struct vhost_queue_stats *tx)
    OVS_REQUIRES(netdev_vhost_mutex);
int netdev_vhost_tap_recv(struct netdev_vhost *, struct vhost_tap_queue *,
                          struct dp_packet_batch *);
int netdev_vhost_tap_arm(struct netdev_vhost *, struct vhost_tap_queue *);
void netdev_vhost_tap_send(struct netdev_vhost *, struct dp_packet_batch *);

#endif /* netdev-vhost-private.h */
