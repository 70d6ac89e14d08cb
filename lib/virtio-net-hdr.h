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

#ifndef VIRTIO_NET_HDR_H
#define VIRTIO_NET_HDR_H 1

/* The virtio-net header that precedes every packet in a virtqueue: its size
 * for the negotiated features, and the checksum and segmentation offloads it
 * carries between a guest and OVS's userspace TSO (dp_packet offload flags).
 *
 * Toward OVS, an offload the guest asks for becomes dp_packet flags that the
 * output port honours.  Toward a guest, an offload it did not negotiate is
 * done here instead: the checksum completed, a TCP segment cut to the MTU. */

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/types.h"

struct dp_packet;

size_t virtio_net_hdr_len(uint64_t features);

/* The offload features offered to guests when OVS's userspace TSO is on. */
uint64_t virtio_net_offload_features(void);

/* What a guest's header asked of OVS. */
enum virtio_net_rx_offload {
    VIRTIO_NET_RX_PLAIN,        /* Nothing. */
    VIRTIO_NET_RX_CSUM,         /* A checksum, left to the output port. */
    VIRTIO_NET_RX_GSO,          /* TCP segmentation, left to the output
                                 * port. */
    VIRTIO_NET_RX_CSUM_DONE,    /* A checksum that no port can be asked for:
                                 * completed here. */
    VIRTIO_NET_RX_INVALID,      /* Not negotiated, or not what the packet
                                 * holds: drop it. */
};

enum virtio_net_rx_offload virtio_net_hdr_to_packet(
    const struct virtio_net_hdr_v1 *, uint64_t features, struct dp_packet *,
    const char **reason);

/* How a packet goes to a guest. */
enum virtio_net_tx_action {
    VIRTIO_NET_TX_AS_IS,        /* Copy the packet behind 'hdr'. */
    VIRTIO_NET_TX_CSUM,         /* Also store 'csum' at 'csum_ofs'. */
    VIRTIO_NET_TX_SEGMENT,      /* Cut it up: virtio_net_tx_segment(). */
    VIRTIO_NET_TX_INVALID,      /* Its offload flags do not fit its headers:
                                 * drop it. */
};

/* The most header bytes that a segment or a completed checksum rewrites:
 * Ethernet, two VLAN tags, IPv4 with options, TCP with options. */
#define VIRTIO_NET_MAX_HEADERS 160

struct virtio_net_tx {
    struct virtio_net_hdr_v1 hdr;   /* AS_IS, CSUM: the header ('num_buffers'
                                     * is the caller's). */
    uint16_t csum_ofs;          /* CSUM: offset of the checksum field. */
    ovs_be16 csum;              /* CSUM: its value. */

    /* SEGMENT. */
    uint16_t l3_ofs, l4_ofs;
    uint16_t hdrs_len;          /* Bytes of headers in each segment. */
    uint16_t mss;               /* Payload bytes per segment. */
    uint32_t end;               /* End of the IP packet in the frame. */
    bool ipv6;

    const char *reason;         /* INVALID: why. */
};

enum virtio_net_tx_action virtio_net_tx_prepare(const struct dp_packet *,
                                                uint64_t features, int mtu,
                                                struct virtio_net_tx *);
size_t virtio_net_tx_segment(const struct dp_packet *,
                             const struct virtio_net_tx *,
                             uint32_t offset, uint32_t len,
                             uint8_t headers[VIRTIO_NET_MAX_HEADERS]);

#endif /* virtio-net-hdr.h */
