# Tools: the sandbox (the main job), the test guest, our own frontend.
EXTRA_DIST += \
	utilities/ovs-vhost-frontend \
	utilities/ovs-vhost-guest
