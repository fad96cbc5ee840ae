#!/bin/bash
# A disk with slow flushes, for `bench object`: ext4 on a loop device whose image file lives in
# slowsync.py's FUSE file system, so each fsync/fdatasync there waits DELAY_MS before it syncs.
#
#   sudo bench/slow-disk/mount.sh up   /tmp/slowdisk [DELAY_MS=1] [SIZE=2G]   # prints the mount point
#   sudo bench/slow-disk/mount.sh down /tmp/slowdisk
#
# Needs root, /dev/fuse, a free loop device and python3-fusepy (installed here if missing).
set -euo pipefail

action=${1:?usage: mount.sh up|down DIR [DELAY_MS] [SIZE]}
base=${2:?usage: mount.sh up|down DIR [DELAY_MS] [SIZE]}
delay_ms=${3:-1}
size=${4:-2G}
here=$(cd "$(dirname "$0")" && pwd)

case "$action" in
up)
    if ! /usr/bin/python3 -c 'import fusepy' 2>/dev/null; then
        echo "installing python3-fusepy ..." >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-fusepy >/dev/null
    fi
    mkdir -p "$base/backing" "$base/fuse" "$base/disk"
    /usr/bin/python3 "$here/slowsync.py" "$base/backing" "$base/fuse" --delay-ms "$delay_ms" \
        >"$base/slowsync.log" 2>&1 &
    echo $! >"$base/slowsync.pid"
    for _ in $(seq 50); do mountpoint -q "$base/fuse" && break; sleep 0.1; done
    mountpoint -q "$base/fuse" || { echo "slowsync did not mount; see $base/slowsync.log" >&2; exit 1; }
    truncate -s "$size" "$base/fuse/image"
    device=$(losetup --find --show "$base/fuse/image")
    echo "$device" >"$base/loop.device"
    # Like this machine's root file system: ext4 without a journal.
    mkfs.ext4 -q -F -O ^has_journal "$device"
    mount "$device" "$base/disk"
    echo "$base/disk"
    ;;
down)
    # A runtime that was just stopped may still hold files there for a moment.
    for _ in $(seq 20); do mountpoint -q "$base/disk" || break; umount "$base/disk" 2>/dev/null || sleep 0.25; done
    mountpoint -q "$base/disk" && { echo "cannot unmount $base/disk: still in use" >&2; exit 1; }
    [ -f "$base/loop.device" ] && losetup -d "$(cat "$base/loop.device")" 2>/dev/null || true
    mountpoint -q "$base/fuse" && umount "$base/fuse"
    [ -f "$base/slowsync.pid" ] && kill "$(cat "$base/slowsync.pid")" 2>/dev/null || true
    rm -f "$base/loop.device" "$base/slowsync.pid"
    ;;
*)
    echo "usage: mount.sh up|down DIR [DELAY_MS] [SIZE]" >&2
    exit 2
    ;;
esac
