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

#include "vhost-show.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netdev-vhost-private.h"
#include "netdev.h"
#include "openvswitch/dynamic-string.h"
#include "unixctl.h"
#include "util.h"
#include "vhost-net-rxtx.h"
#include "vhost-socket.h"
#include "vhost-tap-queue.h"
#include "vhost-tap.h"
#include "vhost-user.h"

/* What a ring looks like at one moment, copied under its lock. */
struct vring_snapshot {
    struct virtq vq;
    struct vhost_queue_stats stats;
    bool running;
    bool attached;
};

static void
snapshot_vring(struct vhost_vring *vring, struct vring_snapshot *snap)
{
    ovs_spin_lock(&vring->lock);
    snap->vq = vring->vq;
    snap->stats = vring->stats;
    snap->running = vring->running;
    snap->attached = vring->attached;
    ovs_spin_unlock(&vring->lock);
}

static struct netdev_vhost *
find_port(const char *name)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    struct netdev_vhost *nv;

    LIST_FOR_EACH (nv, list_node, &netdev_vhost_ports) {
        if (!strcmp(netdev_get_name(&nv->up), name)) {
            return nv;
        }
    }
    return NULL;
}

/* Prints the packet, drop and offload counters of a queue that OVS sends
 * on ('ovs_tx') or receives from. */
static void
show_counters(struct ds *s, const struct vhost_queue_stats *stats,
              bool ovs_tx)
{
    uint64_t dropped = 0;

    ds_put_format(s, "    packets %"PRIu64", bytes %"PRIu64,
                  stats->packets, stats->bytes);
    if (ovs_tx) {
        ds_put_format(s, ", retries %"PRIu64, stats->retries);
    }
    for (int r = 0; r < N_VHOST_DROP_REASONS; r++) {
        dropped += stats->drops[r];
    }
    ds_put_format(s, ", dropped %"PRIu64, dropped);
    if (dropped) {
        const char *sep = " (";

        for (int r = 0; r < N_VHOST_DROP_REASONS; r++) {
            if (stats->drops[r]) {
                ds_put_format(s, "%s%s %"PRIu64, sep,
                              vhost_drop_reason_name(r), stats->drops[r]);
                sep = ", ";
            }
        }
        ds_put_char(s, ')');
    }
    ds_put_char(s, '\n');
    if (stats->csum_offloads || stats->tso_packets || stats->sw_csums
        || stats->sw_segmented) {
        ds_put_format(s, "    offloads: csum %"PRIu64", tso %"PRIu64
                      ", software csum %"PRIu64", software tso %"PRIu64
                      " into %"PRIu64" segments\n", stats->csum_offloads,
                      stats->tso_packets, stats->sw_csums,
                      stats->sw_segmented, stats->segments);
    }
}

static void
show_vring(struct ds *s, struct vhost_vring *vring, bool rx_interrupt)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    struct vring_snapshot snap;

    snapshot_vring(vring, &snap);
    /* Ring 2N is the guest's receive ring of queue pair N: OVS sends on
     * it.  Ring 2N + 1 is the guest's transmit ring: OVS receives. */
    ds_put_format(s, "  virtqueue %"PRIu16" (queue pair %d, guest %s): %s",
                  vring->index, vring->index / 2,
                  vring->index % 2 ? "tx, OVS rx" : "rx, OVS tx",
                  snap.running ? "running"
                  : snap.attached ? "stopped: broken by the guest"
                  : vring->started ? "started, not enabled or described"
                  : "stopped");
    if (vring->size) {
        ds_put_format(s, ", %"PRIu16" entries", vring->size);
    }
    ds_put_char(s, '\n');
    if (snap.attached) {
        /* Guest memory stays mapped while we hold netdev_vhost_mutex. */
        ds_put_cstr(s, "    ring: ");
        virtq_format_state(&snap.vq, s);
        ds_put_char(s, '\n');
    }
    ds_put_format(s, "    kick fd %s, call fd %s; calls (interrupts raised) "
                  "%"PRIu64"; kicks %"PRIu64,
                  vring->kick_fd >= 0 ? "set" : "none",
                  vring->call_fd >= 0 ? "set" : "none",
                  snap.stats.notifications, vring->kicks + snap.stats.kicks);
    if (rx_interrupt && vring->index % 2) {
        /* The guest's transmit ring: its kicks wake the PMD thread. */
        ds_put_format(s, " (interrupt mode: %s, %"PRIu64" waits)\n",
                      snap.running && snap.vq.kicks_enabled
                      ? "waiting for a kick" : "polling",
                      snap.stats.waits);
    } else {
        ds_put_cstr(s, " (not needed: polled)\n");
    }
    show_counters(s, &snap.stats, !(vring->index % 2));
}

/* A backend=kernel port: its tap, and on the userspace datapath the
 * AF_PACKET queues on it. */
static void
show_kernel_port(struct ds *s, struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    const char *name = netdev_get_name(&nv->up);
    struct vhost_tap_link link;
    bool known = !vhost_tap_get_link(name, &link);
    bool rx_interrupt;

    /* Asked here, not cached: this is for people. */
    atomic_read_relaxed(&nv->rx_interrupt, &rx_interrupt);
    ds_put_format(s, "%s: kernel backend (vhost-net), tap %s, %d "
                  "queue(s)\n", name, name, nv->tap.n_queues);
    ds_put_format(s, "  %s, guest %s, mtu %d",
                  nv->n_tap_rxqs ? "attached to the userspace datapath"
                  : known && link.in_kernel_datapath
                  ? "a port of the kernel datapath"
                  : "not attached to a datapath",
                  !known ? "unknown (no tap)"
                  : link.carrier ? "attached" : "not attached", nv->mtu);
    if (nv->n_tap_rxqs) {
        ds_put_format(s, ", rx-mode %s",
                      rx_interrupt ? "interrupt" : "poll");
    }
    ds_put_char(s, '\n');
    for (int i = 0; i < nv->n_tap_rxqs; i++) {
        struct vhost_queue_stats stats;

        memset(&stats, 0, sizeof stats);
        vhost_tap_queue_get_stats(nv->tap_rxqs[i], &stats);
        ds_put_format(s, "  rxq %d (tap queue %d, guest tx)\n", i, i);
        show_counters(s, &stats, false);
    }
    if (nv->tap_txq) {
        struct vhost_queue_stats stats;

        memset(&stats, 0, sizeof stats);
        vhost_tap_queue_get_stats(nv->tap_txq, &stats);
        ds_put_cstr(s, "  tx (to the guest; the tap picks its queue)\n");
        show_counters(s, &stats, false);
    }
}

static void
show_port(struct ds *s, struct netdev_vhost *nv)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    const struct vhost_user_dev *dev = &nv->dev;
    bool connected = nv->sock && vhost_socket_is_connected(nv->sock);
    bool rx_interrupt;
    int retries_max;

    if (nv->kernel) {
        show_kernel_port(s, nv);
        return;
    }
    atomic_read_relaxed(&nv->tx_retries_max, &retries_max);
    ds_put_format(s, "%s: vhost-user %s, socket %s\n",
                  netdev_get_name(&nv->up),
                  nv->server ? "server" : "client",
                  nv->socket_path ? nv->socket_path : "(none)");
    atomic_read_relaxed(&nv->rx_interrupt, &rx_interrupt);
    ds_put_format(s, "  frontend %s, link %s, mtu %d, tx-retries-max %d, "
                  "rx-mode %s\n",
                  connected ? "connected" : "not connected",
                  nv->link_up ? "up" : "down", nv->mtu, retries_max,
                  rx_interrupt ? "interrupt" : "poll");
    if (!connected) {
        return;
    }

    ds_put_format(s, "  features 0x%016"PRIx64": ", dev->features);
    vhost_user_format_features(s, dev->features);
    ds_put_format(s, "\n  protocol features 0x%016"PRIx64": ",
                  dev->protocol_features);
    vhost_user_format_protocol_features(s, dev->protocol_features);
    ds_put_format(s, "\n  queue pairs %"PRIuSIZE", guest memory %"PRIuSIZE
                  " region(s), %"PRIu64" MiB\n",
                  vhost_user_n_queue_pairs(dev),
                  dev->mem ? dev->mem->n_regions : 0,
                  dev->mem ? vhost_mem_total_size(dev->mem) >> 20 : 0);
    if (dev->log || dev->features & (UINT64_C(1) << VHOST_F_LOG_ALL)) {
        ds_put_format(s, "  dirty page log: %s, %"PRIu64" bytes\n",
                      (dev->features & (UINT64_C(1) << VHOST_F_LOG_ALL)
                       ? "logging (guest migrating)" : "not logging"),
                      dev->log ? dev->log->size : 0);
    }
    if (dev->n_announces) {
        ds_put_format(s, "  announce requests (SEND_RARP): %"PRIu64"\n",
                      dev->n_announces);
    }
    for (size_t i = 0; i < dev->n_vrings; i++) {
        struct vhost_vring *vring = vhost_user_get_vring(dev, i);

        if (vring) {
            show_vring(s, vring, rx_interrupt);
        }
    }
}

static int
compare_ports(const void *a_, const void *b_)
{
    struct netdev_vhost *const *a = a_;
    struct netdev_vhost *const *b = b_;

    return strcmp(netdev_get_name(&(*a)->up), netdev_get_name(&(*b)->up));
}

static void
show_all(struct ds *s)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    size_t n = ovs_list_size(&netdev_vhost_ports);
    struct netdev_vhost **ports = xmalloc(MAX(n, 1) * sizeof *ports);
    struct netdev_vhost *nv;
    size_t i = 0;

    LIST_FOR_EACH (nv, list_node, &netdev_vhost_ports) {
        ports[i++] = nv;
    }
    qsort(ports, n, sizeof *ports, compare_ports);
    for (i = 0; i < n; i++) {
        show_port(s, ports[i]);
    }
    free(ports);
}

/* Dumps ring 'queue' of 'port'. */
static char *
show_descriptors(struct ds *s, const char *port, const char *queue)
    OVS_REQUIRES(netdev_vhost_mutex)
{
    struct netdev_vhost *nv = find_port(port);
    struct vring_snapshot snap;
    struct vhost_vring *vring;
    unsigned int index;

    if (!nv) {
        return xasprintf("no vhost port named %s", port);
    }
    if (!str_to_uint(queue, 10, &index) || index >= VHOST_USER_MAX_VRINGS) {
        return xasprintf("%s: \"%s\" is not a virtqueue number", port, queue);
    }
    vring = vhost_user_get_vring(&nv->dev, index);
    if (!vring) {
        return xasprintf("%s: the frontend has not set up virtqueue %u",
                         port, index);
    }
    snapshot_vring(vring, &snap);
    if (!snap.attached) {
        return xasprintf("%s: virtqueue %u is not running", port, index);
    }
    ds_put_format(s, "%s: virtqueue %u: ", port, index);
    virtq_format_state(&snap.vq, s);
    ds_put_char(s, '\n');
    virtq_format_descriptors(&snap.vq, s);
    return NULL;
}

/* Prints the counters of 'port' that the Interface's statistics column
 * gets every 5 seconds (stats-update-interval), as they are now. */
static char *
show_stats(struct ds *s, const char *port)
    OVS_EXCLUDED(netdev_vhost_mutex)
{
    struct netdev_custom_stats cs;
    struct netdev_stats stats;
    struct netdev *netdev;
    int error;

    netdev = netdev_from_name(port);
    if (!netdev || strcmp(netdev_get_type(netdev), "vhost")) {
        netdev_close(netdev);
        return xasprintf("no vhost port named %s", port);
    }

    error = netdev_get_stats(netdev, &stats);
    if (!error) {
        ds_put_format(s, "rx_packets %"PRIu64"\nrx_bytes %"PRIu64"\n"
                      "rx_errors %"PRIu64"\nrx_dropped %"PRIu64"\n"
                      "tx_packets %"PRIu64"\ntx_bytes %"PRIu64"\n"
                      "tx_dropped %"PRIu64"\n",
                      stats.rx_packets, stats.rx_bytes, stats.rx_errors,
                      stats.rx_dropped, stats.tx_packets, stats.tx_bytes,
                      stats.tx_dropped);
        error = netdev_get_custom_stats(netdev, &cs);
    }
    if (!error) {
        for (size_t i = 0; i < cs.size; i++) {
            ds_put_format(s, "%s %"PRIu64"\n", cs.counters[i].name,
                          cs.counters[i].value);
        }
        netdev_free_custom_stats_counters(&cs);
    }
    netdev_close(netdev);
    return error ? xasprintf("%s: %s", port, ovs_strerror(error)) : NULL;
}

static void
vhost_show_cmd(struct unixctl_conn *conn, int argc, const char *argv[],
               void *aux OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    char *error = NULL;

    if (argc > 1 && !strcmp(argv[1], "--stats")) {
        /* The netdev layer takes the mutex itself. */
        error = (argc == 3 ? show_stats(&s, argv[2])
                 : xstrdup("usage: vhost/show --stats PORT"));
        goto reply;
    }

    ovs_mutex_lock(&netdev_vhost_mutex);
    if (argc > 1 && !strcmp(argv[1], "--descriptors")) {
        if (argc != 4) {
            error = xstrdup("usage: vhost/show --descriptors PORT QUEUE");
        } else {
            error = show_descriptors(&s, argv[2], argv[3]);
        }
    } else if (argc == 2) {
        struct netdev_vhost *nv = find_port(argv[1]);

        if (nv) {
            show_port(&s, nv);
        } else {
            error = xasprintf("no vhost port named %s", argv[1]);
        }
    } else if (argc == 1) {
        show_all(&s);
    } else {
        error = xstrdup("usage: vhost/show [PORT]");
    }
    ovs_mutex_unlock(&netdev_vhost_mutex);

reply:
    if (error) {
        unixctl_command_reply_error(conn, error);
        free(error);
    } else {
        unixctl_command_reply(conn, ds_cstr(&s));
    }
    ds_destroy(&s);
}

void
vhost_show_register(void)
{
    unixctl_command_register("vhost/show",
                             "[PORT] | --descriptors PORT QUEUE "
                             "| --stats PORT", 0, 3,
                             vhost_show_cmd, NULL);
}
