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

/* The device side of a split virtqueue.
 *
 * The driver (the guest) shares the ring with us and may rewrite any of it at
 * any time, so every value read from it is read exactly once into local
 * memory and checked before use: the avail index may move by at most the
 * ring size, a head or 'next' must be inside its table, a chain may not have
 * more hops than its table has entries, an indirect table may not nest, and
 * every buffer must lie inside the guest's memory table.  A chain that breaks
 * a rule is reported to the caller, which gives it back to the guest unused
 * and counts it; only a ring whose indexes make no sense (the avail index
 * jumping, a head out of range) is declared broken.
 *
 * Nothing here knows about packets or netdevs: callers get a chain as a list
 * of segments of our own address space. */

#include <linux/virtio_ring.h>
#include <stdbool.h>
#include <stdint.h>

#include "openvswitch/compiler.h"
#include "vhost-mem.h"

/* The largest ring the virtio spec allows. */
#define VIRTQ_MAX_SIZE 32768

/* The most segments one chain may have once split at region boundaries.
 * Linux sends at most MAX_SKB_FRAGS + 2 descriptors for one packet. */
#define VIRTQ_MAX_SEGS 64

/* The most entries an indirect table may have. */
#define VIRTQ_MAX_INDIRECT 1024

/* Why a chain or a ring was refused.  Each has a COVERAGE counter and a log
 * message in the caller; see virtq_error_to_string(). */
enum virtq_error {
    VIRTQ_OK,
    /* The ring is broken: no more progress on it. */
    VIRTQ_ERR_AVAIL_IDX,        /* Avail index moved by more than the size. */
    VIRTQ_ERR_HEAD,             /* Head index outside the ring. */
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
    return error == VIRTQ_ERR_AVAIL_IDX || error == VIRTQ_ERR_HEAD;
}

/* One piece of a chain, in our address space. */
struct virtq_seg {
    uint8_t *addr;
    uint32_t len;
};

/* A descriptor chain, walked and checked. */
struct virtq_chain {
    uint16_t head;              /* What to put in the used ring. */
    uint16_t n_segs;
    uint32_t len;               /* Sum of the segments' lengths. */
    struct virtq_seg segs[VIRTQ_MAX_SEGS];
};

/* Addresses of a ring's three parts, in the frontend's address space, as
 * SET_VRING_ADDR gives them. */
struct virtq_addrs {
    uint64_t desc;
    uint64_t avail;
    uint64_t used;
};

struct virtq {
    struct vring vring;         /* Our pointers into guest memory. */
    const struct vhost_mem *mem;
    bool event_idx;             /* VIRTIO_RING_F_EVENT_IDX negotiated. */
    bool indirect;              /* VIRTIO_RING_F_INDIRECT_DESC negotiated. */

    uint16_t last_avail_idx;    /* Next avail entry to take. */
    uint16_t used_idx;          /* Next used entry to fill. */
    uint16_t published_used_idx;  /* Last used index the guest can see. */
    bool notified_once;         /* Has the guest ever been notified? */
    int call_fd;                /* Eventfd that notifies the guest, or -1. */
};

int virtq_attach(struct virtq *, const struct vhost_mem *, uint16_t size,
                 const struct virtq_addrs *, char **errp)
    OVS_WARN_UNUSED_RESULT;

enum virtq_error virtq_avail_count(const struct virtq *, uint16_t *n);
enum virtq_error virtq_get_chain(const struct virtq *, uint16_t i,
                                 bool device_writes, struct virtq_chain *);
void virtq_consume(struct virtq *, uint16_t n);
void virtq_used_add(struct virtq *, uint16_t head, uint32_t len);
bool virtq_publish(struct virtq *);
bool virtq_notify(const struct virtq *);
void virtq_disable_kicks(struct virtq *);

#endif /* virtq.h */
