# konce: a plain GNU Makefile.
#
#   make            build libkonce (static and shared) and the konce binary
#   make test       unit, simulator and netsim tests (netsim ones skip without root)
#   make asan       the same unit and simulator tests under ASan + UBSan
#   make fuzz       build every libFuzzer target with clang;  make fuzz-run  runs each briefly
#   make bench      build and run the benchmarks in bench/
#   make check      static analysis with cppcheck
#   make spin       check the consensus model (consensus/model/) exhaustively with spin
#   make install    PREFIX=/usr/local DESTDIR= SYSTEMD_UNIT_DIR=PREFIX/lib/systemd/system
#                   (make uninstall, with the same values, removes it)
#   make deps       install the Debian packages the build and the tests need (idempotent)
#
# BUILD=dir puts every output in dir, so several builds (and several people) can share one tree.

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
V       ?= 0

PKGS      := libsodium libevent sqlite3 miniupnpc inih jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lnatpmp -lpthread
CMOCKA_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
CMOCKA_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wvla
ifeq ($(CI),true)
WARN    += -Werror
endif
ifneq ($(WERROR),)
WARN    += -Werror
endif
CFLAGS  ?= -O2 -g
CPPFLAGS += -Iinclude -I. -D_GNU_SOURCE
ALL_CFLAGS = -std=gnu11 -fPIC $(WARN) $(CFLAGS) $(EXTRA_CFLAGS) $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS = $(LDFLAGS) $(EXTRA_LDFLAGS)

ifeq ($(V),0)
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
else
Q :=
say =
endif

# Sources.  Every .c in a core directory belongs to libkonce; tools/*.c make the konce binary.
LIB_SRC   := $(sort $(wildcard node/*/*.c nat/*.c consensus/*.c store/*.c))
# The sans-I/O cores (docs/ARCHITECTURE.md): they compile with an include path on which the headers of
# libevent, SQLite, jansson, inih and the port-mapping libraries are replaced by ones that #error, and
# their objects may not reference clocks, sockets, SQLite or libevent (checked by sansio-check).
SANSIO_DIRS := node/base node/transport node/core nat consensus
SANSIO_SRC  := $(sort $(wildcard $(addsuffix /*.c,$(SANSIO_DIRS))))
SANSIO_OBJ  := $(SANSIO_SRC:%.c=$(BUILD)/obj/%.o)
POISON_HDRS := event.h event2/event.h event2/buffer.h event2/bufferevent.h event2/listener.h \
               event2/util.h event2/thread.h sqlite3.h jansson.h ini.h natpmp.h \
               miniupnpc/miniupnpc.h miniupnpc/upnpcommands.h miniupnpc/upnperrors.h
POISON_SYMS := clock_gettime gettimeofday time recvfrom recvmsg recvmmsg sendto sendmsg sendmmsg \
               socket bind connect poll select epoll_wait
TOOL_SRC  := $(sort $(wildcard tools/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
SIM_SRC   := $(sort $(filter-out tests/sim/test_%.c,$(wildcard tests/sim/*.c)))
SIMT_SRC  := $(sort $(wildcard tests/sim/test_*.c))
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_LIB_SRC := $(sort $(filter-out bench/bench_%.c,$(wildcard bench/*.c)))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
SIM_OBJ   := $(SIM_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN  := $(UNIT_SRC:%.c=$(BUILD)/%)
SIMT_BIN  := $(SIMT_SRC:%.c=$(BUILD)/%)
BENCH_OBJ := $(BENCH_LIB_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
NETSIM_TOOL_BIN := $(patsubst tests/netsim/%.c,$(BUILD)/tests/netsim/%,$(wildcard tests/netsim/*.c))
# netsim-wire: netsim's userspace impairment backend.  Its pure part is an archive the unit and
# fuzz tests link too.
WIRE_LIB_SRC := netsim/wire_sched.c
WIRE_A    := $(BUILD)/libnetsim-wire.a
WIRE      := $(BUILD)/netsim-wire

LIBA  := $(BUILD)/libkonce.a
LIBSO := $(BUILD)/libkonce.so
KONCE := $(BUILD)/konce

.PHONY: all test unit asan asan-konce fuzz fuzz-run bench bench-smoke check install uninstall clean deps tests FORCE spin
.DEFAULT_GOAL := all
# Keep objects that are only prerequisites of test and fuzz binaries.
.SECONDARY:

all: $(LIBA) $(LIBSO) $(KONCE) $(BUILD)/konce.pc $(BUILD)/konce.service $(WIRE)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/poison/stamp: Makefile
	@mkdir -p $(@D)
	$(Q)for h in $(POISON_HDRS); do mkdir -p $(@D)/$$(dirname $$h); \
	  printf '#error "<%s> is not allowed in a sans-I/O core (node/base, node/transport, node/core, nat, consensus)"\n' $$h >$(@D)/$$h; done
	@touch $@

# libkonce.so exports only the calls include/konce/ marks KONCE_API (tests/cli/test_exports.sh checks it);
# every other symbol is hidden, and reachable only by linking the static libkonce.a (tests, tools).
# $(BUILD)/libflags.stamp changes with LIB_CFLAGS, so objects built without them are rebuilt.
LIB_CFLAGS := -fvisibility=hidden
$(LIB_OBJ): ALL_CFLAGS += $(LIB_CFLAGS)
$(LIB_OBJ): $(BUILD)/libflags.stamp
$(BUILD)/libflags.stamp: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(LIB_CFLAGS)' | cmp -s - $@ 2>/dev/null || printf '%s\n' '$(LIB_CFLAGS)' >$@

$(SANSIO_OBJ): CPPFLAGS := -I$(BUILD)/poison $(CPPFLAGS)
$(SANSIO_OBJ): | $(BUILD)/poison/stamp

# The control protocol (node/ctl) is held to the same rules but may use jansson: it formats JSON.
CTL_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard node/ctl/*.c)))
$(CTL_OBJ): CPPFLAGS := -I$(BUILD)/poison-ctl $(CPPFLAGS)
$(CTL_OBJ): | $(BUILD)/poison-ctl/stamp
$(BUILD)/poison-ctl/stamp: $(BUILD)/poison/stamp
	@rm -rf $(@D) && cp -r $(<D) $(@D) && rm $(@D)/jansson.h && \
	  find $(@D) -name '*.h' -exec sed -i 's/in a sans-I.O core (.*)/in the control protocol (node\/ctl)/' {} + && touch $@

# A core object that calls the clock, a socket, SQLite or libevent fails the build.
$(BUILD)/sansio.ok: $(SANSIO_OBJ) $(CTL_OBJ)
	$(call say,CHECK,sans-I/O)bad=$$(for o in $^; do nm -u $$o | awk -v o=$$o '{print o": "$$2}'; done | \
	  grep -E ': ($(subst $(eval) ,|,$(strip $(POISON_SYMS)))|sqlite3_.*|event_.*|evbuffer_.*|bufferevent_.*)$$' || true); \
	  if [ -n "$$bad" ]; then echo "sans-I/O core objects reference I/O:"; echo "$$bad"; exit 1; fi; touch $@

$(LIBA): $(LIB_OBJ) $(BUILD)/sansio.ok
	@mkdir -p $(@D)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $(LIB_OBJ)

$(LIBSO): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) -shared -Wl,-soname,libkonce.so.0 -o $@ $^ $(ALL_LDFLAGS) $(PKG_LIBS)

$(KONCE): $(TOOL_OBJ) $(LIBA)
	$(call say,LD,$@)$(CC) -o $@ $(TOOL_OBJ) $(LIBA) $(ALL_LDFLAGS) $(PKG_LIBS)

$(WIRE_A): $(WIRE_LIB_SRC:%.c=$(BUILD)/obj/%.o)
	@mkdir -p $(@D)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(WIRE): $(BUILD)/obj/netsim/wire.o $(WIRE_A)
	$(call say,LD,$@)$(CC) -o $@ $^ $(ALL_LDFLAGS)

# konce.pc.  Requires.private names every pkg-config package libkonce.a needs (PKGS), and
# Libs.private the libraries without a .pc file, so `pkg-config --static --libs konce` links the
# static library.  The shared library records its own dependencies, so `--libs` alone gives -lkonce.
# The file embeds PREFIX: $(BUILD)/prefix.stamp holds the PREFIX it was made for and changes
# whenever PREFIX does, so `make install PREFIX=...` never installs a stale prefix.
VERSION := $(shell sed -n 's/^\#define KONCE_VERSION_STRING "\(.*\)"/\1/p' include/konce/konce.h)

$(BUILD)/prefix.stamp: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(PREFIX)' | cmp -s - $@ 2>/dev/null || printf '%s\n' '$(PREFIX)' >$@

$(BUILD)/konce.pc: Makefile include/konce/konce.h $(BUILD)/prefix.stamp
	@mkdir -p $(@D)
	$(call say,GEN,$@)printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: konce' 'Description: peer-to-peer messaging by public key over UDP' 'Version: $(VERSION)' \
	  'Requires.private: $(PKGS)' \
	  'Libs: -L$${libdir} -lkonce' 'Libs.private: -lnatpmp -lpthread' 'Cflags: -I$${includedir}' > $@

# The systemd unit, with ExecStart at PREFIX/bin/konce.  It goes where systemd looks for units
# that come with the software rather than from the administrator (/etc/systemd/system):
# /usr/lib/systemd/system for PREFIX=/usr, /usr/local/lib/systemd/system for the default PREFIX.
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system

$(BUILD)/konce.service: docs/konce.service $(BUILD)/prefix.stamp
	@mkdir -p $(@D)
	$(call say,GEN,$@)sed 's|/usr/local/bin/konce |$(PREFIX)/bin/konce |' $< >$@

FORCE:

# Tests: one cmocka binary per unit-test file; simulator tests also link tests/sim/*.c.
$(BUILD)/tests/unit/%: tests/unit/%.c $(LIBA) $(WIRE_A)
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< $(LIBA) $(WIRE_A) $(ALL_LDFLAGS) $(CMOCKA_LIBS) $(PKG_LIBS)

$(BUILD)/tests/sim/%: tests/sim/%.c $(SIM_OBJ) $(LIBA)
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< $(SIM_OBJ) $(LIBA) $(ALL_LDFLAGS) $(CMOCKA_LIBS) $(PKG_LIBS)

# Helpers the netsim scenarios run inside namespaces (the UDP reflector/probe, the rendezvous
# flooder, which speaks konce through libkonce's endpoint).
$(BUILD)/tests/netsim/%: tests/netsim/%.c $(LIBA)
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(ALL_LDFLAGS) $(PKG_LIBS)

tests: all $(UNIT_BIN) $(SIMT_BIN) $(NETSIM_TOOL_BIN)

# tests/netsim/test_hostile.sh attacks a daemon built with ASan + UBSan (KONCE_ASAN_BIN).
asan-konce:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan CFLAGS='-O1 -g' \
	  EXTRA_CFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer' \
	  EXTRA_LDFLAGS='-fsanitize=address,undefined' build-asan/konce

test: tests asan-konce
	$(Q)KONCE_BIN=$(abspath $(KONCE)) KONCE_ASAN_BIN=$(abspath build-asan/konce) NETSIM_TOOLS=$(abspath $(BUILD)/tests/netsim) NETSIM_WIRE=$(abspath $(WIRE)) bash tests/run-tests.sh $(UNIT_BIN) $(SIMT_BIN) $(wildcard tests/netsim/test_*.sh) $(wildcard tests/cli/test_*.sh)

unit: tests
	$(Q)bash tests/run-tests.sh $(UNIT_BIN) $(SIMT_BIN)

# ASan + UBSan: the unit and simulator tests.  netsim scenarios run in `make test`.
asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan CFLAGS='-O1 -g' \
	  EXTRA_CFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer' \
	  EXTRA_LDFLAGS='-fsanitize=address,undefined' unit

# libFuzzer targets, built with clang into build-fuzz/.
FUZZ_BUILD := build-fuzz
FUZZ_CC    ?= clang
FUZZ_FLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined $(PKG_CFLAGS)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(WIRE_LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) $(FUZZ_BUILD)/obj/tools/ctl_line.o
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_SECONDS ?= 15

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CLANG,$<)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	$(call say,CLANG,$<)$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_LIB_OBJ) $(PKG_LIBS)

fuzz: $(FUZZ_BIN)

# Each target runs for FUZZ_SECONDS from its seed corpus (tests/fuzz/corpus/NAME, if present), as
# many targets at once as there are cores (tests/fuzz/run-all.sh).
fuzz-run: fuzz
	$(Q)bash tests/fuzz/run-all.sh $(FUZZ_SECONDS) $(FUZZ_BUILD) $(FUZZ_BIN)

# Benchmarks print their figure beside a baseline measured in the same run.
$(BUILD)/bench/%: bench/%.c $(BENCH_OBJ) $(LIBA)
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(BENCH_OBJ) $(LIBA) $(ALL_LDFLAGS) $(PKG_LIBS)

bench: all $(BENCH_BIN)
	$(Q)set -e; for b in $(BENCH_BIN); do echo "== $${b##*/}"; KONCE_BIN=$(abspath $(KONCE)) $$b; done

# Every benchmark, shrunk by BENCH_QUICK=1 to a second or two: CI runs this so they cannot rot (a
# bench that stops building, crashes or fails its own checks fails the run).  Not figures to quote.
bench-smoke: all $(BENCH_BIN)
	$(Q)set -e; for b in $(BENCH_BIN); do echo "== $${b##*/} (BENCH_QUICK=1)"; \
	  BENCH_QUICK=1 KONCE_BIN=$(abspath $(KONCE)) timeout 60 $$b; done

# The Promela model of the consensus core's commit and view change, checked exhaustively (no
# bitstate) for 3 members with 2 seqs and 4 members with 1 seq: about 10.4 and 14.1 million states,
# 1.8 and 2.6 GB, about 55 s and 100 s of CPU; then the join model (consensus/model/join.pml) for 3
# members and a joiner: about 15 million states, 1.4 GB, 60 s; and again with the joiner's
# withdrawal (-DWITHDRAW, one vote round): about 10 million states, 1 GB, 56 s.  Fails if spin is
# missing, any assertion is violated or the search was cut short.
SPIN_MODEL := consensus/model/commit_viewchange.pml
SPIN_JOIN  := consensus/model/join.pml
SPIN_RUNS  := 3:2 4:1

spin:
	$(Q)set -e; command -v spin >/dev/null || { echo "spin: not installed (make deps)" >&2; exit 1; }; \
	for r in $(SPIN_RUNS); do n=$${r%%:*}; s=$${r##*:}; d=$(BUILD)/spin/n$$n; mkdir -p $$d; \
	  cp $(SPIN_MODEL) $$d/model.pml; \
	  (cd $$d && spin -DN=$$n -DS=$$s -a model.pml >/dev/null && $(CC) -O2 -w -DSAFETY -o pan pan.c && \
	   ./pan -m200000 -w24 >pan.out 2>&1) || { tail -n 30 $$d/pan.out; echo "spin: N=$$n FAILED" >&2; exit 1; }; \
	  if ! grep -q 'errors: 0' $$d/pan.out || grep -q 'max search depth too small' $$d/pan.out; then \
	    cat $$d/pan.out; echo "spin: N=$$n FAILED" >&2; exit 1; fi; \
	  echo "spin: N=$$n S=$$s: $$(grep -o '[0-9.e+]* states, stored' $$d/pan.out), errors: 0"; done; \
	for j in join:-DR=2 withdraw:-DWITHDRAW\ -DR=1; do w=$${j%%:*}; f=$${j#*:}; d=$(BUILD)/spin/$$w; \
	  mkdir -p $$d; cp $(SPIN_JOIN) $$d/model.pml; \
	  (cd $$d && spin $$f -a model.pml >/dev/null && $(CC) -O2 -w -DSAFETY -o pan pan.c && \
	   ./pan -m200000 -w24 >pan.out 2>&1) || { tail -n 30 $$d/pan.out; echo "spin: $$w FAILED" >&2; exit 1; }; \
	  if ! grep -q 'errors: 0' $$d/pan.out || grep -q 'max search depth too small' $$d/pan.out; then \
	    cat $$d/pan.out; echo "spin: $$w FAILED" >&2; exit 1; fi; \
	  echo "spin: $$w (N=3 and a joiner, $$f): $$(grep -o '[0-9.e+]* states, stored' $$d/pan.out), errors: 0"; done

# cppcheck does not read system headers (missingIncludeSystem), so the macros of <sys/queue.h>,
# which node/io/control.c's client list uses, are given to it by path.
QUEUE_H := $(firstword $(wildcard /usr/include/*/sys/queue.h /usr/include/sys/queue.h))
check:
	$(Q)cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --inline-suppr \
	  --std=c11 -D_GNU_SOURCE -Iinclude -I. --suppress=missingIncludeSystem $(if $(QUEUE_H),--include=$(QUEUE_H)) \
	  node nat consensus store tools netsim

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/konce
	install -m 0755 $(KONCE) $(DESTDIR)$(PREFIX)/bin/konce
	install -m 0644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/libkonce.a
	install -m 0755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/libkonce.so.0
	ln -sf libkonce.so.0 $(DESTDIR)$(PREFIX)/lib/libkonce.so
	install -m 0644 $(BUILD)/konce.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/konce.pc
	install -m 0644 include/konce/*.h $(DESTDIR)$(PREFIX)/include/konce/
	install -d $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 0644 $(BUILD)/konce.service $(DESTDIR)$(SYSTEMD_UNIT_DIR)/konce.service
	install -D -m 0644 tools/wireshark/konce.lua $(DESTDIR)$(PREFIX)/share/konce/wireshark/konce.lua
	@if [ -x netsim/netsim ]; then install -m 0755 netsim/netsim $(DESTDIR)$(PREFIX)/bin/netsim; \
	  install -d $(DESTDIR)$(PREFIX)/lib/netsim $(DESTDIR)$(PREFIX)/share/netsim/topologies; \
	  install -m 0644 netsim/lib/*.sh $(DESTDIR)$(PREFIX)/lib/netsim/; \
	  install -m 0755 $(WIRE) $(DESTDIR)$(PREFIX)/lib/netsim/netsim-wire; \
	  install -m 0644 netsim/topologies/*.topo $(DESTDIR)$(PREFIX)/share/netsim/topologies/; fi
	@for m in docs/*.[1-8]; do [ -f "$$m" ] || continue; s=$${m##*.}; \
	  install -d $(DESTDIR)$(PREFIX)/share/man/man$$s; install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done

# Removes exactly what install put there (same PREFIX and DESTDIR), then the directories it made
# if they are left empty.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/konce $(DESTDIR)$(PREFIX)/lib/libkonce.a $(DESTDIR)$(PREFIX)/lib/libkonce.so \
	  $(DESTDIR)$(PREFIX)/lib/libkonce.so.0 $(DESTDIR)$(PREFIX)/lib/pkgconfig/konce.pc \
	  $(DESTDIR)$(SYSTEMD_UNIT_DIR)/konce.service $(DESTDIR)$(PREFIX)/share/konce/wireshark/konce.lua
	rm -f $(patsubst include/konce/%,$(DESTDIR)$(PREFIX)/include/konce/%,$(wildcard include/konce/*.h))
	rm -f $(foreach m,$(wildcard docs/*.[1-8]),$(DESTDIR)$(PREFIX)/share/man/man$(subst .,,$(suffix $(m)))/$(notdir $(m)))
	rm -f $(DESTDIR)$(PREFIX)/bin/netsim $(DESTDIR)$(PREFIX)/lib/netsim/netsim-wire \
	  $(patsubst netsim/lib/%,$(DESTDIR)$(PREFIX)/lib/netsim/%,$(wildcard netsim/lib/*.sh)) \
	  $(patsubst netsim/%,$(DESTDIR)$(PREFIX)/share/netsim/%,$(wildcard netsim/topologies/*.topo))
	-rmdir $(DESTDIR)$(PREFIX)/include/konce $(DESTDIR)$(PREFIX)/lib/netsim \
	  $(DESTDIR)$(PREFIX)/share/netsim/topologies $(DESTDIR)$(PREFIX)/share/netsim \
	  $(DESTDIR)$(PREFIX)/share/konce/wireshark $(DESTDIR)$(PREFIX)/share/konce 2>/dev/null

clean:
	rm -rf $(BUILD) build-asan $(FUZZ_BUILD)

# Debian packages for building, testing, fuzzing and netsim.  Idempotent: installs only what is missing.
DEB_PKGS := build-essential pkg-config clang libclang-rt-14-dev cppcheck \
  libsodium-dev libevent-dev libnatpmp-dev libminiupnpc-dev libsqlite3-dev sqlite3 \
  libcmocka-dev libinih-dev libjansson-dev zlib1g-dev jq spin \
  iproute2 nftables iperf3 socat miniupnpd-nftables stun-client stun-server procps curl \
  systemd man-db tshark

deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || printf ' %s' $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all $(words $(DEB_PKGS)) Debian packages already installed"; \
	else echo "deps: installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "deps: need root to run apt-get (try: sudo make deps)" >&2; exit 1; fi; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; fi

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
