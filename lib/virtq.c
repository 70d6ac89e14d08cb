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
#include <unistd.h>

#include "util.h"

/* Ring memory is little-endian (VIRTIO_F_VERSION_1, and legacy guests on
 * the little-endian hosts we run on). */
BUILD_ASSERT_DECL(__BYTE_ORDER == __LITTLE_ENDIAN);

const char *
virtq_error_to_string(enum virtq_error error)
{
    switch (error) {
    case VIRTQ_OK: return "no error";
    case VIRTQ_ERR_AVAIL_IDX: return "avail index moved by more than the "
                                     "ring size";
    case VIRTQ_ERR_HEAD: return "descriptor head outside the ring";
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
read_desc(const struct vring_desc *src, struct vring_desc *dst)
{
    const volatile struct vring_desc *v = src;

    dst->addr = le64toh(v->addr);
    dst->len = le32toh(v->len);
    dst->flags = le16toh(v->flags);
    dst->next = le16toh(v->next);
}

/* Points 'vq' at the ring of 'size' entries whose parts are at 'addrs' in
 * the frontend's address space.  Each part must be aligned as the spec says
 * and lie entirely within one region of 'mem'.  Does not touch the indexes:
 * the caller sets 'last_avail_idx' and then calls this, which takes the used
 * index from guest memory. */
int
virtq_attach(struct virtq *vq, const struct vhost_mem *mem, uint16_t size,
             const struct virtq_addrs *addrs, char **errp)
{
    uint64_t desc_size = (uint64_t) size * sizeof(struct vring_desc);
    /* flags, idx, ring[size], and the used_event that follows. */
    uint64_t avail_size = 6 + 2 * (uint64_t) size;
    /* flags, idx, ring[size], and the avail_event that follows. */
    uint64_t used_size = 6 + (uint64_t) size * sizeof(struct vring_used_elem);
    void *desc, *avail, *used;

    *errp = NULL;
    if (!size || !is_pow2(size) || size > VIRTQ_MAX_SIZE) {
        *errp = xasprintf("ring size %"PRIu16" is not a power of 2 "
                          "up to %d", size, VIRTQ_MAX_SIZE);
        return EINVAL;
    }
    if (addrs->desc % VRING_DESC_ALIGN_SIZE
        || addrs->avail % VRING_AVAIL_ALIGN_SIZE
        || addrs->used % VRING_USED_ALIGN_SIZE) {
        *errp = xstrdup("ring addresses are not aligned");
        return EINVAL;
    }

    desc = vhost_mem_uva_to_hva(mem, addrs->desc, desc_size);
    avail = vhost_mem_uva_to_hva(mem, addrs->avail, avail_size);
    used = vhost_mem_uva_to_hva(mem, addrs->used, used_size);
    if (!desc || !avail || !used) {
        *errp = xasprintf("%s ring at 0x%"PRIx64" is not in guest memory",
                          !desc ? "descriptor" : !avail ? "avail" : "used",
                          !desc ? addrs->desc
                          : !avail ? addrs->avail : addrs->used);
        return EFAULT;
    }

    vq->vring.num = size;
    vq->vring.desc = desc;
    vq->vring.avail = avail;
    vq->vring.used = used;
    vq->mem = mem;
    vq->used_idx = vq->published_used_idx = read_u16(&vq->vring.used->idx);
    vq->notified_once = false;
    return 0;
}

/* Stores in '*n' how many chains the guest has made available and we have
 * not taken yet.  If the count makes no sense, returns VIRTQ_ERR_AVAIL_IDX
 * with the avail index the guest wrote in '*n' instead. */
enum virtq_error
virtq_avail_count(const struct virtq *vq, uint16_t *n)
{
    /* Acquire: the ring entries and descriptors behind the new index must
     * be read after the index; pairs with the driver's write barrier
     * before it publishes the index. */
    uint16_t avail_idx = le16toh(__atomic_load_n(&vq->vring.avail->idx,
                                                 __ATOMIC_ACQUIRE));
    uint16_t count = avail_idx - vq->last_avail_idx;

    if (OVS_UNLIKELY(count > vq->vring.num)) {
        *n = avail_idx;
        return VIRTQ_ERR_AVAIL_IDX;
    }
    *n = count;
    return VIRTQ_OK;
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

/* Walks the chain in avail entry 'last_avail_idx + i' into 'chain', which
 * must consist of device-writable buffers if 'device_writes', otherwise of
 * device-readable ones.  The caller has checked with virtq_avail_count() that
 * the entry is available.
 *
 * On error other than VIRTQ_ERR_HEAD, 'chain->head' is valid, so the caller
 * can give the chain back with virtq_used_add(..., 0). */
enum virtq_error
virtq_get_chain(const struct virtq *vq, uint16_t i, bool device_writes,
                struct virtq_chain *chain)
{
    const struct vring *vring = &vq->vring;
    uint16_t slot = (vq->last_avail_idx + i) & (vring->num - 1);
    uint16_t head = read_u16(&vring->avail->ring[slot]);
    const struct vring_desc *table = vring->desc;
    uint32_t table_size = vring->num;
    bool in_indirect = false;
    uint32_t hops = 0;
    uint32_t idx;

    chain->head = head;
    chain->n_segs = 0;
    chain->len = 0;
    if (OVS_UNLIKELY(head >= vring->num)) {
        return VIRTQ_ERR_HEAD;
    }

    for (idx = head;;) {
        struct vring_desc d;
        enum virtq_error error;

        if (OVS_UNLIKELY(idx >= table_size)) {
            return VIRTQ_ERR_NEXT;
        }
        if (OVS_UNLIKELY(++hops > table_size)) {
            return VIRTQ_ERR_LOOP;
        }
        read_desc(&table[idx], &d);

        if (d.flags & VRING_DESC_F_INDIRECT) {
            uint64_t table_bytes = d.len;

            /* One table per chain, never nested, never with NEXT, and only
             * if the driver said it would use them. */
            if (OVS_UNLIKELY(!vq->indirect || in_indirect
                             || d.flags & VRING_DESC_F_NEXT
                             || !d.len
                             || d.len % sizeof(struct vring_desc)
                             || (d.len / sizeof(struct vring_desc)
                                 > VIRTQ_MAX_INDIRECT))) {
                return VIRTQ_ERR_INDIRECT;
            }
            table = vhost_mem_gpa_to_hva(vq->mem, d.addr, &table_bytes);
            if (OVS_UNLIKELY(!table || table_bytes != d.len)) {
                return VIRTQ_ERR_INDIRECT;
            }
            table_size = d.len / sizeof(struct vring_desc);
            in_indirect = true;
            hops = 0;
            idx = 0;
            continue;
        }

        if (OVS_UNLIKELY(!(d.flags & VRING_DESC_F_WRITE) != !device_writes)) {
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

/* Marks the next 'n' avail entries as taken. */
void
virtq_consume(struct virtq *vq, uint16_t n)
{
    vq->last_avail_idx += n;
}

/* Fills the next used entry.  The guest does not see it until
 * virtq_publish(). */
void
virtq_used_add(struct virtq *vq, uint16_t head, uint32_t len)
{
    struct vring_used_elem *elem
        = &vq->vring.used->ring[vq->used_idx & (vq->vring.num - 1)];

    elem->id = htole32(head);
    elem->len = htole32(len);
    vq->used_idx++;
}

/* Makes the used entries filled since the last call visible to the guest.
 * Returns true if the guest wants to be told about them. */
bool
virtq_publish(struct virtq *vq)
{
    const struct vring *vring = &vq->vring;
    uint16_t old = vq->published_used_idx;
    uint16_t new = vq->used_idx;

    if (old == new) {
        return false;
    }

    /* Release: the used entries and the buffers' contents must be visible
     * before the index; pairs with the driver's read barrier after it reads
     * the index. */
    __atomic_store_n(&vring->used->idx, htole16(new), __ATOMIC_RELEASE);
    vq->published_used_idx = new;

    /* The index must be visible before we read whether the driver wants a
     * notification; pairs with the barrier the driver issues between
     * re-enabling notifications and checking the used index again. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    if (vq->event_idx) {
        uint16_t used_event = read_u16(&vring_used_event(vring));

        if (!vq->notified_once) {
            vq->notified_once = true;
            return true;
        }
        return vring_need_event(used_event, new, old);
    }
    return !(read_u16(&vring->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
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

/* We poll the ring, so the driver need not kick us.  With EVENT_IDX this
 * sets avail_event to just behind where we are, which no kick decision of
 * the driver can cross for another 65535 entries; without it, sets
 * VRING_USED_F_NO_NOTIFY. */
void
virtq_disable_kicks(struct virtq *vq)
{
    const struct vring *vring = &vq->vring;

    if (vq->event_idx) {
        uint16_t behind = vq->last_avail_idx - 1;

        vring_avail_event(vring) = htole16(behind);
    } else {
        vring->used->flags = htole16(VRING_USED_F_NO_NOTIFY);
    }
}
