# Tools: the sandbox (the main job), the benchmark, the test guest and VM,
# our own frontend, the guest side of a tap.
EXTRA_DIST += \
	utilities/ovs-vhost-bench \
	utilities/ovs-vhost-frontend \
	utilities/ovs-vhost-guest \
	utilities/ovs-vhost-tap-peer
