# net4mqtt: TCP and UDP over MQTT. `make run` and `make test` are the two README commands.

CC      ?= cc
BUILD   ?= build
PKGS    := libevent libmosquitto libnl-route-3.0 libmnl inih openssl libsodium
VERSION := 0.1.0

WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Werror
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 $(WARN) -MMD -MP -D_GNU_SOURCE -DN4M_VERSION='"$(VERSION)"'
CFLAGS  += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -levent_extra

ifneq ($(SAN),1)
# what Debian's hardening flags ask for (lintian checks the package for them)
CFLAGS  += -D_FORTIFY_SOURCE=2 -fstack-protector-strong
LDFLAGS += -Wl,-z,relro,-z,now
endif

ifeq ($(SAN),1)
BUILD   := build/san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif

# Packages a fresh Debian machine needs to build, test and run everything here.
DEB_PKGS := gcc make pkg-config libevent-dev libmosquitto-dev libnl-3-dev libnl-route-3-dev \
	libmnl-dev libinih-dev libssl-dev libsodium-dev libcmocka-dev mosquitto mosquitto-clients curl iperf3 socat netcat-openbsd \
	python3 python3-paho-mqtt iproute2 iputils-ping traceroute dnsutils procps openssl \
	groff-base systemd ejabberd debhelper dpkg-dev lintian

# ... and to build the Debian package (make deb: debian/control's Build-Depends) and check it.
DEB_BUILD_PKGS := gcc make dpkg-dev debhelper pkg-config libevent-dev libmosquitto-dev libnl-3-dev \
	libnl-route-3-dev libmnl-dev libinih-dev libssl-dev libsodium-dev lintian
DEB_OUT ?= $(BUILD)/deb
DEB_BUILD_OPTIONS ?= parallel=2

# ... and for make bench's request/response row (it starts its own redis-server).
BENCH_PKGS := redis-server redis-tools

# ... and to build and boot the appliance image (make image, make image-test).
IMAGE_PKGS := mmdebstrap e2fsprogs fdisk mtools qemu-system-x86 ovmf openssh-client busybox
IMAGE ?= $(BUILD)/image/net4mqtt.img

LIB_SRCS := $(filter-out gateway/main.c, $(wildcard gateway/*.c gateway/*/*.c mqtt/*.c socks/*.c tun/*.c netlink/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)
PROBE_SRCS := $(wildcard tests/probes/*.c)
PROBE_BINS := $(PROBE_SRCS:tests/probes/%.c=$(BUILD)/probes/%)

# libFuzzer targets (clang): each is linked with the pure units it drives.
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)
FUZZ_UNITS := netlink/prefix.c gateway/roles/dns.c gateway/roles/allow.c gateway/roles/route.c gateway/core/status.c mqtt/frame.c mqtt/kcp.c mqtt/topic.c \
	mqtt/url.c socks/handshake.c socks/socks.c tun/frag.c tun/nat.c tun/packet.c tun/siphash.c \
	gateway/lib/keys.c gateway/lib/log.c gateway/lib/peerkeys.c gateway/lib/seal.c
FUZZ_LIBS  := -lsodium -lcrypto
FUZZ_SECS  ?= 30

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DESTDIR ?=

.PHONY: all deps print-deps print-image-deps run test unit e2e bench fuzz soak install clean format deb image image-test image-boot

all: $(BUILD)/net4mqtt

$(BUILD)/net4mqtt: $(BUILD)/gateway/main.o $(BUILD)/libn4m.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libn4m.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -I. -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libn4m.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I. -o $@ $< $(BUILD)/libn4m.a $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)

# Small drivers of one module each, for end-to-end tests in network namespaces.
$(BUILD)/probes/%: tests/probes/%.c $(BUILD)/libn4m.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I. -o $@ $< $(BUILD)/libn4m.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libn4m.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I. -o $@ $< $(BUILD)/libn4m.a $(LDFLAGS) $(LDLIBS) -lpthread

# Installs the Debian packages that are missing (apt-get update once, only when needed).
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q $(APT_OPTS) $$missing </dev/null && \
		case " $$missing " in *" ejabberd "*) \
			$$sudo systemctl disable --now ejabberd >/dev/null 2>&1; \
			echo "ejabberd: its system service is disabled (the tests start their own nodes)";; \
		esac; \
	fi

print-deps:
	@echo $(DEB_PKGS)

print-image-deps:
	@echo $(IMAGE_PKGS)

run: deps
	@$(MAKE) --no-print-directory all
	@if [ "$$(id -u)" = 0 ] && [ -z "$(CLASSIC)" ] && ip netns add n4m-probe-$$$$ 2>/dev/null; then \
		ip netns del n4m-probe-$$$$; tests/demo-gateway.sh $(BUILD)/net4mqtt; \
	else tests/demo.sh $(BUILD)/net4mqtt; fi

unit: $(UNIT_BINS)

test: deps
	@$(MAKE) --no-print-directory all unit $(BENCH_BINS) $(PROBE_BINS)
	@SAN=$(SAN) tests/run.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(BENCH_PKGS)"
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@tests/bench/run.sh $(BUILD)

# Mixed traffic for SOAK_MINUTES (default 10): RSS over time and errors. Not part of make test.
soak: deps
	@$(MAKE) --no-print-directory all
	@tests/soak.sh $(BUILD)

# The units are compiled once (coverage-instrumented, not linked with libFuzzer's main) and
# linked into every fuzzer: eleven fuzzers used to compile them eleven times.
FUZZ_CFLAGS := -g -O1 -D_GNU_SOURCE -DN4M_VERSION='"$(VERSION)"' -I.
FUZZ_OBJS := $(FUZZ_UNITS:%.c=build/fuzz/obj/%.o)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c -o $@ $<

-include $(FUZZ_OBJS:.o=.d)
.SECONDARY: $(FUZZ_OBJS)

build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< $(FUZZ_OBJS) $(FUZZ_LIBS)

# Each fuzzer for FUZZ_SECS seconds from its seeds (tests/fuzz/seeds/NAME), the
# corpus it grows kept under build/fuzz/corpus/.
fuzz:
	@$(MAKE) --no-print-directory deps DEB_PKGS=clang
	@$(MAKE) --no-print-directory -j$$(nproc) $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); c=build/fuzz/corpus/$$n; mkdir -p $$c; \
		echo "fuzz: $$f for $(FUZZ_SECS) s"; \
		$$f -max_total_time=$(FUZZ_SECS) -print_final_stats=1 $$c tests/fuzz/seeds/$$n \
			2>build/fuzz/$$n.log || \
		{ tail -n 30 build/fuzz/$$n.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units' build/fuzz/$$n.log; done

# The Debian package (debian/), built by debhelper in a copy of the files git knows under
# DEB_OUT, so that dpkg-buildpackage writes nothing into the tree or beside it:
# DEB_OUT/net4mqtt_VERSION_ARCH.deb, net4mqtt-dbgsym (debug symbols), .buildinfo, .changes. The
# make variables of this make (BUILD, SAN, ...) stay out of the package's own build.
deb:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(DEB_BUILD_PKGS)"
	@src=$(DEB_OUT)/net4mqtt-$(VERSION); git="git -c safe.directory=$(CURDIR) -C $(CURDIR)"; \
		rm -rf $(DEB_OUT) && mkdir -p $$src && \
		$$git ls-files -z | tar --null -T - -cf - | tar -C $$src -xf - && \
		(cd $$src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SAN -u BUILD \
		SOURCE_DATE_EPOCH=$$($$git log -1 --format=%ct) DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)" \
		dpkg-buildpackage --no-sign --no-pre-clean -b) && \
		rm -rf $$src && ls $(DEB_OUT)/*.deb

# A bootable Debian 12 appliance (raw disk, UEFI) with the package: image/README.md.
image: deb
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(IMAGE_PKGS)" APT_OPTS=--no-install-recommends
	@image/build.sh $(DEB_OUT)/net4mqtt_$(VERSION)_$$(dpkg --print-architecture).deb $(IMAGE)

# Boots it in qemu (software emulation) and sends a LAN host's TCP flow through it.
image-test: image
	@$(MAKE) --no-print-directory image-boot

# Boots the image make image built (image-test without the build; CI builds it beside other work).
# The test's site agent is this tree's build/net4mqtt: built here, as the package no longer builds it.
image-boot: all
	@bash -o pipefail -c 'bash image/test.sh $(IMAGE) $(BUILD)/net4mqtt | tee $(BUILD)/image-test.log'; \
		rc=$$?; p=$$(grep -c '^PASS: ' $(BUILD)/image-test.log); f=$$(grep -c '^FAIL: ' $(BUILD)/image-test.log); \
		echo "$$p passed, $$f failed"; [ "$$rc" -eq 0 ] && [ "$$f" -eq 0 ] && [ "$$p" -gt 0 ]

install: $(BUILD)/net4mqtt
	install -D -m 0755 $(BUILD)/net4mqtt $(DESTDIR)$(BINDIR)/net4mqtt

# The style of .clang-format, on every C file git knows (tests/checks/format.sh checks it).
format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)
