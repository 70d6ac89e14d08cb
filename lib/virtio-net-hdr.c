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

#include "virtio-net-hdr.h"

#include <linux/virtio_config.h>
#include <string.h>

#include "dp-packet.h"

/* With VERSION_1 or MRG_RXBUF the header has 'num_buffers'; only a legacy
 * device without mergeable buffers uses the short one. */
size_t
virtio_net_hdr_len(uint64_t features)
{
    return (features & ((UINT64_C(1) << VIRTIO_F_VERSION_1)
                        | (UINT64_C(1) << VIRTIO_NET_F_MRG_RXBUF))
            ? sizeof(struct virtio_net_hdr_v1)
            : sizeof(struct virtio_net_hdr));
}

/* Applies the header of a packet the guest sent to 'packet'.  No checksum or
 * segmentation offload is offered to the guest, so a header that asks for
 * either is a guest bug: returns false and the caller drops the packet. */
bool
virtio_net_hdr_to_packet(const struct virtio_net_hdr_v1 *hdr,
                         struct dp_packet *packet OVS_UNUSED)
{
    return (!(hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
            && hdr->gso_type == VIRTIO_NET_HDR_GSO_NONE);
}

/* Fills the header for a packet that goes to the guest.  The caller sets
 * 'num_buffers'. */
void
virtio_net_hdr_from_packet(const struct dp_packet *packet OVS_UNUSED,
                           struct virtio_net_hdr_v1 *hdr)
{
    memset(hdr, 0, sizeof *hdr);
    hdr->gso_type = VIRTIO_NET_HDR_GSO_NONE;
}
