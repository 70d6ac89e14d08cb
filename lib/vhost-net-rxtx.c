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

#include <config.h>

#include "vhost-net-rxtx.h"

#include <string.h>

#include "coverage.h"
#include "dp-packet.h"
#include "dp-packet-pool.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"
#include "virtio-net-hdr.h"

VLOG_DEFINE_THIS_MODULE(vhost_net_rxtx);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

COVERAGE_DEFINE(vhost_ring_avail_idx);
COVERAGE_DEFINE(vhost_ring_head);
COVERAGE_DEFINE(vhost_desc_next);
COVERAGE_DEFINE(vhost_desc_loop);
COVERAGE_DEFINE(vhost_desc_addr);
COVERAGE_DEFINE(vhost_desc_direction);
COVERAGE_DEFINE(vhost_desc_indirect);
COVERAGE_DEFINE(vhost_desc_too_many_segs);
COVERAGE_DEFINE(vhost_desc_too_long);
COVERAGE_DEFINE(vhost_desc_too_short);
COVERAGE_DEFINE(vhost_rx_malformed);
COVERAGE_DEFINE(vhost_rx_oversize);
COVERAGE_DEFINE(vhost_tx_oversize);
COVERAGE_DEFINE(vhost_tx_ring_full);

/* The most guest buffers one packet may be spread over. */
#define MAX_MERGED_BUFFERS 128

const char *
vhost_drop_reason_name(enum vhost_drop_reason reason)
{
    switch (reason) {
    case VHOST_DROP_BAD_DESCRIPTOR: return "bad_descriptor";
    case VHOST_DROP_MALFORMED: return "malformed";
    case VHOST_DROP_OVERSIZE: return "oversize";
    case VHOST_DROP_RING_FULL: return "ring_full";
    case VHOST_DROP_NOT_READY: return "not_ready";
    case N_VHOST_DROP_REASONS: break;
    }
    return "unknown";
}

static void
count_virtq_error(enum virtq_error error)
{
    switch (error) {
    case VIRTQ_ERR_AVAIL_IDX: COVERAGE_INC(vhost_ring_avail_idx); break;
    case VIRTQ_ERR_HEAD: COVERAGE_INC(vhost_ring_head); break;
    case VIRTQ_ERR_NEXT: COVERAGE_INC(vhost_desc_next); break;
    case VIRTQ_ERR_LOOP: COVERAGE_INC(vhost_desc_loop); break;
    case VIRTQ_ERR_ADDR: COVERAGE_INC(vhost_desc_addr); break;
    case VIRTQ_ERR_DIRECTION: COVERAGE_INC(vhost_desc_direction); break;
    case VIRTQ_ERR_INDIRECT: COVERAGE_INC(vhost_desc_indirect); break;
    case VIRTQ_ERR_TOO_MANY_SEGS: COVERAGE_INC(vhost_desc_too_many_segs);
        break;
    case VIRTQ_ERR_TOO_LONG: COVERAGE_INC(vhost_desc_too_long); break;
    case VIRTQ_OK:
    case N_VIRTQ_ERRORS:
        break;
    }
}

/* Logs and counts a descriptor chain that broke a rule. */
static void
log_chain_error(const struct vhost_net_params *p, enum virtq_error error,
                uint16_t head)
{
    count_virtq_error(error);
    if (virtq_error_is_fatal(error)) {
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": stopped: %s",
                     p->name, p->vring, virtq_error_to_string(error));
    } else {
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped packet: %s "
                     "(head %"PRIu16")", p->name, p->vring,
                     virtq_error_to_string(error), head);
    }
}

static void
log_avail_error(const struct virtq *vq, const struct vhost_net_params *p,
                uint16_t avail_idx)
{
    COVERAGE_INC(vhost_ring_avail_idx);
    VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": stopped: avail index moved "
                 "from %"PRIu16" to %"PRIu16", more than the ring size "
                 "%"PRIu32, p->name, p->vring, vq->last_avail_idx,
                 avail_idx, vq->vring.num);
}

/* Copies 'len' bytes that start 'offset' bytes into the 'n' segments 'segs'
 * to 'dst'.  The segments hold at least 'offset + len' bytes. */
static void
segs_read(const struct virtq_seg *segs, uint32_t offset, void *dst_,
          uint32_t len)
{
    uint8_t *dst = dst_;

    for (const struct virtq_seg *seg = segs; len; seg++) {
        if (offset >= seg->len) {
            offset -= seg->len;
            continue;
        }

        uint32_t n = MIN(len, seg->len - offset);
        memcpy(dst, seg->addr + offset, n);
        dst += n;
        len -= n;
        offset = 0;
    }
}

/* Copies 'len' bytes from 'src' to 'offset' bytes into the segments 'segs',
 * which hold at least 'offset + len' bytes. */
static void
segs_write(const struct virtq_seg *segs, uint32_t offset, const void *src_,
           uint32_t len)
{
    const uint8_t *src = src_;

    for (const struct virtq_seg *seg = segs; len; seg++) {
        if (offset >= seg->len) {
            offset -= seg->len;
            continue;
        }

        uint32_t n = MIN(len, seg->len - offset);
        memcpy(seg->addr + offset, src, n);
        src += n;
        len -= n;
        offset = 0;
    }
}

static void
publish_and_notify(struct virtq *vq, struct vhost_queue_stats *stats)
{
    if (virtq_publish(vq) && virtq_notify(vq)) {
        stats->notifications++;
    }
}

static void
drop(struct vhost_queue_stats *stats, enum vhost_drop_reason reason)
{
    stats->drops[reason]++;
}

/* Makes a dp_packet of what the guest sent in 'chain', or returns NULL and
 * counts why not. */
static struct dp_packet *
chain_to_packet(const struct virtq_chain *chain,
                const struct vhost_net_params *p,
                struct dp_packet_pool *pool, struct vhost_queue_stats *stats)
{
    struct virtio_net_hdr_v1 hdr;
    struct dp_packet *packet;
    uint32_t size;

    if (OVS_UNLIKELY(chain->len < p->hdr_len + ETH_HEADER_LEN)) {
        COVERAGE_INC(vhost_rx_malformed);
        drop(stats, VHOST_DROP_MALFORMED);
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped %"PRIu32"-byte "
                     "packet: shorter than its headers", p->name, p->vring,
                     chain->len);
        return NULL;
    }
    size = chain->len - p->hdr_len;
    if (OVS_UNLIKELY(size > VHOST_MAX_PACKET_SIZE)) {
        COVERAGE_INC(vhost_rx_oversize);
        drop(stats, VHOST_DROP_OVERSIZE);
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped %"PRIu32"-byte "
                     "packet: larger than %d bytes", p->name, p->vring, size,
                     VHOST_MAX_PACKET_SIZE);
        return NULL;
    }

    /* Read the header once, into our memory. */
    memset(&hdr, 0, sizeof hdr);
    segs_read(chain->segs, 0, &hdr, p->hdr_len);

    if (OVS_LIKELY(size <= dp_packet_pool_data_size(pool))) {
        packet = dp_packet_pool_get(pool);
    } else {
        packet = dp_packet_new_with_headroom(size, VHOST_PACKET_HEADROOM);
    }
    if (OVS_UNLIKELY(!virtio_net_hdr_to_packet(&hdr, packet))) {
        COVERAGE_INC(vhost_rx_malformed);
        drop(stats, VHOST_DROP_MALFORMED);
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped packet: it asks "
                     "for an offload that was not negotiated "
                     "(flags %#"PRIx8", gso_type %#"PRIx8")",
                     p->name, p->vring, hdr.flags, hdr.gso_type);
        dp_packet_delete(packet);
        return NULL;
    }
    segs_read(chain->segs, p->hdr_len, dp_packet_data(packet), size);
    dp_packet_set_size(packet, size);
    return packet;
}

/* Receives up to a batch of packets that the guest transmitted on 'vq' into
 * 'batch', which the caller initialized.  Returns VIRTQ_OK, or a fatal
 * error after which the caller must stop using the ring. */
enum virtq_error
vhost_net_dequeue(struct virtq *vq, const struct vhost_net_params *p,
                  struct dp_packet_pool *pool, struct dp_packet_batch *batch,
                  struct vhost_queue_stats *stats)
{
    struct virtq_chain chain;
    enum virtq_error error;
    uint16_t n, i;

    error = virtq_avail_count(vq, &n);
    if (OVS_UNLIKELY(error)) {
        log_avail_error(vq, p, n);
        return error;
    }
    n = MIN(n, NETDEV_MAX_BURST);

    for (i = 0; i < n; i++) {
        struct dp_packet *packet;

        error = virtq_get_chain(vq, i, false, &chain);
        if (OVS_UNLIKELY(error)) {
            log_chain_error(p, error, chain.head);
            if (virtq_error_is_fatal(error)) {
                break;
            }
            drop(stats, VHOST_DROP_BAD_DESCRIPTOR);
            virtq_used_add(vq, chain.head, 0);
            continue;
        }

        packet = chain_to_packet(&chain, p, pool, stats);
        virtq_used_add(vq, chain.head, 0);
        if (packet) {
            stats->packets++;
            stats->bytes += dp_packet_size(packet);
            dp_packet_batch_add(batch, packet);
        }
    }

    virtq_consume(vq, i);
    publish_and_notify(vq, stats);
    return i < n ? error : VIRTQ_OK;
}

/* Where one packet's copy into the guest's receive buffers stands. */
struct enqueue_ctx {
    struct virtq *vq;
    const struct vhost_net_params *p;
    struct vhost_queue_stats *stats;
    uint16_t taken;             /* Chains used in this batch so far. */
    uint16_t avail;             /* Chains available in this batch. */
    enum virtq_error error;     /* Fatal error, if any. */
};

/* Walks the next available chain into 'chain'.  Returns false if there is
 * none (the ring is full, counted) or the ring broke ('ctx->error'). */
static bool
enqueue_next_chain(struct enqueue_ctx *ctx, struct virtq_chain *chain)
{
    if (ctx->taken == ctx->avail) {
        ctx->error = virtq_avail_count(ctx->vq, &ctx->avail);
        if (ctx->error) {
            log_avail_error(ctx->vq, ctx->p, ctx->avail);
            return false;
        }
        if (ctx->taken == ctx->avail) {
            COVERAGE_INC(vhost_tx_ring_full);
            drop(ctx->stats, VHOST_DROP_RING_FULL);
            return false;
        }
    }

    enum virtq_error error = virtq_get_chain(ctx->vq, ctx->taken, true,
                                             chain);
    if (OVS_UNLIKELY(error)) {
        log_chain_error(ctx->p, error, chain->head);
        if (virtq_error_is_fatal(error)) {
            ctx->error = error;
            return false;
        }
        /* Give the bad buffer back, empty, and drop the packet. */
        drop(ctx->stats, VHOST_DROP_BAD_DESCRIPTOR);
        virtq_used_add(ctx->vq, chain->head, 0);
        ctx->taken++;
        return false;
    }
    return true;
}

/* Copies 'packet' into the next available chain, which must be large enough
 * for it: the guest did not negotiate mergeable buffers.  Returns true if
 * the packet went to the guest, otherwise counts why not. */
static bool
enqueue_one(struct enqueue_ctx *ctx, const struct dp_packet *packet)
{
    const struct vhost_net_params *p = ctx->p;
    uint32_t size = dp_packet_size(packet);
    struct virtio_net_hdr_v1 hdr;
    struct virtq_chain chain;

    if (!enqueue_next_chain(ctx, &chain)) {
        return false;
    }
    if (OVS_UNLIKELY(chain.len < p->hdr_len + size)) {
        /* Leave the buffer to the guest for a packet that fits. */
        COVERAGE_INC(vhost_tx_oversize);
        drop(ctx->stats, VHOST_DROP_OVERSIZE);
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped %"PRIu32"-byte "
                     "packet: the guest's %"PRIu32"-byte receive buffers "
                     "are too small", p->name, p->vring, size, chain.len);
        return false;
    }

    virtio_net_hdr_from_packet(packet, &hdr);
    hdr.num_buffers = htole16(1);
    segs_write(chain.segs, 0, &hdr, p->hdr_len);
    segs_write(chain.segs, p->hdr_len, dp_packet_data(packet), size);
    virtq_used_add(ctx->vq, chain.head, p->hdr_len + size);
    ctx->taken++;
    return true;
}

/* Copies 'packet' into as many of the next available chains as it needs
 * (mergeable receive buffers).  As enqueue_one(). */
static bool
enqueue_merged(struct enqueue_ctx *ctx, const struct dp_packet *packet)
{
    const struct vhost_net_params *p = ctx->p;
    struct {
        uint16_t head;
        uint32_t len;
    } used[MAX_MERGED_BUFFERS];
    /* The first chain's segments that hold the header: its 'num_buffers' is
     * known only at the end. */
    struct virtq_seg hdr_segs[sizeof(struct virtio_net_hdr_v1)];
    const uint8_t *data = dp_packet_data(packet);
    uint32_t left = dp_packet_size(packet);
    uint16_t start = ctx->taken;
    struct virtio_net_hdr_v1 hdr;
    struct virtq_chain chain;
    size_t n_used = 0;

    while (!n_used || left) {
        uint32_t offset, n;

        if (OVS_UNLIKELY(n_used == MAX_MERGED_BUFFERS)) {
            COVERAGE_INC(vhost_tx_oversize);
            drop(ctx->stats, VHOST_DROP_OVERSIZE);
            VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped %"PRIu32"-"
                         "byte packet: it needs more than %d of the guest's "
                         "receive buffers", p->name, p->vring,
                         dp_packet_size(packet), MAX_MERGED_BUFFERS);
            /* The buffers we wrote into stay available, unused. */
            ctx->taken = start;
            return false;
        }

        if (!enqueue_next_chain(ctx, &chain)) {
            if (ctx->taken != start + n_used) {
                /* A bad chain, already given back.  The guest reads one
                 * packet's buffers from consecutive used entries, so the
                 * ones before it cannot wait for the next packet: give
                 * them back empty too. */
                for (size_t i = 0; i < n_used; i++) {
                    virtq_used_add(ctx->vq, used[i].head, 0);
                }
            } else {
                ctx->taken = start;
            }
            return false;
        }

        if (!n_used) {
            if (OVS_UNLIKELY(chain.len < p->hdr_len)) {
                COVERAGE_INC(vhost_desc_too_short);
                drop(ctx->stats, VHOST_DROP_BAD_DESCRIPTOR);
                VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped packet: "
                             "%"PRIu32"-byte receive buffer cannot hold the "
                             "virtio-net header", p->name, p->vring,
                             chain.len);
                virtq_used_add(ctx->vq, chain.head, 0);
                ctx->taken++;
                return false;
            }
            for (uint32_t i = 0, got = 0; got < p->hdr_len; i++) {
                hdr_segs[i] = chain.segs[i];
                got += chain.segs[i].len;
            }
            offset = p->hdr_len;
        } else {
            offset = 0;
        }

        n = MIN(left, chain.len - offset);
        segs_write(chain.segs, offset, data, n);
        data += n;
        left -= n;
        used[n_used].head = chain.head;
        used[n_used].len = offset + n;
        n_used++;
        ctx->taken++;
    }

    virtio_net_hdr_from_packet(packet, &hdr);
    hdr.num_buffers = htole16(n_used);
    segs_write(hdr_segs, 0, &hdr, p->hdr_len);
    for (size_t i = 0; i < n_used; i++) {
        virtq_used_add(ctx->vq, used[i].head, used[i].len);
    }
    return true;
}

/* Copies the packets in 'batch' into the guest's receive buffers on 'vq'.
 * Packets that do not fit are counted as dropped.  The caller still owns
 * 'batch'.  Returns VIRTQ_OK, or a fatal error after which the caller must
 * stop using the ring. */
enum virtq_error
vhost_net_enqueue(struct virtq *vq, const struct vhost_net_params *p,
                  struct dp_packet_batch *batch,
                  struct vhost_queue_stats *stats)
{
    struct enqueue_ctx ctx = {
        .vq = vq, .p = p, .stats = stats, .error = VIRTQ_OK,
    };
    struct dp_packet *packet;

    DP_PACKET_BATCH_FOR_EACH (i, packet, batch) {
        bool sent = (p->mergeable
                     ? enqueue_merged(&ctx, packet)
                     : enqueue_one(&ctx, packet));

        if (sent) {
            stats->packets++;
            stats->bytes += dp_packet_size(packet);
        } else if (OVS_UNLIKELY(ctx.error)) {
            /* The ring is broken: the rest of the batch goes nowhere. */
            stats->drops[VHOST_DROP_BAD_DESCRIPTOR]
                += dp_packet_batch_size(batch) - i;
            break;
        }
    }

    virtq_consume(vq, ctx.taken);
    publish_and_notify(vq, stats);
    return ctx.error;
}
