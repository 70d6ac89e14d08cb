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

/* Security model: the frontend is untrusted.  Never assume that a field of a
 * message is sensible.  Before any handler runs, the table below has checked
 * the payload size, the number of file descriptors, that the request was
 * negotiated and that a ring index is in range; handlers then check every
 * value they use.  A message that fails a check is refused with a reason and
 * the caller closes the connection, which affects no other port. */

#include <config.h>

#include "vhost-user.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coverage.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "util.h"
#include "virtio-net-hdr.h"

VLOG_DEFINE_THIS_MODULE(vhost_user);

COVERAGE_DEFINE(vhost_user_msg);
COVERAGE_DEFINE(vhost_user_bad_msg);
COVERAGE_DEFINE(vhost_user_ring_resync);
COVERAGE_DEFINE(vhost_user_bad_kick_fd);
COVERAGE_DEFINE(vhost_user_log_base);
COVERAGE_DEFINE(vhost_user_announce);

#define BIT(N) (UINT64_C(1) << (N))

/* In 'announce', beside the MAC: a request is pending. */
#define ANNOUNCE_PENDING BIT(48)

uint64_t
vhost_user_offered_features(bool offloads)
{
    return (BIT(VIRTIO_F_VERSION_1)
            | BIT(VIRTIO_F_ANY_LAYOUT)
            | BIT(VIRTIO_RING_F_INDIRECT_DESC)
            | BIT(VIRTIO_RING_F_EVENT_IDX)
            | BIT(VIRTIO_F_RING_PACKED)
            | BIT(VIRTIO_F_IN_ORDER)
            | BIT(VIRTIO_NET_F_MRG_RXBUF)
            | BIT(VIRTIO_NET_F_MQ)
            | BIT(VIRTIO_NET_F_CTRL_VQ)
            | BIT(VIRTIO_NET_F_MTU)
            | BIT(VIRTIO_NET_F_GUEST_ANNOUNCE)
            | BIT(VHOST_F_LOG_ALL)
            | BIT(VHOST_USER_F_PROTOCOL_FEATURES)
            | (offloads ? virtio_net_offload_features() : 0));
}

uint64_t
vhost_user_offered_protocol_features(void)
{
    return (BIT(VHOST_USER_PROTOCOL_F_MQ)
            | BIT(VHOST_USER_PROTOCOL_F_LOG_SHMFD)
            | BIT(VHOST_USER_PROTOCOL_F_RARP)
            | BIT(VHOST_USER_PROTOCOL_F_REPLY_ACK)
            | BIT(VHOST_USER_PROTOCOL_F_NET_MTU)
            | BIT(VHOST_USER_PROTOCOL_F_STATUS));
}

static void
format_bits(struct ds *s, uint64_t bits, const char *const names[64])
{
    size_t start = s->length;

    for (int i = 0; i < 64; i++) {
        if (bits & BIT(i)) {
            if (s->length > start) {
                ds_put_char(s, ' ');
            }
            if (names[i]) {
                ds_put_cstr(s, names[i]);
            } else {
                ds_put_format(s, "bit%d", i);
            }
        }
    }
}

/* Appends the names of the virtio feature bits in 'features' to 's'. */
void
vhost_user_format_features(struct ds *s, uint64_t features)
{
    static const char *const names[64] = {
        [VIRTIO_NET_F_CSUM] = "CSUM",
        [VIRTIO_NET_F_GUEST_CSUM] = "GUEST_CSUM",
        [VIRTIO_NET_F_CTRL_GUEST_OFFLOADS] = "CTRL_GUEST_OFFLOADS",
        [VIRTIO_NET_F_MTU] = "MTU",
        [VIRTIO_NET_F_MAC] = "MAC",
        [VIRTIO_NET_F_GSO] = "GSO",
        [VIRTIO_NET_F_GUEST_TSO4] = "GUEST_TSO4",
        [VIRTIO_NET_F_GUEST_TSO6] = "GUEST_TSO6",
        [VIRTIO_NET_F_GUEST_ECN] = "GUEST_ECN",
        [VIRTIO_NET_F_GUEST_UFO] = "GUEST_UFO",
        [VIRTIO_NET_F_HOST_TSO4] = "HOST_TSO4",
        [VIRTIO_NET_F_HOST_TSO6] = "HOST_TSO6",
        [VIRTIO_NET_F_HOST_ECN] = "HOST_ECN",
        [VIRTIO_NET_F_HOST_UFO] = "HOST_UFO",
        [VIRTIO_NET_F_MRG_RXBUF] = "MRG_RXBUF",
        [VIRTIO_NET_F_STATUS] = "STATUS",
        [VIRTIO_NET_F_CTRL_VQ] = "CTRL_VQ",
        [VIRTIO_NET_F_CTRL_RX] = "CTRL_RX",
        [VIRTIO_NET_F_CTRL_VLAN] = "CTRL_VLAN",
        [VIRTIO_NET_F_GUEST_ANNOUNCE] = "GUEST_ANNOUNCE",
        [VIRTIO_NET_F_MQ] = "MQ",
        [VIRTIO_NET_F_CTRL_MAC_ADDR] = "CTRL_MAC_ADDR",
        [VIRTIO_F_NOTIFY_ON_EMPTY] = "NOTIFY_ON_EMPTY",
        [VHOST_F_LOG_ALL] = "LOG_ALL",
        [VIRTIO_F_ANY_LAYOUT] = "ANY_LAYOUT",
        [VIRTIO_RING_F_INDIRECT_DESC] = "INDIRECT_DESC",
        [VIRTIO_RING_F_EVENT_IDX] = "EVENT_IDX",
        [VHOST_USER_F_PROTOCOL_FEATURES] = "PROTOCOL_FEATURES",
        [VIRTIO_F_VERSION_1] = "VERSION_1",
        [VIRTIO_F_ACCESS_PLATFORM] = "ACCESS_PLATFORM",
        [VIRTIO_F_RING_PACKED] = "RING_PACKED",
        [VIRTIO_F_IN_ORDER] = "IN_ORDER",
    };

    format_bits(s, features, names);
}

/* Appends the names of the protocol feature bits in 'features' to 's'. */
void
vhost_user_format_protocol_features(struct ds *s, uint64_t features)
{
    static const char *const names[64] = {
        [VHOST_USER_PROTOCOL_F_MQ] = "MQ",
        [VHOST_USER_PROTOCOL_F_LOG_SHMFD] = "LOG_SHMFD",
        [VHOST_USER_PROTOCOL_F_RARP] = "RARP",
        [VHOST_USER_PROTOCOL_F_REPLY_ACK] = "REPLY_ACK",
        [VHOST_USER_PROTOCOL_F_NET_MTU] = "NET_MTU",
        [VHOST_USER_PROTOCOL_F_BACKEND_REQ] = "BACKEND_REQ",
        [VHOST_USER_PROTOCOL_F_CROSS_ENDIAN] = "CROSS_ENDIAN",
        [VHOST_USER_PROTOCOL_F_CRYPTO_SESSION] = "CRYPTO_SESSION",
        [VHOST_USER_PROTOCOL_F_PAGEFAULT] = "PAGEFAULT",
        [VHOST_USER_PROTOCOL_F_CONFIG] = "CONFIG",
        [VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD] = "BACKEND_SEND_FD",
        [VHOST_USER_PROTOCOL_F_HOST_NOTIFIER] = "HOST_NOTIFIER",
        [VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD] = "INFLIGHT_SHMFD",
        [VHOST_USER_PROTOCOL_F_RESET_DEVICE] = "RESET_DEVICE",
        [VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS]
            = "INBAND_NOTIFICATIONS",
        [VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS] = "CONFIGURE_MEM_SLOTS",
        [VHOST_USER_PROTOCOL_F_STATUS] = "STATUS",
    };

    format_bits(s, features, names);
}

void
vhost_user_msg_close_fds(struct vhost_user_msg *msg)
{
    for (size_t i = 0; i < msg->n_fds; i++) {
        if (msg->fds[i] >= 0) {
            close(msg->fds[i]);
            msg->fds[i] = -1;
        }
    }
    msg->n_fds = 0;
}

/* Takes the 'i'th file descriptor out of 'msg', so it is not closed with the
 * message. */
static int
msg_take_fd(struct vhost_user_msg *msg, size_t i)
{
    int fd = msg->fds[i];

    msg->fds[i] = -1;
    return fd;
}

static void
replace_fd(int *fdp, int fd)
{
    if (*fdp >= 0) {
        close(*fdp);
    }
    *fdp = fd;
}

static bool
dev_has_protocol_feature(const struct vhost_user_dev *dev, int bit)
{
    return dev->protocol_features & BIT(bit);
}

/* ## ----- ## */
/* ## Rings ## */
/* ## ----- ## */

static struct vhost_vring *
vring_get_or_create(struct vhost_user_dev *dev, size_t index)
{
    struct vhost_vring *vring = vhost_user_get_vring(dev, index);

    if (!vring) {
        vring = xzalloc(sizeof *vring);
        ovs_spin_init(&vring->lock);
        atomic_init(&vring->running_hint, false);
        vring->index = index;
        vring->kick_fd = vring->call_fd = vring->err_fd = -1;
        vring->vq.call_fd = vring->vq.kick_fd = -1;
        /* Release: the ring is initialized before the data path can see
         * it. */
        atomic_store_explicit(&dev->vrings[index], vring,
                              memory_order_release);
    }
    dev->n_vrings = MAX(dev->n_vrings, index + 1);
    return vring;
}

/* Brings 'vring' into the state its protocol state calls for: running (and
 * pointed at the current memory table) if it was started, is enabled and is
 * fully described, stopped otherwise. */
static int
vring_apply(struct vhost_user_dev *dev, struct vhost_vring *vring,
            char **errp)
{
    /* Without protocol features there is no SET_VRING_ENABLE: every ring is
     * enabled. */
    bool enabled = (vring->enabled
                    || !(dev->features
                         & BIT(VHOST_USER_F_PROTOCOL_FEATURES)));
    bool want = (vring->started && enabled && dev->mem && vring->size
                 && vring->has_addrs);
    int error = 0;

    *errp = NULL;
    ovs_spin_lock(&vring->lock);
    if (want) {
        struct virtq *vq = &vring->vq;
        bool packed = dev->features & BIT(VIRTIO_F_RING_PACKED);
        uint32_t base;

        /* A ring that ran in this session (even if it broke since) goes on
         * from where it is, even if it fails to attach now; one that did
         * not starts at its base. */
        if (vring->attached) {
            vring->base = virtq_get_base(vq);
        }
        base = vring->base;

        error = virtq_attach(vq, dev->mem, packed, vring->size,
                             &vring->addrs, errp);
        if (!error) {
            vq->event_idx = dev->features & BIT(VIRTIO_RING_F_EVENT_IDX);
            vq->indirect = dev->features & BIT(VIRTIO_RING_F_INDIRECT_DESC);
            vq->in_order = dev->features & BIT(VIRTIO_F_IN_ORDER);
            vq->call_fd = vring->call_fd;
            vq->kick_fd = vring->kick_fd_unreadable ? -1 : vring->kick_fd;
            vq->log = (dev->features & BIT(VHOST_F_LOG_ALL)
                       ? dev->log : NULL);
            if (!packed && !vring->attached
                && virtq_guest_used_idx(vq) != base) {
                /* We complete every buffer we take before we let go of the
                 * ring, so the used index is where we stopped; a frontend
                 * that restarted (DPDK virtio-user reconnecting) may not
                 * know that. */
                COVERAGE_INC(vhost_user_ring_resync);
                VLOG_INFO("%s: virtqueue %"PRIu16": resuming at used index "
                          "%"PRIu16" instead of %"PRIu32, dev->name,
                          vring->index, virtq_guest_used_idx(vq), base);
                base = virtq_guest_used_idx(vq);
            }
            error = virtq_set_base(vq, base, errp);
        }
        if (!error) {
            virtq_disable_kicks(vq);

            vring->params.name = dev->name;
            vring->params.vring = vring->index;
            vring->params.hdr_len = virtio_net_hdr_len(dev->features);
            vring->params.mergeable
                = dev->features & BIT(VIRTIO_NET_F_MRG_RXBUF);
            vring->params.features = dev->features;
            vring->params.guest_mtu = dev->mtu;
        }
        vring->running = vring->attached = !error;
    } else if (vring->attached) {
        vring->base = virtq_get_base(&vring->vq);
        vring->running = vring->attached = false;
    }
    atomic_store_relaxed(&vring->running_hint, vring->running);
    ovs_spin_unlock(&vring->lock);
    return error;
}

/* Applies the protocol state to every ring, even after one fails: the
 * caller then frees the memory table or log the rings used before, and a
 * ring still running on it would reach unmapped memory.  Returns the first
 * error, with its reason in '*errp'. */
static int
apply_all_vrings(struct vhost_user_dev *dev, char **errp)
{
    int first_error = 0;

    *errp = NULL;
    for (size_t i = 0; i < dev->n_vrings; i++) {
        struct vhost_vring *vring = vhost_user_get_vring(dev, i);

        if (vring) {
            char *reason;
            int error = vring_apply(dev, vring, &reason);

            if (error && !first_error) {
                first_error = error;
                *errp = reason;
            } else {
                free(reason);
            }
        }
    }
    return first_error;
}

/* Forgets everything the frontend said about 'vring', except its counters,
 * which belong to the port. */
static void
vring_reset(struct vhost_vring *vring)
{
    ovs_spin_lock(&vring->lock);
    vring->running = vring->attached = false;
    atomic_store_relaxed(&vring->running_hint, false);
    vring->vq.call_fd = vring->vq.kick_fd = -1;
    ovs_spin_unlock(&vring->lock);

    replace_fd(&vring->kick_fd, -1);
    replace_fd(&vring->call_fd, -1);
    replace_fd(&vring->err_fd, -1);
    vring->size = 0;
    vring->has_addrs = false;
    vring->base = 0;
    vring->started = false;
    vring->enabled = false;
}

/* ## -------- ## */
/* ## Handlers ## */
/* ## -------- ## */

/* Each handler returns 0 or a positive errno value with a reason in '*errp'.
 * 'vring' is the ring the message names, for messages that name one.  A
 * handler that has an answer fills in 'reply's payload and returns its
 * size in '*reply_size'. */
struct handler_ctx {
    struct vhost_user_dev *dev;
    struct vhost_user_msg *msg;
    struct vhost_vring *vring;
    union vhost_user_payload *reply;
    size_t reply_size;
    bool empty_reply;           /* Reply even though 'reply_size' is 0. */
    char **errp;
};

static int
refuse(struct handler_ctx *ctx, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);

static int
refuse(struct handler_ctx *ctx, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    *ctx->errp = xvasprintf(format, args);
    va_end(args);
    return EINVAL;
}

static void
reply_u64(struct handler_ctx *ctx, uint64_t value)
{
    ctx->reply->u64 = value;
    ctx->reply_size = sizeof ctx->reply->u64;
}

static int
handle_get_features(struct handler_ctx *ctx)
{
    reply_u64(ctx, ctx->dev->offered_features);
    return 0;
}

static int
handle_set_features(struct handler_ctx *ctx)
{
    struct vhost_user_dev *dev = ctx->dev;
    uint64_t features = ctx->msg->payload.u64;
    uint64_t unknown = features & ~dev->offered_features;

    if (unknown) {
        return refuse(ctx, "acked features %#"PRIx64" that were not offered",
                      unknown);
    }
    if (dev->has_features && features != dev->features) {
        VLOG_INFO("%s: features changed from %#"PRIx64" to %#"PRIx64,
                  dev->name, dev->features, features);
    }
    if ((features ^ dev->features) & BIT(VHOST_F_LOG_ALL)) {
        VLOG_INFO("%s: dirty page logging %s", dev->name,
                  features & BIT(VHOST_F_LOG_ALL)
                  ? "on (the guest is migrating)" : "off");
    }
    dev->features = features;
    dev->has_features = true;
    /* The header length and ring options follow the features. */
    return apply_all_vrings(dev, ctx->errp);
}

static int
handle_set_owner(struct handler_ctx *ctx OVS_UNUSED)
{
    return 0;
}

static int
handle_reset_owner(struct handler_ctx *ctx)
{
    vhost_user_reset(ctx->dev);
    return 0;
}

static int
handle_set_mem_table(struct handler_ctx *ctx)
{
    struct vhost_user_dev *dev = ctx->dev;
    const struct vhost_user_memory *memory = &ctx->msg->payload.memory;
    struct vhost_mem *old = dev->mem;
    struct vhost_mem *mem;
    int error;

    error = vhost_mem_create(memory->regions, ctx->msg->fds,
                             memory->nregions, &mem, ctx->errp);
    if (error) {
        return error;
    }

    /* A frontend may send the table any number of times (QEMU does on
     * memory hotplug): the log says what the first one was, and then only
     * what changed, at a limited rate. */
    bool same = (old && old->n_regions == mem->n_regions
                 && vhost_mem_total_size(old) == vhost_mem_total_size(mem));

    /* Running rings move to the new table under their locks; after that no
     * one can be using the old one. */
    dev->mem = mem;
    error = apply_all_vrings(dev, ctx->errp);
    vhost_mem_destroy(old);
    if (!error) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(10, 20);
        enum vlog_level level = VLL_INFO;

        if (same) {
            level = VLL_DBG;
        } else if (old && vlog_should_drop(&this_module, VLL_INFO, &rl)) {
            level = VLL_DBG;
        }
        VLOG(level, "%s: guest memory: %"PRIuSIZE" region(s), %"PRIu64
             " MiB", dev->name, mem->n_regions,
             vhost_mem_total_size(mem) >> 20);
    }
    return error;
}

static int
handle_set_vring_num(struct handler_ctx *ctx)
{
    uint32_t num = ctx->msg->payload.state.num;

    bool packed = ctx->dev->features & BIT(VIRTIO_F_RING_PACKED);

    if (!virtq_valid_size(packed, num)) {
        return refuse(ctx, "virtqueue %"PRIu16": size %"PRIu32" is not %s "
                      "%d", ctx->vring->index, num,
                      packed ? "between 1 and" : "a power of 2 up to",
                      VIRTQ_MAX_SIZE);
    }
    if (ctx->vring->started) {
        return refuse(ctx, "virtqueue %"PRIu16": size changed while it runs",
                      ctx->vring->index);
    }
    ctx->vring->size = num;
    return 0;
}

static int
handle_set_vring_addr(struct handler_ctx *ctx)
{
    const struct vhost_vring_addr *addr = &ctx->msg->payload.addr;
    struct vhost_vring *vring = ctx->vring;

    if (addr->flags & ~(uint32_t) BIT(VHOST_VRING_F_LOG)) {
        return refuse(ctx, "virtqueue %"PRIu16": unsupported address flags "
                      "%#"PRIx32, vring->index, addr->flags);
    }
    /* VHOST_VRING_F_LOG asks us to log the used ring at 'log_guest_addr'.
     * While VHOST_F_LOG_ALL is on we log every page we write, the ring's
     * included, by the guest physical address our own mapping gives. */
    vring->addrs.desc = addr->desc_user_addr;
    vring->addrs.avail = addr->avail_user_addr;
    vring->addrs.used = addr->used_user_addr;
    vring->has_addrs = true;
    return vring_apply(ctx->dev, vring, ctx->errp);
}

static int
handle_set_vring_base(struct handler_ctx *ctx)
{
    uint32_t num = ctx->msg->payload.state.num;

    /* A packed ring's base has the used position in its upper half. */
    if (num > UINT16_MAX
        && !(ctx->dev->features & BIT(VIRTIO_F_RING_PACKED))) {
        return refuse(ctx, "virtqueue %"PRIu16": base %"PRIu32" is out of "
                      "range", ctx->vring->index, num);
    }
    if (ctx->vring->started) {
        return refuse(ctx, "virtqueue %"PRIu16": base changed while it runs",
                      ctx->vring->index);
    }
    ctx->vring->base = num;
    return 0;
}

/* Replaces 'vring''s kick descriptor with 'fd' (or -1), which is an eventfd
 * unless 'unreadable'.  The data path reads the kick descriptor under the
 * lock: it gets the new one before the old one is closed, so that it never
 * reads a descriptor that was closed, and perhaps reused for something
 * else.  A PMD thread may still be asleep in poll() on the old number; the
 * change of the port's wake_seq that follows every message wakes it. */
static void
vring_set_kick_fd(struct vhost_vring *vring, int fd, bool unreadable)
{
    int old_fd = vring->kick_fd;

    vring->kick_fd = fd;
    vring->kick_fd_unreadable = unreadable;
    ovs_spin_lock(&vring->lock);
    vring->vq.kick_fd = unreadable ? -1 : fd;
    vring->vq.kick_fd_broken = false;
    ovs_spin_unlock(&vring->lock);
    if (old_fd >= 0) {
        close(old_fd);
    }
}

static int
handle_get_vring_base(struct handler_ctx *ctx)
{
    struct vhost_vring *vring = ctx->vring;
    int error;

    /* Stop the ring: once we reply, the frontend may hand it to someone
     * else. */
    vring->started = false;
    error = vring_apply(ctx->dev, vring, ctx->errp);
    vring_set_kick_fd(vring, -1, false);

    ctx->reply->state.index = vring->index;
    ctx->reply->state.num = vring->base;
    ctx->reply_size = sizeof ctx->reply->state;
    return error;
}

/* The descriptor that came with KICK, CALL or ERR, or -1 for "none". */
static int
take_ring_fd(struct handler_ctx *ctx)
{
    return (ctx->msg->payload.u64 & VHOST_USER_VRING_NOFD_MASK
            ? -1 : msg_take_fd(ctx->msg, 0));
}

static int
handle_set_vring_kick(struct handler_ctx *ctx)
{
    struct vhost_vring *vring = ctx->vring;
    int fd = take_ring_fd(ctx);
    bool unreadable = false;

    /* The kick descriptor tells us the ring starts.  A data path that
     * polls does not need the kicks, and vhost_user_count_kicks() counts
     * them; in interrupt mode they wake the data path. */
    if (fd >= 0) {
        struct stat st;

        /* An eventfd is an anonymous inode: no file type.  Anything else
         * (a file, a pipe) is not watched.  It is read without blocking
         * (virtq_read_eventfd()), whatever its flags, which the frontend
         * shares and can change. */
        if (fstat(fd, &st) || st.st_mode & S_IFMT) {
            VLOG_INFO("%s: virtqueue %"PRIu16": kick descriptor is not an "
                      "eventfd: kicks will not be counted", ctx->dev->name,
                      vring->index);
            unreadable = true;
        }
    }
    vring_set_kick_fd(vring, fd, unreadable);
    vring->started = true;
    return vring_apply(ctx->dev, vring, ctx->errp);
}

static int
handle_set_vring_call(struct handler_ctx *ctx)
{
    struct vhost_vring *vring = ctx->vring;
    int old_fd = vring->call_fd;

    vring->call_fd = take_ring_fd(ctx);
    ovs_spin_lock(&vring->lock);
    vring->vq.call_fd = vring->call_fd;
    ovs_spin_unlock(&vring->lock);
    if (old_fd >= 0) {
        close(old_fd);
    }
    return 0;
}

static int
handle_set_vring_err(struct handler_ctx *ctx)
{
    replace_fd(&ctx->vring->err_fd, take_ring_fd(ctx));
    return 0;
}

static int
handle_get_protocol_features(struct handler_ctx *ctx)
{
    reply_u64(ctx, vhost_user_offered_protocol_features());
    return 0;
}

static int
handle_set_protocol_features(struct handler_ctx *ctx)
{
    uint64_t features = ctx->msg->payload.u64;
    uint64_t unknown = features & ~vhost_user_offered_protocol_features();

    if (unknown) {
        return refuse(ctx, "acked protocol features %#"PRIx64" that were "
                      "not offered", unknown);
    }
    ctx->dev->protocol_features = features;
    return 0;
}

static int
handle_get_queue_num(struct handler_ctx *ctx)
{
    reply_u64(ctx, VHOST_USER_MAX_QUEUE_PAIRS);
    return 0;
}

static int
handle_set_vring_enable(struct handler_ctx *ctx)
{
    uint32_t num = ctx->msg->payload.state.num;

    if (num > 1) {
        return refuse(ctx, "virtqueue %"PRIu16": enable value %"PRIu32" is "
                      "neither 0 nor 1", ctx->vring->index, num);
    }
    ctx->vring->enabled = num;
    return vring_apply(ctx->dev, ctx->vring, ctx->errp);
}

static int
handle_set_log_base(struct handler_ctx *ctx)
{
    const struct vhost_user_log *desc = &ctx->msg->payload.log;
    struct vhost_user_dev *dev = ctx->dev;
    struct vhost_log *old = dev->log;
    struct vhost_log *log;
    int error;

    error = vhost_log_create(ctx->msg->fds[0], desc->mmap_size,
                             desc->mmap_offset, &log, ctx->errp);
    if (error) {
        return error;
    }

    /* As for the memory table: rings move to the new log under their
     * locks, and then no one can be using the old one. */
    dev->log = log;
    error = apply_all_vrings(dev, ctx->errp);
    vhost_log_destroy(old);
    if (!error) {
        COVERAGE_INC(vhost_user_log_base);
        VLOG_INFO("%s: dirty page log of %"PRIu64" bytes (for %"PRIu64" MiB "
                  "of guest memory)", dev->name, log->size,
                  log->size * 8 * VHOST_LOG_PAGE >> 20);
        /* The frontend waits for an answer, with no payload. */
        ctx->empty_reply = true;
    }
    return error;
}

static int
handle_send_rarp(struct handler_ctx *ctx)
{
    struct vhost_user_dev *dev = ctx->dev;
    struct eth_addr mac;
    uint64_t announce = ANNOUNCE_PENDING;

    /* The MAC is the first six bytes of the payload. */
    memcpy(&mac, &ctx->msg->payload.u64, ETH_ADDR_LEN);
    for (int i = 0; i < ETH_ADDR_LEN; i++) {
        announce |= (uint64_t) mac.ea[i] << (8 * i);
    }
    atomic_store_explicit(&dev->announce, announce, memory_order_release);
    dev->n_announces++;
    COVERAGE_INC(vhost_user_announce);
    VLOG_INFO("%s: frontend asks us to announce "ETH_ADDR_FMT" (the guest "
              "migrated here)", dev->name, ETH_ADDR_ARGS(mac));
    return 0;
}

static int
handle_net_set_mtu(struct handler_ctx *ctx)
{
    uint64_t mtu = ctx->msg->payload.u64;

    if (mtu < 68 || mtu > UINT16_MAX) {
        return refuse(ctx, "MTU %"PRIu64" is out of range", mtu);
    }
    ctx->dev->mtu = mtu;
    /* The rings may already be running. */
    for (size_t i = 0; i < ctx->dev->n_vrings; i++) {
        struct vhost_vring *vring = vhost_user_get_vring(ctx->dev, i);

        if (vring) {
            ovs_spin_lock(&vring->lock);
            vring->params.guest_mtu = mtu;
            ovs_spin_unlock(&vring->lock);
        }
    }
    VLOG_INFO("%s: frontend set the MTU to %"PRIu64, ctx->dev->name, mtu);
    return 0;
}

static int
handle_set_status(struct handler_ctx *ctx)
{
    uint64_t status = ctx->msg->payload.u64;

    if (status > UINT8_MAX) {
        return refuse(ctx, "device status %#"PRIx64" is out of range",
                      status);
    }
    ctx->dev->status = status;
    return 0;
}

static int
handle_get_status(struct handler_ctx *ctx)
{
    reply_u64(ctx, ctx->dev->status);
    return 0;
}

/* ## -------- ## */
/* ## Dispatch ## */
/* ## -------- ## */

/* What a request must look like.  Checked before its handler runs. */
enum payload_kind {
    P_NONE,                     /* Empty. */
    P_U64,                      /* A 64-bit value. */
    P_RING_FD,                  /* 64 bits: ring index, and the no-fd flag;
                                 * one descriptor unless the flag is set. */
    P_STATE,                    /* struct vhost_vring_state, names a ring. */
    P_ADDR,                     /* struct vhost_vring_addr, names a ring. */
    P_MEMORY,                   /* A memory table and one descriptor per
                                 * region. */
    P_LOG,                      /* struct vhost_user_log, one descriptor. */
};

struct request_rule {
    const char *name;
    enum payload_kind payload;
    int protocol_feature;       /* Needed to send this request, or -1. */
    int (*handle)(struct handler_ctx *);
};

#define RULE(REQUEST, PAYLOAD, FEATURE, HANDLER) \
    [VHOST_USER_##REQUEST] = { #REQUEST, PAYLOAD, FEATURE, HANDLER }

static const struct request_rule rules[VHOST_USER_MAX_REQUEST] = {
    RULE(GET_FEATURES, P_NONE, -1, handle_get_features),
    RULE(SET_FEATURES, P_U64, -1, handle_set_features),
    RULE(SET_OWNER, P_NONE, -1, handle_set_owner),
    RULE(RESET_OWNER, P_NONE, -1, handle_reset_owner),
    RULE(SET_MEM_TABLE, P_MEMORY, -1, handle_set_mem_table),
    RULE(SET_VRING_NUM, P_STATE, -1, handle_set_vring_num),
    RULE(SET_VRING_ADDR, P_ADDR, -1, handle_set_vring_addr),
    RULE(SET_VRING_BASE, P_STATE, -1, handle_set_vring_base),
    RULE(GET_VRING_BASE, P_STATE, -1, handle_get_vring_base),
    RULE(SET_VRING_KICK, P_RING_FD, -1, handle_set_vring_kick),
    RULE(SET_VRING_CALL, P_RING_FD, -1, handle_set_vring_call),
    RULE(SET_VRING_ERR, P_RING_FD, -1, handle_set_vring_err),
    /* Without LOG_SHMFD the log would be an address in the frontend's
     * own memory, which we cannot reach. */
    RULE(SET_LOG_BASE, P_LOG, VHOST_USER_PROTOCOL_F_LOG_SHMFD,
         handle_set_log_base),
    RULE(GET_PROTOCOL_FEATURES, P_NONE, -1, handle_get_protocol_features),
    RULE(SET_PROTOCOL_FEATURES, P_U64, -1, handle_set_protocol_features),
    RULE(GET_QUEUE_NUM, P_NONE, VHOST_USER_PROTOCOL_F_MQ,
         handle_get_queue_num),
    /* DPDK virtio-user sends SET_VRING_ENABLE even without protocol
     * features. */
    RULE(SET_VRING_ENABLE, P_STATE, -1, handle_set_vring_enable),
    RULE(SEND_RARP, P_U64, VHOST_USER_PROTOCOL_F_RARP, handle_send_rarp),
    RULE(NET_SET_MTU, P_U64, VHOST_USER_PROTOCOL_F_NET_MTU,
         handle_net_set_mtu),
    RULE(SET_STATUS, P_U64, VHOST_USER_PROTOCOL_F_STATUS, handle_set_status),
    RULE(GET_STATUS, P_NONE, VHOST_USER_PROTOCOL_F_STATUS,
         handle_get_status),
};

/* Names of requests we know but do not support, for log messages. */
static const char *const other_names[VHOST_USER_MAX_REQUEST] = {
    [VHOST_USER_SET_LOG_FD] = "SET_LOG_FD",
    [21] = "SET_BACKEND_REQ_FD",
    [22] = "IOTLB_MSG",
    [23] = "SET_VRING_ENDIAN",
    [24] = "GET_CONFIG",
    [25] = "SET_CONFIG",
    [31] = "GET_INFLIGHT_FD",
    [32] = "SET_INFLIGHT_FD",
    [34] = "RESET_DEVICE",
    [35] = "VRING_KICK",
    [36] = "GET_MAX_MEM_SLOTS",
    [37] = "ADD_MEM_REG",
    [38] = "REM_MEM_REG",
};

const char *
vhost_user_request_name(uint32_t request)
{
    if (request < VHOST_USER_MAX_REQUEST) {
        if (rules[request].name) {
            return rules[request].name;
        }
        if (other_names[request]) {
            return other_names[request];
        }
    }
    return "unknown request";
}

static size_t
payload_size(enum payload_kind kind, const union vhost_user_payload *p)
{
    switch (kind) {
    case P_NONE:
        return 0;
    case P_U64:
    case P_RING_FD:
        return sizeof p->u64;
    case P_STATE:
        return sizeof p->state;
    case P_ADDR:
        return sizeof p->addr;
    case P_LOG:
        return sizeof p->log;
    case P_MEMORY:
        return (offsetof(struct vhost_user_memory, regions)
                + p->memory.nregions * sizeof p->memory.regions[0]);
    }
    OVS_NOT_REACHED();
}

/* Checks 'msg' against 'rule' and finds the ring it names, if any.  Returns
 * NULL if it passes, otherwise a reason. */
static char *
check_msg(struct vhost_user_dev *dev, const struct request_rule *rule,
          struct vhost_user_msg *msg, struct vhost_vring **vringp)
{
    const union vhost_user_payload *p = &msg->payload;
    size_t expected_fds = 0;
    uint64_t ring = UINT64_MAX;

    *vringp = NULL;
    if (rule->protocol_feature >= 0
        && !dev_has_protocol_feature(dev, rule->protocol_feature)) {
        return xstrdup("request needs a protocol feature that was not "
                       "negotiated");
    }

    if (rule->payload == P_MEMORY) {
        if (msg->hdr.size < offsetof(struct vhost_user_memory, regions)) {
            return xasprintf("%"PRIu32"-byte payload is too short",
                             msg->hdr.size);
        }
        if (!p->memory.nregions
            || p->memory.nregions > VHOST_MEM_MAX_REGIONS) {
            return xasprintf("memory table with %"PRIu32" regions (must be "
                             "1 to %d)", p->memory.nregions,
                             VHOST_MEM_MAX_REGIONS);
        }
    }
    if (msg->hdr.size != payload_size(rule->payload, p)) {
        return xasprintf("%"PRIu32"-byte payload, expected %"PRIuSIZE,
                         msg->hdr.size, payload_size(rule->payload, p));
    }

    switch (rule->payload) {
    case P_NONE:
    case P_U64:
        break;
    case P_RING_FD:
        if (p->u64 & ~(uint64_t) (VHOST_USER_VRING_IDX_MASK
                                  | VHOST_USER_VRING_NOFD_MASK)) {
            return xasprintf("reserved bits set in %#"PRIx64, p->u64);
        }
        ring = p->u64 & VHOST_USER_VRING_IDX_MASK;
        expected_fds = p->u64 & VHOST_USER_VRING_NOFD_MASK ? 0 : 1;
        break;
    case P_STATE:
        ring = p->state.index;
        break;
    case P_ADDR:
        ring = p->addr.index;
        break;
    case P_MEMORY:
        expected_fds = p->memory.nregions;
        break;
    case P_LOG:
        expected_fds = 1;
        break;
    }

    if (msg->n_fds != expected_fds) {
        return xasprintf("came with %"PRIuSIZE" file descriptor(s), "
                         "expected %"PRIuSIZE, msg->n_fds, expected_fds);
    }
    if (ring != UINT64_MAX) {
        if (ring >= VHOST_USER_MAX_VRINGS) {
            return xasprintf("virtqueue index %"PRIu64" is out of range "
                             "(at most %d queue pairs)", ring,
                             VHOST_USER_MAX_QUEUE_PAIRS);
        }
        *vringp = vring_get_or_create(dev, ring);
    }
    return NULL;
}

/* Handles 'msg' from the frontend.  Closes or takes the descriptors that came
 * with it.  If the frontend expects an answer, fills in 'reply' and sets
 * '*has_reply'.
 *
 * Returns 0, or a positive errno value and a reason in '*errp' (the caller
 * frees it) if the message broke a rule: then the caller should still send
 * 'reply' if '*has_reply' (a refusal the frontend asked for), and close the
 * connection. */
int
vhost_user_handle(struct vhost_user_dev *dev, struct vhost_user_msg *msg,
                  struct vhost_user_msg *reply, bool *has_reply, char **errp)
{
    uint32_t request = msg->hdr.request;
    const struct request_rule *rule = (request < VHOST_USER_MAX_REQUEST
                                       ? &rules[request] : NULL);
    struct handler_ctx ctx = {
        .dev = dev,
        .msg = msg,
        .reply = &reply->payload,
        .errp = errp,
    };
    int error;

    COVERAGE_INC(vhost_user_msg);
    *errp = NULL;
    *has_reply = false;

    if ((msg->hdr.flags & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION) {
        *errp = xasprintf("protocol version %"PRIu32" (expected %d)",
                          msg->hdr.flags & VHOST_USER_VERSION_MASK,
                          VHOST_USER_VERSION);
        error = EPROTO;
    } else if (!rule || !rule->handle) {
        *errp = xstrdup("not supported");
        error = EOPNOTSUPP;
    } else {
        *errp = check_msg(dev, rule, msg, &ctx.vring);
        error = *errp ? EINVAL : rule->handle(&ctx);
    }
    vhost_user_msg_close_fds(msg);

    if (error) {
        /* Say which request it was. */
        char *reason = *errp;

        COVERAGE_INC(vhost_user_bad_msg);
        if (request < VHOST_USER_MAX_REQUEST && (rules[request].name
                                                 || other_names[request])) {
            *errp = xasprintf("%s: %s", vhost_user_request_name(request),
                              reason);
        } else {
            *errp = xasprintf("request %"PRIu32": %s", request, reason);
        }
        free(reason);
    }

    reply->hdr.request = request;
    reply->hdr.flags = VHOST_USER_VERSION | VHOST_USER_REPLY;
    reply->n_fds = 0;
    if (ctx.reply_size && !error) {
        reply->hdr.size = ctx.reply_size;
        *has_reply = true;
    } else if (ctx.empty_reply && !error) {
        /* A request with a reply of its own gets no REPLY_ACK. */
        reply->hdr.size = 0;
        *has_reply = true;
    } else if (msg->hdr.flags & VHOST_USER_NEED_REPLY
               && dev_has_protocol_feature(dev,
                                           VHOST_USER_PROTOCOL_F_REPLY_ACK)) {
        /* REPLY_ACK: zero for success. */
        reply->hdr.size = sizeof reply->payload.u64;
        reply->payload.u64 = error != 0;
        *has_reply = true;
    }
    return error;
}

/* ## ----------------- ## */
/* ## Device life cycle ## */
/* ## ----------------- ## */

void
vhost_user_dev_init(struct vhost_user_dev *dev, const char *name,
                    bool offloads)
{
    memset(dev, 0, sizeof *dev);
    dev->name = xstrdup(name);
    dev->offered_features = vhost_user_offered_features(offloads);
    atomic_init(&dev->announce, 0);
    for (size_t i = 0; i < VHOST_USER_MAX_VRINGS; i++) {
        atomic_init(&dev->vrings[i], NULL);
    }
}

/* Counts the kicks that arrived on each ring's kick descriptor, and makes
 * the next poll_block() wake when more do.  A data path that polls does not
 * need them, so a guest that kicks anyway costs this thread a read, not the
 * PMD threads.  The guest's transmit rings are skipped if 'data_path_waits':
 * their kicks wake the data path (interrupt mode), and a read here would
 * take a wake-up meant for it. */
void
vhost_user_count_kicks(struct vhost_user_dev *dev, bool data_path_waits)
{
    for (size_t i = 0; i < dev->n_vrings; i++) {
        struct vhost_vring *vring = vhost_user_get_vring(dev, i);
        uint64_t n;

        if (!vring || vring->kick_fd < 0 || vring->kick_fd_unreadable
            || (data_path_waits && i % 2)) {
            continue;
        }

        int error = virtq_read_eventfd(vring->kick_fd, &n);
        if (!error) {
            vring->kicks += n;
        } else if (error != EAGAIN) {
            /* Anything else could wake us forever. */
            COVERAGE_INC(vhost_user_bad_kick_fd);
            VLOG_WARN("%s: virtqueue %"PRIu16": kick descriptor does not "
                      "read as an eventfd (%s): no longer counting kicks",
                      dev->name, vring->index, ovs_strerror(error));
            vring->kick_fd_unreadable = true;
            continue;
        }
        poll_fd_wait(vring->kick_fd, POLLIN);
    }
}

/* Takes the pending announce request, if any, and puts the MAC to announce
 * in '*mac'.  Called by the data path. */
bool
vhost_user_take_announce(struct vhost_user_dev *dev, struct eth_addr *mac)
{
    uint64_t announce;

    announce = atomic_exchange_explicit(&dev->announce, 0,
                                        memory_order_acquire);
    if (!announce) {
        return false;
    }
    for (int i = 0; i < ETH_ADDR_LEN; i++) {
        mac->ea[i] = announce >> (8 * i);
    }
    return true;
}

/* Forgets the session with the frontend: stops every ring, unmaps guest
 * memory, closes every descriptor.  Counters stay. */
void
vhost_user_reset(struct vhost_user_dev *dev)
{
    for (size_t i = 0; i < VHOST_USER_MAX_VRINGS; i++) {
        struct vhost_vring *vring = vhost_user_get_vring(dev, i);

        if (vring) {
            vring_reset(vring);
        }
    }
    vhost_mem_destroy(dev->mem);
    dev->mem = NULL;
    vhost_log_destroy(dev->log);
    dev->log = NULL;
    atomic_store_relaxed(&dev->announce, 0);
    dev->features = 0;
    dev->protocol_features = 0;
    dev->has_features = false;
    dev->status = 0;
    dev->mtu = 0;
    dev->n_vrings = 0;
}

/* The data path must no longer use 'dev'. */
void
vhost_user_dev_destroy(struct vhost_user_dev *dev)
{
    vhost_user_reset(dev);
    for (size_t i = 0; i < VHOST_USER_MAX_VRINGS; i++) {
        struct vhost_vring *vring = vhost_user_get_vring(dev, i);

        if (vring) {
            ovs_spin_destroy(&vring->lock);
            free(vring);
        }
    }
    free(dev->name);
}

/* Is the guest's driver ready for traffic: memory mapped, the first queue
 * pair running and, if the frontend reports the device status, DRIVER_OK
 * set? */
bool
vhost_user_is_ready(const struct vhost_user_dev *dev)
{
    const struct vhost_vring *rx = vhost_user_get_vring(dev, 0);
    const struct vhost_vring *tx = vhost_user_get_vring(dev, 1);

    return (dev->mem && rx && tx
            && vhost_vring_is_running(rx) && vhost_vring_is_running(tx)
            && (!dev_has_protocol_feature(dev, VHOST_USER_PROTOCOL_F_STATUS)
                || dev->status & VIRTIO_CONFIG_S_DRIVER_OK));
}

/* The number of queue pairs the frontend set up. */
size_t
vhost_user_n_queue_pairs(const struct vhost_user_dev *dev)
{
    return DIV_ROUND_UP(dev->n_vrings, 2);
}
