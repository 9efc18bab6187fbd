#!/bin/bash
# `make image`: builds subagent's container image from deploy/Containerfile without a
# registry and without Docker, and writes it as an OCI archive build/subagent-image.oci.tar.
#
#   1. a Debian 12 minbase root (debootstrap, from the Debian mirror apt here uses), made
#      slim the way debian:bookworm-slim is (no docs, man pages, locales, apt lists), kept
#      as build/image/bookworm-slim.tar so a rebuild skips it (delete it to refresh);
#   2. `podman import` of that tarball stands in for debian:bookworm-slim;
#   3. `podman build --from` it with deploy/Containerfile, the same recipe a registry
#      user builds (layers are cached in build/podman/image: a rebuild after `make` only
#      redoes the COPY of the binary);
#   4. `podman save --format oci-archive`.
#
# Podman here uses its own storage, build/podman/image (nothing in /var/lib/containers; not
# bind-mounted onto itself, so `make clean` can remove it), runc
# with cgroupfs (crun refuses this machine's hybrid cgroups), and the host's network for the
# RUN step only (it reaches the Debian mirror; no bridge or firewall rule is made: a
# private build network would add a CNI bridge to the root namespace).
#
# Environment: MIRROR (default: the first Debian mirror in apt's sources),
# SECURITY_MIRROR, IMAGE (default localhost/subagent:VERSION).
set -eu
cd "$(dirname "$0")/.."
B=build
W=$B/image
OUT=$B/subagent-image.oci.tar
BASE_TAR=$W/bookworm-slim.tar
BASE_REF=localhost/subagent-base:bookworm-slim

[ -x $B/subagent ] || { echo "image: build/subagent is missing; run make first" >&2; exit 1; }
for t in debootstrap podman runc; do
	command -v $t >/dev/null || { echo "image: $t is missing; run make deps" >&2; exit 1; }
done
VERSION=$($B/subagent version | awk '{print $2; exit}')
IMAGE=${IMAGE:-localhost/subagent:$VERSION}

# The first http(s) URI of apt's sources whose path ends in /debian (or /debian-security),
# from one-line (.list) and deb822 (.sources) files alike.
apt_mirror() {
	local suffix=$1
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
		2>/dev/null | grep -v '^\s*#' | grep -oE 'https?://[^ ]+' | sed 's#/*$##' |
		grep -E "/$suffix\$" | head -n1
}
MIRROR=${MIRROR:-$(apt_mirror debian)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-$(apt_mirror debian-security)}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}

mkdir -p $W
# Podman's run-time state: on tmpfs, at a path fixed for this tree (its database records
# the path and refuses another one).
RUN=/run/subagent-image-$(echo "$PWD" | sha256sum | cut -c1-12)
ROOTFS=
cleanup() {
	[ -n "$ROOTFS" ] && rm -rf "$ROOTFS"
	return 0
}
trap cleanup EXIT

PODMAN=(podman --root "$PWD/$B/podman/image" --runroot "$RUN/runroot" --tmpdir "$RUN/tmp"
	--storage-driver overlay --storage-opt overlay.skip_mount_home=true --runtime runc --cgroup-manager cgroupfs --events-backend file)

# ---- 1. the base: debootstrap minbase, made slim ----
if [ ! -s $BASE_TAR ]; then
	echo "image: debootstrap --variant=minbase bookworm from $MIRROR"
	ROOTFS=$(mktemp -d $W/rootfs.XXXXXX)
	debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" >$W/debootstrap.log 2>&1 ||
		{ tail -n 20 $W/debootstrap.log >&2; exit 1; }
	# What debian:bookworm-slim does on top of minbase: dpkg leaves docs, man pages and
	# locales out (now and for every later install), apt keeps no caches or lists.
	cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker" <<-'EOF'
		path-exclude /usr/share/doc/*
		path-include /usr/share/doc/*/copyright
		path-exclude /usr/share/man/*
		path-exclude /usr/share/groff/*
		path-exclude /usr/share/info/*
		path-exclude /usr/share/lintian/*
		path-exclude /usr/share/linda/*
		path-exclude /usr/share/locale/*
	EOF
	cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<-'EOF'
		DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		Dir::Cache::pkgcache "";
		Dir::Cache::srcpkgcache "";
	EOF
	echo 'Acquire::Languages "none";' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
	echo 'Acquire::GzipIndexes "true";' >"$ROOTFS/etc/apt/apt.conf.d/docker-gzip-indexes"
	echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$ROOTFS/etc/apt/apt.conf.d/docker-autoremove-suggests"
	find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$ROOTFS"/usr/share/{man,groff,info,lintian,linda,locale}/*
	rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
		"$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/log/* "$ROOTFS"/tmp/*
	# The sources debian:bookworm-slim has: the release, its updates, security.
	rm -f "$ROOTFS/etc/apt/sources.list"
	cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<-EOF
		Types: deb
		URIs: $MIRROR
		Suites: bookworm bookworm-updates
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb
		URIs: $SECURITY_MIRROR
		Suites: bookworm-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	: >"$ROOTFS/etc/hostname"
	: >"$ROOTFS/etc/resolv.conf"
	tar -C "$ROOTFS" --numeric-owner --xattrs -cf $BASE_TAR.tmp .
	mv $BASE_TAR.tmp $BASE_TAR
	rm -rf "$ROOTFS"
	ROOTFS=
fi

# ---- 2. import it, unless the same tarball is already the base in the storage ----
base_sum=$(sha256sum $BASE_TAR | cut -c1-16)
have_sum=$("${PODMAN[@]}" image inspect --format '{{index .Labels "subagent.base-sha256"}}' \
	$BASE_REF 2>/dev/null || true)
if [ "$have_sum" != "$base_sum" ]; then
	echo "image: podman import $BASE_TAR as $BASE_REF"
	"${PODMAN[@]}" import --quiet \
		--change "LABEL subagent.base-sha256=$base_sum" --change 'CMD ["bash"]' \
		$BASE_TAR $BASE_REF >/dev/null
fi

# ---- 3. the recipe ----
echo "image: podman build -f deploy/Containerfile --from $BASE_REF -t $IMAGE"
"${PODMAN[@]}" build --quiet --network host --layers --pull=never \
	--ignorefile deploy/Containerfile.dockerignore \
	--from $BASE_REF -f deploy/Containerfile -t "$IMAGE" . >$W/build.log 2>&1 ||
	{ tail -n 30 $W/build.log >&2; exit 1; }

# ---- 4. the archive ----
rm -f $OUT.tmp
"${PODMAN[@]}" save --quiet --format oci-archive -o $OUT.tmp "$IMAGE"
mv $OUT.tmp $OUT
# Layers this build no longer uses (older binaries) go; the base and apt layers stay.
"${PODMAN[@]}" image prune -f >/dev/null 2>&1 || true

size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
echo "image: $IMAGE: $((size / 1000000)) MB unpacked; $OUT: $(($(stat -c %s $OUT) / 1000000)) MB"
