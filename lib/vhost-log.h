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

#ifndef VHOST_LOG_H
#define VHOST_LOG_H 1

/* The dirty page log of live migration.
 *
 * While a guest migrates, its frontend copies guest memory to the
 * destination again and again, and must learn which pages changed since it
 * last looked.  It cannot see what the backend writes into guest memory, so
 * the backend sets a bit for each page it writes in a bitmap that the
 * frontend shares with it (SET_LOG_BASE with its file descriptor):
 * bit N of the bitmap stands for the 4 KiB guest physical page N.
 *
 * The frontend reads and clears bits as it goes, so a bit must be set after
 * the write it stands for: otherwise the frontend could copy the page in
 * between and never see the write. */

#include <stdint.h>

#include "openvswitch/compiler.h"
#include "vhost-mem.h"

#define VHOST_LOG_PAGE 4096

struct vhost_log {
    uint8_t *bitmap;            /* Shared with the frontend. */
    uint64_t size;              /* Bytes in 'bitmap'. */
    void *map_base;             /* What mmap() returned, for munmap(). */
    size_t map_size;
};

int vhost_log_create(int fd, uint64_t size, uint64_t offset,
                     struct vhost_log **, char **errp)
    OVS_WARN_UNUSED_RESULT;
void vhost_log_destroy(struct vhost_log *);

void vhost_log_gpa(const struct vhost_log *, uint64_t gpa, uint64_t len);
void vhost_log_hva(const struct vhost_log *, const struct vhost_mem *,
                   const void *hva, uint64_t len);

#endif /* vhost-log.h */
