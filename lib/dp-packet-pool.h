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

#ifndef DP_PACKET_POOL_H
#define DP_PACKET_POOL_H 1

/* A pool of equal-sized dp_packets, so that a receive path need not call
 * malloc() and free() for every packet.
 *
 * Packets come out with 'headroom' bytes reserved and room for 'data_size'
 * bytes of data.  dp_packet_delete() returns them to the pool, from whatever
 * thread deletes them (see patches/dp-packet-pool.patch).  Each thread keeps
 * a small cache, so getting and returning a packet normally takes no lock.
 * The pool grows when it runs dry and never shrinks.
 *
 * Pools of different sizes may be chained, smallest first, so that
 * dp_packet_pool_get_room() takes a packet from the first one large enough:
 * jumbo frames then cost no malloc() either. */

#include <stddef.h>

struct dp_packet;
struct dp_packet_pool;

struct dp_packet_pool *dp_packet_pool_create(size_t headroom,
                                             size_t data_size);
void dp_packet_pool_set_larger(struct dp_packet_pool *,
                               struct dp_packet_pool *larger);
struct dp_packet *dp_packet_pool_get(struct dp_packet_pool *);
struct dp_packet *dp_packet_pool_get_room(struct dp_packet_pool *,
                                          size_t size);
size_t dp_packet_pool_n_allocated(const struct dp_packet_pool *);

#endif /* dp-packet-pool.h */
