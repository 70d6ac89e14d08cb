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

/* The "vhost" port as dpif-netdev's PMD threads see it.
 *
 * Receive queue N is queue pair N's guest transmit ring (virtqueue 2N + 1);
 * dpif-netdev schedules it on a PMD thread like any other rxq.  OVS asks for
 * one transmit queue per PMD thread; each maps onto the guest receive ring
 * (virtqueue 2N) of a running queue pair, spread evenly, so the guest may
 * run fewer queues than OVS has threads.  Two transmit queues may share a
 * ring, so sending takes the ring's lock; receiving only tries it, and a
 * PMD thread that finds the ring being reconfigured comes back next time. */

#include <config.h>

#include <errno.h>

#include "coverage.h"
#include "dp-packet.h"
#include "netdev-vhost-private.h"
#include "vhost-net-rxtx.h"
#include "vhost-user.h"

COVERAGE_DEFINE(netdev_vhost_tx_not_ready);
COVERAGE_DEFINE(netdev_vhost_rarp_sent);

struct netdev_rxq_vhost {
    struct netdev_rxq up;
};

/* Spreads OVS's transmit queues over the queue pairs whose guest receive
 * ring runs. */
void
netdev_vhost_map_txqs(struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    int pairs[VHOST_USER_MAX_QUEUE_PAIRS];
    int n = 0;

    for (int pair = 0; pair < VHOST_USER_MAX_QUEUE_PAIRS; pair++) {
        if (nv->guest_rx_running & (UINT64_C(1) << pair)) {
            pairs[n++] = pair;
        }
    }
    for (int qid = 0; qid < nv->up.n_txq; qid++) {
        atomic_store_relaxed(&nv->txq_map[qid], n ? pairs[qid % n] : -1);
    }
}

struct netdev_rxq *
netdev_vhost_rxq_alloc(void)
{
    struct netdev_rxq_vhost *rx = xzalloc(sizeof *rx);

    return &rx->up;
}

int
netdev_vhost_rxq_construct(struct netdev_rxq *rxq OVS_UNUSED)
{
    return 0;
}

void
netdev_vhost_rxq_destruct(struct netdev_rxq *rxq OVS_UNUSED)
{
}

void
netdev_vhost_rxq_dealloc(struct netdev_rxq *rxq)
{
    free(CONTAINER_OF(rxq, struct netdev_rxq_vhost, up));
}

static struct vhost_vring *
guest_tx_ring(const struct netdev_rxq *rxq)
{
    struct netdev_vhost *nv = netdev_vhost_cast(rxq->netdev);

    return vhost_user_get_vring(&nv->dev, 2 * rxq->queue_id + 1);
}

/* After a guest migrated here, its frontend asks us (SEND_RARP) to tell the
 * network where it is now, as QEMU does for a guest that cannot announce
 * itself: a RARP from its MAC, received on queue 0 as if the guest sent
 * it, so that MAC learning and the switches beyond find the new port. */
static void
receive_announce(struct netdev_vhost *nv, struct dp_packet_batch *batch)
{
    struct eth_addr mac;

    if (dp_packet_batch_size(batch) < NETDEV_MAX_BURST
        && vhost_user_take_announce(&nv->dev, &mac)) {
        struct dp_packet *rarp = dp_packet_new(0);

        compose_rarp(rarp, mac);
        dp_packet_batch_add(batch, rarp);
        COVERAGE_INC(netdev_vhost_rarp_sent);
    }
}

bool
netdev_vhost_rxq_enabled(struct netdev_rxq *rxq)
{
    struct vhost_vring *vring = guest_tx_ring(rxq);

    return vring && vhost_vring_is_running(vring);
}

int
netdev_vhost_rxq_recv(struct netdev_rxq *rxq, struct dp_packet_batch *batch,
                      int *qfill)
{
    struct netdev_vhost *nv = netdev_vhost_cast(rxq->netdev);
    struct vhost_vring *vring = guest_tx_ring(rxq);
    enum virtq_error error = VIRTQ_OK;
    bool up;

    if (qfill) {
        *qfill = -ENOTSUP;
    }
    atomic_read_relaxed(&nv->admin_up, &up);
    if (!up || !vring || !vhost_vring_is_running(vring)
        || ovs_spin_trylock(&vring->lock)) {
        return EAGAIN;
    }
    if (OVS_LIKELY(vring->running)) {
        error = vhost_net_dequeue(&vring->vq, &vring->params,
                                  netdev_vhost_packet_pool(), batch,
                                  &vring->stats);
        if (OVS_UNLIKELY(error)) {
            vhost_vring_stop(vring);
        }
    }
    ovs_spin_unlock(&vring->lock);

    if (OVS_UNLIKELY(error)) {
        netdev_vhost_ring_broke(nv);
    }
    if (!rxq->queue_id
        && OVS_UNLIKELY(vhost_user_announce_pending(&nv->dev))) {
        receive_announce(nv, batch);
    }
    return dp_packet_batch_is_empty(batch) ? EAGAIN : 0;
}

int
netdev_vhost_send(struct netdev *netdev, int qid,
                  struct dp_packet_batch *batch,
                  bool concurrent_txq OVS_UNUSED)
{
    struct netdev_vhost *nv = netdev_vhost_cast(netdev);
    enum virtq_error error = VIRTQ_OK;
    struct vhost_vring *vring = NULL;
    bool sent = false;
    int retries_max;
    bool up;
    int pair;
    int mtu;

    atomic_read_relaxed(&nv->admin_up, &up);
    atomic_read_relaxed(&nv->txq_map[qid % netdev->n_txq], &pair);
    if (up && pair >= 0) {
        vring = vhost_user_get_vring(&nv->dev, 2 * pair);
    }
    if (OVS_LIKELY(vring && vhost_vring_is_running(vring))) {
        atomic_read_relaxed(&nv->tx_retries_max, &retries_max);
        atomic_read_relaxed(&nv->tx_mtu, &mtu);
        ovs_spin_lock(&vring->lock);
        if (OVS_LIKELY(vring->running)) {
            error = vhost_net_enqueue(&vring->vq, &vring->params, batch,
                                      retries_max, mtu, &vring->stats);
            if (OVS_UNLIKELY(error)) {
                vhost_vring_stop(vring);
            }
            sent = true;
        }
        ovs_spin_unlock(&vring->lock);
    }

    if (OVS_UNLIKELY(!sent)) {
        size_t n = dp_packet_batch_size(batch);
        uint64_t orig;

        COVERAGE_ADD(netdev_vhost_tx_not_ready, n);
        atomic_add_relaxed(&nv->tx_not_ready, n, &orig);
    }
    dp_packet_delete_batch(batch, true);

    if (OVS_UNLIKELY(error)) {
        netdev_vhost_ring_broke(nv);
    }
    return 0;
}
