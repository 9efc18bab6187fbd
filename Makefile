# subagent: one non-recursive Makefile; each directory adds to it through its .mk.
# All output goes under build/. `make V=1` shows the commands.

.DELETE_ON_ERROR:
.SUFFIXES:
.SECONDARY:
.DEFAULT_GOAL := all

B        := build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PKG      ?= pkg-config

ifeq ($(V),1)
Q :=
else
Q := @
endif

# pkg-config is evaluated lazily (=), so `make deps` works before the packages exist.
PKGS        := libbpf libcjson libmicrohttpd gnutls sqlite3 libcurl libmnl libnl-route-3.0 ldns
PKG_CFLAGS   = $(shell $(PKG) --cflags $(PKGS))
PKG_LIBS     = $(shell $(PKG) --libs $(PKGS)) -lpthread -lm

WARN        := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter \
               -Wno-missing-field-initializers
BASE_CFLAGS  = -std=gnu11 -g -D_GNU_SOURCE $(WARN) -I. -I$(B) $(PKG_CFLAGS)
CFLAGS      ?= -O2
ALL_CFLAGS   = $(BASE_CFLAGS) $(CFLAGS) -MMD -MP
ASAN_FLAGS  := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_FLAGS  := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined

# Filled by the per-directory .mk files.
LIB_SRCS    :=	# every C source of the program except agent/cli/main.c
BPF_SRCS    :=	# DIR/NAME.bpf.c: each becomes build/DIR/NAME.skel.h
UNIT_TESTS  :=	# tests/unit/test_*.c: each one program, linked with the library
FUZZ_TARGETS :=	# tests/fuzz/fuzz_*.c: libFuzzer entry points
BENCH_PROGS :=	# tests/bench/*.c

include common/common.mk
include bpf/bpf.mk
include broker/broker.mk
include globalnet/globalnet.mk
include agent/agent.mk
include tests/tests.mk

LIB_OBJS      = $(LIB_SRCS:%.c=$(B)/obj/%.o)
ASAN_OBJS     = $(LIB_SRCS:%.c=$(B)/asan/%.o)
FUZZ_OBJS     = $(LIB_SRCS:%.c=$(B)/fuzz/%.o)
BPF_OBJS      = $(BPF_SRCS:%.bpf.c=$(B)/%.bpf.o)
BPF_SKELS     = $(BPF_SRCS:%.bpf.c=$(B)/%.skel.h)
UNIT_BINS     = $(UNIT_TESTS:tests/unit/%.c=$(B)/tests/unit/%)
ASAN_BINS     = $(UNIT_TESTS:tests/unit/%.c=$(B)/asan/tests/unit/%)
FUZZ_BINS     = $(FUZZ_TARGETS:tests/fuzz/%.c=$(B)/fuzz/tests/fuzz/%)
BENCH_BINS    = $(BENCH_PROGS:tests/bench/%.c=$(B)/tests/bench/%)

.PHONY: all deps test test-unit test-fuzz demo bench clean lab-down fuzz-build image

all: $(B)/subagent

# ---- BPF: clang -target bpf, then a skeleton embedded in the binary ----
$(B)/%.bpf.o: %.bpf.c $(wildcard bpf/*.h bpf/lib/*.h tests/bpf/*.h)
	@mkdir -p $(@D)
	@echo "  BPF     $@"
	$(Q)$(CLANG) -g -O2 -target bpf -Wall -Werror -D__TARGET_ARCH_x86 \
		-I. -I/usr/include/$(shell uname -m)-linux-gnu -c $< -o $@

$(B)/%.skel.h: $(B)/%.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$(notdir $*))_bpf > $@

# ---- the program ----
$(B)/obj/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/libsubagent.a: $(LIB_OBJS)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/subagent: $(B)/obj/agent/cli/main.o $(B)/libsubagent.a
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

# ---- unit tests: plain and ASan/UBSan ----
$(B)/tests/unit/%: $(B)/obj/tests/unit/%.o $(B)/libsubagent.a
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/asan/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(@D)
	@echo "  CC-ASAN $@"
	$(Q)$(CC) $(BASE_CFLAGS) $(ASAN_FLAGS) -MMD -MP -c $< -o $@

$(B)/asan/libsubagent.a: $(ASAN_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/asan/tests/unit/%: $(B)/asan/tests/unit/%.o $(B)/asan/libsubagent.a
	@mkdir -p $(@D)
	@echo "  LD-ASAN $@"
	$(Q)$(CC) $(ASAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# ---- fuzz targets (clang, libFuzzer) ----
$(B)/fuzz/%.o: %.c | $(BPF_SKELS)
	@mkdir -p $(@D)
	@echo "  CC-FUZZ $@"
	$(Q)$(CLANG) $(BASE_CFLAGS) $(FUZZ_FLAGS) -MMD -MP -c $< -o $@

$(B)/fuzz/libsubagent.a: $(FUZZ_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/fuzz/tests/fuzz/%: $(B)/fuzz/tests/fuzz/%.o $(B)/fuzz/libsubagent.a
	@mkdir -p $(@D)
	@echo "  LD-FUZZ $@"
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS)

# ---- benchmarks ----
$(B)/tests/bench/%: $(B)/obj/tests/bench/%.o $(B)/libsubagent.a
	@mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)

fuzz-build: $(FUZZ_BINS)

# ---- entry points ----
deps:
	$(Q)./tests/deps.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all test-build
	$(Q)./tests/run-all.sh

test-build: $(B)/subagent $(UNIT_BINS) $(ASAN_BINS) $(FUZZ_BINS) $(BENCH_BINS)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./tests/demo.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BENCH_BINS)
	$(Q)./tests/bench/run-all.sh

lab-down:
	$(Q)./tests/lab/lab down

# ---- the container image: deploy/Containerfile built without a registry (podman, a
# debootstrap'ed base); writes build/subagent-image.oci.tar ----
image: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./deploy/build-image.sh

clean:
	rm -rf $(B)

# build/podman holds container storage (make image, tests/deploy), build/image the root file
# system debootstrap is making (its /usr/sbin/invoke-rc.d): not ours to scan for .d files
-include $(shell find $(B) \( -path $(B)/podman -o -path $(B)/image \) -prune -o -name '*.d' -type f -print 2>/dev/null)
