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

#include "virtq.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "openvswitch/dynamic-string.h"
#include "util.h"

/* Ring memory is little-endian (VIRTIO_F_VERSION_1, and legacy guests on
 * the little-endian hosts we run on). */
BUILD_ASSERT_DECL(__BYTE_ORDER == __LITTLE_ENDIAN);

const char *
virtq_error_to_string(enum virtq_error error)
{
    switch (error) {
    case VIRTQ_OK: return "no error";
    case VIRTQ_EMPTY: return "no buffer available";
    case VIRTQ_ERR_AVAIL_IDX: return "avail index out of range";
    case VIRTQ_ERR_HEAD: return "descriptor head outside the ring";
    case VIRTQ_ERR_UNTERMINATED: return "descriptor chain runs past the "
                                        "available descriptors";
    case VIRTQ_ERR_NEXT: return "descriptor 'next' outside its table";
    case VIRTQ_ERR_LOOP: return "descriptor chain loops";
    case VIRTQ_ERR_ADDR: return "buffer outside guest memory";
    case VIRTQ_ERR_DIRECTION: return "buffer with the wrong direction";
    case VIRTQ_ERR_INDIRECT: return "bad indirect descriptor table";
    case VIRTQ_ERR_TOO_MANY_SEGS: return "descriptor chain has too many "
                                         "segments";
    case VIRTQ_ERR_TOO_LONG: return "descriptor chain is too long";
    case N_VIRTQ_ERRORS: break;
    }
    return "unknown error";
}

/* Single reads of guest memory.  'volatile' keeps the compiler from reading
 * a field a second time after we checked it. */
static inline uint16_t
read_u16(const __virtio16 *p)
{
    return le16toh(*(const volatile __virtio16 *) p);
}

static inline void
read_split_desc(const struct vring_desc *src, struct vring_desc *dst)
{
    const volatile struct vring_desc *v = src;

    dst->addr = le64toh(v->addr);
    dst->len = le32toh(v->len);
    dst->flags = le16toh(v->flags);
    dst->next = le16toh(v->next);
}

static inline void
read_packed_desc(const struct vring_packed_desc *src,
                 struct vring_packed_desc *dst)
{
    const volatile struct vring_packed_desc *v = src;

    dst->addr = le64toh(v->addr);
    dst->len = le32toh(v->len);
    dst->id = le16toh(v->id);
    dst->flags = le16toh(v->flags);
}

#define PACKED_WRAP_BIT (1 << VRING_PACKED_EVENT_F_WRAP_CTR)

bool
virtq_valid_size(bool packed, uint32_t size)
{
    /* A packed ring may have any size; a split one needs a power of 2 to
     * turn free-running indexes into slots. */
    return size && size <= VIRTQ_MAX_SIZE && (packed || is_pow2(size));
}

/* Points 'vq' at the ring of 'size' entries whose parts are at 'addrs' in
 * the frontend's address space.  Each part must be aligned as the spec says
 * and lie entirely within one region of 'mem'.  The caller then places the
 * ring with virtq_set_base(). */
int
virtq_attach(struct virtq *vq, const struct vhost_mem *mem, bool packed,
             uint16_t size, const struct virtq_addrs *addrs, char **errp)
{
    uint64_t desc_size, avail_size, used_size;
    uint64_t desc_align, avail_align, used_align;
    void *desc, *avail, *used;

    *errp = NULL;
    if (!virtq_valid_size(packed, size)) {
        *errp = xasprintf("ring size %"PRIu16" is not %s %d", size,
                          packed ? "between 1 and" : "a power of 2 up to",
                          VIRTQ_MAX_SIZE);
        return EINVAL;
    }
    if (packed) {
        desc_size = (uint64_t) size * sizeof(struct vring_packed_desc);
        avail_size = used_size = sizeof(struct vring_packed_desc_event);
        desc_align = 16;
        avail_align = used_align = 4;
    } else {
        desc_size = (uint64_t) size * sizeof(struct vring_desc);
        /* flags, idx, ring[size], and the used_event that follows. */
        avail_size = 6 + 2 * (uint64_t) size;
        /* flags, idx, ring[size], and the avail_event that follows. */
        used_size = 6 + (uint64_t) size * sizeof(struct vring_used_elem);
        desc_align = VRING_DESC_ALIGN_SIZE;
        avail_align = VRING_AVAIL_ALIGN_SIZE;
        used_align = VRING_USED_ALIGN_SIZE;
    }
    if (addrs->desc % desc_align || addrs->avail % avail_align
        || addrs->used % used_align) {
        *errp = xstrdup("ring addresses are not aligned");
        return EINVAL;
    }

    desc = vhost_mem_uva_to_hva(mem, addrs->desc, desc_size);
    avail = vhost_mem_uva_to_hva(mem, addrs->avail, avail_size);
    used = vhost_mem_uva_to_hva(mem, addrs->used, used_size);
    if (!desc || !avail || !used) {
        *errp = xasprintf("%s ring at 0x%"PRIx64" is not in guest memory",
                          !desc ? "descriptor"
                          : !avail ? (packed ? "driver event" : "avail")
                          : (packed ? "device event" : "used"),
                          !desc ? addrs->desc
                          : !avail ? addrs->avail : addrs->used);
        return EFAULT;
    }

    memset(&vq->split, 0, sizeof vq->split);
    vq->desc = NULL;
    vq->driver_event = vq->device_event = NULL;
    vq->packed = packed;
    vq->size = size;
    vq->mem = mem;
    if (packed) {
        vq->desc = desc;
        vq->driver_event = avail;
        vq->device_event = used;
    } else {
        vq->split.num = size;
        vq->split.desc = desc;
        vq->split.avail = avail;
        vq->split.used = used;
        vq->used.idx = vq->published.idx = read_u16(&vq->split.used->idx);
    }
    vq->n_kept_used = 0;
    vq->notified_once = false;
    return 0;
}

/* The used index the guest's split ring holds, as of virtq_attach(). */
uint16_t
virtq_guest_used_idx(const struct virtq *vq)
{
    return vq->used.idx;
}

/* A packed ring position as SET_VRING_BASE and GET_VRING_BASE put it in 16
 * bits: the wrap counter in bit 15, the slot below. */
static struct virtq_pos
packed_pos_decode(uint16_t value)
{
    return (struct virtq_pos) {
        .idx = value & ~PACKED_WRAP_BIT,
        .wrap = value & PACKED_WRAP_BIT,
    };
}

static uint16_t
packed_pos_encode(struct virtq_pos pos)
{
    return pos.idx | (pos.wrap ? PACKED_WRAP_BIT : 0);
}

/* Makes 'base' (SET_VRING_BASE's value) the next chain to take; every chain
 * before it has been used.  For a split ring it is the avail index.  For a
 * packed ring its lower half is the next avail position and its upper half
 * the next used one (QEMU); a frontend that sends only the lower half (DPDK
 * virtio-user) means both, which makes an upper half of 0 (slot 0, wrap
 * 0) ambiguous; we read it as DPDK's.  We start at the used position:
 * chains the previous backend took and did not use are still marked
 * available, and taking them again is what the guest waits for. */
int
virtq_set_base(struct virtq *vq, uint32_t base, char **errp)
{
    *errp = NULL;
    if (vq->packed) {
        struct virtq_pos pos = packed_pos_decode(base >> 16 ? base >> 16
                                                 : base);

        if (pos.idx >= vq->size) {
            *errp = xasprintf("base slot %"PRIu16" is outside the %"PRIu16
                              "-entry ring", pos.idx, vq->size);
            return EINVAL;
        }
        vq->avail = vq->used = vq->published = pos;
    } else {
        vq->avail.idx = vq->avail_idx = base;
    }
    vq->n_kept_used = 0;
    return 0;
}

/* The value for GET_VRING_BASE, as for virtq_set_base(). */
uint32_t
virtq_get_base(const struct virtq *vq)
{
    if (vq->packed) {
        return ((uint32_t) packed_pos_encode(vq->used) << 16
                | packed_pos_encode(vq->avail));
    }
    return vq->avail.idx;
}

/* Adds the guest buffer [gpa, gpa + len) to 'chain', split at region
 * boundaries. */
static enum virtq_error
chain_add_buffer(const struct virtq *vq, struct virtq_chain *chain,
                 uint64_t gpa, uint32_t len)
{
    if (OVS_UNLIKELY(len > UINT32_MAX - chain->len)) {
        return VIRTQ_ERR_TOO_LONG;
    }
    chain->len += len;

    while (len) {
        uint64_t piece = len;
        uint8_t *p = vhost_mem_gpa_to_hva(vq->mem, gpa, &piece);

        if (OVS_UNLIKELY(!p)) {
            return VIRTQ_ERR_ADDR;
        }
        if (OVS_UNLIKELY(chain->n_segs >= VIRTQ_MAX_SEGS)) {
            return VIRTQ_ERR_TOO_MANY_SEGS;
        }
        chain->segs[chain->n_segs].addr = p;
        chain->segs[chain->n_segs].len = piece;
        chain->n_segs++;
        gpa += piece;
        len -= piece;
    }
    return VIRTQ_OK;
}

static inline bool
wrong_direction(uint16_t flags, bool device_writes)
{
    return !(flags & VRING_DESC_F_WRITE) != !device_writes;
}

static void
chain_init(struct virtq_chain *chain)
{
    chain->id = 0;
    chain->n_descs = 0;
    chain->n_segs = 0;
    chain->len = 0;
}

/* Maps the indirect table that descriptor 'addr' and 'len' point to, of
 * entries of 'entry_size' bytes.  Returns it and its number of entries in
 * '*n', or NULL if it is empty, too long, misaligned or unmapped. */
static const void *
map_indirect(const struct virtq *vq, uint64_t addr, uint32_t len,
             size_t entry_size, uint32_t *n)
{
    uint64_t mapped = len;
    const void *table;

    /* Descriptors hold 64-bit fields: a table that is not 8-byte aligned
     * cannot be read as one.  (Linux's are kmalloc'd, so aligned.) */
    if (OVS_UNLIKELY(!vq->indirect || !len || len % entry_size
                     || len / entry_size > VIRTQ_MAX_INDIRECT || addr % 8)) {
        return NULL;
    }
    table = vhost_mem_gpa_to_hva(vq->mem, addr, &mapped);
    if (OVS_UNLIKELY(!table || mapped != len)) {
        return NULL;
    }
    *n = len / entry_size;
    return table;
}

/* ## ----- ## */
/* ## Split ## */
/* ## ----- ## */

/* Walks the chain whose head is 'head' into 'chain'. */
static enum virtq_error
split_walk(const struct virtq *vq, uint16_t head, bool device_writes,
           struct virtq_chain *chain)
{
    const struct vring_desc *table = vq->split.desc;
    uint32_t table_size = vq->size;
    bool in_indirect = false;
    uint32_t hops = 0;

    for (uint32_t idx = head;;) {
        struct vring_desc d;
        enum virtq_error error;

        if (OVS_UNLIKELY(idx >= table_size)) {
            return VIRTQ_ERR_NEXT;
        }
        if (OVS_UNLIKELY(++hops > table_size)) {
            return VIRTQ_ERR_LOOP;
        }
        read_split_desc(&table[idx], &d);

        if (d.flags & VRING_DESC_F_INDIRECT) {
            /* One table per chain, never nested, never with NEXT. */
            if (OVS_UNLIKELY(in_indirect || d.flags & VRING_DESC_F_NEXT)) {
                return VIRTQ_ERR_INDIRECT;
            }
            table = map_indirect(vq, d.addr, d.len, sizeof *table,
                                 &table_size);
            if (OVS_UNLIKELY(!table)) {
                return VIRTQ_ERR_INDIRECT;
            }
            in_indirect = true;
            hops = 0;
            idx = 0;
            continue;
        }

        if (OVS_UNLIKELY(wrong_direction(d.flags, device_writes))) {
            return VIRTQ_ERR_DIRECTION;
        }
        error = chain_add_buffer(vq, chain, d.addr, d.len);
        if (OVS_UNLIKELY(error)) {
            return error;
        }
        if (!(d.flags & VRING_DESC_F_NEXT)) {
            return VIRTQ_OK;
        }
        idx = d.next;
    }
}

static enum virtq_error
split_next_chain(struct virtq *vq, bool device_writes,
                 struct virtq_chain *chain)
{
    const struct vring *vring = &vq->split;
    uint16_t head;

    if (vq->avail.idx == vq->avail_idx) {
        /* Acquire: the ring entries and descriptors behind the new index
         * must be read after the index; pairs with the driver's write
         * barrier before it publishes the index. */
        uint16_t idx = le16toh(__atomic_load_n(&vring->avail->idx,
                                               __ATOMIC_ACQUIRE));
        uint16_t n_out = idx - vq->used.idx;
        uint16_t n_taken = vq->avail.idx - vq->used.idx;

        vq->avail_idx = idx;
        /* The guest may have at most a ring's worth of chains out: count
         * from the oldest we took and have not used yet.  Nor may the index
         * go back past chains we took; a used index the guest rewrote while
         * the ring was detached looks the same. */
        if (OVS_UNLIKELY(n_out > vq->size || n_taken > n_out)) {
            return VIRTQ_ERR_AVAIL_IDX;
        }
        if (idx == vq->avail.idx) {
            return VIRTQ_EMPTY;
        }
    }

    head = read_u16(&vring->avail->ring[vq->avail.idx & (vq->size - 1)]);
    chain->id = head;
    if (OVS_UNLIKELY(head >= vq->size)) {
        return VIRTQ_ERR_HEAD;
    }
    vq->avail.idx++;
    return split_walk(vq, head, device_writes, chain);
}

/* Marks the parts of the ring the device writes in the dirty log, if the
 * guest is migrating: all of them, which for a ring of 256 entries is a page
 * or two, rather than keeping track of which entries changed. */
static void
log_ring(const struct virtq *vq)
{
    if (OVS_UNLIKELY(vq->log)) {
        if (vq->packed) {
            virtq_log_write(vq, vq->desc, vq->size * sizeof *vq->desc);
            virtq_log_write(vq, vq->device_event, sizeof *vq->device_event);
        } else {
            /* flags, idx, ring[size], and the avail_event that follows. */
            virtq_log_write(vq, vq->split.used,
                            6 + vq->size * sizeof vq->split.used->ring[0]);
        }
    }
}

static bool
split_publish(struct virtq *vq)
{
    const struct vring *vring = &vq->split;
    uint16_t old = vq->published.idx;
    uint16_t new = vq->used.idx;

    /* Release: the used entries and the buffers' contents must be visible
     * before the index; pairs with the driver's read barrier after it reads
     * the index. */
    __atomic_store_n(&vring->used->idx, htole16(new), __ATOMIC_RELEASE);
    vq->published = vq->used;
    log_ring(vq);

    /* The index must be visible before we read whether the driver wants a
     * notification; pairs with the barrier the driver issues between
     * re-enabling notifications and checking the used index again. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    if (vq->event_idx) {
        return vring_need_event(read_u16(&vring_used_event(vring)), new, old);
    }
    return !(read_u16(&vring->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

/* ## ------ ## */
/* ## Packed ## */
/* ## ------ ## */

static inline bool
packed_desc_is_avail(uint16_t flags, bool wrap)
{
    return (!(flags & VIRTQ_PACKED_AVAIL) == !wrap
            && !(flags & VIRTQ_PACKED_USED) != !wrap);
}

/* Adds the buffer of descriptor 'd', or the buffers of the indirect table it
 * points to, to 'chain'.  'alone' says whether 'd' is the whole chain, as a
 * descriptor that points to a table must be. */
static enum virtq_error
packed_add_desc(const struct virtq *vq, const struct vring_packed_desc *d,
                bool alone, bool device_writes, struct virtq_chain *chain)
{
    if (d->flags & VRING_DESC_F_INDIRECT) {
        const struct vring_packed_desc *table;
        uint32_t n;

        if (OVS_UNLIKELY(!alone)) {
            return VIRTQ_ERR_INDIRECT;
        }
        table = map_indirect(vq, d->addr, d->len, sizeof *table, &n);
        if (OVS_UNLIKELY(!table)) {
            return VIRTQ_ERR_INDIRECT;
        }
        for (uint32_t i = 0; i < n; i++) {
            struct vring_packed_desc e;
            enum virtq_error error;

            read_packed_desc(&table[i], &e);
            if (OVS_UNLIKELY(e.flags & VRING_DESC_F_INDIRECT)) {
                return VIRTQ_ERR_INDIRECT;
            }
            if (OVS_UNLIKELY(wrong_direction(e.flags,
                                             device_writes))) {
                return VIRTQ_ERR_DIRECTION;
            }
            error = chain_add_buffer(vq, chain, e.addr, e.len);
            if (OVS_UNLIKELY(error)) {
                return error;
            }
        }
        return VIRTQ_OK;
    }

    if (OVS_UNLIKELY(wrong_direction(d->flags, device_writes))) {
        return VIRTQ_ERR_DIRECTION;
    }
    return chain_add_buffer(vq, chain, d->addr, d->len);
}

/* A packed chain occupies consecutive available slots and ends at the first
 * descriptor without NEXT, which holds the buffer id.  A bad buffer in the
 * middle does not end the walk: the used entry needs the id and the slot
 * count, so the rest of the chain is still read, though not mapped. */
static enum virtq_error
packed_next_chain(struct virtq *vq, bool device_writes,
                  struct virtq_chain *chain)
{
    struct virtq_pos pos = vq->avail;
    enum virtq_error error = VIRTQ_OK;
    struct vring_packed_desc d;
    /* Acquire: the descriptors of the chain must be read after the head's
     * flags; pairs with the driver's write barrier before it flips them. */
    uint16_t head_flags = le16toh(__atomic_load_n(&vq->desc[pos.idx].flags,
                                                  __ATOMIC_ACQUIRE));

    if (!packed_desc_is_avail(head_flags, pos.wrap)) {
        return VIRTQ_EMPTY;
    }

    do {
        if (OVS_UNLIKELY(chain->n_descs == vq->size)) {
            return VIRTQ_ERR_UNTERMINATED;
        }
        read_packed_desc(&vq->desc[pos.idx], &d);
        if (!chain->n_descs) {
            d.flags = head_flags;
        } else if (OVS_UNLIKELY(!packed_desc_is_avail(d.flags, pos.wrap))) {
            /* The driver makes the rest of a chain available before its
             * head: this chain runs into slots it does not own. */
            return VIRTQ_ERR_UNTERMINATED;
        }
        chain->n_descs++;
        if (OVS_LIKELY(!error)) {
            bool alone = (chain->n_descs == 1
                          && !(d.flags & VRING_DESC_F_NEXT));

            error = packed_add_desc(vq, &d, alone, device_writes, chain);
        }
        virtq_packed_advance(&pos, 1, vq->size);
    } while (d.flags & VRING_DESC_F_NEXT);

    chain->id = d.id;
    vq->avail = pos;
    return error;
}

/* Does the driver want an interrupt for the used entries from 'old' up to
 * 'new'? */
static bool
packed_need_event(const struct virtq *vq, struct virtq_pos old,
                  struct virtq_pos new)
{
    /* Acquire: the driver writes 'off_wrap' before it sets DESC. */
    uint16_t flags = le16toh(__atomic_load_n(&vq->driver_event->flags,
                                             __ATOMIC_ACQUIRE));
    uint16_t off_wrap;
    int old_idx, new_idx, event;

    if (flags == VRING_PACKED_EVENT_FLAG_DISABLE) {
        return false;
    }
    if (flags != VRING_PACKED_EVENT_FLAG_DESC || !vq->event_idx) {
        return true;
    }

    /* Place all three on one line: 'new' at its slot, 'old' a lap back if
     * the batch wrapped, the event a lap back if it is for the previous
     * lap.  The driver wants to hear if the event is in [old, new). */
    off_wrap = read_u16(&vq->driver_event->off_wrap);
    new_idx = new.idx;
    old_idx = old.idx;
    if (new_idx <= old_idx) {
        old_idx -= vq->size;
    }
    event = off_wrap & ~PACKED_WRAP_BIT;
    if (!(off_wrap & PACKED_WRAP_BIT) != !new.wrap) {
        event -= vq->size;
    }
    return event >= old_idx && event < new_idx;
}

static bool
packed_publish(struct virtq *vq)
{
    struct virtq_pos old = vq->published;

    /* Release: the used entries and the buffers' contents must be visible
     * before the first entry's flags. */
    __atomic_store_n(&vq->desc[old.idx].flags, htole16(vq->first_used_flags),
                     __ATOMIC_RELEASE);
    vq->published = vq->used;
    log_ring(vq);

    /* As in split_publish(). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return packed_need_event(vq, old, vq->used);
}

/* ## ------ ## */
/* ## Common ## */
/* ## ------ ## */

/* The general case of virtq_next_chain(), in virtq.h: any chain, and
 * the ring's index, emptiness and errors. */
enum virtq_error
virtq_next_chain__(struct virtq *vq, bool device_writes,
                   struct virtq_chain *chain)
{
    chain_init(chain);
    return (vq->packed
            ? packed_next_chain(vq, device_writes, chain)
            : split_next_chain(vq, device_writes, chain));
}

/* Starts loading the ring entries of the next 'n' chains, one descriptor
 * each, into the cache.  The driver wrote them from another core: taken one
 * by one, each line would be a miss in series; asked for together, the
 * misses overlap.  Reads nothing, so checks nothing. */
void
virtq_prefetch(const struct virtq *vq, uint16_t n)
{
    uint16_t size = vq->size;

    n = MIN(n, size);
    if (!n) {
        return;
    } else if (vq->packed) {
        /* Four descriptors to a 64-byte line; any ring size. */
        for (uint16_t i = 0; i < n; i += 4) {
            uint32_t slot = vq->avail.idx + i;

            OVS_PREFETCH(&vq->desc[slot < size ? slot : slot - size]);
        }
    } else {
        const struct vring_avail *avail = vq->split.avail;

        OVS_PREFETCH(&avail->idx);
        for (uint16_t i = 0; i < n; i += 32) {
            OVS_PREFETCH(&avail->ring[(vq->avail.idx + i) & (size - 1)]);
        }
    }
}

/* Starts loading the cache lines that hold the first 'len' bytes at
 * 'start', to write them if 'for_write'.  For writing, a line must come
 * over from the driver's core exclusive: a plain prefetch would fetch it
 * shared, and the store would still wait for the other copy to be
 * invalidated. */
static inline void
prefetch_range(const uint8_t *start, uint32_t len, bool for_write)
{
    uintptr_t end = (uintptr_t) start + len;

    for (uintptr_t line = (uintptr_t) start & ~(uintptr_t) 63; line < end;
         line += 64) {
        const uint8_t *p = (const uint8_t *) line;

        if (for_write) {
#if defined(__x86_64__)
            /* Not __builtin_prefetch(p, 1): without -mprfchw it is a read
             * prefetch.  An x86-64 CPU older than PREFETCHW takes it as a
             * NOP. */
            asm volatile("prefetchw %0" : : "m" (*p));
#else
            OVS_PREFETCH_WRITE(p);
#endif
        } else {
            OVS_PREFETCH(p);
        }
    }
}

/* Prefetches the first 'len' bytes at 'p', as virtq_prefetch_buffers(). */
static inline void
prefetch_buffer(const uint8_t *p, uint32_t len, bool for_write,
                uint32_t shared_len)
{
    if (for_write && shared_len) {
        const uint8_t *rest = p + MIN(len, shared_len);

        if (((uintptr_t) p ^ (uintptr_t) rest) & ~(uintptr_t) 63) {
            OVS_PREFETCH(p);
        }
        prefetch_range(rest, len - (rest - p), true);
    } else {
        prefetch_range(p, len, for_write);
    }
}

/* How much of each buffer virtq_prefetch_buffers() asks for: a virtio-net
 * header and the packet headers behind it, or all of a small packet. */
#define PREFETCH_BUFFER_BYTES 128

/* Starts loading into the cache the start of the buffers of the next 'n'
 * descriptors the driver made available, to write them if 'for_write'.
 * The driver wrote those descriptors, and for a transmit ring the buffers,
 * from another core: taken one packet at a time, the buffer misses come in
 * series, each a trip to the other core; asked for together here, they
 * overlap.
 *
 * With 'for_write', a line that holds nothing but the first 'shared_len'
 * bytes of a buffer is asked for to read: the caller stores only what
 * changed there (see write_net_hdr()), and a line left unwritten stays in
 * the driver's cache too, instead of bouncing to us and back each packet.
 *
 * Only a hint: the descriptors are read but neither taken nor trusted, and
 * virtq_next_chain() reads and checks them again.  A buffer that is not in
 * guest memory is skipped, and a prefetch cannot fault anyway.  Indirect
 * tables are not followed. */
void
virtq_prefetch_buffers(const struct virtq *vq, uint16_t n, bool for_write,
                       uint32_t shared_len)
{
    uint16_t size = vq->size;

    n = MIN(n, size);
    if (vq->packed) {
        struct virtq_pos pos = vq->avail;

        for (uint16_t i = 0; i < n; i++) {
            const volatile struct vring_packed_desc *d = &vq->desc[pos.idx];
            uint16_t flags = le16toh(d->flags);
            /* Each field read once: MIN() would read 'len' twice. */
            uint64_t len = le32toh(d->len);
            uint8_t *p;

            if ((flags & (VIRTQ_PACKED_AVAIL | VIRTQ_PACKED_USED))
                != (pos.wrap ? VIRTQ_PACKED_AVAIL : VIRTQ_PACKED_USED)) {
                break;
            }
            len = MIN(len, PREFETCH_BUFFER_BYTES);
            p = vhost_mem_gpa_to_hva(vq->mem, le64toh(d->addr), &len);
            if (p && !(flags & VRING_DESC_F_INDIRECT)) {
                prefetch_buffer(p, len, for_write, shared_len);
            }
            virtq_packed_advance(&pos, 1, size);
        }
    } else {
        const struct vring *vring = &vq->split;
        uint16_t n_avail = (le16toh(*(const volatile __virtio16 *)
                                    &vring->avail->idx)
                            - vq->avail.idx);

        n = MIN(n, n_avail);
        for (uint16_t i = 0; i < n; i++) {
            uint16_t head = le16toh(*(const volatile __virtio16 *)
                                    &vring->avail->ring[(vq->avail.idx + i)
                                                        & (size - 1)]);
            const volatile struct vring_desc *d;
            uint64_t len;
            uint8_t *p;

            if (head >= size) {
                break;
            }
            d = &vring->desc[head];
            len = le32toh(d->len);
            len = MIN(len, PREFETCH_BUFFER_BYTES);
            p = vhost_mem_gpa_to_hva(vq->mem, le64toh(d->addr), &len);
            if (p && !(le16toh(d->flags) & VRING_DESC_F_INDIRECT)) {
                prefetch_buffer(p, len, for_write, shared_len);
            }
        }
    }
}

/* Gives back the 'n_chains' chains taken last, which took 'n_descs' slots
 * and the last of which is 'last_id', as unwritten, in one used entry: with
 * VIRTIO_F_IN_ORDER, an entry with the id of a batch's last buffer says that
 * the whole batch is used, and the device skips ahead by the batch.  A
 * driver that sends keeps reading the slot of the next used entry; one
 * entry a batch instead of one a chain takes that line from its core once
 * instead of for every chain.  The driver learns no lengths this way, so
 * only for buffers the device did not write. */
void
virtq_used_add_in_order(struct virtq *vq, uint16_t last_id,
                        uint16_t n_chains, uint16_t n_descs)
{
    virtq_used_add(vq, last_id, n_descs, 0);
    if (!vq->packed) {
        vq->used.idx += n_chains - 1;
    }
}

/* Makes the used entries filled since the last call visible to the guest.
 * Returns true if the guest wants to be told about them. */
bool
virtq_publish(struct virtq *vq)
{
    bool need;

    if (vq->used.idx == vq->published.idx
        && vq->used.wrap == vq->published.wrap) {
        return false;
    }

    virtq_flush_used(vq);
    need = vq->packed ? packed_publish(vq) : split_publish(vq);
    if (!vq->notified_once) {
        /* A driver may have set up its suppression before we attached:
         * notify it once regardless. */
        vq->notified_once = true;
        return true;
    }
    return need;
}

/* Writes the used entries virtq_used_add() kept into the ring, but for the
 * flags of a packed ring's first unpublished entry, which virtq_publish()
 * writes last: until then the driver sees none of them. */
void
virtq_flush_used(struct virtq *vq)
{
    const struct virtq_used_entry *e = vq->kept_used;
    const struct virtq_used_entry *end = e + vq->n_kept_used;

    if (vq->packed) {
        for (; e < end; e++) {
            struct vring_packed_desc *desc = &vq->desc[e->slot];

            desc->id = htole16(e->id);
            desc->len = htole32(e->len);
            if (e->slot == vq->published.idx) {
                /* The batch's first: no later entry takes its slot, as a
                 * batch takes at most the ring. */
                vq->first_used_flags = e->flags;
            } else {
                __atomic_store_n(&desc->flags, htole16(e->flags),
                                 __ATOMIC_RELEASE);
            }
        }
    } else {
        for (; e < end; e++) {
            struct vring_used_elem *elem = &vq->split.used->ring[e->slot];

            elem->id = htole32(e->id);
            elem->len = htole32(e->len);
        }
    }
    vq->n_kept_used = 0;
}

/* Interrupts the guest, if it gave us a way to.  Returns true if it did. */
bool
virtq_notify(const struct virtq *vq)
{
    static const uint64_t one = 1;

    /* An eventfd write fails only if the counter would overflow, which
     * means the guest has a notification pending anyway. */
    return vq->call_fd >= 0 && write(vq->call_fd, &one, sizeof one) > 0;
}

/* Reads and resets the counter of eventfd 'fd' into '*value'.  Returns 0,
 * EAGAIN if it was 0, or another positive errno value if 'fd' does not read
 * as an eventfd.  Never blocks: the frontend shares the descriptor's file
 * description with us and may have made it blocking. */
int
virtq_read_eventfd(int fd, uint64_t *value)
{
    struct iovec iov = { .iov_base = value, .iov_len = sizeof *value };
    ssize_t retval;

    do {
        retval = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
    } while (retval < 0 && errno == EINTR);

    return (retval == sizeof *value ? 0
            : retval < 0 ? errno
            : EPROTO);
}

/* We poll the ring, so the driver need not kick us.  For a split ring with
 * EVENT_IDX this sets avail_event to just behind where we are, which no kick
 * decision of the driver can cross for another 65535 entries; without it,
 * sets VRING_USED_F_NO_NOTIFY.  A packed ring has a flag for it. */
void
virtq_disable_kicks(struct virtq *vq)
{
    if (vq->packed) {
        vq->device_event->flags = htole16(VRING_PACKED_EVENT_FLAG_DISABLE);
    } else if (vq->event_idx) {
        uint16_t behind = vq->avail.idx - 1;

        vring_avail_event(&vq->split) = htole16(behind);
    } else {
        vq->split.used->flags = htole16(VRING_USED_F_NO_NOTIFY);
    }
    vq->kicks_enabled = false;
    log_ring(vq);
}

/* Asks the driver to kick us for the next chain it makes available, before
 * the data path sleeps.  Returns true if a chain is available already: the
 * driver may have looked at our flags before we changed them, so it may not
 * kick for it, and the caller must not sleep. */
bool
virtq_enable_kicks(struct virtq *vq)
{
    if (vq->packed) {
        vq->device_event->flags = htole16(VRING_PACKED_EVENT_FLAG_ENABLE);
    } else if (vq->event_idx) {
        vring_avail_event(&vq->split) = htole16(vq->avail.idx);
    } else {
        vq->split.used->flags = 0;
    }
    vq->kicks_enabled = true;
    log_ring(vq);

    /* Our flags must be visible before we look at the ring again; pairs
     * with the barrier the driver issues between making a chain available
     * and reading whether to kick.  One of us sees the other's write. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    if (vq->packed) {
        return packed_desc_is_avail(read_u16(&vq->desc[vq->avail.idx].flags),
                                    vq->avail.wrap);
    }
    return read_u16(&vq->split.avail->idx) != vq->avail.idx;
}

/* ## ------------- ## */
/* ## Observability ## */
/* ## ------------- ## */

static void
format_desc_flags(struct ds *s, uint16_t flags)
{
    static const struct {
        uint16_t bit;
        const char *name;
    } names[] = {
        { VRING_DESC_F_NEXT, "NEXT" },
        { VRING_DESC_F_WRITE, "WRITE" },
        { VRING_DESC_F_INDIRECT, "INDIRECT" },
        { VIRTQ_PACKED_AVAIL, "AVAIL" },
        { VIRTQ_PACKED_USED, "USED" },
    };
    size_t start = s->length;

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (flags & names[i].bit) {
            ds_put_format(s, "%s%s", s->length > start ? "|" : "",
                          names[i].name);
            flags &= ~names[i].bit;
        }
    }
    if (flags || s->length == start) {
        ds_put_format(s, "%s%#"PRIx16, s->length > start ? "|" : "", flags);
    }
}

/* Appends where the ring stands, as we and the guest see it, to 's'.  The
 * guest's side is read from its memory, which the caller keeps mapped. */
void
virtq_format_state(const struct virtq *vq, struct ds *s)
{
    if (vq->packed) {
        uint16_t head_flags = read_u16(&vq->desc[vq->avail.idx].flags);

        ds_put_format(s, "packed, %"PRIu16" entries; next avail slot "
                      "%"PRIu16" wrap %d (its flags ", vq->size,
                      vq->avail.idx, vq->avail.wrap);
        format_desc_flags(s, head_flags);
        ds_put_format(s, "), next used slot %"PRIu16" wrap %d; driver "
                      "event flags %"PRIu16" off_wrap %#"PRIx16", device "
                      "event flags %"PRIu16,
                      vq->used.idx, vq->used.wrap,
                      read_u16(&vq->driver_event->flags),
                      read_u16(&vq->driver_event->off_wrap),
                      read_u16(&vq->device_event->flags));
    } else {
        const struct vring *vring = &vq->split;

        ds_put_format(s, "split, %"PRIu16" entries; avail idx %"PRIu16
                      " (next to take %"PRIu16"), used idx %"PRIu16
                      "; avail flags %#"PRIx16", used flags %#"PRIx16,
                      vq->size, read_u16(&vring->avail->idx),
                      vq->avail.idx, read_u16(&vring->used->idx),
                      read_u16(&vring->avail->flags),
                      read_u16(&vring->used->flags));
        if (vq->event_idx) {
            ds_put_format(s, ", used_event %"PRIu16", avail_event %"PRIu16,
                          read_u16(&vring_used_event(vring)),
                          read_u16(&vring_avail_event(vring)));
        }
    }
}

/* Appends every descriptor of the ring, and for a split ring its avail and
 * used rings, to 's', one line each. */
void
virtq_format_descriptors(const struct virtq *vq, struct ds *s)
{
    if (vq->packed) {
        for (uint32_t i = 0; i < vq->size; i++) {
            struct vring_packed_desc d;

            read_packed_desc(&vq->desc[i], &d);
            ds_put_format(s, "desc %5"PRIu32": addr 0x%016"PRIx64" len "
                          "%-6"PRIu32" id %-5"PRIu16" ", i,
                          (uint64_t) d.addr, d.len, d.id);
            format_desc_flags(s, d.flags);
            ds_put_char(s, '\n');
        }
        return;
    }

    const struct vring *vring = &vq->split;
    for (uint32_t i = 0; i < vq->size; i++) {
        struct vring_desc d;

        read_split_desc(&vring->desc[i], &d);
        ds_put_format(s, "desc %5"PRIu32": addr 0x%016"PRIx64" len "
                      "%-6"PRIu32" next %-5"PRIu16" ", i, (uint64_t) d.addr,
                      d.len, d.next);
        format_desc_flags(s, d.flags);
        ds_put_char(s, '\n');
    }
    for (uint32_t i = 0; i < vq->size; i++) {
        ds_put_format(s, "avail %5"PRIu32": head %"PRIu16"\n", i,
                      read_u16(&vring->avail->ring[i]));
    }
    for (uint32_t i = 0; i < vq->size; i++) {
        const volatile struct vring_used_elem *e = &vring->used->ring[i];

        ds_put_format(s, "used %5"PRIu32": id %"PRIu32" len %"PRIu32"\n", i,
                      le32toh(e->id), le32toh(e->len));
    }
}
