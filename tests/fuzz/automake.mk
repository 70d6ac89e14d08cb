# The fuzz targets: libFuzzer, built by clang with AddressSanitizer and
# UndefinedBehaviorSanitizer, over the same sources as ovs-vswitchd's vhost
# code, linked with OVS's library.
#
# The test suite runs each for a minute and replays every input that ever
# failed (tests/vhost-fuzz.at); "make fuzz" runs them longer:
#
#     make fuzz FUZZ_SECONDS=3600
#
# leaving its corpus and any failing input in fuzz-work/.

FUZZ_TARGETS = tests/fuzz/vhost-user-fuzz tests/fuzz/virtq-fuzz

# What the targets drive: everything between the socket and the netdev.
FUZZ_LIB_FILES = \
	lib/dp-packet-pool.c \
	lib/vhost-log.c \
	lib/vhost-mem.c \
	lib/vhost-net-rxtx.c \
	lib/vhost-user.c \
	lib/virtio-net-hdr.c \
	lib/virtq.c \
	tests/fuzz/fuzz-util.c
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all

$(FUZZ_TARGETS): %: %.c $(FUZZ_LIB_FILES) tests/fuzz/fuzz-util.h \
		$(wildcard $(srcdir)/lib/*.h) $(OVS)/lib/libopenvswitch.la
	@$(MKDIR_P) tests/fuzz
	$(AM_V_CCLD)$(OVS)/libtool --quiet --tag=CC --mode=link $(CLANG) \
	    $(FUZZ_CFLAGS) $(AM_CPPFLAGS) -I$(srcdir)/tests/fuzz -o $@ \
	    $< $(addprefix $(srcdir)/,$(FUZZ_LIB_FILES)) \
	    $(OVS)/lib/libopenvswitch.la
$(OVS)/lib/libopenvswitch.la: ovs-built-sources.stamp
	+$(OVS_MAKE) lib/libopenvswitch.la

FUZZ_SECONDS = 600
fuzz: $(FUZZ_TARGETS)
	@status=0; \
	for target in $(FUZZ_TARGETS); do \
	    name=`basename $$target`; \
	    echo "fuzzing $$name for $(FUZZ_SECONDS) s (fuzz-work/$$name)"; \
	    $(srcdir)/tests/fuzz/run-fuzz $$target $(FUZZ_SECONDS) \
	        fuzz-work/$$name > fuzz-work-$$name.log 2>&1 || status=1; \
	    grep -E '^(stat::|#[0-9]+.DONE)' fuzz-work-$$name.log; \
	    mv fuzz-work-$$name.log fuzz-work/$$name/log; \
	done; \
	exit $$status
.PHONY: fuzz

clean-local: clean-fuzz
clean-fuzz:
	rm -f $(FUZZ_TARGETS)
	rm -rf fuzz-work
.PHONY: clean-fuzz

EXTRA_DIST += \
	tests/fuzz/corpus \
	tests/fuzz/fuzz-util.h \
	tests/fuzz/regressions \
	tests/fuzz/run-fuzz \
	tests/fuzz/vhost-user-record \
	tests/fuzz/virtq-seeds \
	$(FUZZ_LIB_FILES) \
	$(FUZZ_TARGETS:=.c)
