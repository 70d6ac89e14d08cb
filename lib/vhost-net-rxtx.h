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

#ifndef VHOST_NET_RXTX_H
#define VHOST_NET_RXTX_H 1

/* Moving packets between dp_packets and a virtio-net device's virtqueues.
 *
 * vhost_net_dequeue() takes what the guest transmitted on one of its TX
 * queues and turns it into dp_packets; vhost_net_enqueue() copies dp_packets
 * into the receive buffers the guest posted on one of its RX queues,
 * spreading a packet over several buffers when mergeable buffers were
 * negotiated.  Both work on at most one batch (NETDEV_MAX_BURST packets),
 * publish the used ring once and notify the guest at most once, and only if
 * it asked.  Neither allocates nor makes a system call per packet.
 *
 * The caller holds whatever lock keeps the ring from being reconfigured. */

#include <stdbool.h>
#include <stdint.h>

#include "virtq.h"

struct dp_packet_batch;
struct dp_packet_pool;

/* Headroom of the packets received from a guest: room to push a tunnel
 * header without moving the packet. */
#define VHOST_PACKET_HEADROOM 128

/* The largest packet taken from a guest: a dp_packet counts its allocation
 * in 16 bits. */
#define VHOST_MAX_PACKET_SIZE (UINT16_MAX - VHOST_PACKET_HEADROOM)

/* Why a packet was dropped. */
enum vhost_drop_reason {
    VHOST_DROP_BAD_DESCRIPTOR,  /* Its descriptor chain broke a rule. */
    VHOST_DROP_MALFORMED,       /* From the guest: shorter than an Ethernet
                                 * header. */
    VHOST_DROP_INVALID_OFFLOAD, /* A checksum or segmentation offload that
                                 * was not negotiated, or that does not fit
                                 * the packet's headers. */
    VHOST_DROP_OVERSIZE,        /* Larger than the guest's buffers or MTU,
                                 * or than a dp_packet can hold. */
    VHOST_DROP_RING_FULL,       /* The guest posted no room for it. */
    VHOST_DROP_NOT_READY,       /* The queue was not running. */
    N_VHOST_DROP_REASONS
};

const char *vhost_drop_reason_name(enum vhost_drop_reason);

/* Counters of one virtqueue, as seen from OVS. */
struct vhost_queue_stats {
    uint64_t packets;
    uint64_t bytes;
    uint64_t notifications;     /* Interrupts we raised in the guest. */
    uint64_t kicks;             /* Kicks the data path took, in interrupt
                                 * mode (see netdev_vhost_rxq_arm()). */
    uint64_t waits;             /* Times the data path asked for kicks
                                 * because the ring was idle. */
    uint64_t retries;           /* Times a full receive ring was tried
                                 * again (see vhost_net_enqueue()). */
    uint64_t drops[N_VHOST_DROP_REASONS];

    /* Offloads (see virtio-net-hdr.h).  From the guest: packets that left
     * their checksum, or their TCP segmentation, to OVS, and checksums
     * completed here.  To the guest: packets handed over with their
     * checksum, or their segmentation, left to the guest, checksums
     * completed here, and large TCP packets cut here into 'segments'. */
    uint64_t csum_offloads;
    uint64_t tso_packets;
    uint64_t sw_csums;
    uint64_t sw_segmented;
    uint64_t segments;
};

void vhost_queue_stats_add(struct vhost_queue_stats *sum,
                           const struct vhost_queue_stats *);

/* How the queue's packets are framed, and who it is for log messages. */
struct vhost_net_params {
    const char *name;           /* Port name. */
    uint16_t vring;             /* Virtqueue index. */
    uint16_t hdr_len;           /* virtio_net_hdr_len(features). */
    bool mergeable;             /* VIRTIO_NET_F_MRG_RXBUF negotiated. */
    uint64_t features;          /* Negotiated virtio features. */
    uint16_t guest_mtu;         /* The guest's MTU (NET_SET_MTU), 0 if not
                                 * known. */
};

enum virtq_error vhost_net_dequeue(struct virtq *,
                                   const struct vhost_net_params *,
                                   struct dp_packet_pool *,
                                   struct dp_packet_batch *,
                                   struct vhost_queue_stats *);
/* The default and the largest 'tx-retries-max', as OVS's vhost ports. */
#define VHOST_TX_RETRIES_DEFAULT 8
#define VHOST_TX_RETRIES_MAX 32

enum virtq_error vhost_net_enqueue(struct virtq *,
                                   const struct vhost_net_params *,
                                   struct dp_packet_batch *, int retries_max,
                                   int mtu, struct vhost_queue_stats *);

#endif /* vhost-net-rxtx.h */
