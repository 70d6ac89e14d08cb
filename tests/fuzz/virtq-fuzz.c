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

/* Fuzzes the data path of a vhost-user port: the virtqueue walker
 * (lib/virtq.c) and the packet code on top of it (lib/vhost-net-rxtx.c,
 * lib/virtio-net-hdr.c), over guest memory, a memory table and ring state
 * that all come from the input.
 *
 * The input sets up two rings in one guest memory, as a guest would: one
 * it transmits on and one it receives on.  Each round, OVS takes a batch
 * from the first and delivers it into the second, so that a guest's
 * offload headers go all the way to another guest's.  Between rounds the
 * input rewrites guest memory, as a guest may at any time.
 *
 * Each region of guest memory is mapped with an inaccessible page on
 * either side, so a read or write past a region faults at once.  The
 * target also checks what it can see from outside: every segment of a
 * chain lies inside one region, a chain has no more segments than allowed,
 * no more chains are taken than the guest made available, and every packet
 * fits in a dp_packet.
 *
 * Input layout (fields in host byte order; a short input reads as zeros):
 *
 *   u8   ring flags: 1 packed, 2 event index, 4 indirect descriptors,
 *        8 in order
 *   u64  virtio features, masked by what a port offers
 *   u16  the guest's MTU (NET_SET_MTU), u16 the port's MTU
 *   u8   number of regions, 1 to 4
 *   per region: u16 first guest page, u8 pages (1 to 16); its offset in
 *       the file behind it follows from the first page (below)
 *   per ring (transmit, then receive):
 *       u16 size, u32 base, and for the descriptor, driver and device
 *       areas each a u8 region and a u32 offset into it
 *   u8   rounds, 1 to 8
 *   u8   writes between rounds; per write a u32 offset and a u8 value
 *   the rest: the guest memory image, region after region. */

#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dp-packet.h"
#include "dp-packet-pool.h"
#include "fuzz-util.h"
#include "openvswitch/vlog.h"
#include "util.h"
#include "vhost-mem.h"
#include "vhost-net-rxtx.h"
#include "vhost-user.h"
#include "virtio-net-hdr.h"
#include "virtq.h"

#define PAGE 4096
#define MAX_REGIONS 4
#define MAX_PAGES 16
#define MAX_ROUNDS 8

/* The one file behind every region, twice the largest region, each region
 * at an offset of its own.  Every 16-byte slot of it starts with its own
 * number (file offset / 16), so that where a region was mapped from shows
 * in its first and last slots. */
static int guest_fd = -1;
#define GUEST_FILE_SIZE (2 * MAX_PAGES * PAGE)
/* The guest's interrupt: notifications must reach something. */
static int call_fd = -1;
static struct dp_packet_pool *pool;

struct guarded_map {
    uint8_t *base;              /* Guard page, region, guard page. */
    size_t size;
};

/* Maps 'pages' pages with an inaccessible page on either side, and returns
 * the first accessible byte. */
static uint8_t *
map_guarded(size_t pages, struct guarded_map *map)
{
    map->size = (pages + 2) * PAGE;
    map->base = mmap(NULL, map->size, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map->base == MAP_FAILED
        || mprotect(map->base + PAGE, pages * PAGE,
                    PROT_READ | PROT_WRITE)) {
        ovs_fatal(errno, "cannot map guest memory");
    }
    return map->base + PAGE;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc OVS_UNUSED, char ***argv OVS_UNUSED)
{
    fuzz_init();
    guest_fd = memfd_create("fuzz-guest", MFD_CLOEXEC);
    call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (guest_fd < 0 || call_fd < 0
        || ftruncate(guest_fd, GUEST_FILE_SIZE)) {
        ovs_fatal(errno, "cannot make the guest's descriptors");
    }
    uint64_t *slots = xzalloc(GUEST_FILE_SIZE);
    for (size_t i = 0; i < GUEST_FILE_SIZE / 16; i++) {
        slots[2 * i] = i;
    }
    if (pwrite(guest_fd, slots, GUEST_FILE_SIZE, 0) != GUEST_FILE_SIZE) {
        ovs_fatal(errno, "cannot fill the guest's file");
    }
    free(slots);
    pool = dp_packet_pool_create(VHOST_PACKET_HEADROOM, 2048);
    return 0;
}

/* Is [p, p + len) inside one region of 'mem'? */
static bool
in_guest_memory(const struct vhost_mem *mem, const uint8_t *p, uint32_t len)
{
    for (size_t i = 0; i < mem->n_regions; i++) {
        const struct vhost_mem_region *r = &mem->regions[i];

        if (p >= r->hva && len <= r->size
            && (uint64_t) (p - r->hva) <= r->size - len) {
            return true;
        }
    }
    return false;
}

/* Asserts that 'a' and 'b' are the same buffers, but for empty segments
 * (the inline path of virtq_next_chain() keeps an empty buffer as one empty
 * segment, the general walk as none). */
static void
check_same_chain(const struct virtq_chain *a, const struct virtq_chain *b)
{
    size_t i = 0, j = 0;

    ovs_assert(a->id == b->id && a->n_descs == b->n_descs
               && a->len == b->len);
    for (;;) {
        while (i < a->n_segs && !a->segs[i].len) {
            i++;
        }
        while (j < b->n_segs && !b->segs[j].len) {
            j++;
        }
        if (i == a->n_segs || j == b->n_segs) {
            break;
        }
        ovs_assert(a->segs[i].addr == b->segs[j].addr
                   && a->segs[i].len == b->segs[j].len);
        i++;
        j++;
    }
    ovs_assert(i == a->n_segs && j == b->n_segs);
}

/* Walks a copy of 'vq' (the walk writes nothing to the guest) and checks
 * every chain it gets, and that the general walk alone, on another copy,
 * gets the same. */
static void
check_walk(const struct virtq *vq, bool device_writes)
{
    struct virtq copy = *vq;
    struct virtq general = *vq;
    struct virtq_chain chain, general_chain;
    size_t n_chains = 0;

    for (;;) {
        enum virtq_error error = virtq_next_chain(&copy, device_writes,
                                                  &chain);
        enum virtq_error general_error
            = virtq_next_chain__(&general, device_writes, &general_chain);
        uint64_t len = 0;

        ovs_assert(error == general_error);
        ovs_assert(copy.avail.idx == general.avail.idx
                   && copy.avail.wrap == general.avail.wrap);
        if (error == VIRTQ_EMPTY || virtq_error_is_fatal(error)) {
            break;
        }
        ovs_assert(chain.id == general_chain.id
                   && chain.n_descs == general_chain.n_descs);
        if (error == VIRTQ_OK) {
            check_same_chain(&chain, &general_chain);
        }
        /* A good chain or a bad one, each takes an available entry. */
        ovs_assert(++n_chains <= vq->size);
        if (error != VIRTQ_OK) {
            continue;
        }
        ovs_assert(chain.n_segs <= VIRTQ_MAX_SEGS);
        ovs_assert(!copy.packed
                   || (chain.n_descs >= 1 && chain.n_descs <= vq->size));
        for (size_t i = 0; i < chain.n_segs; i++) {
            ovs_assert(in_guest_memory(vq->mem, chain.segs[i].addr,
                                       chain.segs[i].len));
            len += chain.segs[i].len;
        }
        ovs_assert(len == chain.len);
    }
}

struct ring_setup {
    uint16_t size;
    uint32_t base;
    struct virtq_addrs addrs;
};

static void
read_ring_setup(struct fuzz_input *in, const struct vhost_mem *mem,
                size_t n_regions, struct ring_setup *ring)
{
    uint64_t *addrs[3] = { &ring->addrs.desc, &ring->addrs.avail,
                           &ring->addrs.used };

    ring->size = fuzz_u16(in);
    ring->base = fuzz_u32(in);
    for (size_t i = 0; i < 3; i++) {
        const struct vhost_mem_region *r = &mem->regions[fuzz_u8(in)
                                                         % n_regions];

        /* Mostly inside the region, sometimes running past its end. */
        *addrs[i] = r->uva + fuzz_u32(in) % (r->size + PAGE);
    }
}

static bool
attach_ring(struct virtq *vq, const struct vhost_mem *mem, uint8_t flags,
            const struct ring_setup *ring)
{
    bool packed = flags & 1;
    char *error_msg;
    int error;

    memset(vq, 0, sizeof *vq);
    error = virtq_attach(vq, mem, packed, ring->size, &ring->addrs,
                         &error_msg);
    if (!error) {
        error = virtq_set_base(vq, ring->base, &error_msg);
    }
    if (error && getenv("VIRTQ_FUZZ_VERBOSE")) {
        fprintf(stderr, "virtq-fuzz: ring not attached: %s\n", error_msg);
    }
    free(error_msg);
    if (error) {
        return false;
    }
    vq->event_idx = flags & 2;
    vq->indirect = flags & 4;
    vq->in_order = flags & 8;
    vq->call_fd = call_fd;
    vq->kick_fd = -1;
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size };
    struct vhost_mem_region_desc descs[MAX_REGIONS];
    struct guarded_map maps[MAX_REGIONS];
    int fds[MAX_REGIONS];
    struct ring_setup rings[2];
    struct vhost_mem *mem;
    char *error_msg;

    uint8_t flags = fuzz_u8(&in);
    uint64_t features = (fuzz_u64(&in)
                         & vhost_user_offered_features(true));
    /* MTUs as OVS accepts them: NET_SET_MTU's at least 68 (or none), the
     * port's at least 68. */
    uint16_t guest_mtu = fuzz_u16(&in);
    uint16_t mtu = fuzz_u16(&in);
    size_t n_regions = 1 + fuzz_u8(&in) % MAX_REGIONS;

    for (size_t i = 0; i < n_regions; i++) {
        uint64_t page = fuzz_u16(&in);
        uint64_t pages = 1 + fuzz_u8(&in) % MAX_PAGES;

        descs[i] = (struct vhost_mem_region_desc) {
            .guest_phys_addr = page * PAGE,
            .memory_size = pages * PAGE,
            /* The frontend's addresses: somewhere else, same layout. */
            .userspace_addr = 0x7f0000000000ULL + page * PAGE,
            /* Anywhere in the file's first half, 16-byte aligned as the
             * guest address is (else the table is refused): offsets within
             * a page and past it, zero included, with no input format
             * change, so that old inputs still mean what they meant. */
            .mmap_offset = (page * 40503 % (MAX_PAGES * PAGE / 16)) * 16,
        };
        fds[i] = guest_fd;
    }
    /* vhost_mem_create() checks the table (overlaps, sizes) as it would
     * for a frontend. */
    if (vhost_mem_create(descs, fds, n_regions, &mem, &error_msg)) {
        free(error_msg);
        return 0;
    }
    /* Each region was mapped from its offset in the file, to its end. */
    for (size_t i = 0; i < n_regions; i++) {
        const struct vhost_mem_region *r = &mem->regions[i];
        uint64_t first = descs[i].mmap_offset / 16;
        uint64_t last = first + descs[i].memory_size / 16 - 1;
        uint64_t got_first, got_last;

        memcpy(&got_first, r->hva, sizeof got_first);
        memcpy(&got_last, r->hva + r->size - 16, sizeof got_last);
        if (r->size != descs[i].memory_size
            || got_first != first || got_last != last) {
            fprintf(stderr, "region %"PRIuSIZE" at file offset 0x%"PRIx64
                    ": mapped from slot %"PRIu64" to %"PRIu64", expected "
                    "%"PRIu64" to %"PRIu64"\n", i, descs[i].mmap_offset,
                    got_first, got_last, first, last);
            abort();
        }
    }
    /* Then each region is moved into memory of our own, between guard
     * pages.  vhost_mem_destroy() still unmaps what it mapped. */
    for (size_t i = 0; i < n_regions; i++) {
        mem->regions[i].hva = map_guarded(descs[i].memory_size / PAGE,
                                          &maps[i]);
    }

    for (size_t i = 0; i < 2; i++) {
        read_ring_setup(&in, mem, n_regions, &rings[i]);
    }
    size_t rounds = 1 + fuzz_u8(&in) % MAX_ROUNDS;
    size_t n_writes = fuzz_u8(&in);
    struct fuzz_input writes = { in.data, MIN(in.size, n_writes * 5) };
    in.data += writes.size;
    in.size -= writes.size;

    /* The guest memory image. */
    uint64_t total = 0;
    for (size_t i = 0; i < n_regions; i++) {
        size_t n = MIN(in.size, mem->regions[i].size);

        fuzz_take(&in, mem->regions[i].hva, n);
        total += mem->regions[i].size;
    }

    struct virtq tx, rx;
    bool tx_ok = attach_ring(&tx, mem, flags, &rings[0]);
    bool rx_ok = attach_ring(&rx, mem, flags, &rings[1]);
    struct vhost_net_params params = {
        .name = "fuzz",
        .hdr_len = virtio_net_hdr_len(features),
        .mergeable = features & (UINT64_C(1) << VIRTIO_NET_F_MRG_RXBUF),
        .features = features,
        .guest_mtu = guest_mtu ? MAX(guest_mtu, 68) : 0,
    };
    struct vhost_queue_stats stats;
    memset(&stats, 0, sizeof stats);

    for (size_t round = 0; round < rounds && (tx_ok || rx_ok); round++) {
        struct dp_packet_batch batch;

        dp_packet_batch_init(&batch);
        if (tx_ok) {
            check_walk(&tx, false);
            params.vring = 1;
            if (vhost_net_dequeue(&tx, &params, pool, &batch, &stats)) {
                tx_ok = false;
            }
            ovs_assert(dp_packet_batch_size(&batch) <= NETDEV_MAX_BURST);

            struct dp_packet *packet;
            DP_PACKET_BATCH_FOR_EACH (i, packet, &batch) {
                ovs_assert(dp_packet_size(packet) >= ETH_HEADER_LEN);
                ovs_assert(dp_packet_size(packet) <= VHOST_MAX_PACKET_SIZE);
            }
        }
        if (rx_ok) {
            check_walk(&rx, true);
            params.vring = 0;
            if (vhost_net_enqueue(&rx, &params, &batch, 1, MAX(mtu, 68),
                                  &stats)) {
                rx_ok = false;
            }
        }
        dp_packet_delete_batch(&batch, true);

        /* The guest rewrites some of its memory meanwhile. */
        for (size_t i = 0; i < n_writes / rounds + 1 && writes.size; i++) {
            uint64_t offset = fuzz_u32(&writes) % total;
            uint8_t value = fuzz_u8(&writes);

            for (size_t r = 0; r < n_regions; r++) {
                if (offset < mem->regions[r].size) {
                    mem->regions[r].hva[offset] = value;
                    break;
                }
                offset -= mem->regions[r].size;
            }
        }
    }

    if (getenv("VIRTQ_FUZZ_VERBOSE")) {
        /* What an input did, to check that seeds carry packets. */
        fprintf(stderr, "virtq-fuzz: tx %s, rx %s: %"PRIu64" packets, "
                "%"PRIu64" segments, %"PRIu64" csums, drops:",
                tx_ok ? "ok" : "stopped", rx_ok ? "ok" : "stopped",
                stats.packets, stats.segments, stats.sw_csums);
        for (size_t i = 0; i < N_VHOST_DROP_REASONS; i++) {
            fprintf(stderr, " %"PRIu64, stats.drops[i]);
        }
        fprintf(stderr, "\n");
    }
    for (size_t i = 0; i < n_regions; i++) {
        munmap(maps[i].base, maps[i].size);
    }
    vhost_mem_destroy(mem);
    return 0;
}
