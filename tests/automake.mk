# The test suite.
#
# tests/vhost-testsuite is an autotest suite built on Open vSwitch's own
# test macros.  It runs in OVS's build tree (ovs/tests), against the
# ovs-vswitchd we built, with real frontends: DPDK testpmd, QEMU with a Linux
# guest, and our own ovs-vhost-frontend for exact and malformed cases.
#
# "make check" runs it and then OVS's own tests of the userspace datapath
# and its PMD threads (dpif-netdev.at and pmd.at of the tarball), to show the
# extension breaks nothing there.

VHOST_TESTSUITE_AT = \
	tests/vhost-testsuite.at \
	tests/vhost-macros.at \
	tests/vhost-port.at \
	tests/vhost-traffic.at \
	tests/vhost-offload.at \
	tests/vhost-virtq.at \
	tests/vhost-memory.at \
	tests/vhost-protocol.at \
	tests/vhost-testpmd.at \
	tests/vhost-migration.at \
	tests/vhost-qemu.at \
	tests/vhost-kernel.at \
	tests/vhost-hosts.at \
	tests/vhost-faults.at \
	tests/vhost-scale.at \
	tests/vhost-fuzz.at
EXTRA_DIST += $(VHOST_TESTSUITE_AT)

VHOST_TESTSUITE = tests/vhost-testsuite

# Where the test guest's kernel and initrd are kept.
VHOST_GUEST_DIR = $(abs_builddir)/guest

tests/package.m4: $(top_srcdir)/configure.ac
	$(AM_V_GEN){ \
	  echo '# Signature of the current package.'; \
	  echo 'm4_define([AT_PACKAGE_NAME],      [$(PACKAGE_NAME)])'; \
	  echo 'm4_define([AT_PACKAGE_TARNAME],   [$(PACKAGE_TARNAME)])'; \
	  echo 'm4_define([AT_PACKAGE_VERSION],   [$(PACKAGE_VERSION)])'; \
	  echo 'm4_define([AT_PACKAGE_STRING],    [$(PACKAGE_STRING)])'; \
	  echo 'm4_define([AT_PACKAGE_BUGREPORT], [$(PACKAGE_BUGREPORT)])'; \
	} > $@
CLEANFILES += tests/package.m4

$(VHOST_TESTSUITE): tests/package.m4 $(VHOST_TESTSUITE_AT) ovs/Makefile
	$(AM_V_GEN)$(AUTOM4TE) --language=autotest -I tests -I $(srcdir) \
	    -I ovs -o $@.tmp $(srcdir)/tests/vhost-testsuite.at && mv $@.tmp $@
CLEANFILES += $(VHOST_TESTSUITE)

# Always asked: the script knows whether the guest it built is current.
vhost-guest:
	$(AM_V_GEN)$(srcdir)/utilities/ovs-vhost-guest build $(VHOST_GUEST_DIR)
.PHONY: vhost-guest

# Every suite runs under utilities/ovs-vhost-reap, which reaps the
# daemons the tests start and stop as soon as they exit (see the script).
VHOST_REAP = $(srcdir)/utilities/ovs-vhost-reap

# Runs our suite.  TESTSUITEFLAGS picks tests, e.g. -k testpmd or 3-7 (it
# applies to our suite only).
VHOST_TESTSUITE_ENV = \
	VHOST_SRCDIR='$(abs_srcdir)' VHOST_GUEST_DIR='$(VHOST_GUEST_DIR)' \
	VHOST_FUZZ_DIR='$(abs_builddir)/tests/fuzz'
# The fuzz targets are made once "all" is done, not beside it: both run a
# make in ovs/, and two at once there would race.
check-vhost: all $(VHOST_TESTSUITE) vhost-guest
	$(MAKE) $(AM_MAKEFLAGS) $(FUZZ_TARGETS)
	$(VHOST_REAP) $(SHELL) '$(abs_builddir)/$(VHOST_TESTSUITE)' -C ovs/tests \
	    AUTOTEST_PATH='utilities:vswitchd:ovsdb:vtep:tests' \
	    $(VHOST_TESTSUITE_ENV) $(TESTSUITEFLAGS)

# Runs our suite again, against the ovs-vswitchd whose vhost code is built
# with AddressSanitizer and UndefinedBehaviorSanitizer (see Makefile.am):
# a report from either fails the test that caused it (OVS's atlocal and
# ovs_cleanup do that).  The fuzz tests, which have sanitizers of their
# own, skip this run (VHOST_SANITIZED).  Its log is
# ovs/tests/vhost-sanitized-testsuite.log.
check-vhost-sanitized: all $(VHOST_TESTSUITE) vhost-guest $(SANITIZED_VSWITCHD)
	cp $(VHOST_TESTSUITE) tests/vhost-sanitized-testsuite
	$(VHOST_REAP) $(SHELL) '$(abs_builddir)/tests/vhost-sanitized-testsuite' -C ovs/tests \
	    AUTOTEST_PATH='utilities:$(abs_builddir)/sanitized:vswitchd:ovsdb:vtep:tests' \
	    $(VHOST_TESTSUITE_ENV) VHOST_SANITIZED=yes $(TESTSUITEFLAGS)
CLEANFILES += tests/vhost-sanitized-testsuite

# Runs OVS's own tests of the userspace datapath (dpif-netdev.at) and of its
# PMD threads (pmd.at) against this build.
check-upstream: all
	+$(VHOST_REAP) $(OVS_MAKE) check TESTSUITEFLAGS="`ovs/tests/testsuite --list | \
	    awk '$$2 ~ /^(dpif-netdev|pmd)\.at:/ { sub(":", "", $$1); print $$1 }' | \
	    tr '\n' ' '`"

# All three, whatever the first ones say, then one line of totals.
check-local:
	@rm -f ovs/tests/vhost-testsuite.log ovs/tests/testsuite.log \
	    ovs/tests/vhost-sanitized-testsuite.log; \
	status=0; \
	$(MAKE) $(AM_MAKEFLAGS) check-vhost || status=1; \
	$(MAKE) $(AM_MAKEFLAGS) check-upstream || status=1; \
	$(MAKE) $(AM_MAKEFLAGS) check-vhost-sanitized || status=1; \
	$(SHELL) $(srcdir)/tests/summary ovs/tests/vhost-testsuite.log \
	    ovs/tests/testsuite.log ovs/tests/vhost-sanitized-testsuite.log; \
	exit $$status
EXTRA_DIST += tests/summary tests/vhost-vm-datapaths.sh tests/seq-gaps

.PHONY: check-vhost check-upstream check-vhost-sanitized
