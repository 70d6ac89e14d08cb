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

#ifndef VIRTQ_H
#define VIRTQ_H 1

/* The device side of a virtqueue, split or packed.
 *
 * The driver (the guest) shares the ring with us and may rewrite any of it at
 * any time, so every value read from it is read exactly once into local
 * memory and checked before use: the avail index may move by at most the
 * ring size, a head or 'next' must be inside its table, a chain may not have
 * more hops than its table has entries, an indirect table may not nest, and
 * every buffer must lie inside the guest's memory table.  A chain that breaks
 * a rule is reported to the caller, which gives it back to the guest unused
 * and counts it; only a ring whose indexes make no sense (the avail index
 * jumping, a head out of range, a packed chain that never ends) is declared
 * broken.
 *
 * Chains are taken and completed in the order the driver made them
 * available, which is what VIRTIO_F_IN_ORDER asks of a device.
 *
 * Nothing here knows about packets or netdevs: callers get a chain as a list
 * of segments of our own address space. */

#include <endian.h>
#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"
#include "openvswitch/compiler.h"
#include "vhost-log.h"
#include "vhost-mem.h"

/* A packed descriptor's AVAIL and USED flags, as bits. */
#define VIRTQ_PACKED_AVAIL (1 << VRING_PACKED_DESC_F_AVAIL)
#define VIRTQ_PACKED_USED (1 << VRING_PACKED_DESC_F_USED)

/* The largest ring the virtio spec allows. */
#define VIRTQ_MAX_SIZE 32768

/* The most segments one chain may have once split at region boundaries.
 * Linux sends at most MAX_SKB_FRAGS + 2 descriptors for one packet. */
#define VIRTQ_MAX_SEGS 64

/* The most entries an indirect table may have. */
#define VIRTQ_MAX_INDIRECT 1024

/* What virtq_next_chain() found.  Each error has a COVERAGE counter and a
 * log message in the caller; see virtq_error_to_string(). */
enum virtq_error {
    VIRTQ_OK,
    VIRTQ_EMPTY,                /* No chain available: not an error. */
    /* The ring is broken: no more progress on it. */
    VIRTQ_ERR_AVAIL_IDX,        /* Avail index more than the size past the
                                 * used index, or behind chains taken. */
    VIRTQ_ERR_HEAD,             /* Head index outside the ring. */
    VIRTQ_ERR_UNTERMINATED,     /* Packed chain runs into slots that are
                                 * not available, or past the ring size. */
    /* Only this chain is bad. */
    VIRTQ_ERR_NEXT,             /* 'next' outside its table. */
    VIRTQ_ERR_LOOP,             /* More hops than entries: a loop. */
    VIRTQ_ERR_ADDR,             /* Buffer outside guest memory. */
    VIRTQ_ERR_DIRECTION,        /* Writable where readable expected, or
                                 * the other way round. */
    VIRTQ_ERR_INDIRECT,         /* Indirect table nested, not negotiated,
                                 * misaligned, too long or unmapped. */
    VIRTQ_ERR_TOO_MANY_SEGS,    /* More than VIRTQ_MAX_SEGS segments. */
    VIRTQ_ERR_TOO_LONG,         /* More bytes than fit in 32 bits. */
    N_VIRTQ_ERRORS
};

const char *virtq_error_to_string(enum virtq_error);

static inline bool
virtq_error_is_fatal(enum virtq_error error)
{
    return (error == VIRTQ_ERR_AVAIL_IDX || error == VIRTQ_ERR_HEAD
            || error == VIRTQ_ERR_UNTERMINATED);
}

/* One piece of a chain, in our address space. */
struct virtq_seg {
    uint8_t *addr;
    uint32_t len;
};

/* A descriptor chain, walked and checked. */
struct virtq_chain {
    uint16_t id;                /* What to put in the used ring: the head
                                 * (split) or the buffer id (packed). */
    uint16_t n_descs;           /* Ring slots it took (packed). */
    uint16_t n_segs;
    uint32_t len;               /* Sum of the segments' lengths. */
    struct virtq_seg segs[VIRTQ_MAX_SEGS];
};

/* Addresses of a ring's three parts, in the frontend's address space, as
 * SET_VRING_ADDR gives them.  For a packed ring, 'avail' is the driver
 * event suppression area and 'used' the device's. */
struct virtq_addrs {
    uint64_t desc;
    uint64_t avail;
    uint64_t used;
};

/* A position in the ring.  Split: a free-running 16-bit index.  Packed: a
 * slot and the wrap counter that goes with it. */
struct virtq_pos {
    uint16_t idx;
    bool wrap;
};

/* A used entry that virtq_used_add() keeps until virtq_flush_used(). */
struct virtq_used_entry {
    uint16_t slot;              /* Where in the ring it goes. */
    uint16_t id;
    uint32_t len;
    uint16_t flags;             /* Packed. */
};

/* How many used entries virtq_used_add() keeps at most: a batch of 32
 * packets in two buffers each.  One more writes them out early. */
#define VIRTQ_MAX_KEPT_USED 64

struct virtq {
    bool packed;                /* VIRTIO_F_RING_PACKED negotiated. */
    bool event_idx;             /* VIRTIO_RING_F_EVENT_IDX negotiated. */
    bool indirect;              /* VIRTIO_RING_F_INDIRECT_DESC negotiated. */
    bool in_order;              /* VIRTIO_F_IN_ORDER negotiated. */
    uint16_t size;
    const struct vhost_mem *mem;

    /* Our pointers into guest memory. */
    struct vring split;
    struct vring_packed_desc *desc;
    struct vring_packed_desc_event *driver_event;
    struct vring_packed_desc_event *device_event;

    struct virtq_pos avail;     /* Where the next chain starts. */
    struct virtq_pos used;      /* Next used entry to fill. */
    struct virtq_pos published; /* 'used' as of the last virtq_publish(). */
    uint16_t avail_idx;         /* Split: the avail index last read. */
    uint16_t first_used_flags;  /* Packed: flags of the used descriptor at
                                 * 'published', written by virtq_publish()
                                 * so that the guest sees a batch at once. */
    uint16_t n_kept_used;       /* Used entries in 'kept_used'. */
    struct virtq_used_entry kept_used[VIRTQ_MAX_KEPT_USED];
    bool notified_once;         /* Has the guest ever been notified? */
    int call_fd;                /* Eventfd that notifies the guest, or -1. */
    int kick_fd;                /* Eventfd the guest kicks, or -1: for a
                                 * data path that sleeps while idle. */
    bool kick_fd_broken;        /* 'kick_fd' did not read as an eventfd:
                                 * not waited on until it is replaced. */
    bool kicks_enabled;         /* Does the guest kick us?  See
                                 * virtq_enable_kicks(). */
    const struct vhost_log *log; /* While the guest migrates: where to mark
                                 * the pages we write.  NULL otherwise. */
};

int virtq_attach(struct virtq *, const struct vhost_mem *, bool packed,
                 uint16_t size, const struct virtq_addrs *, char **errp)
    OVS_WARN_UNUSED_RESULT;
bool virtq_valid_size(bool packed, uint32_t size);
int virtq_set_base(struct virtq *, uint32_t base, char **errp)
    OVS_WARN_UNUSED_RESULT;
uint32_t virtq_get_base(const struct virtq *);
uint16_t virtq_guest_used_idx(const struct virtq *);

enum virtq_error virtq_next_chain__(struct virtq *, bool device_writes,
                                    struct virtq_chain *);

/* Returns where the next chain starts, so that a caller can give back the
 * chains it took since with virtq_rewind(). */
static inline struct virtq_pos
virtq_tell(const struct virtq *vq)
{
    return vq->avail;
}

static inline void
virtq_rewind(struct virtq *vq, struct virtq_pos pos)
{
    vq->avail = pos;
}

void virtq_prefetch(const struct virtq *, uint16_t n);
void virtq_prefetch_buffers(const struct virtq *, uint16_t n,
                            bool for_write, uint32_t shared_len);
void virtq_used_add_in_order(struct virtq *, uint16_t last_id,
                             uint16_t n_chains, uint16_t n_descs);
bool virtq_publish(struct virtq *);
bool virtq_notify(const struct virtq *);
int virtq_read_eventfd(int fd, uint64_t *value);
void virtq_disable_kicks(struct virtq *);
bool virtq_enable_kicks(struct virtq *);

/* Marks the 'len' bytes at 'p', which the device wrote into the guest's
 * memory, in the dirty log, if the guest is migrating. */
static inline void
virtq_log_write(const struct virtq *vq, const void *p, uint64_t len)
{
    if (OVS_UNLIKELY(vq->log)) {
        vhost_log_hva(vq->log, vq->mem, p, len);
    }
}

/* As virtq_log_write() for the first 'len' bytes of the segments 'segs'. */
static inline void
virtq_log_segs(const struct virtq *vq, const struct virtq_seg *segs,
               uint32_t len)
{
    if (OVS_UNLIKELY(vq->log)) {
        for (; len; segs++) {
            uint32_t n = len < segs->len ? len : segs->len;

            vhost_log_hva(vq->log, vq->mem, segs->addr, n);
            len -= n;
        }
    }
}

/* Moves 'pos' 'n' slots on in a packed ring of 'size' slots, into the next
 * lap if it passes the end. */
static inline void
virtq_packed_advance(struct virtq_pos *pos, uint16_t n, uint16_t size)
{
    pos->idx += n;
    if (pos->idx >= size) {
        pos->idx -= size;
        pos->wrap = !pos->wrap;
    }
}

/* Takes the next chain the guest made available and walks it into 'chain',
 * which must consist of device-writable buffers if 'device_writes',
 * otherwise of device-readable ones.  Returns VIRTQ_EMPTY if there is none.
 *
 * On an error that is not fatal, the chain is taken and 'chain->id' and
 * 'chain->n_descs' are valid, so the caller can give it back with
 * virtq_used_add(..., 0).  On a fatal error nothing is taken; for
 * VIRTQ_ERR_AVAIL_IDX, 'vq->avail_idx' holds the index the guest wrote.
 *
 * Inline, for the chain nearly every packet comes in: one descriptor, no
 * NEXT, not indirect, pointing the right way, its buffer inside one region.
 * Out of line, the call and the general walk's saving and restoring of
 * registers cost more than taking such a chain does (see "Where the cycles
 * go" in Documentation/benchmarks.rst).  Every field is read once and
 * checked as the walk checks it; anything else changes nothing here and
 * goes to virtq_next_chain__(), which reads the ring anew and checks it
 * all. */
static inline ALWAYS_INLINE enum virtq_error
virtq_next_chain(struct virtq *vq, bool device_writes,
                 struct virtq_chain *chain)
{
    uint64_t addr, piece;
    uint32_t len;
    uint16_t id;
    uint8_t *p;

    if (vq->packed) {
        const volatile struct vring_packed_desc *d = &vq->desc[vq->avail.idx];
        /* Available in this lap, alone, the right way: one comparison. */
        const uint16_t mask = (VIRTQ_PACKED_AVAIL | VIRTQ_PACKED_USED
                               | VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT
                               | VRING_DESC_F_WRITE);
        uint16_t want = ((vq->avail.wrap
                          ? VIRTQ_PACKED_AVAIL : VIRTQ_PACKED_USED)
                         | (device_writes ? VRING_DESC_F_WRITE : 0));
        /* Acquire: the rest of the descriptor after its flags; pairs with
         * the driver's write barrier before it flips them. */
        uint16_t flags = le16toh(__atomic_load_n(&d->flags,
                                                 __ATOMIC_ACQUIRE));

        if (OVS_UNLIKELY((flags & mask) != want)) {
            return virtq_next_chain__(vq, device_writes, chain);
        }
        addr = le64toh(d->addr);
        len = le32toh(d->len);
        id = le16toh(d->id);
    } else {
        const struct vring *vring = &vq->split;
        const volatile struct vring_desc *d;
        uint16_t flags;

        if (vq->avail.idx == vq->avail_idx) {
            /* The guest's avail index must be read and checked. */
            return virtq_next_chain__(vq, device_writes, chain);
        }
        id = le16toh(*(const volatile __virtio16 *)
                     &vring->avail->ring[vq->avail.idx & (vq->size - 1)]);
        if (OVS_UNLIKELY(id >= vq->size)) {
            return virtq_next_chain__(vq, device_writes, chain);
        }
        d = &vring->desc[id];
        flags = le16toh(d->flags);
        if (OVS_UNLIKELY((flags & (VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT
                                   | VRING_DESC_F_WRITE))
                         != (device_writes ? VRING_DESC_F_WRITE : 0))) {
            return virtq_next_chain__(vq, device_writes, chain);
        }
        addr = le64toh(d->addr);
        len = le32toh(d->len);
    }

    piece = len;
    p = vhost_mem_gpa_to_hva(vq->mem, addr, &piece);
    if (OVS_UNLIKELY(!p || piece != len)) {
        return virtq_next_chain__(vq, device_writes, chain);
    }
    chain->id = id;
    chain->n_descs = vq->packed;
    chain->n_segs = 1;
    chain->len = len;
    chain->segs[0].addr = p;
    chain->segs[0].len = len;
    if (vq->packed) {
        virtq_packed_advance(&vq->avail, 1, vq->size);
    } else {
        vq->avail.idx++;
    }
    return VIRTQ_OK;
}

void virtq_flush_used(struct virtq *);

/* Fills the next used entry with the chain of 'id' that took 'n_descs'
 * slots (a virtq_chain's members), of which the device wrote 'len' bytes.
 * The guest does not see it until virtq_publish().  Inline: once a packet
 * each way.
 *
 * The entry is kept here and written with the rest of the batch by
 * virtq_flush_used(): the driver polls the line that holds the next used
 * entry, and written one packet at a time, between the copies, that line
 * would go to our core and back for each entry in it. */
static inline ALWAYS_INLINE void
virtq_used_add(struct virtq *vq, uint16_t id, uint16_t n_descs, uint32_t len)
{
    struct virtq_used_entry *e;

    if (OVS_UNLIKELY(vq->n_kept_used >= VIRTQ_MAX_KEPT_USED)) {
        virtq_flush_used(vq);
    }
    e = &vq->kept_used[vq->n_kept_used++];
    e->id = id;
    e->len = len;
    if (vq->packed) {
        e->slot = vq->used.idx;
        e->flags = (vq->used.wrap
                    ? VIRTQ_PACKED_AVAIL | VIRTQ_PACKED_USED : 0);
        if (len) {
            /* The spec's way of saying that 'len' means something. */
            e->flags |= VRING_DESC_F_WRITE;
        }
        virtq_packed_advance(&vq->used, n_descs, vq->size);
    } else {
        e->slot = vq->used.idx & (vq->size - 1);
        vq->used.idx++;
    }
}

struct ds;
void virtq_format_state(const struct virtq *, struct ds *);
void virtq_format_descriptors(const struct virtq *, struct ds *);

#endif /* virtq.h */
