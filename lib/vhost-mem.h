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

#ifndef VHOST_MEM_H
#define VHOST_MEM_H 1

/* Guest memory, as a vhost-user frontend describes it.
 *
 * A memory table is a handful of regions, each a part of a file (memfd,
 * hugetlbfs or shm) that the frontend passed over the socket.  Every region
 * is known by two addresses: the guest physical address that descriptors
 * use, and the frontend's own virtual address that SET_VRING_ADDR uses.
 *
 * A table never changes once built: a new SET_MEM_TABLE builds a new table
 * and the caller swaps it in, then destroys the old one when no queue can
 * use it any more.  Nothing here knows about netdevs, so the unit tests and
 * fuzzers drive it directly. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/compiler.h"

/* The most regions SET_MEM_TABLE may carry (the protocol's limit). */
#define VHOST_MEM_MAX_REGIONS 8

/* One region as the frontend sent it. */
struct vhost_mem_region_desc {
    uint64_t guest_phys_addr;
    uint64_t memory_size;
    uint64_t userspace_addr;
    uint64_t mmap_offset;
};

struct vhost_mem_region {
    uint64_t gpa;               /* Guest physical address of first byte. */
    uint64_t uva;               /* Frontend virtual address of first byte. */
    uint64_t size;              /* Bytes in the region, nonzero. */
    uint8_t *hva;               /* Our mapping of the first byte. */
    void *map_base;             /* What mmap() returned, for munmap(). */
    size_t map_size;
};

struct vhost_mem {
    size_t n_regions;
    struct vhost_mem_region regions[VHOST_MEM_MAX_REGIONS];
};

int vhost_mem_create(const struct vhost_mem_region_desc *, const int *fds,
                     size_t n, struct vhost_mem **, char **errp)
    OVS_WARN_UNUSED_RESULT;
void vhost_mem_destroy(struct vhost_mem *);

void *vhost_mem_uva_to_hva(const struct vhost_mem *, uint64_t uva,
                           uint64_t len);
uint64_t vhost_mem_total_size(const struct vhost_mem *);

/* Translates the guest physical range that starts at 'gpa' and is '*len'
 * bytes long.  Returns our pointer to its first byte and shortens '*len' to
 * the part that is contiguous in our mapping (a range may span regions, so
 * the caller loops).  Returns NULL if 'gpa' is in no region. */
static inline void *
vhost_mem_gpa_to_hva(const struct vhost_mem *mem, uint64_t gpa,
                     uint64_t *len)
{
    for (size_t i = 0; i < mem->n_regions; i++) {
        const struct vhost_mem_region *r = &mem->regions[i];
        uint64_t offset = gpa - r->gpa;

        /* Unsigned wrap makes 'gpa < r->gpa' fail this test too. */
        if (offset < r->size) {
            uint64_t room = r->size - offset;

            if (*len > room) {
                *len = room;
            }
            return r->hva + offset;
        }
    }
    return NULL;
}

#endif /* vhost-mem.h */
