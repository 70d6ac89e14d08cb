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

/* Fuzzes the vhost-user message handler (lib/vhost-user.c) and what it
 * builds from the messages: guest memory tables, the dirty log, rings.
 *
 * The input is a conversation from a frontend, framed as the socket code
 * frames it, with stand-ins for the file descriptors a frontend passes.
 * Between messages the target does what ovs-vswitchd does with a device:
 * runs the data path on every ring that is running, reads kicks, formats
 * the state for vhost/show.  A message that breaks a rule ends the
 * "connection" as it does in OVS (vhost_user_reset()), and the next record
 * starts a new one.
 *
 * Checked: nothing crashes or reads outside what was mapped, replies fit
 * their payload, and after the device is torn down every descriptor the
 * target handed in is closed and every mapping of guest memory is gone.
 *
 * Input: records, each
 *
 *   u8   descriptors: how many come with the message in the low 4 bits
 *        (more than VHOST_USER_MAX_FDS ends the connection, as the socket
 *        code does), and what they are in bits 4-5:
 *          0: what the request wants: for SET_MEM_TABLE a memfd that
 *             covers its region, for SET_LOG_BASE one that covers the log,
 *             otherwise an eventfd;
 *          1: an eventfd;  2: a 64 KiB memfd;  3: a pipe (neither).
 *   12   the message header as on the wire (request, flags, size)
 *   size the payload (a payload larger than any request's ends the
 *        connection, as the socket code does; a short input is padded with
 *        zeros).
 *
 * tests/fuzz/vhost-user-record writes real frontends' handshakes in this
 * form; the seeds in tests/fuzz/corpus/vhost-user come from QEMU and DPDK
 * testpmd. */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dp-packet.h"
#include "dp-packet-pool.h"
#include "fuzz-util.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "util.h"
#include "vhost-net-rxtx.h"
#include "vhost-user.h"
#include "virtq.h"

#define MAX_RECORDS 256
#define MAX_MEMFD_SIZE (1ULL << 30)
#define MEMFD_NAME "vhost-user-fuzz"

static struct dp_packet_pool *pool;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc OVS_UNUSED, char ***argv OVS_UNUSED)
{
    fuzz_init();
    pool = dp_packet_pool_create(VHOST_PACKET_HEADROOM, 2048);
    return 0;
}

static int
make_memfd(uint64_t size)
{
    int fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC);

    if (fd < 0 || ftruncate(fd, MIN(size, MAX_MEMFD_SIZE))) {
        ovs_fatal(errno, "memfd");
    }
    return fd;
}

/* Makes the 'i'th descriptor of 'msg', of 'kind' (see above). */
static int
make_fd(const struct vhost_user_msg *msg, int kind, size_t i)
{
    const union vhost_user_payload *p = &msg->payload;
    int fds[2];
    int fd;

    switch (kind) {
    case 0:
        if (msg->hdr.request == VHOST_USER_SET_MEM_TABLE
            && i < VHOST_MEM_MAX_REGIONS) {
            const struct vhost_mem_region_desc *r = &p->memory.regions[i];

            return make_memfd(r->mmap_offset + r->memory_size);
        } else if (msg->hdr.request == VHOST_USER_SET_LOG_BASE) {
            return make_memfd(p->log.mmap_offset + p->log.mmap_size);
        }
        /* Fall through. */
    case 1:
        fd = eventfd(0, EFD_CLOEXEC);
        break;
    case 2:
        return make_memfd(64 * 1024);
    default:
        if (pipe(fds)) {
            ovs_fatal(errno, "pipe");
        }
        close(fds[1]);
        fd = fds[0];
        break;
    }
    if (fd < 0) {
        ovs_fatal(errno, "eventfd");
    }
    return fd;
}

/* Reads the next message from 'in' into 'msg', with its descriptors.
 * Returns false if the socket code would have closed the connection on it
 * instead. */
static bool
read_message(struct fuzz_input *in, struct vhost_user_msg *msg)
{
    uint8_t fd_spec = fuzz_u8(in);
    size_t n_fds = fd_spec & 0x0f;

    memset(msg, 0, sizeof *msg);
    fuzz_take(in, &msg->hdr, sizeof msg->hdr);
    if (msg->hdr.size > VHOST_USER_MAX_PAYLOAD || n_fds > VHOST_USER_MAX_FDS) {
        return false;
    }
    fuzz_take(in, &msg->payload, msg->hdr.size);

    for (size_t i = 0; i < n_fds; i++) {
        msg->fds[i] = make_fd(msg, (fd_spec >> 4) & 3, i);
    }
    msg->n_fds = n_fds;
    return true;
}

/* What ovs-vswitchd does with a device between messages.  Returns the
 * number of rings running. */
static size_t
use_device(struct vhost_user_dev *dev)
{
    size_t n_running = 0;
    struct ds s = DS_EMPTY_INITIALIZER;
    struct eth_addr mac;

    vhost_user_count_kicks(dev, false);
    vhost_user_take_announce(dev, &mac);
    vhost_user_is_ready(dev);
    vhost_user_n_queue_pairs(dev);
    vhost_user_format_features(&s, dev->features);
    vhost_user_format_protocol_features(&s, dev->protocol_features);

    for (size_t i = 0; i < VHOST_USER_MAX_VRINGS; i++) {
        struct vhost_vring *vring = vhost_user_get_vring(dev, i);

        if (!vring || !vhost_vring_is_running(vring)) {
            continue;
        }
        ovs_spin_lock(&vring->lock);
        if (vring->running) {
            struct dp_packet_batch batch;
            enum virtq_error error;

            n_running++;
            dp_packet_batch_init(&batch);
            if (i % 2) {
                error = vhost_net_dequeue(&vring->vq, &vring->params, pool,
                                          &batch, &vring->stats);
            } else {
                error = vhost_net_enqueue(&vring->vq, &vring->params,
                                          &batch, 1, ETH_PAYLOAD_MAX,
                                          &vring->stats);
            }
            dp_packet_delete_batch(&batch, true);
            if (error) {
                vhost_vring_stop(vring);
            }
            virtq_format_state(&vring->vq, &s);
            virtq_format_descriptors(&vring->vq, &s);
        }
        ovs_spin_unlock(&vring->lock);
    }
    ds_destroy(&s);
    return n_running;
}

/* Returns the number of mappings of guest memory this process has. */
static int
count_guest_mappings(void)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;

    if (!maps) {
        ovs_fatal(errno, "/proc/self/maps");
    }
    while (fgets(line, sizeof line, maps)) {
        n += strstr(line, "memfd:" MEMFD_NAME) != NULL;
    }
    fclose(maps);
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size };
    /* Counted here, not once: libFuzzer and the sanitizers open descriptors
     * of their own now and then, though not while the target runs. */
    int n_fds = fuzz_count_fds();
    size_t most_running = 0;
    bool was_ready = false;
    struct vhost_user_dev dev;

    vhost_user_dev_init(&dev, "fuzz", true);
    for (int i = 0; i < MAX_RECORDS && in.size; i++) {
        struct vhost_user_msg msg, reply;
        bool has_reply;
        char *reason;

        if (!read_message(&in, &msg)) {
            vhost_user_reset(&dev);
            continue;
        }
        if (vhost_user_handle(&dev, &msg, &reply, &has_reply, &reason)) {
            ovs_assert(reason);
            free(reason);
            vhost_user_reset(&dev);
        } else {
            ovs_assert(!reason);
        }
        ovs_assert(!msg.n_fds);
        ovs_assert(!has_reply || (reply.hdr.size <= VHOST_USER_MAX_PAYLOAD
                                  && !reply.n_fds));
        most_running = MAX(most_running, use_device(&dev));
        was_ready = was_ready || vhost_user_is_ready(&dev);
    }
    if (getenv("VHOST_USER_FUZZ_VERBOSE")) {
        /* How far an input got, to check that the seeds start rings. */
        fprintf(stderr, "vhost-user-fuzz: at most %"PRIuSIZE" ring(s) "
                "running, ready: %s\n", most_running,
                was_ready ? "yes" : "no");
    }
    vhost_user_dev_destroy(&dev);

    /* Forget what poll_fd_wait() was asked to watch. */
    poll_immediate_wake();
    poll_block();

    ovs_assert(fuzz_count_fds() == n_fds);
    ovs_assert(count_guest_mappings() == 0);
    return 0;
}
