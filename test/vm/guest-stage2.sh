#!/bin/sh
# Stage 2 of the test VM's init: runs as PID 1 with the host's root (read-only 9p) as /.
# vm.ts copies this file into the per-run control share (/run/qzbvm/ctl) together with the
# command (argc, arg.N), its environment (env/NAME), cwd, the out share's path (outpath) and
# options (timeout seconds, udev on/off). It writes back stdout, stderr and exitcode.
# Console markers: "QZBVM-STAGE <name>" and "QZBVM-FAIL <stage>: <why>".
C=/run/qzbvm/ctl
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
umask 022

mark() { echo "QZBVM-STAGE $1"; }
off() {
  sync
  /bin/busybox poweroff -f 2>/dev/null
  echo o > /proc/sysrq-trigger
  sleep 30
}
fail() {
  echo "QZBVM-FAIL $1: $2"
  printf '%s: %s\n' "$1" "$2" > "$C/failed"
  off
}
readfile() { /bin/busybox cat "$1" 2>/dev/null; }

mark stage2

# Writable places. /var/run is a symlink to /run (tmpfs from stage 1). The static busybox is used
# for these few steps because every exec of a dynamically linked host binary costs ~0.1-0.2 s here.
bb=/bin/busybox
[ -x $bb ] || bb=/usr/bin/busybox
tmpfs() { $bb mount -t tmpfs -o "mode=$1" "$2" "$3" || fail mounts "tmpfs on $3"; }
tmpfs 1777 tmp /tmp
tmpfs 0755 varlib /var/lib
tmpfs 1777 vartmp /var/tmp
tmpfs 0755 varlog /var/log
tmpfs 0700 roothome /root
$bb mkdir -p /dev/pts /dev/shm /run/lock /run/udev /run/qzbvm/etc-zfs
$bb chmod 1777 /run/lock
$bb mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts 2>/dev/null
tmpfs 1777 shm /dev/shm
# /etc/zfs must be writable (zpool.cache) but keep the host's files in it (zfs-functions, zpool.d).
$bb cp -a /etc/zfs/. /run/qzbvm/etc-zfs/ 2>/dev/null
$bb mount --bind /run/qzbvm/etc-zfs /etc/zfs || fail mounts "bind mount on /etc/zfs"

# The checkout, when the tmpfs mounts above hide it (a clone under /tmp): its own read-only share,
# at the same absolute path as on the host. Mounted before the out share, which may lie inside it.
repo=$(readfile "$C/repopath")
if [ -n "$repo" ] && [ ! -e "$repo/package.json" ]; then
  $bb mkdir -p "$repo" 2>/dev/null
  $bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose qzbrepo "$repo" || fail mounts "cannot mount the checkout on $repo"
fi

# The out share, mounted at the same absolute path as on the host (the directory exists in the
# read-only host root, or is created in a tmpfs such as /tmp).
out=$(readfile "$C/outpath")
[ -n "$out" ] || fail out-share "outpath missing from the control share"
$bb mkdir -p "$out" 2>/dev/null
$bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 qzbout "$out" || fail out-share "cannot mount the out share on $out"
mark mounts

if [ "$(readfile "$C/udev")" != 0 ]; then
  [ -x /lib/systemd/systemd-udevd ] || fail udev "/lib/systemd/systemd-udevd not found"
  /lib/systemd/systemd-udevd --daemon >/dev/null 2>&1 || fail udev "systemd-udevd --daemon failed"
  # No "udevadm trigger" for the devices that exist at boot (none matter here; it costs seconds
  # under TCG): udevd handles the events of zvols created from now on (/dev/zvol/<pool>/<vol>).
  mark udev
fi

# The hostid is the host's /etc/hostid (read-only here); without one, give spl a fixed one so
# pools get a stable, non-zero hostid.
hostid_param=
[ -s /etc/hostid ] || hostid_param=spl_hostid=0x51e7e500
tree=$(readfile "$C/zfstree")
if [ -z "$tree" ]; then
  # The system's OpenZFS: DKMS modules under /lib/modules/<kver>/updates/dkms, host userland.
  modprobe spl $hostid_param || fail zfs "modprobe spl failed (kernel $(uname -r))"
  modprobe zfs || fail zfs "modprobe zfs failed (kernel $(uname -r))"
else
  # A side-by-side OpenZFS tree (build-zfs-tree.sh): overlay its userland on the host's
  # directories (read-only overlays, the tree's files win) and load its modules.
  [ -f "$tree/load-order" ] || fail zfs "$tree/load-order missing (ZFS_SERIES tree not provisioned)"
  modprobe overlay || fail zfs "modprobe overlay failed"
  for d in usr/sbin usr/bin usr/lib/x86_64-linux-gnu; do
    [ -d "$tree/root/$d" ] || continue
    $bb mount -t overlay -o "lowerdir=$tree/root/$d:/$d" "qzbvm-zfs-$(echo $d | tr / -)" "/$d" \
      || fail zfs "overlay of $tree/root/$d on /$d failed"
  done
  while read -r how what; do
    case $how in
      modprobe) modprobe "$what" || fail zfs "modprobe $what failed" ;;
      insmod)
        if [ "$what" = spl.ko ]; then set -- $hostid_param; else set --; fi
        insmod "$tree/modules/$what" "$@" || fail zfs "insmod $tree/modules/$what failed" ;;
    esac
  done < "$tree/load-order"
fi
[ -c /dev/zfs ] || { udevadm settle --timeout=30 >/dev/null 2>&1; [ -c /dev/zfs ] || fail zfs "/dev/zfs missing after modprobe zfs"; }
mark "zfs $(cat /sys/module/zfs/version 2>/dev/null)"

cwd=$(readfile "$C/cwd")
secs=$(readfile "$C/timeout")
n=$(readfile "$C/argc")
[ -n "$n" ] && [ "$n" -gt 0 ] 2>/dev/null || fail command "argc missing or zero"
set --
i=0
while [ "$i" -lt "$n" ]; do
  # The trailing x keeps trailing newlines that $(...) would strip.
  a=$($bb cat "$C/arg.$i"; echo x) || fail command "arg.$i missing"
  set -- "$@" "${a%x}"
  i=$((i+1))
done

mark command-start
(
  export HOME=/tmp USER=root LOGNAME=root LANG=C.UTF-8 QZB_VM=1 QZB_VM_OUT="$out"
  for f in "$C"/env/*; do
    [ -f "$f" ] || continue
    v=$($bb cat "$f"; echo x)
    export "${f##*/}=${v%x}"
  done
  cd "$cwd" 2>/dev/null || { echo "vm: cannot cd to $cwd" >&2; exit 125; }
  # A guest-side time limit too, so a VM whose host process died does not run forever.
  if [ -n "$secs" ]; then exec timeout -k 5 "$secs" "$@"; else exec "$@"; fi
) </dev/null >"$C/stdout" 2>"$C/stderr"
rc=$?
# A command killed by a signal (rc 129+, as timeout and sh report it): keep the kernel's lines that
# describe a fault ("node[123]: segfault at … ip … in node[…]", below the console's log level), else
# its last ten.
if [ "$rc" -gt 128 ]; then
  $bb dmesg 2>/dev/null > /tmp/qzbvm-dmesg
  $bb grep -E 'segfault|trap|general protection|invalid opcode|Code: |Out of memory|Killed process|BUG|Oops' /tmp/qzbvm-dmesg | $bb tail -n 20 > "$C/kernel-tail"
  [ -s "$C/kernel-tail" ] || $bb tail -n 10 /tmp/qzbvm-dmesg > "$C/kernel-tail"
fi
echo "$rc" > "$C/exitcode.tmp" && mv "$C/exitcode.tmp" "$C/exitcode"
mark "command-done $rc"
off
