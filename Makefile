# mtcp-swift: build, test and run. Every target is safe to run again.
#   make run    build and start the appliance in the default topology (root)
#   make test   unit tests, then system tests in network namespaces (root)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

# Swift lives in /opt/swift on this kind of machine; don't depend on PATH order.
export PATH := $(if $(wildcard /opt/swift/usr/bin/swift),/opt/swift/usr/bin:)$(PATH)

SWIFT   ?= swift
# Debian's python: python3-scapy and python3-pytest import there, not in pyenv's.
PYTHON  := /usr/bin/python3
HTTPD   := .build/release/mtcp-httpd
CONFIG  := conf/mtcp.conf

APT_PACKAGES := libdpdk-dev libnuma-dev libssl-dev iproute2 iputils-ping \
	iputils-arping ethtool tshark python3-scapy python3-pytest netcat-openbsd curl nginx-light \
	wrk apache2-utils valgrind python3-matplotlib zlib1g-dev binutils

BENCH_FILES := www/bench/64.html www/bench/1k.html www/bench/4k.html \
	www/bench/32k.html www/bench/1m.bin

.PHONY: deps build install test unit-test system-test run ecmp bench soak bench-files tls-cert netns-up \
	netns-down fuzz fuzz-replay clean need-root

# Installs only what is missing; a no-op (one dpkg-query) when all is there.
# Note: Debian's `arping` conflicts with `iputils-arping`; we use the latter.
deps:
	@# HdrHistogram's own decoder checks the loadgen's histogram encoding (test_loadgen_merge.py).
	@/usr/bin/python3 -c 'import hdrh.histogram' 2>/dev/null || /usr/bin/python3 -m pip install -q --user \
		--break-system-packages --no-warn-script-location hdrhistogram==0.10.8
	@missing=$$({ dpkg-query -W -f='$${Package} $${db:Status-Abbrev}\n' $(APT_PACKAGES) 2>/dev/null || true; } \
		| awk '$$2 == "ii" {print $$1}' | sort | comm -13 - <(printf '%s\n' $(APT_PACKAGES) | sort)); \
	if [ -z "$$missing" ]; then echo "deps: all installed"; exit 0; fi; \
	echo "deps: installing" $$missing; \
	if [ "$$(id -u)" -ne 0 ]; then echo "deps: need root to install packages" >&2; exit 1; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q; \
	apt-get install -y -q --no-install-recommends $$missing; \
	# Debian starts nginx on install; the benchmarks run their own in a namespace. \
	(systemctl disable --now nginx || service nginx stop || pkill -x nginx) >/dev/null 2>&1 || true

build:
	$(SWIFT) build -c release

# Installs what `make build` built (it does not build: packages build first, then
# install as another user). DESTDIR stages for a package; see scripts/install.sh.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc/mtcp-swift
WWWDIR     ?= /var/www/mtcp-swift
UNITDIR    ?= $(PREFIX)/lib/systemd/system
LOGROTATEDIR ?= /etc/logrotate.d
LOGDIR     ?= /var/log/mtcp-httpd
install:
	DESTDIR="$(DESTDIR)" BINDIR="$(BINDIR)" SYSCONFDIR="$(SYSCONFDIR)" WWWDIR="$(WWWDIR)" UNITDIR="$(UNITDIR)" \
		LOGROTATEDIR="$(LOGROTATEDIR)" LOGDIR="$(LOGDIR)" scripts/install.sh

test:
	@$(MAKE) --no-print-directory unit-test
	@$(MAKE) --no-print-directory fuzz-replay
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=30
	@$(MAKE) --no-print-directory system-test

unit-test:
	$(SWIFT) test

need-root:
	@if [ "$$(id -u)" -ne 0 ]; then \
		echo "this target needs root (network namespaces, raw sockets): run it with sudo" >&2; exit 1; fi

# The suite creates and removes the topology itself (Tests/system/conftest.py).
system-test: need-root build bench-files tls-cert
	$(PYTHON) -m pytest -v Tests/system

# Two replicas behind a router's ECMP route to their VIP, and a health check
# that withdraws a stopped one (README, "Running several"). Ctrl-C ends it.
ecmp: need-root build tls-cert
	scripts/ecmp.sh run

run: need-root deps build bench-files tls-cert netns-up
	@echo
	@echo "mtcp-httpd is starting in netns mtcp-a, owning 198.18.0.1/24 and 2001:2::1/64 on mtcp-a0 (DPDK net_af_xdp)."
	@echo "From another terminal:"
	@echo "    sudo ip netns exec mtcp-c curl -v http://198.18.0.1/"
	@echo "    sudo ip netns exec mtcp-c curl -6 -v 'http://[2001:2::1]/'"
	@echo "    sudo ip netns exec mtcp-c curl -k https://198.18.0.1/"
	@echo "    sudo ip netns exec mtcp-c ping 198.18.0.1"
	@echo "    sudo ip netns exec mtcp-a curl -s 127.0.0.1:9180/metrics"
	@echo "    sudo ip netns exec mtcp-l .build/release/mtcp-loadgen http://198.18.0.1/bench/64.html 20000 -c 50"
	@echo "Ctrl-C stops it (open connections get 5 s); 'make netns-down' removes the namespaces."
	@echo
	ip netns exec mtcp-a $(HTTPD) --config $(CONFIG)

# Every scenario against nginx + wrk in one run (about 9 minutes); rewrites
# BENCHMARKS.md and bench-results/. BENCH_ARGS="--runs 1 --seconds 3" for a quick look;
# BENCH_ARGS="--only default_topology" for mtcp-loadgen and wrk against `make run`'s appliance.
bench: need-root deps build bench-files tls-cert
	scripts/bench.sh $(BENCH_ARGS)

# Loadgen against the appliance over memif for SOAK_MINUTES at SOAK_RATE requests/s,
# reporting errors, retransmissions and resident memory every minute.
SOAK_MINUTES ?= 10
SOAK_RATE ?= 50000
soak: need-root deps build bench-files tls-cert
	$(PYTHON) scripts/soak.py --minutes $(SOAK_MINUTES) --rate $(SOAK_RATE)

# The benchmark files are committed; this only recreates missing ones.
bench-files: $(BENCH_FILES)
$(BENCH_FILES) &:
	scripts/make-bench-files.sh www/bench

# The TLS certificate and key of mtcp-httpd (conf/httpd.json's "tls" section): a
# self-signed ECDSA P-256 pair made once on this machine, never committed
# (conf/tls/ is in .gitignore). Existing files are left alone.
tls-cert:
	scripts/make-cert.sh conf/tls

netns-up: need-root
	scripts/netns.sh up

netns-down: need-root
	scripts/netns.sh down

# libFuzzer on the packet input path and on the HTTP request parser, FUZZ_SECONDS
# each. The corpora grow in .build-fuzz/corpus (packets) and .build-fuzz/corpus-http
# (seeded from Fuzz/corpus) and findings land in .build-fuzz/findings (the HTTP
# ones prefixed http-). For hours: make fuzz FUZZ_SECONDS=14400
FUZZ_SECONDS ?= 60
FUZZ_BIN := .build-fuzz/debug/mtcp-fuzz-packet
FUZZ_HTTP_BIN := .build-fuzz/debug/mtcp-fuzz-http
FUZZ_FLAGS = -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048
fuzz:
	$(SWIFT) build --scratch-path .build-fuzz --product mtcp-fuzz-packet \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
	$(SWIFT) build --scratch-path .build-fuzz --product mtcp-fuzz-http \
		-Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
	mkdir -p .build-fuzz/corpus .build-fuzz/corpus-http .build-fuzz/findings
	cp -n Fuzz/corpus/packet-input/* .build-fuzz/corpus/
	cp -n Fuzz/corpus/http-parser/* .build-fuzz/corpus-http/
	$(FUZZ_BIN) $(FUZZ_FLAGS) -artifact_prefix=.build-fuzz/findings/ .build-fuzz/corpus
	$(FUZZ_HTTP_BIN) $(FUZZ_FLAGS) -artifact_prefix=.build-fuzz/findings/http- .build-fuzz/corpus-http

# Replays the committed corpora (seeds and past findings) without sanitizers.
fuzz-replay:
	$(SWIFT) build --product mtcp-fuzz-packet
	$(SWIFT) build --product mtcp-fuzz-http
	.build/debug/mtcp-fuzz-packet Fuzz/corpus/packet-input/*
	.build/debug/mtcp-fuzz-http Fuzz/corpus/http-parser/*

clean:
	rm -rf .build .build-fuzz bench-out Tests/system/.pytest_cache
	find Tests -name __pycache__ -type d -prune -exec rm -rf {} +
