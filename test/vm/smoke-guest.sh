#!/bin/sh
# Guest half of test/vm/smoke.ts: runs inside the test VM as root. Prints facts as lines
#   GUID <dataset@snap> <guid>       SUM <label> <sha256>       STEP <name>       VERSION <zfs version>
# for the host to compare; exits non-zero if any step fails.
set -eu
step() { echo "STEP $1"; }
img=/tmp/smoke
mkdir -p $img /tmp/mnt

step pools
truncate -s 512M $img/src.img $img/dst.img
zpool create -R /tmp/mnt src $img/src.img
zpool create -R /tmp/mnt dst $img/dst.img
echo "VERSION $(cat /sys/module/zfs/version)"

step datasets
zfs create src/fs
zfs create -s -V 32M src/vol
udevadm settle --timeout=30
[ -b /dev/zvol/src/vol ] || { echo "no /dev/zvol/src/vol after udevadm settle" >&2; exit 1; }
dd if=/dev/urandom of=/tmp/mnt/src/fs/a bs=1M count=4 status=none
dd if=/dev/urandom of=/dev/zvol/src/vol bs=1M count=8 status=none conv=fsync
zfs snapshot src/fs@s1 src/vol@s1
dd if=/dev/urandom of=/tmp/mnt/src/fs/b bs=1M count=2 status=none
dd if=/dev/urandom of=/dev/zvol/src/vol bs=1M count=2 seek=16 status=none conv=fsync
zfs snapshot src/fs@s2 src/vol@s2

step send-full
zfs create -o mountpoint=none -o volmode=none dst/b
zfs send src/fs@s1 | zfs receive -u dst/b/fs
zfs send src/vol@s1 | zfs receive -u -o volmode=dev dst/b/vol

step send-incremental
zfs send -i @s1 src/fs@s2 | zfs receive -u dst/b/fs
zfs send -i @s1 src/vol@s2 | zfs receive -u dst/b/vol

step verify
zfs list -H -p -o name,guid -t snapshot -r src dst | while read -r name guid; do echo "GUID $name $guid"; done
# dst/b/fs inherited mountpoint=none from dst/b; give it one to read the files back.
zfs set mountpoint=/rfs dst/b/fs
[ "$(zfs get -H -o value mounted dst/b/fs)" = yes ] || zfs mount dst/b/fs
fsdir=/rfs
echo "SUM src/fs:a $(sha256sum < /tmp/mnt/src/fs/a | cut -d' ' -f1)"
echo "SUM src/fs:b $(sha256sum < /tmp/mnt/src/fs/b | cut -d' ' -f1)"
echo "SUM dst/b/fs:a $(sha256sum < "/tmp/mnt$fsdir/a" | cut -d' ' -f1)"
echo "SUM dst/b/fs:b $(sha256sum < "/tmp/mnt$fsdir/b" | cut -d' ' -f1)"
udevadm settle --timeout=30
[ -b /dev/zvol/dst/b/vol ] || { echo "no /dev/zvol/dst/b/vol after udevadm settle" >&2; exit 1; }
if [ "${SMOKE_CORRUPT:-}" = 1 ]; then
  # Self-test of the host-side checks (smoke.ts --corrupt): change the received zvol.
  zfs set readonly=off dst/b/vol
  printf 'X' | dd of=/dev/zvol/dst/b/vol bs=1 seek=4096 conv=notrunc,fsync status=none
fi
echo "SUM src/vol $(sha256sum < /dev/zvol/src/vol | cut -d' ' -f1)"
echo "SUM dst/b/vol $(sha256sum < /dev/zvol/dst/b/vol | cut -d' ' -f1)"
if [ -n "${QZB_VM_OUT:-}" ]; then zfs list -H -p -o name,guid,used -t all -r src dst > "$QZB_VM_OUT/smoke-list.txt"; fi
zpool export dst
zpool export src
step done
