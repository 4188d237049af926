#!/bin/sh
# Build the test VM's initramfs: a static busybox, the virtio/9p modules the Debian kernel needs to
# mount the host's root over 9p, and a tiny stage-1 /init (embedded below).
#
#   build-initramfs.sh <kernel-version> <output.cpio.gz>
#
# The output is written to a temporary file next to <output> and renamed into place, so concurrent
# builders never see a half-written archive. vm.ts keys the cache file name by kernel version and a
# hash of this script, so editing the script (e.g. stage 1 below) invalidates the cache.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 <kernel-version> <output.cpio.gz>" >&2; exit 2; }
kver=$1
out=$2
moddir=/lib/modules/$kver
[ -d "$moddir" ] || { echo "build-initramfs: $moddir does not exist" >&2; exit 1; }

busybox=
for b in /bin/busybox /usr/bin/busybox; do [ -x "$b" ] && { busybox=$b; break; }; done
[ -n "$busybox" ] || { echo "build-initramfs: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
  echo "build-initramfs: $busybox is dynamically linked; install busybox-static" >&2; exit 1
fi
for t in cpio gzip modprobe; do
  command -v "$t" >/dev/null 2>&1 || { echo "build-initramfs: $t not found" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/qzbvm-initramfs.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/lib/modules" "$work/proc" "$work/sys" "$work/dev" "$work/newroot"
cp "$busybox" "$work/bin/busybox"
for a in sh mount umount mkdir insmod switch_root poweroff cat echo sleep sync; do
  ln -s busybox "$work/bin/$a"
done

# Modules in dependency order (modprobe prints "insmod <path>" lines, dependencies first).
# Built-in modules print "builtin <name>" and need nothing.
: > "$work/modlist"
for m in virtio_pci 9pnet_virtio 9p; do
  modprobe -S "$kver" --show-depends "$m" || { echo "build-initramfs: modprobe -S $kver --show-depends $m failed" >&2; exit 1; }
done | awk '$1=="insmod"{print $2}' | awk '!seen[$0]++' > "$work/modpaths"
while read -r p; do
  f=$(basename "$p")
  case $f in
    *.ko.xz)  f=${f%.xz};  xz -dc "$p" > "$work/lib/modules/$f" ;;
    *.ko.zst) f=${f%.zst}; zstd -qdc "$p" > "$work/lib/modules/$f" ;;
    *.ko.gz)  f=${f%.gz};  gzip -dc "$p" > "$work/lib/modules/$f" ;;
    *)        cp "$p" "$work/lib/modules/$f" ;;
  esac
  echo "$f" >> "$work/modlist"
done < "$work/modpaths"
rm -f "$work/modpaths"

# Stage 1: runs as PID 1 from the initramfs. Markers on the console ("QZBVM-STAGE x",
# "QZBVM-FAIL stage: why") tell the host how far the boot got.
cat > "$work/init" <<'EOI'
#!/bin/sh
PATH=/bin
export PATH
mark() { echo "QZBVM-STAGE $1"; }
fail() { echo "QZBVM-FAIL $1: $2"; sync; poweroff -f; sleep 10; }
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mark initramfs
while read -r m; do
  insmod "/lib/modules/$m" || fail virtio-modules "insmod $m failed"
done < /modlist
mark virtio-modules
# hostroot options come from the kernel command line (qzbvm.rootopts=...), default cache=none.
rootopts=
for w in $(cat /proc/cmdline); do
  case $w in qzbvm.rootopts=*) rootopts=${w#qzbvm.rootopts=} ;; esac
done
opts=trans=virtio,version=9p2000.L,msize=512000
i=0
until mount -t 9p -o "$opts,ro${rootopts:+,$rootopts}" hostroot /newroot; do
  i=$((i+1)); [ $i -ge 5 ] && fail hostroot "cannot mount the host root (9p tag hostroot)"; sleep 1
done
mark hostroot
mount -t tmpfs -o mode=0755 run /newroot/run || fail ctl "cannot mount tmpfs on /run"
mkdir -p /newroot/run/qzbvm/ctl
mount -t 9p -o "$opts" qzbctl /newroot/run/qzbvm/ctl || fail ctl "cannot mount the control share (9p tag qzbctl)"
[ -r /newroot/run/qzbvm/ctl/stage2.sh ] || fail ctl "stage2.sh missing from the control share"
[ -x /newroot/bin/sh ] || fail hostroot "/bin/sh missing on the host root"
mark ctl
mount -o move /proc /newroot/proc || fail switch-root "cannot move /proc"
mount -o move /sys /newroot/sys || fail switch-root "cannot move /sys"
mount -o move /dev /newroot/dev || fail switch-root "cannot move /dev"
exec switch_root /newroot /bin/sh /run/qzbvm/ctl/stage2.sh
fail switch-root "switch_root failed"
EOI
chmod 755 "$work/init"

tmp=$(mktemp "$out.tmp.XXXXXX")
(cd "$work" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) > "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$out"
echo "build-initramfs: $out ($kver; modules: $(tr '\n' ' ' < "$work/modlist"))"
