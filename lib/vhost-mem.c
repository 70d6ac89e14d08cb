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

#include "vhost-mem.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Is [a, a + a_size) disjoint from [b, b + b_size)?  Both ranges are known
 * not to wrap. */
static bool
ranges_disjoint(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size)
{
    return a + a_size <= b || b + b_size <= a;
}

/* Checks one region description against itself and against the regions
 * already accepted.  On failure returns an error message. */
static char *
check_region(const struct vhost_mem_region_desc *d,
             const struct vhost_mem_region_desc *prev, size_t n_prev)
{
    if (!d->memory_size) {
        return xstrdup("zero-size region");
    }
    if (d->guest_phys_addr > UINT64_MAX - d->memory_size
        || d->userspace_addr > UINT64_MAX - d->memory_size
        || d->mmap_offset > UINT64_MAX - d->memory_size
        || d->mmap_offset + d->memory_size > INT64_MAX) {
        return xasprintf("region at guest address 0x%"PRIx64" of size "
                         "0x%"PRIx64" (offset 0x%"PRIx64") overflows",
                         d->guest_phys_addr, d->memory_size, d->mmap_offset);
    }
    /* Rings are aligned in the guest's and the frontend's addresses, and
     * our mapping has the file offset's alignment: all three must agree, or
     * an aligned ring would be read through a misaligned pointer.  16 bytes
     * is the most any part of a ring asks for. */
    if ((d->guest_phys_addr ^ d->mmap_offset) % 16
        || (d->userspace_addr ^ d->mmap_offset) % 16) {
        return xasprintf("region at guest address 0x%"PRIx64", frontend "
                         "address 0x%"PRIx64" and file offset 0x%"PRIx64" "
                         "are not aligned alike", d->guest_phys_addr,
                         d->userspace_addr, d->mmap_offset);
    }
    for (size_t i = 0; i < n_prev; i++) {
        const struct vhost_mem_region_desc *p = &prev[i];

        if (!ranges_disjoint(d->guest_phys_addr, d->memory_size,
                             p->guest_phys_addr, p->memory_size)) {
            return xasprintf("regions overlap at guest address 0x%"PRIx64,
                             d->guest_phys_addr);
        }
        if (!ranges_disjoint(d->userspace_addr, d->memory_size,
                             p->userspace_addr, p->memory_size)) {
            return xasprintf("regions overlap at frontend address 0x%"PRIx64,
                             d->userspace_addr);
        }
    }
    return NULL;
}

/* Maps the region 'd' of the file 'fd' into 'r'.  Returns 0 or a positive
 * errno value with a message in '*errp'. */
static int
map_region(const struct vhost_mem_region_desc *d, int fd,
           struct vhost_mem_region *r, char **errp)
{
    uint64_t page_size = getpagesize();
    uint64_t end = d->mmap_offset + d->memory_size;
    uint64_t align, map_offset, map_end;
    struct stat st;
    void *base;

    if (fstat(fd, &st)) {
        int error = errno;

        *errp = xasprintf("cannot stat region file (%s)",
                          ovs_strerror(error));
        return error;
    }
    if (!S_ISREG(st.st_mode)) {
        *errp = xstrdup("region is not backed by a regular file "
                        "(memfd, hugetlbfs or shm)");
        return EINVAL;
    }
    /* Mapping past the end of the file would let the guest's memory table
     * turn our reads into SIGBUS. */
    if (st.st_size < 0 || end > (uint64_t) st.st_size) {
        *errp = xasprintf("region ends at file offset 0x%"PRIx64" but its "
                          "file has only 0x%"PRIx64" bytes",
                          end, (uint64_t) st.st_size);
        return EINVAL;
    }

    /* hugetlbfs reports its page size as the block size, and mappings of it
     * must be aligned to that. */
    align = st.st_blksize > 0 && (uint64_t) st.st_blksize > page_size
            ? st.st_blksize : page_size;
    if (!is_pow2(align)) {
        align = page_size;
    }
    map_offset = d->mmap_offset & ~(align - 1);
    map_end = ROUND_UP(end, align);

    base = mmap(NULL, map_end - map_offset, PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_NORESERVE, fd, map_offset);
    if (base == MAP_FAILED) {
        int error = errno;

        *errp = xasprintf("cannot map 0x%"PRIx64" bytes of guest memory (%s)",
                          map_end - map_offset, ovs_strerror(error));
        return error;
    }
    /* Guest memory has no business in our core dumps. */
    madvise(base, map_end - map_offset, MADV_DONTDUMP);

    r->gpa = d->guest_phys_addr;
    r->uva = d->userspace_addr;
    r->size = d->memory_size;
    r->map_base = base;
    r->map_size = map_end - map_offset;
    r->hva = (uint8_t *) base + (d->mmap_offset - map_offset);
    return 0;
}

/* Builds a memory table from the 'n' region descriptions in 'descs', whose
 * files are 'fds'.  Does not take ownership of 'fds': the caller closes them
 * (the mappings stay valid).
 *
 * Everything in 'descs' is untrusted.  Returns 0 and the table in '*memp',
 * or a positive errno value and a message in '*errp' (the caller frees it).
 */
int
vhost_mem_create(const struct vhost_mem_region_desc *descs, const int *fds,
                 size_t n, struct vhost_mem **memp, char **errp)
{
    struct vhost_mem *mem;

    *memp = NULL;
    *errp = NULL;
    if (!n || n > VHOST_MEM_MAX_REGIONS) {
        *errp = xasprintf("memory table with %"PRIuSIZE" regions "
                          "(must be 1 to %d)", n, VHOST_MEM_MAX_REGIONS);
        return EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        *errp = check_region(&descs[i], descs, i);
        if (*errp) {
            return EINVAL;
        }
    }

    mem = xzalloc(sizeof *mem);
    for (size_t i = 0; i < n; i++) {
        int error = map_region(&descs[i], fds[i], &mem->regions[i], errp);

        if (error) {
            vhost_mem_destroy(mem);
            return error;
        }
        mem->n_regions++;
    }
    *memp = mem;
    return 0;
}

void
vhost_mem_destroy(struct vhost_mem *mem)
{
    if (mem) {
        for (size_t i = 0; i < mem->n_regions; i++) {
            munmap(mem->regions[i].map_base, mem->regions[i].map_size);
        }
        free(mem);
    }
}

/* Translates the frontend virtual address range [uva, uva + len), which must
 * lie entirely within one region (rings always do).  Returns NULL if it does
 * not. */
void *
vhost_mem_uva_to_hva(const struct vhost_mem *mem, uint64_t uva, uint64_t len)
{
    for (size_t i = 0; i < mem->n_regions; i++) {
        const struct vhost_mem_region *r = &mem->regions[i];
        uint64_t offset = uva - r->uva;

        if (offset < r->size && len <= r->size - offset) {
            return r->hva + offset;
        }
    }
    return NULL;
}

uint64_t
vhost_mem_total_size(const struct vhost_mem *mem)
{
    uint64_t total = 0;

    for (size_t i = 0; i < mem->n_regions; i++) {
        total += mem->regions[i].size;
    }
    return total;
}
