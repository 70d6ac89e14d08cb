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

#include "vhost-tap.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "netlink-socket.h"
#include "netlink.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "socket-util.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(vhost_tap);

/* The flags QEMU asks for when it opens the tap with vnet_hdr (which
 * vhost=on implies) and 'n_queues' queues: IFF_MULTI_QUEUE only for more
 * than one, and the kernel refuses a queue whose IFF_MULTI_QUEUE differs
 * from the tap's. */
static short
tap_flags(int n_queues)
{
    return (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
            | (n_queues > 1 ? IFF_MULTI_QUEUE : 0));
}

/* Reads the flags of the tun device 'name' from sysfs into '*flags'.
 * Returns 0, ENOENT if there is no interface 'name', or ENOTTY if there is
 * one and it is not a tun device. */
static int
read_tun_flags(const char *name, unsigned int *flags)
{
    char path[64 + IFNAMSIZ];
    FILE *file;
    int n;

    if (!if_nametoindex(name)) {
        return ENOENT;
    }
    snprintf(path, sizeof path, "/sys/class/net/%s/tun_flags", name);
    file = fopen(path, "r");
    if (!file) {
        return ENOTTY;
    }
    n = fscanf(file, "%x", flags);
    fclose(file);
    return n == 1 ? 0 : ENOTTY;
}

/* Attaches a new descriptor to the tap 'name' with 'flags' (making the tap
 * if there is none) and returns it in '*fdp'. */
static int
open_tap(const char *name, short flags, int *fdp)
{
    struct ifreq ifr;
    int fd;

    fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    memset(&ifr, 0, sizeof ifr);
    ovs_strzcpy(ifr.ifr_name, name, sizeof ifr.ifr_name);
    ifr.ifr_flags = flags;
    if (ioctl(fd, TUNSETIFF, &ifr)) {
        int error = errno;

        close(fd);
        return error;
    }
    *fdp = fd;
    return 0;
}

/* Is there a persistent tap 'name' with the flags for 'n_queues' queues?
 * Then vhost_tap_setup() has nothing to do: it is not called again, since
 * opening a queue of a tap that QEMU uses, even briefly, takes a share of
 * the packets for the guest. */
bool
vhost_tap_is_set_up(const char *name, int n_queues)
{
    unsigned int flags;

    return (!read_tun_flags(name, &flags)
            && (flags & (IFF_TAP | IFF_TUN)) == IFF_TAP
            && flags & IFF_PERSIST
            && !(flags & IFF_MULTI_QUEUE) == (n_queues <= 1));
}

/* Sets the MTU of the tap 'name' (mtu_request).  Returns 0 or a positive
 * errno value. */
int
vhost_tap_set_mtu(const char *name, int mtu)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_mtu = mtu;
    return af_inet_ifreq_ioctl(name, &ifr, SIOCSIFMTU, "SIOCSIFMTU");
}

static void
write_sysctl(const char *family, const char *name, const char *key,
             const char *value)
{
    char path[128 + IFNAMSIZ];
    FILE *file;

    snprintf(path, sizeof path, "/proc/sys/net/%s/conf/%s/%s", family, name,
             key);
    file = fopen(path, "w");
    if (file) {
        fprintf(file, "%s\n", value);
        fclose(file);
    }
}

/* The packet sockets of the userspace datapath see the guest's packets,
 * but do not take them: the host's IP stack gets them too.  It has no
 * business with them, and must not answer (the guest would reach the host
 * past OVS's flows): IPv6 off (no router solicitations either), ARP never
 * answered, IPv4 refused by strict reverse-path filtering (no route leads
 * to the tap) and never forwarded. */
static void
keep_host_stack_out(const char *name)
{
    write_sysctl("ipv6", name, "disable_ipv6", "1");
    write_sysctl("ipv4", name, "arp_ignore", "8");
    write_sysctl("ipv4", name, "rp_filter", "1");
    write_sysctl("ipv4", name, "forwarding", "0");
}

static int
set_mtu_and_up(const char *name, int mtu)
{
    struct ifreq ifr;
    int error;

    keep_host_stack_out(name);

    if (mtu) {
        error = vhost_tap_set_mtu(name, mtu);
        if (error) {
            return error;
        }
    }
    memset(&ifr, 0, sizeof ifr);
    error = af_inet_ifreq_ioctl(name, &ifr, SIOCGIFFLAGS, "SIOCGIFFLAGS");
    if (!error && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        error = af_inet_ifreq_ioctl(name, &ifr, SIOCSIFFLAGS,
                                    "SIOCSIFFLAGS");
    }
    return error;
}

/* Makes the persistent tap 'name' as 'cfg' says, or takes over the one that
 * is there from before (ovs-vswitchd restarted, or QEMU already has it),
 * and brings it up.  On failure, returns a positive errno value and puts a
 * message for the Interface's error column in '*errp'. */
int
vhost_tap_setup(const char *name, const struct vhost_tap_config *cfg,
                char **errp)
{
    short flags = tap_flags(cfg->n_queues);
    unsigned int old_flags;
    int error;
    int fd;

    *errp = NULL;
    if (strlen(name) >= IFNAMSIZ) {
        *errp = xasprintf("%s: a tap name has at most %d characters",
                          name, IFNAMSIZ - 1);
        return EINVAL;
    }

    error = read_tun_flags(name, &old_flags);
    if (error == ENOTTY) {
        *errp = xasprintf("%s: an interface with this name exists and is "
                          "not a tap", name);
        return EEXIST;
    } else if (!error && (old_flags & (IFF_TAP | IFF_TUN)) != IFF_TAP) {
        *errp = xasprintf("%s: a tun device with this name exists and is "
                          "not a tap", name);
        return EEXIST;
    } else if (!error
               && !(old_flags & IFF_MULTI_QUEUE) != !(flags
                                                     & IFF_MULTI_QUEUE)) {
        /* A tap cannot change between one queue and several: one that no
         * guest has open is made again. */
        struct vhost_tap_link link;
        char *reason;

        if (vhost_tap_get_link(name, &link) || link.carrier) {
            *errp = xasprintf("%s: the tap has %s queue and a guest has it "
                              "open: stop the guest to change between one "
                              "queue and several", name,
                              old_flags & IFF_MULTI_QUEUE ? "more than one"
                              : "one");
            return EBUSY;
        }
        error = vhost_tap_remove(name, &reason);
        if (error) {
            *errp = reason ? reason : xasprintf("%s: cannot remove the tap "
                                                "(%s)", name,
                                                ovs_strerror(error));
            return error;
        }
        VLOG_INFO("%s: tap made again, to change between one queue and "
                  "several", name);
    }

    error = open_tap(name, flags, &fd);
    if (error == EBUSY && !(flags & IFF_MULTI_QUEUE)) {
        /* QEMU has the only queue of a tap we made before: it is set up
         * already. */
        VLOG_INFO("%s: tap in use, keeping it as it is", name);
    } else if (error) {
        *errp = xasprintf("%s: cannot open the tap (%s)", name,
                          ovs_strerror(error));
        return error;
    } else {
        /* The kernel has no "any user" to set back to: an owner or group
         * stays until the tap is made again. */
        if ((cfg->owner != (uid_t) -1
             && ioctl(fd, TUNSETOWNER, (unsigned long) cfg->owner))
            || (cfg->group != (gid_t) -1
                && ioctl(fd, TUNSETGROUP, (unsigned long) cfg->group))
            || ioctl(fd, TUNSETPERSIST, 1UL)) {
            error = errno;
            close(fd);
            *errp = xasprintf("%s: cannot set up the tap (%s)", name,
                              ovs_strerror(error));
            return error;
        }
        close(fd);
    }

    error = set_mtu_and_up(name, cfg->mtu);
    if (error) {
        *errp = xasprintf("%s: cannot set the tap's MTU or bring it up (%s)",
                          name, ovs_strerror(error));
        return error;
    }
    return 0;
}

/* Makes the tap 'name' no longer persistent, so that the kernel removes it
 * as soon as nothing has it open.  Returns EAGAIN if QEMU has the only
 * queue of a one-queue tap, which cannot be opened meanwhile: try again
 * later.  0 if there is no such tap (any more). */
int
vhost_tap_remove(const char *name, char **errp)
{
    unsigned int flags;
    int error;
    int fd;

    *errp = NULL;
    error = read_tun_flags(name, &flags);
    if (error) {
        return error == ENOENT ? 0 : error;
    }
    error = open_tap(name, flags & (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
                                    | IFF_MULTI_QUEUE), &fd);
    if (error == EBUSY) {
        return EAGAIN;
    } else if (error) {
        *errp = xasprintf("%s: cannot open the tap to remove it (%s)", name,
                          ovs_strerror(error));
        return error;
    }
    if (ioctl(fd, TUNSETPERSIST, 0UL)) {
        error = errno;
        *errp = xasprintf("%s: cannot remove the tap (%s)", name,
                          ovs_strerror(error));
    }
    close(fd);
    return error;
}

/* Parses 's', a user name (a group name if 'group') or a number, into
 * '*id'.  Returns 0 or EINVAL. */
int
vhost_tap_parse_id(const char *s, bool group, unsigned int *id)
{
    char buf[4096];

    if (str_to_uint(s, 10, id)) {
        return 0;
    } else if (group) {
        struct group grp, *result;

        if (!getgrnam_r(s, &grp, buf, sizeof buf, &result) && result) {
            *id = grp.gr_gid;
            return 0;
        }
    } else {
        struct passwd pwd, *result;

        if (!getpwnam_r(s, &pwd, buf, sizeof buf, &result) && result) {
            *id = pwd.pw_uid;
            return 0;
        }
    }
    return EINVAL;
}

static void
stats_from_kernel(const struct rtnl_link_stats64 *k, struct netdev_stats *s)
{
    memset(s, 0, sizeof *s);
    s->rx_packets = k->rx_packets;
    s->tx_packets = k->tx_packets;
    s->rx_bytes = k->rx_bytes;
    s->tx_bytes = k->tx_bytes;
    s->rx_errors = k->rx_errors;
    s->tx_errors = k->tx_errors;
    s->rx_dropped = k->rx_dropped;
    s->tx_dropped = k->tx_dropped;
    s->multicast = k->multicast;
    s->collisions = k->collisions;
    s->rx_length_errors = k->rx_length_errors;
    s->rx_over_errors = k->rx_over_errors;
    s->rx_crc_errors = k->rx_crc_errors;
    s->rx_frame_errors = k->rx_frame_errors;
    s->rx_fifo_errors = k->rx_fifo_errors;
    s->rx_missed_errors = k->rx_missed_errors;
    s->tx_aborted_errors = k->tx_aborted_errors;
    s->tx_carrier_errors = k->tx_carrier_errors;
    s->tx_fifo_errors = k->tx_fifo_errors;
    s->tx_heartbeat_errors = k->tx_heartbeat_errors;
    s->tx_window_errors = k->tx_window_errors;
}

/* Asks the kernel (rtnetlink) about the tap 'name'.  Returns 0 or a
 * positive errno value. */
int
vhost_tap_get_link(const char *name, struct vhost_tap_link *link)
{
    static const struct nl_policy policy[] = {
        [IFLA_STATS64] = { .type = NL_A_UNSPEC, .optional = true,
                           .min_len = sizeof(struct rtnl_link_stats64) },
        [IFLA_CARRIER] = { .type = NL_A_U8, .optional = true },
        [IFLA_MASTER] = { .type = NL_A_U32, .optional = true },
    };
    struct nlattr *attrs[ARRAY_SIZE(policy)];
    struct ofpbuf request, *reply;
    char master[IFNAMSIZ];
    int error;

    ofpbuf_init(&request, 0);
    nl_msg_put_nlmsghdr(&request, sizeof(struct ifinfomsg), RTM_GETLINK,
                        NLM_F_REQUEST);
    ofpbuf_put_zeros(&request, sizeof(struct ifinfomsg));
    nl_msg_put_string(&request, IFLA_IFNAME, name);
    error = nl_transact(NETLINK_ROUTE, &request, &reply);
    ofpbuf_uninit(&request);
    if (error) {
        return error;
    }
    if (!nl_policy_parse(reply, NLMSG_HDRLEN + sizeof(struct ifinfomsg),
                         policy, attrs, ARRAY_SIZE(policy))) {
        ofpbuf_delete(reply);
        return EPROTO;
    }

    memset(link, 0, sizeof *link);
    if (attrs[IFLA_STATS64]) {
        struct rtnl_link_stats64 k;

        /* The attribute need not be 8-byte aligned. */
        memcpy(&k, nl_attr_get(attrs[IFLA_STATS64]), sizeof k);
        stats_from_kernel(&k, &link->stats);
    }
    link->carrier = attrs[IFLA_CARRIER] && nl_attr_get_u8(attrs[IFLA_CARRIER]);
    link->in_kernel_datapath
        = (attrs[IFLA_MASTER]
           && if_indextoname(nl_attr_get_u32(attrs[IFLA_MASTER]), master)
           && !strcmp(master, "ovs-system"));
    ofpbuf_delete(reply);
    return 0;
}
