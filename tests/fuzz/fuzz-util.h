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

#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H 1

/* What the fuzz targets share.
 *
 * An input is read as a stream of fields.  Past the end, every field reads
 * as zero, so that any input, however short, means something and the
 * fuzzer never has to learn a length. */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fuzz_input {
    const uint8_t *data;
    size_t size;
};

static inline void
fuzz_take(struct fuzz_input *in, void *dst, size_t n)
{
    size_t have = n < in->size ? n : in->size;

    memcpy(dst, in->data, have);
    memset((uint8_t *) dst + have, 0, n - have);
    in->data += have;
    in->size -= have;
}

/* Reads an 'n'-byte unsigned field.  Fields are little-endian, as the
 * seeds were written on x86 (and as virtio is). */
static inline uint64_t
fuzz_uint(struct fuzz_input *in, size_t n)
{
    uint64_t x = 0;

    fuzz_take(in, &x, n);
    return x;
}

#define fuzz_u8(IN) ((uint8_t) fuzz_uint(IN, 1))
#define fuzz_u16(IN) ((uint16_t) fuzz_uint(IN, 2))
#define fuzz_u32(IN) ((uint32_t) fuzz_uint(IN, 4))
#define fuzz_u64(IN) fuzz_uint(IN, 8)

/* Counts the file descriptors this process has open, so that a target can
 * check that it gave back every one it was handed. */
int fuzz_count_fds(void);

/* For LLVMFuzzerInitialize(): sets up OVS's library without taking the
 * signals libFuzzer and the sanitizers handle, and makes logging quiet but
 * still formats every message (to /dev/null), so that the format strings
 * see the fuzzed values too. */
void fuzz_init(void);

#endif /* fuzz-util.h */
