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

#include "dp-packet-pool.h"

#include <string.h>

#include "coverage.h"
#include "dp-packet.h"
#include "openvswitch/thread.h"
#include "ovs-atomic.h"
#include "ovs-thread.h"
#include "util.h"

COVERAGE_DEFINE(dp_packet_pool_grow);

/* Packets a thread keeps for itself, and how many move between a thread and
 * the shared list at a time. */
#define CACHE_SIZE 256
#define CACHE_BATCH 64

/* One malloc() block per packet.  The dp_packet must come first: if OVS
 * grows the packet, it becomes an ordinary malloc()ed dp_packet that
 * dp_packet_delete() frees with free(). */
struct pool_elem {
    struct dp_packet packet;
    struct dp_packet_pool *pool;
    struct pool_elem *next;     /* In 'pool->free_list'. */
    /* Headroom and data follow, aligned. */
};

struct pool_cache {
    struct dp_packet_pool *pool;
    size_t n;
    struct pool_elem *elems[CACHE_SIZE];
};

struct dp_packet_pool {
    size_t headroom;
    size_t data_size;
    struct dp_packet_pool *larger; /* For dp_packet_pool_get_room(). */
    size_t elem_size;
    ovsthread_key_t cache_key;  /* Per-thread "struct pool_cache". */

    struct ovs_mutex mutex;
    struct pool_elem *free_list OVS_GUARDED;
    atomic_size_t n_allocated;
};

static void pool_free(struct dp_packet *);

static uint8_t *
elem_buffer(struct pool_elem *elem)
{
    return (uint8_t *) elem + ROUND_UP(sizeof *elem, 64);
}

static void
cache_flush(struct pool_cache *cache, size_t n)
{
    struct dp_packet_pool *pool = cache->pool;

    ovs_mutex_lock(&pool->mutex);
    while (n-- > 0 && cache->n > 0) {
        struct pool_elem *elem = cache->elems[--cache->n];

        elem->next = pool->free_list;
        pool->free_list = elem;
    }
    ovs_mutex_unlock(&pool->mutex);
}

/* Returns a thread's cache to the shared list when the thread exits. */
static void
cache_destroy(void *cache_)
{
    struct pool_cache *cache = cache_;

    cache_flush(cache, cache->n);
    free(cache);
}

/* The caches this thread used last, the latest first: as many as a chain of
 * pools has sizes, so that traffic of mixed sizes does not keep replacing
 * them.  The key in each pool owns the caches (and returns them when a
 * thread exits); this is only a shortcut past the key's lookup, which costs
 * more than the rest of a get or a free. */
#define N_LAST_CACHES 2
struct last_caches {
    struct pool_cache *caches[N_LAST_CACHES];
};
DEFINE_STATIC_PER_THREAD_DATA(struct last_caches, last_caches, { { NULL } });

static struct pool_cache *
cache_get__(struct dp_packet_pool *pool)
{
    struct last_caches *last = last_caches_get();
    struct pool_cache *cache = ovsthread_getspecific(pool->cache_key);

    if (!cache) {
        cache = xzalloc(sizeof *cache);
        cache->pool = pool;
        ovsthread_setspecific(pool->cache_key, cache);
    }
    memmove(&last->caches[1], &last->caches[0],
            (N_LAST_CACHES - 1) * sizeof last->caches[0]);
    last->caches[0] = cache;
    return cache;
}

static inline struct pool_cache *
cache_get(struct dp_packet_pool *pool)
{
    struct last_caches *last = last_caches_get();

    for (size_t i = 0; i < N_LAST_CACHES; i++) {
        struct pool_cache *cache = last->caches[i];

        if (OVS_LIKELY(cache && cache->pool == pool)) {
            return cache;
        }
    }
    return cache_get__(pool);
}

/* Moves up to CACHE_BATCH packets from the shared list into 'cache', making
 * new ones if the list is empty. */
static void
cache_refill(struct pool_cache *cache)
{
    struct dp_packet_pool *pool = cache->pool;

    ovs_mutex_lock(&pool->mutex);
    while (cache->n < CACHE_BATCH && pool->free_list) {
        struct pool_elem *elem = pool->free_list;

        pool->free_list = elem->next;
        cache->elems[cache->n++] = elem;
    }
    ovs_mutex_unlock(&pool->mutex);

    if (!cache->n) {
        COVERAGE_INC(dp_packet_pool_grow);
        for (size_t i = 0; i < CACHE_BATCH; i++) {
            struct pool_elem *elem = xmalloc(pool->elem_size);

            /* dp_packet_pool_get() leaves the metadata as it finds it. */
            memset(elem, 0, sizeof *elem);
            elem->pool = pool;
            cache->elems[cache->n++] = elem;
        }
        atomic_add_relaxed(&pool->n_allocated, CACHE_BATCH,
                           &(size_t) { 0 });
    }
}

struct dp_packet_pool *
dp_packet_pool_create(size_t headroom, size_t data_size)
{
    struct dp_packet_pool *pool = xzalloc(sizeof *pool);

    /* dp_packet counts its allocation in 16 bits. */
    ovs_assert(headroom + data_size <= UINT16_MAX);

    pool->headroom = headroom;
    pool->data_size = data_size;
    pool->elem_size = (ROUND_UP(sizeof(struct pool_elem), 64)
                       + headroom + data_size);
    ovsthread_key_create(&pool->cache_key, cache_destroy);
    ovs_mutex_init(&pool->mutex);
    atomic_init(&pool->n_allocated, 0);

    /* Only this module makes DPBUF_POOL packets. */
    dp_packet_pool_free_cb = pool_free;
    return pool;
}

/* Makes dp_packet_pool_get_room() take packets too big for 'pool' from
 * 'larger', which must have the same headroom and more data room.  Call it
 * before either pool is used. */
void
dp_packet_pool_set_larger(struct dp_packet_pool *pool,
                          struct dp_packet_pool *larger)
{
    ovs_assert(larger->headroom == pool->headroom
               && larger->data_size > pool->data_size);
    pool->larger = larger;
}

/* Returns an empty packet with the pool's headroom reserved.  Never fails:
 * the pool grows instead. */
struct dp_packet *
dp_packet_pool_get(struct dp_packet_pool *pool)
{
    struct pool_cache *cache = cache_get(pool);
    struct pool_elem *elem;
    struct dp_packet *b;

    if (OVS_UNLIKELY(!cache->n)) {
        cache_refill(cache);
    }
    elem = cache->elems[--cache->n];

    /* What dp_packet_use() and dp_packet_reserve() do, less the metadata,
     * which the datapath initializes for every packet a port receives. */
    b = &elem->packet;
    dp_packet_set_base(b, elem_buffer(elem));
    dp_packet_set_data(b, elem_buffer(elem) + pool->headroom);
    dp_packet_set_size(b, 0);
    dp_packet_set_allocated(b, pool->headroom + pool->data_size);
    b->source = DPBUF_POOL;
    dp_packet_reset_offsets(b);
    dp_packet_reset_cutlen(b);
    *dp_packet_ol_flags_ptr(b) = 0;
    b->packet_type = htonl(PT_ETH);
    return b;
}

/* Returns an empty packet with the pool's headroom reserved and room for
 * 'size' bytes of data behind it: from 'pool' or the first pool chained
 * behind it that is large enough (see dp_packet_pool_set_larger()), or, for
 * a packet larger than all of them, from malloc(). */
struct dp_packet *
dp_packet_pool_get_room(struct dp_packet_pool *pool, size_t size)
{
    for (struct dp_packet_pool *p = pool; p; p = p->larger) {
        if (OVS_LIKELY(size <= p->data_size)) {
            return dp_packet_pool_get(p);
        }
    }
    return dp_packet_new_with_headroom(size, pool->headroom);
}

static void
pool_free(struct dp_packet *b)
{
    struct pool_elem *elem = CONTAINER_OF(b, struct pool_elem, packet);
    struct pool_cache *cache = cache_get(elem->pool);

    if (OVS_UNLIKELY(cache->n == CACHE_SIZE)) {
        cache_flush(cache, CACHE_BATCH);
    }
    cache->elems[cache->n++] = elem;
}

size_t
dp_packet_pool_n_allocated(const struct dp_packet_pool *pool)
{
    size_t n;

    atomic_read_relaxed(&CONST_CAST(struct dp_packet_pool *, pool)
                        ->n_allocated, &n);
    return n;
}
