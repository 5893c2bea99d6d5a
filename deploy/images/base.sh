#!/usr/bin/env bash
# Builds a Java 17 runtime base image from Debian packages alone: debootstrap fetches a minimal
# Debian and OpenJDK's headless JRE from a Debian mirror (plain HTTP is enough), and the folder
# is imported as an image. No registry is needed, so this works where Docker Hub cannot be
# reached (air-gapped sites point --mirror at their own mirror). Needs root and a Docker engine.
#
#   deploy/images/base.sh [--tag seqstream/jre:17] [--mirror http://deb.debian.org/debian] [--suite bookworm]
#
# Then build the images on it: deploy/images/build.sh --base seqstream/jre:17
set -euo pipefail

tag=seqstream/jre:17
mirror=http://deb.debian.org/debian
suite=bookworm
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag="$2"; shift 2 ;;
    --mirror) mirror="$2"; shift 2 ;;
    --suite) suite="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "base.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "base.sh: debootstrap needs root" >&2; exit 1; }
docker info > /dev/null 2>&1 || { echo "base.sh: no Docker engine answers (start dockerd first)" >&2; exit 1; }
if ! command -v debootstrap > /dev/null; then
  echo "base.sh: installing debootstrap" >&2
  apt-get install -y -q debootstrap > /dev/null || { apt-get update -q > /dev/null && apt-get install -y -q debootstrap > /dev/null; }
fi

arch=$(dpkg --print-architecture)
rootfs=$(mktemp -d /tmp/seq-base-XXXXXX)
cleanup() { for m in proc sys dev/pts dev; do umount "$rootfs/$m" 2> /dev/null || true; done; rm -rf "$rootfs"; }
trap cleanup EXIT

started=$(date +%s)
echo "base.sh: debootstrap $suite ($arch) with openjdk-17-jre-headless from $mirror" >&2
debootstrap --variant=minbase --include=openjdk-17-jre-headless,ca-certificates "$suite" "$rootfs" "$mirror" > "$rootfs.log" 2>&1 \
  || { tail -20 "$rootfs.log" >&2; echo "base.sh: debootstrap failed (log: $rootfs.log)" >&2; exit 1; }
rm -f "$rootfs.log"
# what a runtime image does not need
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log "$rootfs"/tmp/*
"$rootfs/usr/lib/jvm/java-17-openjdk-$arch/bin/java" -version > /dev/null 2>&1 \
  || chroot "$rootfs" java -version > /dev/null 2>&1 || { echo "base.sh: the JRE does not run in the image" >&2; exit 1; }

tar -C "$rootfs" --numeric-owner -c . | docker import \
  --change "ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-$arch" \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' \
  --message "Debian $suite with openjdk-17-jre-headless, from $mirror" - "$tag" > /dev/null
echo "base.sh: built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')) in $(( $(date +%s) - started )) s" >&2
