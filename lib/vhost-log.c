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

#include "vhost-log.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* The largest log we map: it covers 4 TiB of guest memory. */
#define VHOST_LOG_MAX_SIZE (UINT64_C(1) << 27)

/* Maps the 'size' bytes at 'offset' in the file 'fd' as the dirty log.  Does
 * not take ownership of 'fd'.  Everything but 'fd' is untrusted.  Returns 0
 * and the log in '*logp', or a positive errno value and a message in
 * '*errp'. */
int
vhost_log_create(int fd, uint64_t size, uint64_t offset,
                 struct vhost_log **logp, char **errp)
{
    uint64_t page_size = getpagesize();
    uint64_t map_offset, map_end;
    struct vhost_log *log;
    struct stat st;
    void *base;

    *logp = NULL;
    *errp = NULL;
    if (!size || size > VHOST_LOG_MAX_SIZE) {
        *errp = xasprintf("dirty log of %"PRIu64" bytes (must be 1 to "
                          "%"PRIu64")", size, VHOST_LOG_MAX_SIZE);
        return EINVAL;
    }
    if (offset > INT64_MAX - size) {
        *errp = xasprintf("dirty log at file offset %#"PRIx64" overflows",
                          offset);
        return EINVAL;
    }
    if (fstat(fd, &st)) {
        int error = errno;

        *errp = xasprintf("cannot stat the dirty log's file (%s)",
                          ovs_strerror(error));
        return error;
    }
    /* As for guest memory: a mapping past the end of the file would turn
     * our writes into SIGBUS. */
    if (!S_ISREG(st.st_mode) || st.st_size < 0
        || offset + size > (uint64_t) st.st_size) {
        *errp = xasprintf("dirty log ends at file offset %#"PRIx64" but its "
                          "file is not a regular file that long",
                          offset + size);
        return EINVAL;
    }

    map_offset = offset & ~(page_size - 1);
    map_end = ROUND_UP(offset + size, page_size);
    base = mmap(NULL, map_end - map_offset, PROT_READ | PROT_WRITE,
                MAP_SHARED, fd, map_offset);
    if (base == MAP_FAILED) {
        int error = errno;

        *errp = xasprintf("cannot map the %"PRIu64"-byte dirty log (%s)",
                          size, ovs_strerror(error));
        return error;
    }

    log = xmalloc(sizeof *log);
    log->bitmap = (uint8_t *) base + (offset - map_offset);
    log->size = size;
    log->map_base = base;
    log->map_size = map_end - map_offset;
    *logp = log;
    return 0;
}

void
vhost_log_destroy(struct vhost_log *log)
{
    if (log) {
        munmap(log->map_base, log->map_size);
        free(log);
    }
}

/* Marks the pages of the guest physical range [gpa, gpa + len) dirty, after
 * the writes to them.  Pages the log does not cover are left out: the
 * frontend sized the log for the memory it migrates. */
void
vhost_log_gpa(const struct vhost_log *log, uint64_t gpa, uint64_t len)
{
    uint64_t page, last;

    if (!len) {
        return;
    }
    page = gpa / VHOST_LOG_PAGE;
    last = (gpa + (len - 1)) / VHOST_LOG_PAGE;
    if (last < page) {
        last = UINT64_MAX / VHOST_LOG_PAGE;   /* The range wrapped. */
    }
    for (; page <= last && page / 8 < log->size; page++) {
        /* Release: our writes to the page come before the bit; the
         * frontend clears bits concurrently, so the update is atomic. */
        __atomic_fetch_or(&log->bitmap[page / 8], 1u << (page % 8),
                          __ATOMIC_RELEASE);
    }
}

/* Marks dirty the 'len' bytes at 'hva', which are our mapping of guest
 * memory 'mem', all in one region (as a chain's segment or a ring is). */
void
vhost_log_hva(const struct vhost_log *log, const struct vhost_mem *mem,
              const void *hva, uint64_t len)
{
    for (size_t i = 0; i < mem->n_regions; i++) {
        const struct vhost_mem_region *r = &mem->regions[i];
        uint64_t offset = (uintptr_t) hva - (uintptr_t) r->hva;

        /* Unsigned wrap makes 'hva < r->hva' fail this test too. */
        if (offset < r->size) {
            vhost_log_gpa(log, r->gpa + offset, MIN(len, r->size - offset));
            return;
        }
    }
}
