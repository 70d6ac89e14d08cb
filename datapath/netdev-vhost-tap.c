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

/* A backend=kernel "vhost" port as dpif-netdev's PMD threads see it: the
 * host side of its tap, through AF_PACKET queues (lib/vhost-tap-queue.h).
 *
 * Receive queue N reads what the guest sent on the tap's queue N.  OVS's
 * transmit queues share one socket; which of the tap's queues a packet
 * then reaches, the tap decides (by flow), as it does for packets from the
 * host's stack.
 *
 * The queues exist only on the userspace datapath: dpif-netdev asks for
 * them by reconfiguring the port.  On the kernel datapath, the tap is a
 * port of the openvswitch module and OVS opens nothing on it. */

#include <config.h>

#include <errno.h>
#include <net/if.h>

#include "coverage.h"
#include "dp-packet.h"
#include "netdev-vhost-private.h"
#include "openvswitch/vlog.h"
#include "seq.h"
#include "userspace-tso.h"
#include "vhost-tap-queue.h"

VLOG_DEFINE_THIS_MODULE(netdev_vhost_tap);

COVERAGE_DEFINE(netdev_vhost_tap_tx_down);

/* Opens the tap's queues for the userspace datapath: one receive queue per
 * queue of the tap, and one transmit socket, which every PMD thread may
 * use at once.  Notes what they were opened for, so that
 * netdev_vhost_tap_is_current() tells when to open them again. */
int
netdev_vhost_tap_open(struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    const char *name = netdev_get_name(&nv->up);
    uint16_t fanout_id = 0;
    int error = 0;

    ovs_assert(!nv->n_tap_rxqs && !nv->tap_txq);
    nv->n_tap_rxqs = nv->tap.n_queues;
    nv->tap_rxqs = xcalloc(nv->n_tap_rxqs, sizeof *nv->tap_rxqs);
    nv->tap_ifindex = if_nametoindex(name);
    nv->tap_open_mtu = nv->mtu;

    /* The last queue first: see vhost_tap_rxq_open(). */
    for (int k = 0; !error && k < nv->n_tap_rxqs; k++) {
        int i = (k + nv->n_tap_rxqs - 1) % nv->n_tap_rxqs;

        error = vhost_tap_rxq_open(name, i, nv->mtu, !k, &fanout_id,
                                   &nv->tap_rxqs[i]);
    }
    if (!error) {
        error = vhost_tap_txq_open(name, &nv->tap_txq);
    }
    if (error) {
        netdev_vhost_tap_close(nv);
        return error;
    }
    VLOG_INFO("%s: tap attached to the userspace datapath: %d receive "
              "queue(s)", name, nv->n_tap_rxqs);
    return 0;
}

/* Whether the tap's open queues still fit it: same tap, MTU and queue
 * count. */
bool
netdev_vhost_tap_is_current(const struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    return (nv->n_tap_rxqs == nv->tap.n_queues
            && nv->tap_open_mtu == nv->mtu
            && nv->tap_ifindex == if_nametoindex(netdev_get_name(&nv->up)));
}

/* Closes the tap's queues, keeping their counters. */
void
netdev_vhost_tap_close(struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    for (int i = 0; i < nv->n_tap_rxqs; i++) {
        if (nv->tap_rxqs[i]) {
            vhost_tap_queue_get_stats(nv->tap_rxqs[i], &nv->tap_rx_closed);
            vhost_tap_queue_close(nv->tap_rxqs[i]);
        }
    }
    if (nv->tap_txq) {
        vhost_tap_queue_get_stats(nv->tap_txq, &nv->tap_tx_closed);
        vhost_tap_queue_close(nv->tap_txq);
    }
    free(nv->tap_rxqs);
    nv->tap_rxqs = NULL;
    nv->n_tap_rxqs = 0;
    nv->tap_txq = NULL;
    nv->tap_ifindex = 0;
}

/* Adds the counters of the tap's queues, open and closed, to 'rx' and
 * 'tx'. */
void
netdev_vhost_tap_stats(struct netdev_vhost *nv, struct vhost_queue_stats *rx,
                       struct vhost_queue_stats *tx)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    vhost_queue_stats_add(rx, &nv->tap_rx_closed);
    vhost_queue_stats_add(tx, &nv->tap_tx_closed);
    for (int i = 0; i < nv->n_tap_rxqs; i++) {
        vhost_tap_queue_get_stats(nv->tap_rxqs[i], rx);
    }
    if (nv->tap_txq) {
        vhost_tap_queue_get_stats(nv->tap_txq, tx);
    }
}

int
netdev_vhost_tap_recv(struct netdev_vhost *nv, struct vhost_tap_queue *q,
                      struct dp_packet_batch *batch)
{
    bool up;

    atomic_read_relaxed(&nv->admin_up, &up);
    if (OVS_UNLIKELY(!up)) {
        return EAGAIN;
    }
    return vhost_tap_queue_recv(q, netdev_vhost_packet_pool(),
                                userspace_tso_enabled(), batch);
}

/* Interrupt mode: makes the caller's next poll_block() wake when the
 * kernel puts a packet in 'q''s ring, or when the port's state changes. */
int
netdev_vhost_tap_arm(struct netdev_vhost *nv, struct vhost_tap_queue *q)
{
    uint64_t seq = seq_read(nv->wake_seq);
    bool interrupt, up;

    atomic_read_relaxed(&nv->rx_interrupt, &interrupt);
    if (!interrupt) {
        return EOPNOTSUPP;
    }
    atomic_read_relaxed(&nv->admin_up, &up);
    if (up && vhost_tap_queue_arm(q) == EAGAIN) {
        return EAGAIN;
    }
    seq_wait(nv->wake_seq, seq);
    return 0;
}

void
netdev_vhost_tap_send(struct netdev_vhost *nv, struct dp_packet_batch *batch)
{
    bool up, carrier;
    int mtu;

    atomic_read_relaxed(&nv->admin_up, &up);
    atomic_read_relaxed(&nv->tap_carrier, &carrier);
    if (OVS_LIKELY(up && carrier)) {
        atomic_read_relaxed(&nv->tx_mtu, &mtu);
        vhost_tap_queue_send(nv->tap_txq, batch, mtu);
    } else {
        /* Down, or no guest has the tap open: the tap would drop each
         * packet, at a system call apiece. */
        size_t n = dp_packet_batch_size(batch);
        uint64_t orig;

        COVERAGE_ADD(netdev_vhost_tap_tx_down, n);
        atomic_add_relaxed(&nv->tx_not_ready, n, &orig);
    }
    dp_packet_delete_batch(batch, true);
}
