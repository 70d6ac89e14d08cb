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
COVERAGE_DEFINE(vhost_ring_unterminated);
COVERAGE_DEFINE(vhost_desc_next);
COVERAGE_DEFINE(vhost_desc_loop);
COVERAGE_DEFINE(vhost_desc_addr);
COVERAGE_DEFINE(vhost_desc_direction);
COVERAGE_DEFINE(vhost_desc_indirect);
COVERAGE_DEFINE(vhost_desc_too_many_segs);
COVERAGE_DEFINE(vhost_desc_too_long);
COVERAGE_DEFINE(vhost_desc_too_short);
COVERAGE_DEFINE(vhost_rx_malformed);
COVERAGE_DEFINE(vhost_rx_invalid_offload);
COVERAGE_DEFINE(vhost_rx_oversize);
COVERAGE_DEFINE(vhost_tx_oversize);
COVERAGE_DEFINE(vhost_tx_ring_full);
COVERAGE_DEFINE(vhost_tx_invalid_offload);

/* The most guest buffers one packet may be spread over. */
#define MAX_MERGED_BUFFERS 128

const char *
vhost_drop_reason_name(enum vhost_drop_reason reason)
{
    switch (reason) {
    case VHOST_DROP_BAD_DESCRIPTOR: return "bad_descriptor";
    case VHOST_DROP_MALFORMED: return "malformed";
    case VHOST_DROP_INVALID_OFFLOAD: return "invalid_offload";
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
    case VIRTQ_ERR_UNTERMINATED: COVERAGE_INC(vhost_ring_unterminated);
        break;
    case VIRTQ_ERR_NEXT: COVERAGE_INC(vhost_desc_next); break;
    case VIRTQ_ERR_LOOP: COVERAGE_INC(vhost_desc_loop); break;
    case VIRTQ_ERR_ADDR: COVERAGE_INC(vhost_desc_addr); break;
    case VIRTQ_ERR_DIRECTION: COVERAGE_INC(vhost_desc_direction); break;
    case VIRTQ_ERR_INDIRECT: COVERAGE_INC(vhost_desc_indirect); break;
    case VIRTQ_ERR_TOO_MANY_SEGS: COVERAGE_INC(vhost_desc_too_many_segs);
        break;
    case VIRTQ_ERR_TOO_LONG: COVERAGE_INC(vhost_desc_too_long); break;
    case VIRTQ_OK:
    case VIRTQ_EMPTY:
    case N_VIRTQ_ERRORS:
        break;
    }
}

/* Logs and counts a descriptor chain, or a ring, that broke a rule. */
static void
log_chain_error(const struct virtq *vq, const struct vhost_net_params *p,
                enum virtq_error error, const struct virtq_chain *chain)
{
    count_virtq_error(error);
    if (error == VIRTQ_ERR_AVAIL_IDX) {
        uint16_t n_out = vq->avail_idx - vq->used.idx;

        if (n_out > vq->size) {
            VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": stopped: avail "
                         "index moved from %"PRIu16" to %"PRIu16", more "
                         "than the ring size %"PRIu16" past the used index "
                         "%"PRIu16, p->name, p->vring, vq->avail.idx,
                         vq->avail_idx, vq->size, vq->used.idx);
        } else {
            VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": stopped: avail "
                         "index went back from %"PRIu16" to %"PRIu16", "
                         "behind chains already taken", p->name, p->vring,
                         vq->avail.idx, vq->avail_idx);
        }
    } else if (virtq_error_is_fatal(error)) {
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": stopped: %s (at "
                     "%"PRIu16")", p->name, p->vring,
                     virtq_error_to_string(error), vq->avail.idx);
    } else {
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped packet: %s "
                     "(%s %"PRIu16")", p->name, p->vring,
                     virtq_error_to_string(error),
                     vq->packed ? "buffer id" : "head", chain->id);
    }
}

/* Copies 'len' bytes that start 'offset' bytes into the segments 'segs'
 * to 'dst'.  The segments hold at least 'offset + len' bytes. */
static void
segs_read__(const struct virtq_seg *segs, uint32_t offset, void *dst_,
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
segs_write__(const struct virtq_seg *segs, uint32_t offset,
             const void *src_, uint32_t len)
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

/* segs_read__() and segs_write__(), with the usual case first: a copy
 * within the first segment.  An empty copy may come with no segment at all
 * (an empty buffer).  ('offset + len' cannot wrap: a chain holds fewer than
 * 2**32 bytes.) */
static inline void
segs_read(const struct virtq_seg *segs, uint32_t offset, void *dst,
          uint32_t len)
{
    if (OVS_LIKELY(len && offset + len <= segs[0].len)) {
        memcpy(dst, segs[0].addr + offset, len);
    } else {
        segs_read__(segs, offset, dst, len);
    }
}

static inline void
segs_write(const struct virtq_seg *segs, uint32_t offset, const void *src,
           uint32_t len)
{
    if (OVS_LIKELY(len && offset + len <= segs[0].len)) {
        memcpy(segs[0].addr + offset, src, len);
    } else {
        segs_write__(segs, offset, src, len);
    }
}

/* Adds 'stats' to '*sum'. */
void
vhost_queue_stats_add(struct vhost_queue_stats *sum,
                      const struct vhost_queue_stats *stats)
{
    sum->packets += stats->packets;
    sum->bytes += stats->bytes;
    sum->notifications += stats->notifications;
    sum->kicks += stats->kicks;
    sum->waits += stats->waits;
    sum->retries += stats->retries;
    for (int r = 0; r < N_VHOST_DROP_REASONS; r++) {
        sum->drops[r] += stats->drops[r];
    }
    sum->csum_offloads += stats->csum_offloads;
    sum->tso_packets += stats->tso_packets;
    sum->sw_csums += stats->sw_csums;
    sum->sw_segmented += stats->sw_segmented;
    sum->segments += stats->segments;
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
    const char *reason;
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

    packet = dp_packet_pool_get_room(pool, size);
    segs_read(chain->segs, p->hdr_len, dp_packet_data(packet), size);
    dp_packet_set_size(packet, size);

    switch (virtio_net_hdr_to_packet(&hdr, p->features, packet, &reason)) {
    case VIRTIO_NET_RX_PLAIN:
        break;
    case VIRTIO_NET_RX_CSUM:
        stats->csum_offloads++;
        break;
    case VIRTIO_NET_RX_GSO:
        stats->tso_packets++;
        break;
    case VIRTIO_NET_RX_CSUM_DONE:
        stats->sw_csums++;
        break;
    case VIRTIO_NET_RX_INVALID:
    default:
        COVERAGE_INC(vhost_rx_invalid_offload);
        drop(stats, VHOST_DROP_INVALID_OFFLOAD);
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped %"PRIu32"-byte "
                     "packet: %s (flags %#"PRIx8", gso_type %#"PRIx8", "
                     "csum_start %"PRIu16", csum_offset %"PRIu16")",
                     p->name, p->vring, size, reason, hdr.flags,
                     hdr.gso_type, le16toh(hdr.csum_start),
                     le16toh(hdr.csum_offset));
        dp_packet_delete(packet);
        return NULL;
    }
    return packet;
}

/* Receives packets that the guest transmitted on 'vq' into 'batch', which
 * the caller initialized, until it is full.  Returns VIRTQ_OK, or a fatal
 * error after which the caller must stop using the ring. */
enum virtq_error
vhost_net_dequeue(struct virtq *vq, const struct vhost_net_params *p,
                  struct dp_packet_pool *pool, struct dp_packet_batch *batch,
                  struct vhost_queue_stats *stats)
{
    enum virtq_error error = VIRTQ_OK;
    struct virtq_chain chain;
    /* The chains taken, to give back together if the ring is in order. */
    uint16_t n_chains = 0;
    uint16_t n_descs = 0;
    uint16_t last_id = 0;

    virtq_prefetch(vq, NETDEV_MAX_BURST);
    virtq_prefetch_buffers(vq, NETDEV_MAX_BURST, false, 0);
    /* At most a batch of chains, good or bad, per call. */
    for (int i = dp_packet_batch_size(batch); i < NETDEV_MAX_BURST; i++) {
        struct dp_packet *packet = NULL;

        error = virtq_next_chain(vq, false, &chain);
        if (error == VIRTQ_EMPTY) {
            error = VIRTQ_OK;
            break;
        } else if (OVS_UNLIKELY(error)) {
            log_chain_error(vq, p, error, &chain);
            if (virtq_error_is_fatal(error)) {
                break;
            }
            drop(stats, VHOST_DROP_BAD_DESCRIPTOR);
            error = VIRTQ_OK;
        } else {
            packet = chain_to_packet(&chain, p, pool, stats);
        }

        /* Nothing is written into a chain the guest sent. */
        if (vq->in_order) {
            last_id = chain.id;
            n_descs += chain.n_descs;
            n_chains++;
        } else {
            virtq_used_add(vq, chain.id, chain.n_descs, 0);
        }
        if (packet) {
            stats->packets++;
            stats->bytes += dp_packet_size(packet);
            dp_packet_batch_add(batch, packet);
        }
    }

    if (n_chains) {
        virtq_used_add_in_order(vq, last_id, n_chains, n_descs);
    }
    publish_and_notify(vq, stats);
    return error;
}

/* Where the copy of a batch into the guest's receive buffers stands. */
struct enqueue_ctx {
    struct virtq *vq;
    const struct vhost_net_params *p;
    struct vhost_queue_stats *stats;
    int mtu;                    /* What a segment cut here may carry. */
    bool progress;              /* A frame went in since the last retry. */
    enum virtq_error error;     /* Fatal error, if any. */
};

/* What became of one packet. */
enum enqueue_result {
    ENQUEUE_SENT,
    ENQUEUE_DROPPED,            /* Counted. */
    ENQUEUE_NO_ROOM,            /* The ring is full: nothing taken, not yet
                                 * counted. */
};

/* What goes into the guest's buffers behind the virtio-net header 'hdr':
 * 'head', then 'body'.  A packet as it is has no body; a segment, or a
 * packet whose checksum is completed here, has its rewritten headers in
 * 'head' and the rest in 'body', straight from the packet. */
struct frame {
    const struct virtio_net_hdr_v1 *hdr;
    const uint8_t *head;
    uint32_t head_len;
    const uint8_t *body;
    uint32_t body_len;
};

static uint32_t
frame_len(const struct frame *f)
{
    return f->head_len + f->body_len;
}

/* Copies 'n' bytes of 'f' from 'f_ofs' on to 'seg_ofs' bytes into 'segs'. */
static void
frame_write(const struct frame *f, uint32_t f_ofs,
            const struct virtq_seg *segs, uint32_t seg_ofs, uint32_t n)
{
    if (f_ofs < f->head_len) {
        uint32_t k = MIN(n, f->head_len - f_ofs);

        segs_write(segs, seg_ofs, f->head + f_ofs, k);
        seg_ofs += k;
        f_ofs += k;
        n -= k;
    }
    if (n) {
        segs_write(segs, seg_ofs, f->body + (f_ofs - f->head_len), n);
    }
}

BUILD_ASSERT_DECL(offsetof(struct virtio_net_hdr_v1, csum_offset) == 8);

/* Copies the 'n' bytes at 'src' to guest memory at 'dst', unless 'dst'
 * holds them already.  A driver that reuses its receive buffers finds the
 * same header there from the last lap, and a line we do not write stays
 * in its cache: see virtq_prefetch_buffers().  What we read is only
 * compared, so a driver that changes it meanwhile fools only itself. */
static inline void
store_if_changed(uint8_t *dst, const void *src, size_t n)
{
    if (memcmp(dst, src, n)) {
        memcpy(dst, src, n);
    }
}

/* Writes the virtio-net header 'hdr', with 'num_buffers', the first
 * 'hdr_len' bytes of it, at the start of 'segs'.
 *
 * Not through a copy in local memory: the copy's narrow stores, read back 8
 * bytes at a time, cannot be forwarded, and such a load waits for every
 * older store to drain, including those to guest memory that the driver's
 * core holds.  Instead each field is read as wide as it was written and
 * the header goes out in two stores, each only if it changed: each store
 * to guest memory may wait in the store buffer for its line, and a full
 * store buffer stalls us. */
static void
write_net_hdr(const struct virtq_seg *segs,
              const struct virtio_net_hdr_v1 *hdr, uint16_t num_buffers,
              uint32_t hdr_len)
{
    if (OVS_LIKELY(segs[0].len >= hdr_len
                   && hdr_len >= offsetof(struct virtio_net_hdr_v1,
                                          num_buffers))) {
        uint64_t head = (hdr->flags
                         | (uint64_t) hdr->gso_type << 8
                         | (uint64_t) le16toh(hdr->hdr_len) << 16
                         | (uint64_t) le16toh(hdr->gso_size) << 32
                         | (uint64_t) le16toh(hdr->csum_start) << 48);
        uint32_t tail = (le16toh(hdr->csum_offset)
                         | (uint32_t) num_buffers << 16);

        head = htole64(head);
        store_if_changed(segs[0].addr, &head, sizeof head);
        if (hdr_len >= sizeof *hdr) {
            tail = htole32(tail);
            store_if_changed(segs[0].addr + sizeof head, &tail, sizeof tail);
        } else {
            /* A legacy header, without 'num_buffers'. */
            uint16_t csum_offset = hdr->csum_offset;

            store_if_changed(segs[0].addr + sizeof head, &csum_offset,
                             sizeof csum_offset);
        }
    } else {
        /* A header split across buffers: rare enough to take the copy. */
        struct virtio_net_hdr_v1 h = *hdr;

        h.num_buffers = htole16(num_buffers);
        segs_write(segs, 0, &h, hdr_len);
    }
}

/* Logs and counts the bad chain that enqueue_take_chain() got. */
static void
enqueue_bad_chain(struct enqueue_ctx *ctx, const struct virtq_chain *chain,
                  enum virtq_error error)
{
    log_chain_error(ctx->vq, ctx->p, error, chain);
    drop(ctx->stats, VHOST_DROP_BAD_DESCRIPTOR);
    if (virtq_error_is_fatal(error)) {
        ctx->error = error;
    }
}

/* Takes the next available chain into 'chain'.  Returns VIRTQ_OK, or why
 * not: VIRTQ_EMPTY (the ring is full), a bad chain (counted and taken: the
 * caller gives it back with a used entry), or a fatal error (counted, and
 * stored in 'ctx->error'). */
static inline ALWAYS_INLINE enum virtq_error
enqueue_take_chain(struct enqueue_ctx *ctx, struct virtq_chain *chain)
{
    enum virtq_error error = virtq_next_chain(ctx->vq, true, chain);

    if (OVS_UNLIKELY(error) && error != VIRTQ_EMPTY) {
        enqueue_bad_chain(ctx, chain, error);
    }
    return error;
}

/* Copies 'f' into the next available chain, which must be large enough for
 * it: the guest did not negotiate mergeable buffers.  Counts a drop, except
 * when the ring is full: the caller may try again. */
static enum enqueue_result
enqueue_one(struct enqueue_ctx *ctx, const struct frame *f)
{
    const struct vhost_net_params *p = ctx->p;
    struct virtq_pos start = virtq_tell(ctx->vq);
    uint32_t size = frame_len(f);
    struct virtq_chain chain;
    enum virtq_error error;

    error = enqueue_take_chain(ctx, &chain);
    if (OVS_UNLIKELY(error)) {
        if (error == VIRTQ_EMPTY) {
            return ENQUEUE_NO_ROOM;
        } else if (!virtq_error_is_fatal(error)) {
            /* Give the bad buffer back, empty. */
            virtq_used_add(ctx->vq, chain.id, chain.n_descs, 0);
        }
        return ENQUEUE_DROPPED;
    }
    if (OVS_UNLIKELY(chain.len < p->hdr_len + size)) {
        /* Leave the buffer to the guest for a packet that fits. */
        virtq_rewind(ctx->vq, start);
        COVERAGE_INC(vhost_tx_oversize);
        drop(ctx->stats, VHOST_DROP_OVERSIZE);
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped %"PRIu32"-byte "
                     "packet: the guest's %"PRIu32"-byte receive buffers "
                     "are too small", p->name, p->vring, size, chain.len);
        return ENQUEUE_DROPPED;
    }

    write_net_hdr(chain.segs, f->hdr, 1, p->hdr_len);
    frame_write(f, 0, chain.segs, p->hdr_len, size);
    virtq_log_segs(ctx->vq, chain.segs, p->hdr_len + size);
    virtq_used_add(ctx->vq, chain.id, chain.n_descs, p->hdr_len + size);
    return ENQUEUE_SENT;
}

/* A receive buffer that holds part of a packet. */
struct merged_buffer {
    uint16_t id;
    uint16_t n_descs;
    uint32_t len;
};

/* Copies 'f' into as many of the next available chains as it needs
 * (mergeable receive buffers).  As enqueue_one(). */
static enum enqueue_result
enqueue_merged(struct enqueue_ctx *ctx, const struct frame *f)
{
    const struct vhost_net_params *p = ctx->p;
    /* The buffers after the first. */
    struct merged_buffer bufs[MAX_MERGED_BUFFERS];
    /* The first chain, kept whole for its header, whose 'num_buffers' is
     * known only at the end, and the chain after it.  Neither its segments
     * nor its id are copied: reading a copy back soon after writing it
     * stalls (see write_net_hdr()). */
    struct virtq_chain chains[2];
    uint32_t first_len = 0;
    struct virtq_pos start = virtq_tell(ctx->vq);
    uint32_t size = frame_len(f);
    uint32_t done = 0;
    size_t n_bufs = 0;

    while (!n_bufs || done < size) {
        struct virtq_chain *chain = &chains[n_bufs ? 1 : 0];
        enum virtq_error error;
        uint32_t offset, n;

        if (OVS_UNLIKELY(n_bufs == MAX_MERGED_BUFFERS)) {
            COVERAGE_INC(vhost_tx_oversize);
            drop(ctx->stats, VHOST_DROP_OVERSIZE);
            VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped %"PRIu32"-"
                         "byte packet: it needs more than %d of the guest's "
                         "receive buffers", p->name, p->vring, size,
                         MAX_MERGED_BUFFERS);
            /* The buffers we wrote into stay available, unused. */
            virtq_rewind(ctx->vq, start);
            return ENQUEUE_DROPPED;
        }

        error = enqueue_take_chain(ctx, chain);
        if (OVS_UNLIKELY(error)) {
            if (error == VIRTQ_EMPTY || virtq_error_is_fatal(error)) {
                virtq_rewind(ctx->vq, start);
                return (error == VIRTQ_EMPTY
                        ? ENQUEUE_NO_ROOM : ENQUEUE_DROPPED);
            }
            /* The bad chain is taken.  Used entries go in ring order, so
             * the buffers taken before it go back too, empty. */
            if (n_bufs) {
                virtq_used_add(ctx->vq, chains[0].id, chains[0].n_descs, 0);
            }
            for (size_t i = 1; i < n_bufs; i++) {
                virtq_used_add(ctx->vq, bufs[i].id, bufs[i].n_descs, 0);
            }
            virtq_used_add(ctx->vq, chain->id, chain->n_descs, 0);
            return ENQUEUE_DROPPED;
        }

        if (!n_bufs) {
            if (OVS_UNLIKELY(chain->len < p->hdr_len)) {
                COVERAGE_INC(vhost_desc_too_short);
                drop(ctx->stats, VHOST_DROP_BAD_DESCRIPTOR);
                VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped packet: "
                             "%"PRIu32"-byte receive buffer cannot hold the "
                             "virtio-net header", p->name, p->vring,
                             chain->len);
                virtq_used_add(ctx->vq, chain->id, chain->n_descs, 0);
                return ENQUEUE_DROPPED;
            }
            offset = p->hdr_len;
        } else {
            offset = 0;
        }

        n = MIN(size - done, chain->len - offset);
        frame_write(f, done, chain->segs, offset, n);
        virtq_log_segs(ctx->vq, chain->segs, offset + n);
        done += n;
        if (!n_bufs) {
            first_len = offset + n;
        } else {
            bufs[n_bufs].id = chain->id;
            bufs[n_bufs].n_descs = chain->n_descs;
            bufs[n_bufs].len = offset + n;
        }
        n_bufs++;
    }

    write_net_hdr(chains[0].segs, f->hdr, n_bufs, p->hdr_len);
    virtq_log_segs(ctx->vq, chains[0].segs, p->hdr_len);
    virtq_used_add(ctx->vq, chains[0].id, chains[0].n_descs, first_len);
    for (size_t i = 1; i < n_bufs; i++) {
        virtq_used_add(ctx->vq, bufs[i].id, bufs[i].n_descs, bufs[i].len);
    }
    return ENQUEUE_SENT;
}

static enum enqueue_result
enqueue_frame(struct enqueue_ctx *ctx, const struct frame *f)
{
    enum enqueue_result result = (ctx->p->mergeable
                                  ? enqueue_merged(ctx, f)
                                  : enqueue_one(ctx, f));

    if (OVS_LIKELY(result == ENQUEUE_SENT)) {
        ctx->stats->packets++;
        ctx->stats->bytes += frame_len(f);
        ctx->progress = true;
    }
    return result;
}

/* Cuts the TCP packet 'packet' into segments of 'tx->mss' payload bytes
 * and copies them in, from payload offset '*done' on; advances '*done'
 * past each segment that went in, so that a retry resumes there. */
static enum enqueue_result
enqueue_segments(struct enqueue_ctx *ctx, const struct dp_packet *packet,
                 const struct virtio_net_tx *tx, uint32_t *done)
{
    union {
        uint8_t bytes[VIRTIO_NET_MAX_HEADERS];
        ovs_be32 align;
    } headers;
    const uint8_t *payload = (const uint8_t *) dp_packet_data(packet)
                             + tx->hdrs_len;
    uint32_t payload_len = tx->end - tx->hdrs_len;

    while (*done < payload_len) {
        uint32_t len = MIN(tx->mss, payload_len - *done);
        struct frame f = {
            .hdr = &tx->hdr,
            .head = headers.bytes,
            .head_len = virtio_net_tx_segment(packet, tx, *done, len,
                                              headers.bytes),
            .body = payload + *done,
            .body_len = len,
        };
        enum enqueue_result result = enqueue_frame(ctx, &f);

        if (result != ENQUEUE_SENT) {
            return result;
        }
        ctx->stats->segments++;
        *done += len;
    }
    ctx->stats->sw_segmented++;
    return ENQUEUE_SENT;
}

/* Copies 'packet' into the guest's buffers, doing here the offloads it asks
 * for that the guest did not negotiate.  '*done' is where a segmented packet
 * stands (0 to start). */
static enum enqueue_result
enqueue_packet(struct enqueue_ctx *ctx, const struct dp_packet *packet,
               uint32_t *done)
{
    const struct vhost_net_params *p = ctx->p;
    const uint8_t *data = dp_packet_data(packet);
    uint32_t size = dp_packet_size(packet);
    uint8_t csum_headers[VIRTIO_NET_MAX_HEADERS];
    enum virtio_net_tx_action action;
    enum enqueue_result result;
    struct virtio_net_tx tx;
    struct frame f;

    action = virtio_net_tx_prepare(packet, p->features, ctx->mtu, &tx);
    if (OVS_UNLIKELY(action == VIRTIO_NET_TX_INVALID)) {
        COVERAGE_INC(vhost_tx_invalid_offload);
        drop(ctx->stats, VHOST_DROP_INVALID_OFFLOAD);
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped %"PRIu32"-byte "
                     "packet: %s", p->name, p->vring, size, tx.reason);
        return ENQUEUE_DROPPED;
    } else if (action == VIRTIO_NET_TX_SEGMENT) {
        return enqueue_segments(ctx, packet, &tx, done);
    }

    /* A guest that announced its MTU takes no larger frame (with up to two
     * VLAN tags), unless it is to cut it itself. */
    if (OVS_UNLIKELY(p->guest_mtu && tx.hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE
                     && size > (uint32_t) p->guest_mtu + ETH_HEADER_LEN
                               + 2 * VLAN_HEADER_LEN)) {
        COVERAGE_INC(vhost_tx_oversize);
        drop(ctx->stats, VHOST_DROP_OVERSIZE);
        VLOG_WARN_RL(&rl, "%s: virtqueue %"PRIu16": dropped %"PRIu32"-byte "
                     "packet: larger than the guest's MTU %"PRIu16,
                     p->name, p->vring, size, p->guest_mtu);
        return ENQUEUE_DROPPED;
    }

    f.hdr = &tx.hdr;
    if (action == VIRTIO_NET_TX_CSUM) {
        /* The checksum goes into a copy of the headers. */
        uint32_t head_len = tx.csum_ofs + sizeof tx.csum;

        memcpy(csum_headers, data, tx.csum_ofs);
        memcpy(csum_headers + tx.csum_ofs, &tx.csum, sizeof tx.csum);
        f.head = csum_headers;
        f.head_len = head_len;
        f.body = data + head_len;
        f.body_len = size - head_len;
    } else {
        f.head = data;
        f.head_len = size;
        f.body = NULL;
        f.body_len = 0;
    }

    result = enqueue_frame(ctx, &f);
    if (result == ENQUEUE_SENT) {
        if (action == VIRTIO_NET_TX_CSUM) {
            ctx->stats->sw_csums++;
        } else if (tx.hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
            ctx->stats->tso_packets++;
        } else if (tx.hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
            ctx->stats->csum_offloads++;
        }
    }
    return result;
}

/* Copies the packets in 'batch' into the guest's receive buffers on 'vq'.
 * Packets that do not fit are counted as dropped.  A TCP packet that asks
 * for segmentation, to a guest that does not do it, is cut here to 'mtu'
 * (or the guest's MTU, if smaller).  When the ring fills up after some
 * frames went in, the guest is shown what it got and the ring is tried
 * again, at most 'retries_max' times in all (OVS's tx-retries-max for vhost
 * ports): a guest that is draining the ring gets the rest of the batch, one
 * that is not costs no more than one try.  The caller still owns 'batch'.
 * Returns VIRTQ_OK, or a fatal error after which the caller must stop using
 * the ring. */
enum virtq_error
vhost_net_enqueue(struct virtq *vq, const struct vhost_net_params *p,
                  struct dp_packet_batch *batch, int retries_max, int mtu,
                  struct vhost_queue_stats *stats)
{
    struct enqueue_ctx ctx = {
        .vq = vq, .p = p, .stats = stats, .error = VIRTQ_OK,
        .mtu = p->guest_mtu ? MIN(mtu, p->guest_mtu) : mtu,
    };
    size_t n = dp_packet_batch_size(batch);
    uint32_t done = 0;
    int retries = 0;

    virtq_prefetch(vq, n);
    virtq_prefetch_buffers(vq, n, true, p->hdr_len);
    for (size_t i = 0; i < n; ) {
        enum enqueue_result result;

        result = enqueue_packet(&ctx, batch->packets[i], &done);
        if (OVS_UNLIKELY(result == ENQUEUE_NO_ROOM)) {
            if (ctx.progress && retries < retries_max) {
                retries++;
                stats->retries++;
                ctx.progress = false;
                publish_and_notify(vq, stats);
                continue;
            }
            COVERAGE_ADD(vhost_tx_ring_full, n - i);
            stats->drops[VHOST_DROP_RING_FULL] += n - i;
            break;
        } else if (OVS_UNLIKELY(ctx.error)) {
            /* The ring is broken: the rest of the batch goes nowhere. */
            stats->drops[VHOST_DROP_BAD_DESCRIPTOR] += n - i - 1;
            break;
        }
        done = 0;
        i++;
    }

    publish_and_notify(vq, stats);
    return ctx.error;
}
