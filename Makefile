# sipedge - GNU Makefile. `make run` and `make test` are the whole set-up
# on a fresh Debian 12 machine (as root): both install what they need.

VERSION := 0.1.0
SAN ?= 0
CC ?= cc
FUZZ_SECONDS ?= 60
CORPUS ?= tests/corpus

# Criterion's runner leaks 48 bytes per extra job inside libcriterion
# itself, which LeakSanitizer reports; a suppression for the library would
# also hide leaks in our tests (they all run under its frames), so
# sanitizer runs use one job instead.
UNIT_JOBS := 2
ifeq ($(SAN),1)
UNIT_JOBS := 1
BUILD ?= build-san
OPT := -O1 -g -fno-omit-frame-pointer \
	-fsanitize=address,undefined -fno-sanitize-recover=all
ALLOC_PKG :=
else
BUILD ?= build
OPT := -O2 -g
ALLOC_PKG := jemalloc
endif

PKGS := liburcu-memb liburcu-cds libuv libcyaml nettle hiredis jansson \
	libmicrohttpd libsystemd sndfile spandsp openssl libcares libbpf \
	$(ALLOC_PKG)
TEST_PKGS := criterion

CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
	-Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
	-DSIPEDGE_VERSION='"$(VERSION)"' -I.
CFLAGS += $(OPT) $(CFLAGS_BASE)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)
# wslay (WebSocket framing) ships no pkg-config file.
LDLIBS = $(PKG_LIBS) -lwslay -lpthread -lm

# Layers (STYLE.md): proxy/base -> proxy/sip -> store -> proxy core ->
# registrar, features -> proxy/mgmt -> proxy/main.c. bench/ links base and sip only.
LIB_SRC := $(sort $(wildcard proxy/base/*.c proxy/sip/*.c))
CORE_SRC := $(sort $(filter-out proxy/main.c %.bpf.c, \
	$(wildcard store/*.c proxy/core/*.c proxy/*.c registrar/*.c \
	features/*.c features/*/*.c proxy/mgmt/*.c)))
MAIN_SRC := proxy/main.c
UNIT_SRC := $(sort $(wildcard tests/unit/*.c tests/unit/*/*.c \
	tests/unit/*/*/*.c tests/unit/*/*/*/*.c))
INTEG_SRC := $(sort $(wildcard tests/integration/*.c))
COMMON_SRC := $(sort $(wildcard tests/common/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
SIPLOAD_SRC := $(sort $(wildcard bench/sipload/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
SIPCTL_SRC := $(sort $(wildcard proxy/mgmt/sipctl/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# What integration tests are told: the binaries under test, the corpus
# and the source tree (test_install runs `make install` in it).
INTEG_ENV = SIPEDGE_BIN=$(abspath $(SIPEDGE)) \
	SIPLOAD_BIN=$(abspath $(BUILD)/sipload) \
	SIPCTL_BIN=$(abspath $(BUILD)/sipctl) \
	SIPEDGE_CORPUS=$(abspath $(CORPUS)) SIPEDGE_SAN=$(SAN) \
	SIPEDGE_SRCDIR=$(abspath .)

SIPEDGE := $(BUILD)/sipedge
UNIT := $(BUILD)/test_unit
INTEG := $(BUILD)/test_integration
BENCHES := $(patsubst bench/%.c,$(BUILD)/%,$(BENCH_SRC))
SIPLOAD := $(if $(SIPLOAD_SRC),$(BUILD)/sipload)
SIPCTL := $(BUILD)/sipctl

.PHONY: all deps run test unit integration check fmt fmtcheck hdrcheck \
	layercheck fuzz bench bench-compare bench-media bench-park bench-lb \
	bench-steering clean install uninstall soak
.DEFAULT_GOAL := all

all: $(SIPEDGE) $(BENCHES) $(SIPLOAD) $(SIPCTL)

# The media engine's built-in sounds (features/b2b/media.h), made from
# espeak-ng and sox; the binaries find them in sounds/ beside themselves.
SOUND_NAMES := zero one two three four five six seven eight nine \
	parked-at lot-full slot-empty music
SOUNDS := $(patsubst %,$(BUILD)/sounds/%.wav,$(SOUND_NAMES))
$(SOUNDS) &: scripts/sounds.sh
	./scripts/sounds.sh $(BUILD)/sounds

deps:
	@./scripts/install-deps.sh

# Sub-makes so that pkg-config runs after the packages are installed.
run: deps
	@$(MAKE) --no-print-directory $(SIPEDGE)
	exec $(SIPEDGE) $(ARGS)

# tests/run.sh fails a run that tests fewer than tests/floor (1 with a
# --filter; for `make test`, 1 across both binaries) or whose .fini checks
# fail.
TALLY := $(BUILD)/tests-tally

test: deps
	@$(MAKE) --no-print-directory $(SIPEDGE) $(UNIT) $(INTEG) $(BENCHES) \
		$(SIPLOAD) $(SIPCTL)
	@rm -f $(TALLY)
	TESTS_TALLY=$(TALLY) ./tests/run.sh unit $(UNIT) --jobs $(UNIT_JOBS) \
		--short-filename $(TEST_ARGS)
	$(INTEG_ENV) TESTS_TALLY=$(TALLY) ./tests/run.sh integration $(INTEG) \
		--jobs 1 --short-filename $(TEST_ARGS)
	@./tests/run.sh tally $(TALLY) $(TEST_ARGS)

unit: deps
	@$(MAKE) --no-print-directory $(UNIT)
	./tests/run.sh unit $(UNIT) --jobs $(UNIT_JOBS) --short-filename \
		$(TEST_ARGS)

integration: deps
	@$(MAKE) --no-print-directory $(SIPEDGE) $(INTEG) $(SIPLOAD) $(SIPCTL)
	$(INTEG_ENV) ./tests/run.sh integration $(INTEG) --jobs 1 \
		--short-filename $(TEST_ARGS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) $(if $(filter tests/%,$<),$(TEST_CFLAGS)) \
		-MMD -MP -c $< -o $@

# The kernel steering program (proxy/core/steer.bpf.c): built for the BPF
# target and embedded in the binary as a bpftool skeleton, so that
# `make install` has no extra file to place.
BPFTOOL ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)
GEN := $(BUILD)/gen
CFLAGS += -I$(GEN)

$(GEN)/steer.bpf.o: proxy/core/steer.bpf.c proxy/core/steer_scan.h \
		proxy/core/steer_stats.h
	@mkdir -p $(dir $@)
	clang -O2 -g -target bpf -Wall -Werror -I. \
		-I/usr/include/$(shell $(CC) -dumpmachine) -c $< -o $@
	llvm-strip -g $@

$(GEN)/steer.skel.h: $(GEN)/steer.bpf.o
	$(BPFTOOL) gen skeleton $< name steer_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/proxy/core/steer.o: $(GEN)/steer.skel.h

$(SIPEDGE): $(call obj,$(MAIN_SRC) $(CORE_SRC) $(LIB_SRC)) | $(SOUNDS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

$(UNIT): $(call obj,$(UNIT_SRC) $(COMMON_SRC) $(CORE_SRC) $(LIB_SRC)) | $(SOUNDS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(TEST_LIBS) $(LDLIBS)

# Longer runs than `make test` (root: network namespaces): the balancer
# harness on a 3-master Redis Cluster, then with 10,000 users.
soak: deps
	@$(MAKE) --no-print-directory $(SIPEDGE) $(SIPCTL)
	LB_STORE=cluster LB_LIMIT_S=300 $(INTEG_ENV) tests/integration/lb/lb.sh
	LB_USERS=10000 LB_SAMPLE=10000 LB_LIMIT_S=1500 $(INTEG_ENV) \
		tests/integration/lb/lb.sh

$(INTEG): $(call obj,$(INTEG_SRC) $(COMMON_SRC) $(LIB_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(TEST_LIBS) $(LDLIBS)

$(BUILD)/sipload: $(call obj,$(SIPLOAD_SRC) $(LIB_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

# sipctl talks HTTP itself; it needs only jansson.
$(SIPCTL): $(call obj,$(SIPCTL_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(shell pkg-config --libs jansson)

$(BUILD)/%: $(BUILD)/obj/bench/%.o $(call obj,$(LIB_SRC))
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

bench: deps
	@$(MAKE) --no-print-directory $(BENCHES)
	@for b in $(BENCHES); do echo "== $$b"; $$b || exit 1; done

# The media engine under load (docs/benchmarks.md): it links the engine,
# which bench/ may not include, so it lives in tests/bench/.
MEDIABENCH := $(BUILD)/mediabench
$(MEDIABENCH): $(call obj,tests/bench/mediabench.c $(CORE_SRC) $(LIB_SRC)) \
		| $(SOUNDS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDFLAGS) $(LDLIBS)

bench-media: deps
	@$(MAKE) --no-print-directory $(MEDIABENCH)
	$(MEDIABENCH) $(MEDIABENCH_ARGS)

# 1,000 calls parked at once with music (bench/park.sh says what it
# measures); PARK_ARGS: COUNT RATE HOLD_S B2B_WORKERS.
bench-park: deps
	@$(MAKE) --no-print-directory $(SIPEDGE) $(SIPLOAD)
	SIPEDGE_BIN=$(SIPEDGE) SIPLOAD_BIN=$(SIPLOAD) ./bench/park.sh $(PARK_ARGS)

# 1, 2 and 3 nodes behind nftables in a namespace of its own (issue #17;
# bench/lb.sh says what it measures, BENCH_LB_* its knobs). As root.
bench-lb: deps
	@$(MAKE) --no-print-directory $(SIPEDGE) $(SIPLOAD)
	SIPEDGE_BIN=$(SIPEDGE) SIPLOAD_BIN=$(SIPLOAD) ./bench/lb.sh

# Side by side with Kamailio and SIPp (installs them if missing).
bench-compare: deps
	@$(MAKE) --no-print-directory $(SIPEDGE) $(SIPLOAD)
	./bench/compare/run.sh $(abspath $(BUILD))

# CPU per call with udp.steering bpf against off (bench/steering.sh).
bench-steering: deps
	@$(MAKE) --no-print-directory $(SIPEDGE) $(SIPLOAD)
	./bench/steering.sh $(abspath $(BUILD))

# libFuzzer targets (clang), each run for FUZZ_SECONDS on a copy of the
# corpus seeds; findings go to build-fuzz/findings and fail the target.
FUZZ_BUILD := build-fuzz
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. -Wall -Wextra -Werror \
	-DSIPEDGE_VERSION='"$(VERSION)"' \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz: deps $(GEN)/steer.skel.h
	@mkdir -p $(FUZZ_BUILD)
	@set -e; for f in $(FUZZ_SRC); do \
		n=$$(basename $$f .c); \
		echo "== building $$n"; \
		clang $(FUZZ_CFLAGS) -I$(GEN) $$(pkg-config --cflags $(PKGS)) \
			$$f $(LIB_SRC) $(CORE_SRC) -o $(FUZZ_BUILD)/$$n \
			$$(pkg-config --libs liburcu-memb liburcu-cds libuv libcyaml nettle hiredis jansson libmicrohttpd sndfile spandsp openssl libcares libbpf) -lwslay \
			-lpthread -lm; \
		rm -rf $(FUZZ_BUILD)/$$n.corpus; \
		mkdir -p $(FUZZ_BUILD)/$$n.corpus $(FUZZ_BUILD)/findings; \
		./tests/fuzz/seed.sh $$n $(CORPUS) $(FUZZ_BUILD)/$$n.corpus; \
		echo "== running $$n for $(FUZZ_SECONDS) s"; \
		$(FUZZ_BUILD)/$$n -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=$(FUZZ_BUILD)/findings/$$n- \
			-max_len=70000 -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 $(FUZZ_BUILD)/$$n.corpus; \
	done

# `make install` (GNU directory variables; DESTDIR for staging). sipedge
# and sipctl are administration commands (man section 8: a daemon run by
# systemd, and its control tool) and go to sbin; sipload is a user tool
# (section 1) and goes to bin. The configuration lives in /etc when
# PREFIX is /usr (a distribution's layout), else in PREFIX/etc. An
# existing sipedge.yaml is never overwritten: the example is also
# installed as docdir/sipedge.yaml. The unit's paths follow sbindir and
# sysconfdir. `uninstall` keeps sysconfdir/sipedge (the operator's
# files). The binaries are built first when missing or out of date.
PREFIX ?= /usr/local
prefix ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir ?= $(exec_prefix)/bin
sbindir ?= $(exec_prefix)/sbin
sysconfdir ?= $(if $(filter /usr,$(prefix)),/etc,$(prefix)/etc)
datarootdir ?= $(prefix)/share
docdir ?= $(datarootdir)/doc/sipedge
mandir ?= $(datarootdir)/man
systemdunitdir ?= $(prefix)/lib/systemd/system
sysusersdir ?= $(prefix)/lib/sysusers.d
INSTALL ?= install
MAN8 := $(sort $(wildcard docs/man/*.8))
MAN1 := $(sort $(wildcard docs/man/*.1))
# The lead sets SIPCTL := $(BUILD)/sipctl where sipctl is built.
INSTALL_BINS := $(SIPEDGE) $(SIPLOAD) $(SIPCTL)
# Where an installed sipedge finds its built-in sounds (compiled in).
soundsdir ?= $(datarootdir)/sipedge/sounds
$(BUILD)/obj/features/b2b/media.o: CFLAGS += \
	-DSIPEDGE_SOUNDS_DIR='"$(soundsdir)"'

install: $(INSTALL_BINS) $(SOUNDS)
	$(INSTALL) -d -m 0755 $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) \
		$(DESTDIR)$(sysconfdir)/sipedge $(DESTDIR)$(docdir) \
		$(DESTDIR)$(mandir)/man8 $(DESTDIR)$(mandir)/man1 \
		$(DESTDIR)$(systemdunitdir) $(DESTDIR)$(sysusersdir)
	$(INSTALL) -m 0755 $(SIPEDGE) $(DESTDIR)$(sbindir)/sipedge
	$(if $(SIPCTL),$(INSTALL) -m 0755 $(SIPCTL) $(DESTDIR)$(sbindir)/sipctl)
	$(if $(SIPLOAD),$(INSTALL) -m 0755 $(SIPLOAD) $(DESTDIR)$(bindir)/sipload)
	$(INSTALL) -m 0644 etc/sipedge.yaml $(DESTDIR)$(docdir)/sipedge.yaml
	$(INSTALL) -d -m 0755 $(DESTDIR)$(soundsdir)
	$(INSTALL) -m 0644 $(SOUNDS) $(DESTDIR)$(soundsdir)/
	@if [ -e $(DESTDIR)$(sysconfdir)/sipedge/sipedge.yaml ]; then \
		echo "install: kept $(DESTDIR)$(sysconfdir)/sipedge/sipedge.yaml (the example is $(DESTDIR)$(docdir)/sipedge.yaml)"; \
	else \
		echo "$(INSTALL) -m 0644 etc/sipedge.yaml $(DESTDIR)$(sysconfdir)/sipedge/sipedge.yaml"; \
		$(INSTALL) -m 0644 etc/sipedge.yaml \
			$(DESTDIR)$(sysconfdir)/sipedge/sipedge.yaml; \
	fi
	sed -e 's|/usr/sbin/|$(sbindir)/|g' -e 's|/etc/sipedge/|$(sysconfdir)/sipedge/|g' \
		etc/sipedge.service > $(DESTDIR)$(systemdunitdir)/sipedge.service.tmp
	chmod 0644 $(DESTDIR)$(systemdunitdir)/sipedge.service.tmp
	mv -f $(DESTDIR)$(systemdunitdir)/sipedge.service.tmp \
		$(DESTDIR)$(systemdunitdir)/sipedge.service
	$(INSTALL) -m 0644 etc/sipedge.sysusers $(DESTDIR)$(sysusersdir)/sipedge.conf
	$(if $(MAN8),$(INSTALL) -m 0644 $(MAN8) $(DESTDIR)$(mandir)/man8/)
	$(if $(MAN1),$(INSTALL) -m 0644 $(MAN1) $(DESTDIR)$(mandir)/man1/)

uninstall:
	rm -f $(DESTDIR)$(sbindir)/sipedge $(DESTDIR)$(sbindir)/sipctl \
		$(DESTDIR)$(bindir)/sipload \
		$(DESTDIR)$(systemdunitdir)/sipedge.service \
		$(DESTDIR)$(sysusersdir)/sipedge.conf \
		$(addprefix $(DESTDIR)$(mandir)/man8/,$(notdir $(MAN8))) \
		$(addprefix $(DESTDIR)$(mandir)/man1/,$(notdir $(MAN1))) \
		$(DESTDIR)$(docdir)/sipedge.yaml \
		$(addprefix $(DESTDIR)$(soundsdir)/,$(notdir $(SOUNDS)))
	rmdir $(DESTDIR)$(soundsdir) $(DESTDIR)$(datarootdir)/sipedge 2>/dev/null || true
	rmdir $(DESTDIR)$(docdir) 2>/dev/null || true

# node_modules (the browser test's npm modules) is not ours.
SRC_ALL = $(shell find proxy registrar features store bench tests \
	-name node_modules -prune -o -name '*.[ch]' -print 2>/dev/null)
HDRS = $(shell find proxy registrar features store bench tests \
	-name node_modules -prune -o -name '*.h' -print 2>/dev/null)

fmt:
	clang-format -i $(SRC_ALL)

fmtcheck:
	@clang-format --dry-run --Werror $(SRC_ALL)
	@echo "fmtcheck: ok"

# Every header compiles on its own (STYLE.md "Headers").
hdrcheck: deps
	@set -e; mkdir -p $(BUILD)/hdrcheck; for h in $(HDRS); do \
		echo "#include \"$$h\"" > $(BUILD)/hdrcheck/t.c; \
		$(CC) $(CFLAGS_BASE) $(PKG_CFLAGS) $(TEST_CFLAGS) \
			-fsyntax-only $(BUILD)/hdrcheck/t.c \
			|| { echo "hdrcheck: $$h does not compile alone"; exit 1; }; \
	done; echo "hdrcheck: ok"

# The layer rule (STYLE.md "Layout"): no upward include, no folder cycle;
# then the checker's own test (a planted upward include must fail).
layercheck:
	@sh scripts/layercheck.sh
	@sh scripts/layercheck.sh --self-test

check: fmtcheck hdrcheck layercheck test

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
