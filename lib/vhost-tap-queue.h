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

#ifndef VHOST_TAP_QUEUE_H
#define VHOST_TAP_QUEUE_H 1

/* The host side of a backend=kernel port's tap, for the userspace datapath:
 * AF_PACKET sockets bound to the tap, which PMD threads poll.
 *
 * A receive queue reads a TPACKET_V2 ring that the kernel fills and OVS
 * maps, so polling an idle queue makes no system call.  The receive sockets
 * of a tap form one PACKET_FANOUT_QM group, so that receive queue N gets
 * what the guest sent on the tap's queue N (see vhost_tap_rxq_open() for
 * the order they join in).  Packets
 * larger than a ring frame (TCP segmentation offload) come through the
 * socket instead (PACKET_COPY_THRESH).
 *
 * The transmit socket, which threads may share, sends a batch with one
 * sendmmsg(), bypassing the qdisc.
 *
 * Every packet carries a virtio-net header both ways (PACKET_VNET_HDR), so
 * checksum and segmentation offloads cross the tap.  When OVS's userspace
 * TSO is off, what the guest left undone is done on receipt: checksums
 * completed, TCP segments cut. */

#include <stdbool.h>
#include <stdint.h>

#include "vhost-net-rxtx.h"

struct dp_packet_batch;
struct dp_packet_pool;
struct vhost_tap_queue;

int vhost_tap_rxq_open(const char *name, int queue, int mtu, bool first,
                       uint16_t *fanout_id, struct vhost_tap_queue **);
int vhost_tap_txq_open(const char *name, struct vhost_tap_queue **);
void vhost_tap_queue_close(struct vhost_tap_queue *);

int vhost_tap_queue_recv(struct vhost_tap_queue *, struct dp_packet_pool *,
                         bool offloads, struct dp_packet_batch *);
int vhost_tap_queue_arm(struct vhost_tap_queue *);

void vhost_tap_queue_send(struct vhost_tap_queue *, struct dp_packet_batch *,
                          int mtu);

void vhost_tap_queue_get_stats(struct vhost_tap_queue *,
                               struct vhost_queue_stats *);

#endif /* vhost-tap-queue.h */
