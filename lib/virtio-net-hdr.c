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

#include "virtio-net-hdr.h"

#include <linux/virtio_config.h>
#include <netinet/in.h>
#include <netinet/ip6.h>
#include <string.h>

#include "csum.h"
#include "dp-packet.h"
#include "packets.h"
#include "unaligned.h"
#include "util.h"

#define BIT(N) (UINT64_C(1) << (N))

/* With VERSION_1 or MRG_RXBUF the header has 'num_buffers'; only a legacy
 * device without mergeable buffers uses the short one. */
size_t
virtio_net_hdr_len(uint64_t features)
{
    return (features & (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_NET_F_MRG_RXBUF))
            ? sizeof(struct virtio_net_hdr_v1)
            : sizeof(struct virtio_net_hdr));
}

/* Checksums both ways, TCP segmentation both ways.  Not UFO or ECN: OVS's
 * userspace TSO has no flags for them. */
uint64_t
virtio_net_offload_features(void)
{
    return (BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM)
            | BIT(VIRTIO_NET_F_HOST_TSO4) | BIT(VIRTIO_NET_F_HOST_TSO6)
            | BIT(VIRTIO_NET_F_GUEST_TSO4) | BIT(VIRTIO_NET_F_GUEST_TSO6));
}

/* Where the IP and transport headers of a frame are. */
struct l3l4 {
    uint16_t l3_ofs;
    uint16_t l4_ofs;
    uint32_t end;               /* End of the IP packet: the rest of the frame
                                 * is padding. */
    uint8_t proto;
    bool ipv6;
};

/* Finds the headers of the 'size'-byte Ethernet frame 'data': IPv4 that is
 * not a fragment, or IPv6 without extension headers, behind at most two
 * VLAN tags, with lengths that fit the frame.  Returns false for anything
 * else.  Reads the frame once, into local copies. */
static bool
parse_l3l4(const uint8_t *data, uint32_t size, struct l3l4 *l)
{
    uint32_t ofs = ETH_HEADER_LEN;
    ovs_be16 type;

    if (size < ETH_HEADER_LEN) {
        return false;
    }
    memcpy(&type, data + 2 * ETH_ADDR_LEN, sizeof type);
    for (int i = 0; i < 2 && eth_type_vlan(type); i++) {
        if (size < ofs + VLAN_HEADER_LEN) {
            return false;
        }
        memcpy(&type, data + ofs + 2, sizeof type);
        ofs += VLAN_HEADER_LEN;
    }

    l->l3_ofs = ofs;
    if (type == htons(ETH_TYPE_IP)) {
        struct ip_header ip;
        uint32_t ihl, tot_len;

        if (size < ofs + IP_HEADER_LEN) {
            return false;
        }
        memcpy(&ip, data + ofs, sizeof ip);
        ihl = IP_IHL(ip.ip_ihl_ver) * 4;
        tot_len = ntohs(ip.ip_tot_len);
        if (IP_VER(ip.ip_ihl_ver) != 4 || ihl < IP_HEADER_LEN
            || tot_len < ihl || ofs + tot_len > size
            || IP_IS_FRAGMENT(ip.ip_frag_off)) {
            return false;
        }
        l->ipv6 = false;
        l->proto = ip.ip_proto;
        l->l4_ofs = ofs + ihl;
        l->end = ofs + tot_len;
    } else if (type == htons(ETH_TYPE_IPV6)) {
        struct ovs_16aligned_ip6_hdr ip6;
        uint32_t plen;

        if (size < ofs + IPV6_HEADER_LEN) {
            return false;
        }
        memcpy(&ip6, data + ofs, sizeof ip6);
        plen = ntohs(ip6.ip6_plen);
        if (ip6.ip6_vfc >> 4 != 6 || ofs + IPV6_HEADER_LEN + plen > size) {
            return false;
        }
        l->ipv6 = true;
        l->proto = ip6.ip6_nxt;
        l->l4_ofs = ofs + IPV6_HEADER_LEN;
        l->end = l->l4_ofs + plen;
    } else {
        return false;
    }
    return true;
}

/* The checksum that belongs at 'csum_ofs' for the bytes from 'start' to
 * 'end', the field's present value (the pseudo-header sum) included.  Zero
 * goes out as 0xffff, its other form, as the kernel does: zero means "no
 * checksum" to UDP. */
static ovs_be16
complete_csum(const uint8_t *data, uint32_t start, uint32_t end)
{
    ovs_be16 sum = csum_finish(csum_continue(0, data + start, end - start));

    return sum ? sum : htons(0xffff);
}

static void
set_tx_flags(struct dp_packet *packet, bool ipv6, bool tcp)
{
    if (ipv6) {
        dp_packet_hwol_set_tx_ipv6(packet);
    } else {
        dp_packet_hwol_set_tx_ipv4(packet);
    }
    if (tcp) {
        dp_packet_hwol_set_csum_tcp(packet);
    } else {
        dp_packet_hwol_set_csum_udp(packet);
    }
}

/* Applies the header of a packet that a guest with 'features' sent to
 * 'packet', which holds the packet's data.  Returns what the header asked
 * for; for VIRTIO_NET_RX_INVALID, sets '*reason'. */
enum virtio_net_rx_offload
virtio_net_hdr_to_packet(const struct virtio_net_hdr_v1 *hdr,
                         uint64_t features, struct dp_packet *packet,
                         const char **reason)
{
    uint8_t *data = dp_packet_data(packet);
    uint32_t size = dp_packet_size(packet);
    uint16_t start, offset;
    bool tcp, udp;
    struct l3l4 l;

    if (OVS_LIKELY(!(hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
                   && hdr->gso_type == VIRTIO_NET_HDR_GSO_NONE)) {
        return VIRTIO_NET_RX_PLAIN;
    }
    if (!(hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
        *reason = "segmentation asked without a checksum offload";
        return VIRTIO_NET_RX_INVALID;
    }
    if (!(features & BIT(VIRTIO_NET_F_CSUM))) {
        *reason = "checksum offload was not negotiated";
        return VIRTIO_NET_RX_INVALID;
    }
    start = le16toh(hdr->csum_start);
    offset = le16toh(hdr->csum_offset);
    if ((uint32_t) start + offset + sizeof(ovs_be16) > size) {
        *reason = "checksum offset beyond the end of the packet";
        return VIRTIO_NET_RX_INVALID;
    }

    /* Only TCP and UDP checksums at their usual place can be left to an
     * output port. */
    tcp = udp = false;
    if (parse_l3l4(data, size, &l) && start == l.l4_ofs) {
        tcp = (l.proto == IPPROTO_TCP
               && offset == offsetof(struct tcp_header, tcp_csum)
               && l.end >= l.l4_ofs + TCP_HEADER_LEN);
        udp = (l.proto == IPPROTO_UDP
               && offset == offsetof(struct udp_header, udp_csum)
               && l.end >= l.l4_ofs + UDP_HEADER_LEN);
    }

    if (hdr->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        uint8_t type = hdr->gso_type;

        if (type != VIRTIO_NET_HDR_GSO_TCPV4
            && type != VIRTIO_NET_HDR_GSO_TCPV6) {
            *reason = "segmentation type was not negotiated";
            return VIRTIO_NET_RX_INVALID;
        }
        if (!(features & BIT(type == VIRTIO_NET_HDR_GSO_TCPV4
                             ? VIRTIO_NET_F_HOST_TSO4
                             : VIRTIO_NET_F_HOST_TSO6))) {
            *reason = "TCP segmentation was not negotiated";
            return VIRTIO_NET_RX_INVALID;
        }
        if (!tcp || l.ipv6 != (type == VIRTIO_NET_HDR_GSO_TCPV6)) {
            *reason = "TCP segmentation asked for a packet whose headers "
                      "do not match";
            return VIRTIO_NET_RX_INVALID;
        }
        if (!hdr->gso_size) {
            *reason = "TCP segmentation asked with segment size 0";
            return VIRTIO_NET_RX_INVALID;
        }

        /* An output port hands the TCP header length to its NIC as it is:
         * check it, and that there is a payload to cut. */
        struct tcp_header th;
        uint32_t thl;

        memcpy(&th, data + l.l4_ofs, sizeof th);
        thl = TCP_OFFSET(th.tcp_ctl) * 4;
        if (thl < TCP_HEADER_LEN || l.l4_ofs + thl >= l.end) {
            *reason = "TCP segmentation asked for a packet with a bad TCP "
                      "header length or no payload";
            return VIRTIO_NET_RX_INVALID;
        }
        /* OVS 3.1 keeps no segment size: the output port cuts to its own
         * MTU. */
        set_tx_flags(packet, l.ipv6, true);
        dp_packet_hwol_set_tcp_seg(packet);
        return VIRTIO_NET_RX_GSO;
    }

    if (tcp || udp) {
        set_tx_flags(packet, l.ipv6, tcp);
        return VIRTIO_NET_RX_CSUM;
    }

    /* Anything else, e.g. behind IPv6 extension headers, no output port can
     * be asked for: the checksum runs to the end of the packet. */
    ovs_be16 sum = complete_csum(data, start, size);
    memcpy(data + start + offset, &sum, sizeof sum);
    return VIRTIO_NET_RX_CSUM_DONE;
}

/* Decides how 'packet' goes to a guest that negotiated 'features' and takes
 * frames of 'mtu' bytes of IP, and fills 'tx' for it. */
enum virtio_net_tx_action
virtio_net_tx_prepare(const struct dp_packet *packet, uint64_t features,
                      int mtu, struct virtio_net_tx *tx)
{
    const uint8_t *data = dp_packet_data(packet);
    uint32_t size = dp_packet_size(packet);
    uint16_t csum_field;
    struct l3l4 l;

    memset(&tx->hdr, 0, sizeof tx->hdr);
    if (OVS_LIKELY(!dp_packet_hwol_is_tso(packet)
                   && !dp_packet_hwol_tx_l4_checksum(packet))) {
        return VIRTIO_NET_TX_AS_IS;
    }

    if (!parse_l3l4(data, size, &l)) {
        tx->reason = "offload asked for a packet that is neither IPv4 "
                     "(unfragmented) nor IPv6 (no extension headers) behind "
                     "at most two VLAN tags, with lengths that fit";
        return VIRTIO_NET_TX_INVALID;
    }

    if (dp_packet_hwol_is_tso(packet)) {
        struct tcp_header th;
        uint32_t hdrs_len;
        int mss;

        if (l.proto != IPPROTO_TCP || l.end < l.l4_ofs + TCP_HEADER_LEN) {
            tx->reason = "TCP segmentation asked for a packet that is not "
                         "TCP";
            return VIRTIO_NET_TX_INVALID;
        }
        memcpy(&th, data + l.l4_ofs, sizeof th);
        hdrs_len = l.l4_ofs + TCP_OFFSET(th.tcp_ctl) * 4;
        if (TCP_OFFSET(th.tcp_ctl) * 4 < TCP_HEADER_LEN || hdrs_len > l.end
            || hdrs_len > VIRTIO_NET_MAX_HEADERS) {
            tx->reason = "TCP segmentation asked for a packet with a bad "
                         "TCP header length";
            return VIRTIO_NET_TX_INVALID;
        }
        mss = mtu - (int) (hdrs_len - l.l3_ofs);
        if (mss < 8) {
            tx->reason = "TCP segmentation asked with an MTU too small for "
                         "the headers";
            return VIRTIO_NET_TX_INVALID;
        }

        if (l.end - hdrs_len > mss) {
            /* Only the first piece of a segment that carries CWR may
             * have the flag: without GUEST_ECN, it is cut here. */
            bool cwr = TCP_FLAGS(th.tcp_ctl) & TCP_CWR;

            if (features & BIT(l.ipv6 ? VIRTIO_NET_F_GUEST_TSO6
                                      : VIRTIO_NET_F_GUEST_TSO4)
                && (!cwr || features & BIT(VIRTIO_NET_F_GUEST_ECN))) {
                tx->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
                tx->hdr.gso_type = ((l.ipv6 ? VIRTIO_NET_HDR_GSO_TCPV6
                                            : VIRTIO_NET_HDR_GSO_TCPV4)
                                    | (cwr ? VIRTIO_NET_HDR_GSO_ECN : 0));
                tx->hdr.hdr_len = htole16(hdrs_len);
                tx->hdr.gso_size = htole16(mss);
                tx->hdr.csum_start = htole16(l.l4_ofs);
                tx->hdr.csum_offset
                    = htole16(offsetof(struct tcp_header, tcp_csum));
                return VIRTIO_NET_TX_AS_IS;
            }
            tx->l3_ofs = l.l3_ofs;
            tx->l4_ofs = l.l4_ofs;
            tx->hdrs_len = hdrs_len;
            tx->mss = mss;
            tx->end = l.end;
            tx->ipv6 = l.ipv6;
            return VIRTIO_NET_TX_SEGMENT;
        }
        /* It fits in one segment: only the checksum is left. */
    }

    if (l.proto == IPPROTO_TCP && l.end >= l.l4_ofs + TCP_HEADER_LEN) {
        csum_field = offsetof(struct tcp_header, tcp_csum);
    } else if (l.proto == IPPROTO_UDP
               && l.end >= l.l4_ofs + UDP_HEADER_LEN) {
        csum_field = offsetof(struct udp_header, udp_csum);
    } else {
        tx->reason = "checksum offload asked for a packet that is neither "
                     "TCP nor UDP";
        return VIRTIO_NET_TX_INVALID;
    }
    if (features & BIT(VIRTIO_NET_F_GUEST_CSUM)) {
        tx->hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        tx->hdr.csum_start = htole16(l.l4_ofs);
        tx->hdr.csum_offset = htole16(csum_field);
        return VIRTIO_NET_TX_AS_IS;
    }
    tx->csum_ofs = l.l4_ofs + csum_field;
    tx->csum = complete_csum(data, l.l4_ofs, l.end);
    return VIRTIO_NET_TX_CSUM;
}

/* Writes to 'headers', which is 2-byte aligned, the headers of the segment
 * that carries 'len' bytes of the payload of 'packet' from 'offset' on, for
 * the VIRTIO_NET_TX_SEGMENT plan 'tx', checksums complete.  Returns their
 * length; the payload follows them unchanged. */
size_t
virtio_net_tx_segment(const struct dp_packet *packet,
                      const struct virtio_net_tx *tx,
                      uint32_t offset, uint32_t len,
                      uint8_t headers[VIRTIO_NET_MAX_HEADERS])
{
    const uint8_t *data = dp_packet_data(packet);
    struct tcp_header *th = ALIGNED_CAST(struct tcp_header *,
                                         headers + tx->l4_ofs);
    uint16_t l4_len = tx->hdrs_len - tx->l4_ofs + len;
    uint16_t ctl;
    uint32_t sum;

    memcpy(headers, data, tx->hdrs_len);

    put_16aligned_be32(&th->tcp_seq,
                       htonl(ntohl(get_16aligned_be32(&th->tcp_seq))
                             + offset));
    ctl = ntohs(th->tcp_ctl);
    if (tx->hdrs_len + offset + len < tx->end) {
        ctl &= ~(TCP_FIN | TCP_PSH);
    }
    if (offset) {
        ctl &= ~TCP_CWR;
    }
    th->tcp_ctl = htons(ctl);

    if (tx->ipv6) {
        struct ovs_16aligned_ip6_hdr *ip6
            = ALIGNED_CAST(struct ovs_16aligned_ip6_hdr *,
                           headers + tx->l3_ofs);

        ip6->ip6_plen = htons(l4_len);
        sum = packet_csum_pseudoheader6(ip6);
    } else {
        struct ip_header *ip = ALIGNED_CAST(struct ip_header *,
                                            headers + tx->l3_ofs);
        uint16_t ihl = tx->l4_ofs - tx->l3_ofs;

        ip->ip_tot_len = htons(ihl + l4_len);
        ip->ip_id = htons(ntohs(ip->ip_id) + offset / tx->mss);
        ip->ip_csum = 0;
        ip->ip_csum = csum(ip, ihl);
        sum = packet_csum_pseudoheader(ip);
    }
    th->tcp_csum = 0;
    sum = csum_continue(sum, th, tx->hdrs_len - tx->l4_ofs);
    sum = csum_continue(sum, data + tx->hdrs_len + offset, len);
    th->tcp_csum = csum_finish(sum);
    return tx->hdrs_len;
}
