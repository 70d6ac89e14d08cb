#! /bin/bash
# Copyright (c) 2026 The ovs-vhost authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at:
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# vhost-vm-datapaths.sh SCHEMA DATAPATH...
#
# Runs inside "ovs-vhost-guest host-vm", where the real tun, vhost_net and
# openvswitch modules load, from the directory the logs are to go to.
# ovs-vswitchd (from PATH, with SCHEMA for its database) gets, on a bridge
# of each DATAPATH type in turn ("system", "netdev"), two backend=kernel
# type=vhost ports, vt1 and vt2, and flows from one to the other.  One
# DPDK testpmd serves both taps through /dev/vhost-net (net_virtio_user),
# as QEMU's vhost=on would, and forwards what it receives on one port to
# the other (io mode, a first burst sent on both): packets go round,
# through the kernel's vhost-net worker, the taps and OVS, both ways.
#
# For each DATAPATH it prints:
#   DATAPATH attachment ATTACHMENT
#   DATAPATH testpmd rx RX0 RX1 tx TX0 TX1
#   DATAPATH ovs rx VT1 VT2 tx VT1 VT2 txdrop VT1 VT2
#   DATAPATH kernel-flows N        (system only: flows in the kernel
#                                   datapath that matched packets)
#   DATAPATH vhost-user ERROR      (system only: the error column of a
#                                   vhost-user port on the bridge)

set -e
schema=$1
shift

logs=$PWD
export OVS_RUNDIR=/run/ovt OVS_DBDIR=/run/ovt OVS_LOGDIR=$logs
export OVS_SYSCONFDIR=/run/ovt OVS_PKGDATADIR=/run/ovt
mkdir -p /run/ovt

modprobe -a tun vhost_net openvswitch

# OVS 3.1 counts no CPU cores in the first 10 s of uptime, so it would
# start no upcall handler and the kernel datapath would drop every miss.
while [ "$(cut -d. -f1 /proc/uptime)" -lt 11 ]; do
    sleep 1
done

ovsdb-tool create /run/ovt/conf.db "$schema"
ovsdb-server --detach --no-chdir --pidfile --log-file \
    --remote=punix:/run/ovt/db.sock
ovs-vsctl --no-wait init \
    -- set Open_vSwitch . other_config:pmd-cpu-mask=1
ovs-vswitchd --detach --no-chdir --pidfile --log-file

# ovs_count PORT rx|tx pkts|drop: a counter of OpenFlow port PORT.
ovs_count() {
    ovs-ofctl dump-ports br0 "$1" |
        sed -n "s/.* $2 \(.*, \)\{0,1\}$3=\([0-9]*\),.*/\2/p"
}

# testpmd_count LOG PORT FIELD: FIELD (RX-packets, TX-packets) of PORT in
# the statistics testpmd printed when it stopped.
testpmd_count() {
    awk -v port="$2" -v field="$3:" '
        /Forward statistics for port/ { p = ($(NF - 1) == port) }
        p { for (i = 1; i < NF; i++) if ($i == field) { print $(i + 1); p = 0 } }
        ' "$1" | head -n 1
}

for dp in "$@"; do
    ovs-vsctl add-br br0 \
        -- set bridge br0 datapath_type=$dp fail-mode=secure \
        -- add-port br0 vt1 -- set Interface vt1 type=vhost \
           options:backend=kernel ofport_request=1 \
        -- add-port br0 vt2 -- set Interface vt2 type=vhost \
           options:backend=kernel ofport_request=2
    ovs-ofctl add-flow br0 in_port=1,actions=output:2
    ovs-ofctl add-flow br0 in_port=2,actions=output:1
    echo "$dp attachment $(ovs-vsctl get Interface vt1 status:attachment)"

    log=testpmd-$dp.log
    dpdk-testpmd -l 0,1 --no-huge -m 512 --no-pci --file-prefix=ovt-$dp \
        --vdev net_virtio_user0,path=/dev/vhost-net,iface=vt1 \
        --vdev net_virtio_user1,path=/dev/vhost-net,iface=vt2 -- \
        --total-num-mbufs=8192 --forward-mode=io --tx-first \
        --stats-period 1 > "$log" 2>&1 &
    pid=$!
    # It forwards once it prints its first statistics; then 5 s more.
    for i in $(seq 60); do
        grep -q 'Port statistics' "$log" && break
        sleep 1
    done
    sleep 5
    # While packets flow (idle flows leave the datapath after 10 s).
    if [ $dp = system ]; then
        kernel_flows=$(ovs-appctl dpctl/dump-flows system@ovs-system |
                       grep -c 'packets:[1-9]' || true)
    fi
    kill -INT $pid
    wait $pid || true

    echo "$dp testpmd rx $(testpmd_count $log 0 RX-packets)" \
         "$(testpmd_count $log 1 RX-packets)" \
         "tx $(testpmd_count $log 0 TX-packets)" \
         "$(testpmd_count $log 1 TX-packets)"
    echo "$dp ovs rx $(ovs_count 1 rx pkts) $(ovs_count 2 rx pkts)" \
         "tx $(ovs_count 1 tx pkts) $(ovs_count 2 tx pkts)" \
         "txdrop $(ovs_count 1 tx drop) $(ovs_count 2 tx drop)"
    if [ $dp = system ]; then
        echo "$dp kernel-flows $kernel_flows"
        # A vhost-user port has no device for the kernel datapath.
        ovs-vsctl add-port br0 vu1 -- set Interface vu1 type=vhost
        echo "$dp vhost-user $(ovs-vsctl get Interface vu1 error)"
    fi
    ovs-vsctl del-br br0
done

ovs-appctl -t ovs-vswitchd exit
ovs-appctl -t ovsdb-server exit
