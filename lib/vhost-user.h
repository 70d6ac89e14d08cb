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

#ifndef VHOST_USER_H
#define VHOST_USER_H 1

/* The backend side of the vhost-user protocol, for one virtio-net device.
 *
 * A frontend (QEMU, DPDK virtio-user) tells us through messages where the
 * guest's memory and virtqueues are; vhost_user_handle() checks and applies
 * one message at a time.  Everything in a message is untrusted: its size, the
 * number of file descriptors it carries, every index, address and size.  A
 * message that breaks a rule makes vhost_user_handle() fail with a reason,
 * and the caller closes the connection and calls vhost_user_reset().
 *
 * Threads: the protocol functions are called by one thread at a time (the
 * caller serializes them).  The data path uses the rings concurrently; each
 * ring has a spinlock that the data path holds for a burst and the protocol
 * code holds while it changes the ring under the data path's feet. */

#include <linux/vhost_types.h>
#include <stdbool.h>
#include <stdint.h>

#include "openvswitch/thread.h"
#include "ovs-atomic.h"
#include "packets.h"
#include "vhost-log.h"
#include "vhost-mem.h"
#include "vhost-net-rxtx.h"
#include "virtq.h"

/* Queue pairs we offer (GET_QUEUE_NUM).  KICK, CALL and ERR carry a ring
 * index in 8 bits, so the protocol allows at most 128. */
#define VHOST_USER_MAX_QUEUE_PAIRS 64
#define VHOST_USER_MAX_VRINGS (2 * VHOST_USER_MAX_QUEUE_PAIRS)

/* The most file descriptors one message may carry. */
#define VHOST_USER_MAX_FDS VHOST_MEM_MAX_REGIONS

/* Header flags. */
#define VHOST_USER_VERSION 0x1
#define VHOST_USER_VERSION_MASK 0x3
#define VHOST_USER_REPLY 0x4
#define VHOST_USER_NEED_REPLY 0x8

/* The feature bit that says the backend speaks protocol features. */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits. */
enum vhost_user_protocol_feature {
    VHOST_USER_PROTOCOL_F_MQ = 0,
    VHOST_USER_PROTOCOL_F_LOG_SHMFD = 1,
    VHOST_USER_PROTOCOL_F_RARP = 2,
    VHOST_USER_PROTOCOL_F_REPLY_ACK = 3,
    VHOST_USER_PROTOCOL_F_NET_MTU = 4,
    VHOST_USER_PROTOCOL_F_BACKEND_REQ = 5,
    VHOST_USER_PROTOCOL_F_CROSS_ENDIAN = 6,
    VHOST_USER_PROTOCOL_F_CRYPTO_SESSION = 7,
    VHOST_USER_PROTOCOL_F_PAGEFAULT = 8,
    VHOST_USER_PROTOCOL_F_CONFIG = 9,
    VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD = 10,
    VHOST_USER_PROTOCOL_F_HOST_NOTIFIER = 11,
    VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD = 12,
    VHOST_USER_PROTOCOL_F_RESET_DEVICE = 13,
    VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS = 14,
    VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS = 15,
    VHOST_USER_PROTOCOL_F_STATUS = 16,
};

/* Requests from the frontend. */
enum vhost_user_request {
    VHOST_USER_GET_FEATURES = 1,
    VHOST_USER_SET_FEATURES = 2,
    VHOST_USER_SET_OWNER = 3,
    VHOST_USER_RESET_OWNER = 4,
    VHOST_USER_SET_MEM_TABLE = 5,
    VHOST_USER_SET_LOG_BASE = 6,
    VHOST_USER_SET_LOG_FD = 7,
    VHOST_USER_SET_VRING_NUM = 8,
    VHOST_USER_SET_VRING_ADDR = 9,
    VHOST_USER_SET_VRING_BASE = 10,
    VHOST_USER_GET_VRING_BASE = 11,
    VHOST_USER_SET_VRING_KICK = 12,
    VHOST_USER_SET_VRING_CALL = 13,
    VHOST_USER_SET_VRING_ERR = 14,
    VHOST_USER_GET_PROTOCOL_FEATURES = 15,
    VHOST_USER_SET_PROTOCOL_FEATURES = 16,
    VHOST_USER_GET_QUEUE_NUM = 17,
    VHOST_USER_SET_VRING_ENABLE = 18,
    VHOST_USER_SEND_RARP = 19,
    VHOST_USER_NET_SET_MTU = 20,
    VHOST_USER_SET_STATUS = 39,
    VHOST_USER_GET_STATUS = 40,
    VHOST_USER_MAX_REQUEST = 64
};

const char *vhost_user_request_name(uint32_t request);

/* Payload of KICK, CALL and ERR: the ring index in the low byte, and a flag
 * that says no file descriptor comes with it. */
#define VHOST_USER_VRING_IDX_MASK 0xff
#define VHOST_USER_VRING_NOFD_MASK 0x100

/* SET_LOG_BASE's payload, with LOG_SHMFD: where the dirty log is in the
 * file that comes with the message. */
struct vhost_user_log {
    uint64_t mmap_size;
    uint64_t mmap_offset;
};

/* SET_MEM_TABLE's payload. */
struct vhost_user_memory {
    uint32_t nregions;
    uint32_t padding;
    struct vhost_mem_region_desc regions[VHOST_MEM_MAX_REGIONS];
};

/* A message: the header as it is on the wire, then the payload (kept apart,
 * so that its 64-bit fields are aligned), then the descriptors that came
 * with it. */
struct vhost_user_header {
    uint32_t request;
    uint32_t flags;
    uint32_t size;
};

union vhost_user_payload {
    uint64_t u64;
    struct vhost_vring_state state;
    struct vhost_vring_addr addr;
    struct vhost_user_log log;
    struct vhost_user_memory memory;
};

/* No request of ours has a larger payload. */
#define VHOST_USER_MAX_PAYLOAD sizeof(union vhost_user_payload)

struct vhost_user_msg {
    struct vhost_user_header hdr;
    union vhost_user_payload payload;
    int fds[VHOST_USER_MAX_FDS];
    size_t n_fds;
};

void vhost_user_msg_close_fds(struct vhost_user_msg *);

/* One virtqueue of the device. */
struct vhost_vring {
    /* Held by the data path for each burst, and by the protocol code when it
     * starts, stops or re-points the ring. */
    struct ovs_spin lock;
    struct virtq vq OVS_GUARDED;
    struct vhost_net_params params OVS_GUARDED;
    struct vhost_queue_stats stats OVS_GUARDED;
    bool running OVS_GUARDED;   /* The data path may use 'vq'. */
    bool attached OVS_GUARDED;  /* 'vq' holds this session's state: set
                                 * when the ring starts, kept if the data
                                 * path stops it for a broken ring. */
    atomic_bool running_hint;   /* 'running', to read without the lock. */

    /* Protocol state, used only by the protocol code. */
    uint16_t index;
    uint16_t size;              /* SET_VRING_NUM, 0 if not yet. */
    bool has_addrs;
    struct virtq_addrs addrs;   /* SET_VRING_ADDR. */
    uint32_t base;              /* Where to start: see virtq_set_base(). */
    bool started;               /* KICK seen, no GET_VRING_BASE since. */
    bool enabled;               /* SET_VRING_ENABLE. */
    int kick_fd;                /* Non-blocking. */
    int call_fd;
    int err_fd;
    uint64_t kicks;             /* Kicks read from 'kick_fd' by the
                                 * protocol code, while the data path polls
                                 * and only counts them (the data path's
                                 * own are in 'stats').  Survives
                                 * reconnections. */
    bool kick_fd_unreadable;    /* 'kick_fd' is not an eventfd that reads
                                 * as one: no longer watched. */
};

struct vhost_user_dev {
    char *name;                 /* Port name, for log messages. */
    uint64_t offered_features;  /* What GET_FEATURES answers: fixed when
                                 * the port is made, as its netdev's
                                 * offload flags are. */

    uint64_t features;          /* Acked by SET_FEATURES. */
    uint64_t protocol_features; /* Acked by SET_PROTOCOL_FEATURES. */
    bool has_features;          /* SET_FEATURES seen. */
    uint8_t status;             /* SET_STATUS. */
    uint16_t mtu;               /* NET_SET_MTU, 0 if none. */
    struct vhost_mem *mem;      /* SET_MEM_TABLE, or NULL. */
    struct vhost_log *log;      /* SET_LOG_BASE, or NULL.  Used while
                                 * VHOST_F_LOG_ALL is on. */

    /* SEND_RARP: the frontend asks us to announce the guest's MAC after it
     * migrated here.  The MAC in the low 48 bits and ANNOUNCE_PENDING, or
     * 0; the data path takes it with vhost_user_take_announce(). */
    atomic_uint64_t announce;
    uint64_t n_announces;       /* SEND_RARPs received: survives
                                 * reconnections. */

    /* Rings are made when a message first names them and live as long as
     * the device, so the data path can keep pointers to them. */
    ATOMIC(struct vhost_vring *) vrings[VHOST_USER_MAX_VRINGS];
    size_t n_vrings;            /* 1 + highest index named since reset. */
};

/* Features we offer: without or with checksum and TCP segmentation
 * offloads. */
uint64_t vhost_user_offered_features(bool offloads);
uint64_t vhost_user_offered_protocol_features(void);

struct ds;
void vhost_user_format_features(struct ds *, uint64_t features);
void vhost_user_format_protocol_features(struct ds *, uint64_t features);

void vhost_user_dev_init(struct vhost_user_dev *, const char *name,
                         bool offloads);
void vhost_user_count_kicks(struct vhost_user_dev *, bool data_path_waits);
bool vhost_user_take_announce(struct vhost_user_dev *, struct eth_addr *);
void vhost_user_dev_destroy(struct vhost_user_dev *);
void vhost_user_reset(struct vhost_user_dev *);

int vhost_user_handle(struct vhost_user_dev *, struct vhost_user_msg *,
                      struct vhost_user_msg *reply, bool *has_reply,
                      char **errp)
    OVS_WARN_UNUSED_RESULT;

bool vhost_user_is_ready(const struct vhost_user_dev *);
size_t vhost_user_n_queue_pairs(const struct vhost_user_dev *);

/* Returns ring 'index' of 'dev', or NULL if the frontend has never named
 * it.  Safe to call from any thread. */
static inline struct vhost_vring *
vhost_user_get_vring(const struct vhost_user_dev *dev, size_t index)
{
    struct vhost_vring *vring;

    atomic_read_explicit(CONST_CAST(ATOMIC(struct vhost_vring *) *,
                                    &dev->vrings[index]),
                         &vring, memory_order_acquire);
    return vring;
}

static inline bool
vhost_vring_is_running(const struct vhost_vring *vring)
{
    bool running;

    atomic_read_relaxed(CONST_CAST(atomic_bool *, &vring->running_hint),
                        &running);
    return running;
}

/* Has the frontend asked us to announce the guest (SEND_RARP)?  Cheap
 * enough for the data path to ask on every poll. */
static inline bool
vhost_user_announce_pending(const struct vhost_user_dev *dev)
{
    uint64_t announce;

    atomic_read_relaxed(CONST_CAST(atomic_uint64_t *, &dev->announce),
                        &announce);
    return announce != 0;
}

/* Stops 'vring' after the data path found it broken.  It stays stopped
 * until the frontend restarts it. */
static inline void
vhost_vring_stop(struct vhost_vring *vring)
    OVS_REQUIRES(vring->lock)
{
    vring->running = false;
    atomic_store_relaxed(&vring->running_hint, false);
}

#endif /* vhost-user.h */
