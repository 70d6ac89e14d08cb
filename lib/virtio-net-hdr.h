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
 * for the negotiated features, and the offload metadata it carries between
 * the guest and a dp_packet. */

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dp_packet;

size_t virtio_net_hdr_len(uint64_t features);

bool virtio_net_hdr_to_packet(const struct virtio_net_hdr_v1 *,
                              struct dp_packet *);
void virtio_net_hdr_from_packet(const struct dp_packet *,
                                struct virtio_net_hdr_v1 *);

#endif /* virtio-net-hdr.h */
