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
 * PMD thread that finds the ring being reconfigured comes back next time.
 *
 * In interrupt mode (options:rx-mode=interrupt), a PMD thread whose queues
 * have all been idle for a while arms them (netdev_vhost_rxq_arm()): it asks
 * the guest to kick, and sleeps in poll_block() on the kick eventfds.  The
 * first receive after it wakes asks the guest to stop kicking, so a busy
 * queue is polled without kicks, as in poll mode. */

#include <config.h>

#include <errno.h>
#include <poll.h>

#include "coverage.h"
#include "dp-packet.h"
#include "netdev-vhost-private.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "seq.h"
#include "vhost-net-rxtx.h"
#include "vhost-user.h"

VLOG_DEFINE_THIS_MODULE(netdev_vhost_pmd);

COVERAGE_DEFINE(netdev_vhost_tx_not_ready);
COVERAGE_DEFINE(netdev_vhost_rarp_sent);
COVERAGE_DEFINE(netdev_vhost_rx_wait);
COVERAGE_DEFINE(netdev_vhost_bad_kick);

/* How long a PMD thread sleeps, at most, when a ring it waits on has no
 * kick eventfd (the frontend gave none, or one that does not read as an
 * eventfd). */
#define KICKLESS_WAIT_MSEC 1

struct netdev_rxq_vhost {
    struct netdev_rxq up;
    struct vhost_tap_queue *tap;    /* backend=kernel: the tap's queue. */
};

static struct vhost_tap_queue *
rxq_tap(const struct netdev_rxq *rxq)
{
    return CONTAINER_OF(rxq, struct netdev_rxq_vhost, up)->tap;
}

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
netdev_vhost_rxq_construct(struct netdev_rxq *rxq)
{
    struct netdev_rxq_vhost *rx = CONTAINER_OF(rxq, struct netdev_rxq_vhost,
                                               up);
    struct netdev_vhost *nv = netdev_vhost_cast(rxq->netdev);

    ovs_mutex_lock(&netdev_vhost_mutex);
    if (nv->kernel) {
        /* None if the tap's queues could not be opened: then the queue
         * stays empty until they are. */
        rx->tap = (rxq->queue_id < nv->n_tap_rxqs
                   ? nv->tap_rxqs[rxq->queue_id] : NULL);
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);
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
    struct vhost_vring *vring;

    if (rxq_tap(rxq)) {
        return true;
    }
    vring = guest_tx_ring(rxq);
    return vring && vhost_vring_is_running(vring);
}

/* Interrupt mode: asks the guest to kick the ring of 'rxq' when it transmits
 * and makes the caller's next poll_block() wake on the kick; see the
 * comment at the top.  Also wakes on anything that changes the port's
 * session ('wake_seq'), since a ring that starts, stops or gets a new kick
 * descriptor must be looked at again. */
int
netdev_vhost_rxq_arm(struct netdev_rxq *rxq)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
    struct netdev_vhost *nv = netdev_vhost_cast(rxq->netdev);
    struct vhost_vring *vring;
    int kick_error = 0;
    bool interrupt, up;
    int error = 0;
    uint64_t seq;

    if (rxq_tap(rxq)) {
        return netdev_vhost_tap_arm(nv, rxq_tap(rxq));
    }
    vring = guest_tx_ring(rxq);
    atomic_read_relaxed(&nv->rx_interrupt, &interrupt);
    if (!interrupt) {
        return EOPNOTSUPP;
    }

    /* Read before we look at the ring: whatever changes it afterward
     * changes 'wake_seq' too. */
    seq = seq_read(nv->wake_seq);
    atomic_read_relaxed(&nv->admin_up, &up);
    if (up && vring && vhost_vring_is_running(vring)) {
        struct virtq *vq = &vring->vq;
        uint64_t kicks;

        ovs_spin_lock(&vring->lock);
        if (!vring->running) {
            /* Stopped meanwhile: 'wake_seq' tells us when it starts. */
        } else if (!rxq->queue_id
                   && vhost_user_announce_pending(&nv->dev)) {
            /* A RARP to receive first (see receive_announce()). */
            error = EAGAIN;
        } else {
            /* Take the kicks that came while we polled, so that they do
             * not wake us. */
            if (vq->kick_fd >= 0 && !vq->kick_fd_broken) {
                kick_error = virtq_read_eventfd(vq->kick_fd, &kicks);
                if (!kick_error) {
                    vring->stats.kicks += kicks;
                } else if (kick_error == EAGAIN) {
                    kick_error = 0;
                } else {
                    vq->kick_fd_broken = true;
                }
            }

            if (vq->kick_fd < 0 || vq->kick_fd_broken) {
                /* No kick to wait for: look at the ring again soon. */
                poll_timer_wait(KICKLESS_WAIT_MSEC);
            } else if (virtq_enable_kicks(vq)) {
                virtq_disable_kicks(vq);
                error = EAGAIN;
            } else {
                poll_fd_wait(vq->kick_fd, POLLIN);
                vring->stats.waits++;
            }
        }
        ovs_spin_unlock(&vring->lock);
    }

    if (kick_error) {
        COVERAGE_INC(netdev_vhost_bad_kick);
        VLOG_WARN_RL(&rl, "%s: virtqueue %d: kick descriptor does not read "
                     "as an eventfd (%s): looking at the ring every %d ms "
                     "while idle", netdev_rxq_get_name(rxq),
                     2 * rxq->queue_id + 1, ovs_strerror(kick_error),
                     KICKLESS_WAIT_MSEC);
    }
    if (error) {
        return error;
    }
    COVERAGE_INC(netdev_vhost_rx_wait);
    seq_wait(nv->wake_seq, seq);
    return 0;
}

int
netdev_vhost_rxq_recv(struct netdev_rxq *rxq, struct dp_packet_batch *batch,
                      int *qfill)
{
    struct netdev_vhost *nv = netdev_vhost_cast(rxq->netdev);
    enum virtq_error error = VIRTQ_OK;
    struct vhost_vring *vring;
    bool up;

    if (qfill) {
        *qfill = -ENOTSUP;
    }
    if (rxq_tap(rxq)) {
        return netdev_vhost_tap_recv(nv, rxq_tap(rxq), batch);
    }
    vring = guest_tx_ring(rxq);
    atomic_read_relaxed(&nv->admin_up, &up);
    if (!up || !vring || !vhost_vring_is_running(vring)) {
        return EAGAIN;
    }
    if (!rxq->queue_id
        && OVS_UNLIKELY(vhost_user_announce_pending(&nv->dev))) {
        /* First, so that a guest that keeps the ring full cannot hold it
         * back. */
        receive_announce(nv, batch);
    }
    if (ovs_spin_trylock(&vring->lock)) {
        return dp_packet_batch_is_empty(batch) ? EAGAIN : 0;
    }
    if (OVS_LIKELY(vring->running)) {
        if (OVS_UNLIKELY(vring->vq.kicks_enabled)) {
            /* Awake: poll, and let the guest stop kicking. */
            virtq_disable_kicks(&vring->vq);
        }
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

    if (nv->tap_txq) {
        netdev_vhost_tap_send(nv, batch);
        return 0;
    }
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
