# Tools: the sandbox (the main job), the hosts of its --ovn layout and of
# the tests, the benchmark, the test guest and VM, our own frontend, the
# guest side of a tap, the test suites' reaper.
EXTRA_DIST += \
	utilities/ovs-vhost-bench \
	utilities/ovs-vhost-corelat.c \
	utilities/ovs-vhost-frontend \
	utilities/ovs-vhost-guest \
	utilities/ovs-vhost-hosts \
	utilities/ovs-vhost-reap \
	utilities/ovs-vhost-tap-peer

# The benchmark's probe of the machine (see the file); only the benchmark
# makes it: "make utilities/ovs-vhost-corelat".
utilities/ovs-vhost-corelat: utilities/ovs-vhost-corelat.c
	@$(MKDIR_P) utilities
	$(AM_V_CCLD)$(CC) $(CFLAGS) -Wall -pthread -o $@ $<
CLEANFILES += utilities/ovs-vhost-corelat
