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

#include "vhost-tap-queue.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <linux/virtio_config.h>
#include <linux/virtio_net.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coverage.h"
#include "dp-packet-pool.h"
#include "dp-packet.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovs-atomic.h"
#include "ovs-thread.h"
#include "packets.h"
#include "socket-util.h"
#include "util.h"
#include "virtio-net-hdr.h"

VLOG_DEFINE_THIS_MODULE(vhost_tap_queue);

COVERAGE_DEFINE(vhost_tap_rx_ring_full);
COVERAGE_DEFINE(vhost_tap_rx_truncated);
COVERAGE_DEFINE(vhost_tap_rx_invalid_offload);
COVERAGE_DEFINE(vhost_tap_rx_malformed);
COVERAGE_DEFINE(vhost_tap_rx_segmented);
COVERAGE_DEFINE(vhost_tap_tx_invalid_offload);
COVERAGE_DEFINE(vhost_tap_tx_error);
COVERAGE_DEFINE(vhost_tap_tx_queue_full);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

#define BIT(N) (UINT64_C(1) << (N))

/* Frames in a receive ring (about: blocks are whole pages).  Each holds a
 * packet of the MTU; larger ones (TCP segmentation offload) come through
 * the socket. */
#define RING_FRAMES 512
#define FRAMES_PER_BLOCK 16

/* Where a receive socket queues packets larger than a ring frame. */
#define RCVBUF_SIZE (4 * 1024 * 1024)

/* The least TCP segment size a guest gets cut to (Linux's TCP_MIN_MSS). */
#define MIN_GUEST_MSS 88

/* The largest packet a dp_packet holds with our headroom (its size is 16
 * bits): room for any TCP segmentation offload Linux makes. */
#define MAX_GSO_SIZE VHOST_MAX_PACKET_SIZE

/* The offloads a guest can leave to OVS, and that OVS can leave to the
 * tap: the kernel does what the guest behind it did not negotiate. */
#define RX_FEATURES (BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4)    \
                     | BIT(VIRTIO_NET_F_HOST_TSO6))
#define TX_FEATURES (BIT(VIRTIO_NET_F_GUEST_CSUM)                           \
                     | BIT(VIRTIO_NET_F_GUEST_TSO4)                         \
                     | BIT(VIRTIO_NET_F_GUEST_TSO6)                         \
                     | BIT(VIRTIO_NET_F_GUEST_ECN))

struct vhost_tap_queue {
    char *name;                 /* "PORT rxq N" or "PORT txq N", for logs. */
    int fd;

    /* Receive queues: the mapped ring. */
    uint8_t *ring;
    size_t ring_size;
    uint32_t frame_size;
    uint32_t n_frames;
    uint32_t frames_per_block;  /* Frames do not cross blocks. */
    uint32_t block_size;
    uint32_t head;              /* Next frame to look at. */
    int mtu;                    /* The tap's, when the ring was made. */

    /* A large TCP packet being cut into segments, when OVS's TSO is off
     * and more segments came than a batch holds. */
    struct dp_packet *gso;
    struct virtio_net_tx gso_plan;
    uint32_t gso_offset;

    struct ovs_spin lock;       /* Guards 'stats': threads may share a
                                 * transmit queue. */
    struct vhost_queue_stats stats OVS_GUARDED_BY(lock);
};

static int
set_int_opt(int fd, int level, int opt, int value, const char *opt_name,
            const char *name)
{
    if (setsockopt(fd, level, opt, &value, sizeof value)) {
        int error = errno;

        VLOG_WARN("%s: setsockopt(%s) failed (%s)", name, opt_name,
                  ovs_strerror(error));
        return error;
    }
    return 0;
}

/* Makes an AF_PACKET socket that sends and receives virtio-net headers,
 * for a queue named 'queue_name' in logs, which it frees. */
static int
open_packet_socket(char *queue_name, struct vhost_tap_queue **qp)
{
    struct vhost_tap_queue *q;
    int fd, error;

    *qp = NULL;
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = errno;
        VLOG_WARN("%s: AF_PACKET socket failed (%s)", queue_name,
                  ovs_strerror(error));
        free(queue_name);
        return error;
    }
    error = set_int_opt(fd, SOL_PACKET, PACKET_VNET_HDR, 1,
                        "PACKET_VNET_HDR", queue_name);
    if (!error) {
        /* What OVS sends is not for it to receive again. */
        error = set_int_opt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1,
                            "PACKET_IGNORE_OUTGOING", queue_name);
    }
    if (!error) {
        /* The tap drops what it cannot queue for the guest; OVS's batches
         * need no qdisc in front of it. */
        error = set_int_opt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1,
                            "PACKET_QDISC_BYPASS", queue_name);
    }
    if (error) {
        close(fd);
        free(queue_name);
        return error;
    }

    q = xzalloc(sizeof *q);
    q->name = queue_name;
    q->fd = fd;
    ovs_spin_init(&q->lock);
    *qp = q;
    return 0;
}

static int
bind_to(struct vhost_tap_queue *q, const char *tap, int protocol)
{
    struct sockaddr_ll sll;
    int ifindex = if_nametoindex(tap);

    if (!ifindex) {
        int error = errno;

        VLOG_WARN("%s: no interface %s (%s)", q->name, tap,
                  ovs_strerror(error));
        return error;
    }
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(protocol);
    sll.sll_ifindex = ifindex;
    if (bind(q->fd, (struct sockaddr *) &sll, sizeof sll)) {
        int error = errno;

        VLOG_WARN("%s: bind to %s failed (%s)", q->name, tap,
                  ovs_strerror(error));
        return error;
    }
    return 0;
}

/* Sets up the receive ring of 'q' for frames of 'mtu' bytes of IP. */
static int
map_ring(struct vhost_tap_queue *q, int mtu)
{
    /* Room for a frame's headers, at most: the tpacket2_hdr and its
     * sockaddr_ll, the kernel's 16-byte slot for the link header, the
     * virtio-net header; then the packet, whose outer VLAN tag the kernel
     * takes out (one more tag may stay). */
    size_t frame_need = (TPACKET_ALIGN(TPACKET2_HDRLEN) + 16
                         + sizeof(struct virtio_net_hdr)
                         + VLAN_ETH_HEADER_LEN);
    struct tpacket_req req;
    void *ring;
    int error;

    error = set_int_opt(q->fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2,
                        "PACKET_VERSION", q->name);
    if (error) {
        return error;
    }
    q->mtu = mtu;
    q->frame_size = 1u << log_2_ceil(frame_need + mtu);
    memset(&req, 0, sizeof req);
    req.tp_frame_size = q->frame_size;
    req.tp_block_size = ROUND_UP(q->frame_size * FRAMES_PER_BLOCK,
                                 getpagesize());
    req.tp_block_nr = RING_FRAMES / FRAMES_PER_BLOCK;
    req.tp_frame_nr = (req.tp_block_size / q->frame_size) * req.tp_block_nr;
    if (setsockopt(q->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req)) {
        error = errno;
        VLOG_WARN("%s: setsockopt(PACKET_RX_RING) failed (%s)", q->name,
                  ovs_strerror(error));
        return error;
    }
    q->ring_size = (size_t) req.tp_block_size * req.tp_block_nr;
    q->n_frames = req.tp_frame_nr;
    q->frames_per_block = req.tp_block_size / q->frame_size;
    q->block_size = req.tp_block_size;
    ring = mmap(NULL, q->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                q->fd, 0);
    if (ring == MAP_FAILED) {
        error = errno;
        VLOG_WARN("%s: mapping the receive ring failed (%s)", q->name,
                  ovs_strerror(error));
        return error;
    }
    q->ring = ring;

    /* Larger packets come through the socket, which needs room for them:
     * root may go beyond net.core.rmem_max. */
    if (setsockopt(q->fd, SOL_SOCKET, SO_RCVBUFFORCE, &(int) { RCVBUF_SIZE },
                   sizeof(int))) {
        set_int_opt(q->fd, SOL_SOCKET, SO_RCVBUF, RCVBUF_SIZE, "SO_RCVBUF",
                    q->name);
    }
    return set_int_opt(q->fd, SOL_PACKET, PACKET_COPY_THRESH, 1,
                       "PACKET_COPY_THRESH", q->name);
}

/* Joins receive socket 'q' to its tap's fanout group: the 'first' makes
 * the group and stores its id in '*fanout_id', the others join it. */
static int
join_fanout(struct vhost_tap_queue *q, bool first, uint16_t *fanout_id)
{
    int arg;

    if (first) {
        socklen_t len = sizeof arg;

        arg = (PACKET_FANOUT_QM | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
        if (setsockopt(q->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg)
            || getsockopt(q->fd, SOL_PACKET, PACKET_FANOUT, &arg, &len)) {
            int error = errno;

            VLOG_WARN("%s: making a fanout group failed (%s)", q->name,
                      ovs_strerror(error));
            return error;
        }
        *fanout_id = arg & 0xffff;
        return 0;
    }
    arg = *fanout_id | (PACKET_FANOUT_QM << 16);
    return set_int_opt(q->fd, SOL_PACKET, PACKET_FANOUT, arg,
                       "PACKET_FANOUT", q->name);
}

/* Opens receive queue 'queue' of the tap 'name', whose frames carry 'mtu'
 * bytes of IP, as the next member of a fanout group: the 'first' makes the
 * group and sets '*fanout_id'.
 *
 * The group hands packets from the tap's queue N to member (N + 1) modulo
 * the number of members: PACKET_FANOUT_QM goes by the skb's queue mapping,
 * which is the receive queue plus one.  So queue N - 1 joins first, then
 * queues 0 to N - 2, and receive queue N reads the tap's queue N. */
int
vhost_tap_rxq_open(const char *name, int queue, int mtu, bool first,
                   uint16_t *fanout_id, struct vhost_tap_queue **qp)
{
    struct vhost_tap_queue *q;
    int error;

    error = open_packet_socket(xasprintf("%s rxq %d", name, queue), &q);
    if (error) {
        return error;
    }
    error = map_ring(q, mtu);
    if (!error) {
        error = bind_to(q, name, ETH_P_ALL);
    }
    if (!error) {
        error = join_fanout(q, first, fanout_id);
    }
    if (error) {
        vhost_tap_queue_close(q);
        return error;
    }
    *qp = q;
    return 0;
}

/* Opens the transmit socket of the tap 'name'. */
int
vhost_tap_txq_open(const char *name, struct vhost_tap_queue **qp)
{
    struct vhost_tap_queue *q;
    int error;

    error = open_packet_socket(xasprintf("%s tx", name), &q);
    /* Protocol 0: it receives nothing. */
    error = error ? error : bind_to(q, name, 0);
    if (error) {
        vhost_tap_queue_close(q);
        return error;
    }
    *qp = q;
    return 0;
}

void
vhost_tap_queue_close(struct vhost_tap_queue *q)
{
    if (q) {
        if (q->ring) {
            munmap(q->ring, q->ring_size);
        }
        close(q->fd);
        dp_packet_delete(q->gso);
        ovs_spin_destroy(&q->lock);
        free(q->name);
        free(q);
    }
}

static struct tpacket2_hdr *
frame_at(const struct vhost_tap_queue *q, uint32_t index)
{
    size_t block = index / q->frames_per_block;
    size_t frame = index % q->frames_per_block;

    return ALIGNED_CAST(struct tpacket2_hdr *,
                        q->ring + block * q->block_size
                        + frame * q->frame_size);
}

/* The kernel writes a frame, then its status; OVS reads the status, then
 * the frame, and hands it back by writing the status last. */
static uint32_t
frame_status(const struct tpacket2_hdr *h)
{
    return __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
}

static void
frame_release(struct tpacket2_hdr *h)
{
    __atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
}

/* Interrupt mode: makes the caller's next poll_block() wake when the
 * kernel puts a packet in the ring of 'q'.  Returns 0, or EAGAIN if there
 * are packets already. */
int
vhost_tap_queue_arm(struct vhost_tap_queue *q)
{
    int error;

    if (q->gso || frame_status(frame_at(q, q->head)) & TP_STATUS_USER) {
        return EAGAIN;
    }
    /* A socket error (the link went down) would keep the socket readable
     * and the thread awake: it is reported, and cleared, once. */
    getsockopt(q->fd, SOL_SOCKET, SO_ERROR, &error,
               &(socklen_t) { sizeof error });
    poll_fd_wait(q->fd, POLLIN);
    return 0;
}

/* The kernel counts the packets it found no free frame for, and flags
 * frames while the count is not zero; reading it clears both. */
static void
count_ring_drops(struct vhost_tap_queue *q, struct vhost_queue_stats *stats)
{
    struct tpacket_stats st;
    socklen_t len = sizeof st;

    if (!getsockopt(q->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len)) {
        COVERAGE_ADD(vhost_tap_rx_ring_full, st.tp_drops);
        stats->drops[VHOST_DROP_RING_FULL] += st.tp_drops;
    }
}

/* Discards the next packet queued on the socket of 'q', or with 'all'
 * every one.  There are at most as many as frames in the ring; a socket
 * error (the link went down) is reported once, before them. */
static void
discard_queued(struct vhost_tap_queue *q, bool all)
{
    char buf[1];

    for (uint32_t i = 0; i < q->n_frames + 2; i++) {
        if (recv(q->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC) >= 0) {
            if (!all) {
                return;
            }
        } else if (errno != EINTR && errno != ENETDOWN) {
            return;
        }
    }
}

/* Reads the packet larger than a ring frame that the kernel queued on the
 * socket for frame 'h'.  Returns it, with its virtio-net header in '*vnet',
 * or NULL if it is not there.
 *
 * The socket holds these packets in the order of their frames.  If the one
 * read is not the one of 'h' (one was left behind), the socket is emptied,
 * so that the next frames find theirs again. */
static struct dp_packet *
recv_large(struct vhost_tap_queue *q, const struct tpacket2_hdr *h,
           struct virtio_net_hdr *vnet)
{
    struct dp_packet *packet;
    struct iovec iov[2];
    struct msghdr msg;
    ssize_t n;

    if (h->tp_len > MAX_GSO_SIZE) {
        discard_queued(q, false);
        return NULL;
    }
    packet = dp_packet_new_with_headroom(h->tp_len, VHOST_PACKET_HEADROOM);
    iov[0].iov_base = vnet;
    iov[0].iov_len = sizeof *vnet;
    iov[1].iov_base = dp_packet_data(packet);
    iov[1].iov_len = h->tp_len;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    for (int tries = 0; tries < 3; tries++) {
        /* A socket error (the link went down) comes first, once. */
        n = recvmsg(q->fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
        if (n >= 0 || (errno != EINTR && errno != ENETDOWN)) {
            break;
        }
    }
    if (n < 0) {
        dp_packet_delete(packet);
        return NULL;
    }
    if (n - sizeof *vnet != h->tp_len || msg.msg_flags & MSG_TRUNC) {
        discard_queued(q, true);
        dp_packet_delete(packet);
        return NULL;
    }
    dp_packet_set_size(packet, h->tp_len);
    return packet;
}

/* Copies the packet of ring frame 'h' out, with its virtio-net header in
 * '*vnet'.  Returns NULL, and counts why, if the frame holds no whole
 * packet. */
static struct dp_packet *
frame_to_packet(struct vhost_tap_queue *q, const struct tpacket2_hdr *h,
                uint32_t status, struct dp_packet_pool *pool,
                struct virtio_net_hdr *vnet, struct vhost_queue_stats *stats)
{
    uint32_t mac = h->tp_mac;
    uint32_t snaplen = h->tp_snaplen;
    struct dp_packet *packet;

    if (OVS_UNLIKELY(mac < sizeof *h + sizeof *vnet
                     || mac > q->frame_size
                     || snaplen > q->frame_size - mac)) {
        COVERAGE_INC(vhost_tap_rx_malformed);
        stats->drops[VHOST_DROP_MALFORMED]++;
        VLOG_WARN_RL(&rl, "%s: dropped a frame whose packet lies outside "
                     "it (offset %"PRIu32", %"PRIu32" bytes)", q->name, mac,
                     snaplen);
        if (status & TP_STATUS_COPY) {
            discard_queued(q, false);
        }
        return NULL;
    }
    if (OVS_UNLIKELY(status & TP_STATUS_COPY)) {
        packet = recv_large(q, h, vnet);
    } else if (OVS_LIKELY(snaplen == h->tp_len)) {
        memcpy(vnet, (const uint8_t *) h + mac - sizeof *vnet, sizeof *vnet);
        packet = dp_packet_pool_get_room(pool, snaplen);
        memcpy(dp_packet_data(packet), (const uint8_t *) h + mac, snaplen);
        dp_packet_set_size(packet, snaplen);
    } else {
        packet = NULL;
    }
    if (OVS_UNLIKELY(!packet)) {
        /* The socket had no room to queue the whole packet. */
        COVERAGE_INC(vhost_tap_rx_truncated);
        stats->drops[VHOST_DROP_OVERSIZE]++;
        VLOG_WARN_RL(&rl, "%s: dropped a %"PRIu32"-byte packet that the "
                     "socket had no room for", q->name, h->tp_len);
        return NULL;
    }

    /* The kernel took the VLAN tag out: put it back. */
    if (status & TP_STATUS_VLAN_VALID) {
        ovs_be16 tpid = htons(status & TP_STATUS_VLAN_TPID_VALID
                              ? h->tp_vlan_tpid : ETH_TYPE_VLAN);
        struct vlan_eth_header *veh;

        eth_push_vlan(packet, tpid, htons(h->tp_vlan_tci));
        veh = dp_packet_data(packet);
        veh->veth_tci = htons(h->tp_vlan_tci);
        if (vnet->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
            vnet->csum_start = htole16(le16toh(vnet->csum_start)
                                       + VLAN_HEADER_LEN);
        }
    }
    return packet;
}

/* Cuts the TCP segments of 'q->gso' into 'batch' until it is full. */
static void
cut_segments(struct vhost_tap_queue *q, struct dp_packet_pool *pool,
             struct dp_packet_batch *batch, struct vhost_queue_stats *stats)
{
    const struct virtio_net_tx *plan = &q->gso_plan;
    uint32_t payload = plan->end - plan->hdrs_len;

    while (q->gso_offset < payload && !dp_packet_batch_is_full(batch)) {
        uint32_t len = MIN(plan->mss, payload - q->gso_offset);
        uint8_t *data;
        struct dp_packet *seg;

        seg = dp_packet_pool_get_room(pool, plan->hdrs_len + len);
        data = dp_packet_data(seg);
        virtio_net_tx_segment(q->gso, plan, q->gso_offset, len, data);
        memcpy(data + plan->hdrs_len,
               (const uint8_t *) dp_packet_data(q->gso) + plan->hdrs_len
               + q->gso_offset, len);
        dp_packet_set_size(seg, plan->hdrs_len + len);
        dp_packet_batch_add(batch, seg);
        q->gso_offset += len;
        stats->segments++;
    }
    if (q->gso_offset >= payload) {
        dp_packet_delete(q->gso);
        q->gso = NULL;
    }
}

/* Does what 'packet''s offload flags ask, for OVS's TSO is off: completes
 * its checksum, or cuts it into segments (q->gso) of at most 'gso_size'
 * bytes of payload, the guest's choice (its path MTU), and at most what the
 * tap's MTU holds.  Returns false if the packet itself is not to be passed
 * on. */
static bool
offload_in_software(struct vhost_tap_queue *q, struct dp_packet *packet,
                    uint16_t gso_size, struct vhost_queue_stats *stats)
{
    struct virtio_net_tx tx;

    switch (virtio_net_tx_prepare(packet, 0, q->mtu, &tx)) {
    case VIRTIO_NET_TX_AS_IS:
        break;
    case VIRTIO_NET_TX_CSUM:
        memcpy((uint8_t *) dp_packet_data(packet) + tx.csum_ofs, &tx.csum,
               sizeof tx.csum);
        stats->sw_csums++;
        break;
    case VIRTIO_NET_TX_SEGMENT:
        COVERAGE_INC(vhost_tap_rx_segmented);
        /* Not below Linux's least MSS: a guest's tiny 'gso_size' would
         * have OVS cut one frame into thousands. */
        tx.mss = MIN(tx.mss, MAX(gso_size, MIN_GUEST_MSS));
        q->gso = packet;
        q->gso_plan = tx;
        q->gso_offset = 0;
        stats->sw_segmented++;
        return false;
    case VIRTIO_NET_TX_INVALID:
    default:
        COVERAGE_INC(vhost_tap_rx_invalid_offload);
        stats->drops[VHOST_DROP_INVALID_OFFLOAD]++;
        VLOG_WARN_RL(&rl, "%s: dropped %"PRIu32"-byte packet: %s", q->name,
                     dp_packet_size(packet), tx.reason);
        dp_packet_delete(packet);
        return false;
    }
    dp_packet_reset_offload(packet);
    return true;
}

/* Receives what the guest sent on 'q' into 'batch', which the caller
 * initialized.  With 'offloads' false (OVS's userspace TSO is off),
 * checksums and segmentation the guest left to the host are done here.
 * Returns 0 or EAGAIN if there was nothing. */
int
vhost_tap_queue_recv(struct vhost_tap_queue *q, struct dp_packet_pool *pool,
                     bool offloads, struct dp_packet_batch *batch)
{
    struct vhost_queue_stats stats;

    if (OVS_LIKELY(!q->gso)
        && !(frame_status(frame_at(q, q->head)) & TP_STATUS_USER)) {
        /* Idle: nothing to count either. */
        return EAGAIN;
    }
    memset(&stats, 0, sizeof stats);
    if (OVS_UNLIKELY(q->gso)) {
        cut_segments(q, pool, batch, &stats);
    }

    while (!dp_packet_batch_is_full(batch) && !q->gso) {
        struct tpacket2_hdr *h = frame_at(q, q->head);
        uint32_t status = frame_status(h);
        struct virtio_net_hdr_v1 hdr;
        struct dp_packet *packet;
        const char *reason;

        if (!(status & TP_STATUS_USER)) {
            break;
        }
        if (OVS_UNLIKELY(status & TP_STATUS_LOSING)) {
            count_ring_drops(q, &stats);
        }
        memset(&hdr, 0, sizeof hdr);
        packet = frame_to_packet(q, h, status, pool,
                                 (struct virtio_net_hdr *) &hdr, &stats);
        /* The guest's ECN (QEMU offers it): cutting the segment clears CWR
         * after the first piece, as the flag asks. */
        hdr.gso_type &= ~VIRTIO_NET_HDR_GSO_ECN;
        frame_release(h);
        q->head = q->head + 1 < q->n_frames ? q->head + 1 : 0;
        if (!packet) {
            continue;
        }
        if (OVS_UNLIKELY(dp_packet_size(packet) < ETH_HEADER_LEN)) {
            COVERAGE_INC(vhost_tap_rx_malformed);
            stats.drops[VHOST_DROP_MALFORMED]++;
            dp_packet_delete(packet);
            continue;
        }

        switch (virtio_net_hdr_to_packet(&hdr, RX_FEATURES, packet,
                                         &reason)) {
        case VIRTIO_NET_RX_PLAIN:
            stats.packets++;
            stats.bytes += dp_packet_size(packet);
            dp_packet_batch_add(batch, packet);
            continue;
        case VIRTIO_NET_RX_CSUM:
            stats.csum_offloads++;
            break;
        case VIRTIO_NET_RX_GSO:
            stats.tso_packets++;
            break;
        case VIRTIO_NET_RX_CSUM_DONE:
            stats.sw_csums++;
            break;
        case VIRTIO_NET_RX_INVALID:
        default:
            COVERAGE_INC(vhost_tap_rx_invalid_offload);
            stats.drops[VHOST_DROP_INVALID_OFFLOAD]++;
            VLOG_WARN_RL(&rl, "%s: dropped %"PRIu32"-byte packet: %s "
                         "(flags %#"PRIx8", gso_type %#"PRIx8")", q->name,
                         dp_packet_size(packet), reason, hdr.flags,
                         hdr.gso_type);
            dp_packet_delete(packet);
            continue;
        }
        stats.packets++;
        stats.bytes += dp_packet_size(packet);
        if (offloads || !dp_packet_hwol_l4_mask(packet)) {
            dp_packet_batch_add(batch, packet);
        } else if (offload_in_software(q, packet, le16toh(hdr.gso_size),
                                       &stats)) {
            dp_packet_batch_add(batch, packet);
        } else if (q->gso) {
            cut_segments(q, pool, batch, &stats);
        }
    }

    ovs_spin_lock(&q->lock);
    vhost_queue_stats_add(&q->stats, &stats);
    ovs_spin_unlock(&q->lock);
    return dp_packet_batch_is_empty(batch) ? EAGAIN : 0;
}

/* The virtio-net header that asks the tap for what 'packet''s offload
 * flags say.  Returns false, and counts why, if they do not fit it. */
static bool
tx_header(struct vhost_tap_queue *q, const struct dp_packet *packet, int mtu,
          struct virtio_net_hdr_v1 *hdr, struct vhost_queue_stats *stats)
{
    struct virtio_net_tx tx = { .reason = NULL };

    /* The tap offers every offload, and the kernel does what the guest
     * behind it does not: the packet goes as it is. */
    if (virtio_net_tx_prepare(packet, TX_FEATURES, mtu, &tx)
        != VIRTIO_NET_TX_AS_IS) {
        COVERAGE_INC(vhost_tap_tx_invalid_offload);
        stats->drops[VHOST_DROP_INVALID_OFFLOAD]++;
        VLOG_WARN_RL(&rl, "%s: dropped %"PRIu32"-byte packet: %s", q->name,
                     dp_packet_size(packet),
                     tx.reason ? tx.reason : "offload the tap cannot take");
        return false;
    }
    if (tx.hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        stats->csum_offloads++;
    }
    if (tx.hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        stats->tso_packets++;
    }
    *hdr = tx.hdr;
    return true;
}

static void
count_tx_error(struct vhost_tap_queue *q, int error, uint32_t size,
               struct vhost_queue_stats *stats)
{
    enum vhost_drop_reason reason;

    if (error == ENOBUFS) {
        /* The tap's queue to the guest is full, or no guest has the tap
         * open: the tap counts it too.  As for a full virtqueue, no log. */
        COVERAGE_INC(vhost_tap_tx_queue_full);
        stats->drops[VHOST_DROP_RING_FULL]++;
        return;
    }
    COVERAGE_INC(vhost_tap_tx_error);
    reason = error == EMSGSIZE ? VHOST_DROP_OVERSIZE : VHOST_DROP_NOT_READY;
    stats->drops[reason]++;
    VLOG_WARN_RL(&rl, "%s: dropped %"PRIu32"-byte packet: %s", q->name, size,
                 ovs_strerror(error));
}

/* Sends the packets of 'batch' into the tap, to the guest, with one
 * sendmmsg() for the whole batch unless some fail.  The caller still owns
 * 'batch'.  Threads may send on the same 'q' at once: the socket does not
 * mind. */
void
vhost_tap_queue_send(struct vhost_tap_queue *q, struct dp_packet_batch *batch,
                     int mtu)
{
    struct virtio_net_hdr_v1 hdrs[NETDEV_MAX_BURST];
    struct mmsghdr msgs[NETDEV_MAX_BURST];
    struct iovec iovs[NETDEV_MAX_BURST][2];
    struct vhost_queue_stats stats;
    struct dp_packet *packet;
    int n = 0;

    memset(&stats, 0, sizeof stats);
    DP_PACKET_BATCH_FOR_EACH (i, packet, batch) {
        if (!tx_header(q, packet, mtu, &hdrs[n], &stats)) {
            continue;
        }
        iovs[n][0].iov_base = &hdrs[n];
        iovs[n][0].iov_len = sizeof(struct virtio_net_hdr);
        iovs[n][1].iov_base = dp_packet_data(packet);
        iovs[n][1].iov_len = dp_packet_size(packet);
        memset(&msgs[n], 0, sizeof msgs[n]);
        msgs[n].msg_hdr.msg_iov = iovs[n];
        msgs[n].msg_hdr.msg_iovlen = 2;
        n++;
    }

    for (int i = 0; i < n; ) {
        int sent = sendmmsg(q->fd, &msgs[i], n - i, MSG_DONTWAIT);

        if (sent > 0) {
            for (int j = i; j < i + sent; j++) {
                stats.packets++;
                stats.bytes += iovs[j][1].iov_len;
            }
            i += sent;
        } else if (sent < 0 && errno == EINTR) {
            continue;
        } else {
            /* Message 'i' failed; sendmmsg() reports it alone. */
            int error = sent < 0 ? errno : EIO;

            if (error == ENETDOWN || error == ENXIO) {
                /* Nothing more will go either. */
                for (; i < n; i++) {
                    count_tx_error(q, error, iovs[i][1].iov_len, &stats);
                }
                break;
            }
            count_tx_error(q, error, iovs[i][1].iov_len, &stats);
            i++;
        }
    }
    ovs_spin_lock(&q->lock);
    vhost_queue_stats_add(&q->stats, &stats);
    ovs_spin_unlock(&q->lock);
}

/* Adds the counters of 'q' to '*sum'. */
void
vhost_tap_queue_get_stats(struct vhost_tap_queue *q,
                          struct vhost_queue_stats *sum)
{
    ovs_spin_lock(&q->lock);
    vhost_queue_stats_add(sum, &q->stats);
    ovs_spin_unlock(&q->lock);
}
