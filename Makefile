# emofs — a plain Makefile. `make help` lists the targets.

CC      ?= cc
PKGS    := libuv libcrypto libzstd
BUILD   ?= build

DEP_CFLAGS := $(shell pkg-config --cflags $(PKGS))
DEP_LIBS   := $(shell pkg-config --libs $(PKGS))
TEST_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN   := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wformat=2 -Wvla
OPT    ?= -O2 -g
SAN    ?=
# The version: dht.h's DHT_VERSION_MAJOR, _MINOR and _PATCH lines are its
# one source (libdht.pc, the shared library's names, emofs --version).
version_part = $(shell sed -n 's/^.define DHT_VERSION_$(1) *\([0-9][0-9]*\).*/\1/p' libdht/dht.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION_MINOR := $(call version_part,MINOR)
VERSION_PATCH := $(call version_part,PATCH)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
ifeq ($(words $(VERSION_MAJOR) $(VERSION_MINOR) $(VERSION_PATCH)),3)
else
$(error cannot read DHT_VERSION_MAJOR, _MINOR and _PATCH from libdht/dht.h)
endif
# The soname changes when the ABI may: with the major version, and while
# that is 0, with the minor one too (0.x releases may change dht.h's structs).
SOVER   := $(if $(filter 0,$(VERSION_MAJOR)),$(VERSION_MAJOR).$(VERSION_MINOR),$(VERSION_MAJOR))
SONAME  := libdht.so.$(SOVER)
SOFILE  := libdht.so.$(VERSION)

CFLAGS_ALL := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(OPT) $(SAN) \
              $(WARN) -fPIC -MMD -MP -I. $(DEP_CFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SAN) $(LDFLAGS)

LIBDHT_SRC := $(wildcard libdht/*.c libdht/sim/*.c) $(wildcard libdht/uv/*.c)
LIBDHT_OBJ := $(LIBDHT_SRC:%.c=$(BUILD)/%.o)
LIBDHT_LIBS := $(shell pkg-config --libs libuv libcrypto)

# libemofs.a: the file store on top of libdht (manifests, filestore, and
# every tool/ file but the command's main), shared by the emofs command,
# the tests and the benchmarks.
EMOFS_SRC := $(wildcard manifests/*.c filestore/*.c) $(filter-out tool/main.c,$(wildcard tool/*.c tool/*/*.c))
EMOFS_OBJ := $(EMOFS_SRC:%.c=$(BUILD)/%.o)
EMOFS_LIBS := $(BUILD)/libemofs.a $(BUILD)/libdht.a

TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPER_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/helpers/*.c))

# Helper programs of the CLI tests (a hostile peer, say): built, not run.
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(BUILD)/bench/%)

EXAMPLE_SRC := $(wildcard libdht/examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:libdht/examples/%.c=$(BUILD)/examples/%)

FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
# make fuzz: a target stops after FUZZ_SECONDS (0: no limit) or FUZZ_RUNS
# executions (0: no limit), whichever comes first; FUZZ_ONLY names the
# targets to run (say "frames config"), all when empty.
FUZZ_RUNS ?= 0
FUZZ_ONLY ?=

# Where `make install` puts things (DESTDIR is prepended to each).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
BASHCOMPDIR    ?= $(DATADIR)/bash-completion/completions
SYSTEMDUSERDIR ?= $(PREFIX)/lib/systemd/user
INSTALL_DIRS := $(PREFIX) $(BINDIR) $(LIBDIR) $(INCLUDEDIR)

.PHONY: all lib test check fuzz bench demo help clean install uninstall examples deps run-test \
        run-demo FORCE

# `make test` and `make demo` work on a fresh machine: they install the
# packages first when pkg-config cannot find them, then build in a second
# make, which sees the packages.
HAVE_DEPS := $(shell pkg-config --exists $(PKGS) cmocka && command -v man >/dev/null && echo yes)

all: lib examples $(BUILD)/emofs

lib: $(BUILD)/libdht.a $(BUILD)/$(SOFILE) $(BUILD)/libdht.pc

examples: $(EXAMPLE_BIN)

# libdht exports dht.h's DHT_API functions alone; its dht__* internals stay
# hidden (the static library and the tests still link them).
LIBDHT_CFLAGS := -fvisibility=hidden
$(LIBDHT_OBJ): private CFLAGS_ALL += $(LIBDHT_CFLAGS)

# Include paths by layer. libdht's files see all of libdht; the layers on
# top of it (manifests, filestore, tool) and libdht's examples see only its
# public header, dht.h, copied alone into $(PUBLIC_INC), so an include of a
# private one does not compile; the tests may reach anything.
# (tests/cli/test_layers.sh checks the includes between the upper layers.)
PUBLIC_INC := $(BUILD)/include
$(LIBDHT_OBJ): private CFLAGS_ALL += -Ilibdht
$(BUILD)/tests/%.o: private CFLAGS_ALL += -Ilibdht
UPPER_OBJ := $(EMOFS_OBJ) $(BUILD)/tool/main.o $(EXAMPLE_SRC:%.c=$(BUILD)/%.o)
$(UPPER_OBJ): private CFLAGS_ALL += -I$(PUBLIC_INC)
$(UPPER_OBJ): | $(PUBLIC_INC)/dht.h

$(PUBLIC_INC)/dht.h: libdht/dht.h
	@mkdir -p $(dir $@)
	cp $< $@

$(BUILD)/%.o: %.c $(BUILD)/cflags.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(TEST_CFLAGS) -c $< -o $@

# Records the compiler and flags: every object is made again when they
# change (a new warning or visibility flag, another CC).
$(BUILD)/cflags.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(CC) $(CFLAGS_ALL) $(TEST_CFLAGS) $(LIBDHT_CFLAGS)' | cmp -s - $@ || \
	    echo '$(CC) $(CFLAGS_ALL) $(TEST_CFLAGS) $(LIBDHT_CFLAGS)' > $@

$(BUILD)/libdht.a: $(LIBDHT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libemofs.a: $(EMOFS_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/emofs: $(BUILD)/tool/main.o $(EMOFS_LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DEP_LIBS) -lm

# The same command with the test hooks compiled in (EMOFS_TEST_HOOKS: a get
# that crashes on request, tool/node/emofs_node.c), for the shell tests
# alone; the emofs that is installed has none. Its node object comes first,
# so the archive's own is not linked.
TEST_HOOKS_OBJ := $(BUILD)/test-hooks/tool/node/emofs_node.o
$(TEST_HOOKS_OBJ): tool/node/emofs_node.c $(BUILD)/cflags.stamp | $(PUBLIC_INC)/dht.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -I$(PUBLIC_INC) -DEMOFS_TEST_HOOKS -c $< -o $@

$(BUILD)/emofs-test: $(BUILD)/tool/main.o $(TEST_HOOKS_OBJ) $(EMOFS_LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DEP_LIBS) -lm

$(BUILD)/$(SOFILE): $(LIBDHT_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) $(LDFLAGS_ALL) -o $@ $^ $(LIBDHT_LIBS)

# Records the install directories: what embeds them (libdht.pc, the systemd
# unit) is made again when they change, as for `make test` then
# `make install PREFIX=/usr`.
$(BUILD)/install-dirs.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(INSTALL_DIRS)' | cmp -s - $@ || echo '$(INSTALL_DIRS)' > $@

FORCE:

# libdir and includedir relative to ${prefix} when they are under PREFIX.
pc_dir = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

$(BUILD)/libdht.pc: libdht/libdht.pc.in libdht/dht.h $(BUILD)/install-dirs.stamp
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_dir,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_dir,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(BUILD)/emofs.service: tool/emofs.service.in $(BUILD)/install-dirs.stamp
	sed -e 's|@BINDIR@|$(BINDIR)|' $< > $@

$(BUILD)/examples/%: $(BUILD)/libdht/examples/%.o $(BUILD)/libdht.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DEP_LIBS) -lm

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_HELPER_OBJ) $(EMOFS_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DEP_LIBS) $(TEST_LIBS) -lm

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(EMOFS_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DEP_LIBS) -lm

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(EMOFS_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DEP_LIBS) -lm

# The fuzz corpus replayer: each fuzz target linked with a plain main() that
# feeds it every saved input, so `make test` catches regressions without clang.
$(BUILD)/tests/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay_main.o $(EMOFS_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(DEP_LIBS) -lm

REPLAY_BIN := $(FUZZ_TARGETS:%=$(BUILD)/tests/replay_%)

deps:
	@.ci/deps

ifeq ($(HAVE_DEPS),yes)
test: run-test
demo: run-demo
else
test demo: deps
	$(MAKE) $@
endif

run-test: lib examples $(BUILD)/emofs $(BUILD)/emofs-test $(TEST_BIN) $(REPLAY_BIN) $(TOOL_BIN)
	@set -e; for t in $(TEST_BIN); do \
	    echo "== $$t"; s=$$(date +%s); $$t; echo "   ($$(($$(date +%s) - s)) s)"; \
	done; \
	for f in $(FUZZ_TARGETS); do \
	    echo "== replay fuzz corpus $$f"; $(BUILD)/tests/replay_$$f tests/fuzz/corpus/$$f; \
	done; \
	for t in tests/cli/test_*.sh; do \
	    echo "== $$t"; s=$$(date +%s); \
	    EMOFS=$(BUILD)/emofs EMOFS_TEST_BIN=$(BUILD)/emofs-test EMOFS_TOOLS=$(BUILD)/tools \
	    EMOFS_SANITIZED=$(if $(SAN),1,) bash $$t; \
	    echo "   ($$(($$(date +%s) - s)) s)"; \
	done; \
	echo "== all tests passed"

check:
	$(MAKE) BUILD=build/check OPT="-O1 -g -fno-omit-frame-pointer" \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" \
	    test

fuzz:
	@command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 2; }
	@for f in $(or $(FUZZ_ONLY),$(FUZZ_TARGETS)); do \
	    test -f tests/fuzz/fuzz_$$f.c || { echo "no fuzz target '$$f' (targets: $(FUZZ_TARGETS))"; exit 2; }; \
	done
	@set -e; mkdir -p build/fuzz; for f in $(or $(FUZZ_ONLY),$(FUZZ_TARGETS)); do \
	    clang -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -g -O1 -I. -Ilibdht $(DEP_CFLAGS) \
	        -fsanitize=fuzzer,address,undefined tests/fuzz/fuzz_$$f.c $(LIBDHT_SRC) $(EMOFS_SRC) \
	        -o build/fuzz/fuzz_$$f $(DEP_LIBS) -lm; \
	    mkdir -p tests/fuzz/corpus/$$f; \
	    echo "== fuzzing $$f $(if $(filter-out 0,$(FUZZ_SECONDS)),for $(FUZZ_SECONDS) s,with no time limit)$(if $(filter-out 0,$(FUZZ_RUNS)), or $(FUZZ_RUNS) executions) (log: build/fuzz/fuzz_$$f.log)"; \
	    rc=0; build/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) \
	        -runs=$(if $(filter-out 0,$(FUZZ_RUNS)),$(FUZZ_RUNS),-1) -max_len=4096 \
	        -artifact_prefix=build/fuzz/$$f- tests/fuzz/corpus/$$f > build/fuzz/fuzz_$$f.log 2>&1 || rc=$$?; \
	    runs=$$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' build/fuzz/fuzz_$$f.log | tail -1); \
	    if [ $$rc -ne 0 ]; then tail -30 build/fuzz/fuzz_$$f.log; echo "== $$f FOUND A BUG (exit $$rc): see build/fuzz/fuzz_$$f.log and build/fuzz/$$f-*"; exit 1; fi; \
	    if [ -z "$$runs" ]; then echo "== $$f: no 'Done' line in build/fuzz/fuzz_$$f.log (interrupted?)"; exit 1; fi; \
	    echo "== $$f: $$runs executions, no crash"; \
	    printf '%s\t%s\t%s\t%s\n' "$$(date -u +%FT%TZ)" "$$(git rev-parse --short HEAD 2>/dev/null || echo -)" $$f $$runs >> build/fuzz/executions.tsv; \
	done; echo "== executions so far, by target (build/fuzz/executions.tsv):"; \
	awk -F'\t' '{n[$$3] += $$4} END {for (t in n) printf "   %-12s %.0f\n", t, n[t]}' build/fuzz/executions.tsv | sort

# emofs sim figures: peak RSS from /usr/bin/time when it is installed
# (the summary also prints getrusage's peak and the memory per node).
SIM_TIME := $(shell test -x /usr/bin/time && echo '/usr/bin/time -f "  /usr/bin/time: peak RSS %M KiB, %e s wall"')
SIM_BENCH := --lookups 10000 --values 1000 --k 20 --alpha 3

bench: lib examples $(BENCH_BIN) $(BUILD)/emofs $(TOOL_BIN)
	@echo "== bench_dht against OpenDHT (goals: puts 2x, gets 4x its rate; p99 at one in flight no worse)"; \
	BENCH_DHT=$(BUILD)/bench/bench_dht DHT_NODE=$(BUILD)/examples/dht_node bash tests/bench/bench_dht_opendht.sh
	@echo "== bench_dht_io (the libuv shell: sendmmsg batches and SO_REUSEPORT sockets against a sendto each, 64 in flight)"; \
	BENCH_DHT=$(BUILD)/bench/bench_dht DHT_NODE=$(BUILD)/examples/dht_node bash tests/bench/bench_dht_io.sh
	@echo "== bench_sim"; $(BUILD)/bench/bench_sim
	@echo "== bench_files"; EMOFS=$(BUILD)/emofs bash tests/bench/bench_files.sh
	@echo "== bench_filestore"; $(BUILD)/bench/bench_filestore
	@echo "== bench_sizes (time per GiB of a local put and get, 64 MiB to 4 GiB; goal: flat)"; \
	EMOFS=$(BUILD)/emofs bash tests/bench/bench_sizes.sh
	@echo "== bench_encrypt (put and get of 256 MiB, plain and --encrypt, interleaved)"; \
	EMOFS=$(BUILD)/emofs bash tests/bench/bench_encrypt.sh
	@echo "== bench_sim_scale (py-dht's sizes, whole process; 1,000,000 nodes)"; \
	EMOFS=$(BUILD)/emofs bash tests/bench/bench_sim_scale.sh
	@echo "== emofs sim: 10,000 nodes, fast init"; $(SIM_TIME) $(BUILD)/emofs sim --nodes 10000 $(SIM_BENCH) --init fast
	@echo "== emofs sim: 10,000 nodes, every node joins"; $(SIM_TIME) $(BUILD)/emofs sim --nodes 10000 $(SIM_BENCH) --init join
	@echo "== emofs sim: 100,000 nodes, fast init"; $(SIM_TIME) $(BUILD)/emofs sim --nodes 100000 $(SIM_BENCH) --init fast
	@echo "== emofs sim: 100,000 nodes, every node joins"; $(SIM_TIME) $(BUILD)/emofs sim --nodes 100000 $(SIM_BENCH) --init join
	@echo "== emofs sim: 100,000 nodes joining 1,000 at a time (issue 9; goals: exact >= 99.9%, values 100%,"; \
	echo "   datagrams per join within 3x of the 52.7 that commit 80fc30e sent, measured the same way)"; \
	$(SIM_TIME) $(BUILD)/emofs sim --nodes 100000 $(SIM_BENCH) --init join --join-wave 1000 | \
	    awk '{ print } /datagrams per join/ { for (i = 1; i <= NF; i++) if ($$i == "datagrams") d = $$(i - 1); \
	        printf "  join cost    %.2fx the 52.7 datagrams per join before issue 9\n", d / 52.7 }'
	@echo "== emofs sim: 10,000 nodes joined 1,000 at a time, then a quarter dies at once (round 2 after 15 virtual minutes)"; \
	$(BUILD)/emofs sim --nodes 10000 --init join --join-wave 1000 --lookups 2000 --values 200 --die 0.25 --die-settle 900 | \
	    sed -n '/deaths/,/put p50 after/p'
	@echo "== bench_dead"; EMOFS=$(BUILD)/emofs bash tests/bench/bench_dead.sh
	@echo "== bench_amplify"; EMOFS=$(BUILD)/emofs EMOFS_TOOLS=$(BUILD)/tools bash tests/bench/bench_amplify.sh
	@echo "== emofs sim: the price of padding (2,000 nodes, 10% churn a minute for 30 min)"; \
	$(BUILD)/emofs sim --nodes 2000 --values 1000 --lookups 100 --churn 0.1 --duration 1800 \
	    --replicate 600 | grep -E '^  (network|padding)'
	@echo "== bench_durability"; EMOFS=$(BUILD)/emofs bash tests/bench/bench_durability.sh
	@echo "== bench_pydht"; EMOFS=$(BUILD)/emofs bash tests/bench/bench_pydht.sh
	@echo "== emofs sim --files: emofs's put and get among 300 nodes at 5% loss, then under churn (k 3, no repair)"; \
	$(BUILD)/emofs sim --nodes 300 --loss 0.05 --files 6 --file-size 700000 --lookups 50 --values 10 | \
	    grep -E '^emofs|files'; \
	$(BUILD)/emofs sim --nodes 200 --k 3 --files 6 --file-size 700000 --lookups 50 --values 10 \
	    --churn 0.3 --duration 600 --sample 120 | sed -n '/churn/,/total/p'

run-demo: $(BUILD)/emofs
	@EMOFS=$(BUILD)/emofs bash tool/demo.sh

# What `make install` puts under $(DESTDIR), and `make uninstall` removes.
INSTALLED := $(BINDIR)/emofs $(LIBDIR)/libdht.a $(LIBDIR)/$(SOFILE) $(LIBDIR)/$(SONAME) \
             $(LIBDIR)/libdht.so $(INCLUDEDIR)/libdht/dht.h $(LIBDIR)/pkgconfig/libdht.pc \
             $(MANDIR)/man1/emofs.1 $(BASHCOMPDIR)/emofs $(SYSTEMDUSERDIR)/emofs.service

install: lib $(BUILD)/emofs $(BUILD)/emofs.service
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/libdht \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSTEMDUSERDIR)
	install -m 755 $(BUILD)/emofs $(DESTDIR)$(BINDIR)/
	install -m 644 $(BUILD)/libdht.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/$(SOFILE) $(DESTDIR)$(LIBDIR)/
	ln -sf $(SOFILE) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libdht.so
	install -m 644 libdht/dht.h $(DESTDIR)$(INCLUDEDIR)/libdht/
	install -m 644 $(BUILD)/libdht.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 644 tool/emofs.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 tool/emofs.bash-completion $(DESTDIR)$(BASHCOMPDIR)/emofs
	install -m 644 $(BUILD)/emofs.service $(DESTDIR)$(SYSTEMDUSERDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rmdir $(DESTDIR)$(INCLUDEDIR)/libdht 2>/dev/null || true

clean:
	rm -rf build

help:
	@echo "make deps     install the Debian packages the build needs (root or sudo)"
	@echo "make          build libdht (static, shared, libdht.pc) and the examples"
	@echo "make demo     8 emofs daemons on 127.0.0.1: put a file through one, get it through another"
	@echo "make test     build and run every test, and replay the fuzz corpora"
	@echo "make check    the tests under AddressSanitizer and UndefinedBehaviorSanitizer"
	@echo "make fuzz     fuzz each target for FUZZ_SECONDS (default 60) with libFuzzer;"
	@echo "              FUZZ_RUNS=N stops one after N executions, FUZZ_ONLY=\"a b\" picks targets"
	@echo "make bench    run the benchmarks and print their figures"
	@echo "make install  install emofs (command, man page, bash completion, systemd user unit) and"
	@echo "              libdht (static, shared, header, libdht.pc) under DESTDIR/PREFIX (/usr/local)"
	@echo "make uninstall  remove what make install put there (same DESTDIR and PREFIX)"
	@echo "make clean    remove build/"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
