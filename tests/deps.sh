#!/bin/bash
# Installs every Debian package subagent needs to build, test and run.
# Idempotent: when everything is present it only asks dpkg and returns.
set -eu

PKGS=(
	build-essential pkg-config make gcc clang llvm libclang-rt-dev
	bpftool libbpf-dev libelf-dev zlib1g-dev
	libmnl-dev libnl-3-dev libnl-route-3-dev
	strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins
	libcurl4-gnutls-dev libcjson-dev libmicrohttpd-dev libgnutls28-dev gnutls-bin
	libsqlite3-dev sqlite3 etcd-server etcd-client
	iproute2 nftables iperf3 tcpdump jq socat curl netcat-openbsd iputils-ping procps psmisc
	util-linux coreutils openssl ca-certificates python3
	# observability tests: a real Prometheus (promtool too) scraping the lab; faketime (a
	# skewed clock for diagnose)
	prometheus faketime
	# deploy/: the image (make image), the manifest, unit and Vagrantfile tests
	podman runc debootstrap python3-yaml python3-kubernetes systemd vagrant vagrant-libvirt
	# service discovery: DNS wire format (libldns), the lab's cluster resolver (dnsmasq),
	# dig, dnsperf (make bench) and HAProxy (the demo's mesh-like proxy)
	libldns-dev dnsmasq-base bind9-dnsutils dnsperf haproxy
	# the VM test bed (tests/vm/): QEMU, an initramfs of busybox, depmod and xz for Debian's kernel
	qemu-system-x86 busybox-static cpio kmod xz-utils
)

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}; run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# --no-install-recommends keeps strongswan-starter's services and the like out.
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
