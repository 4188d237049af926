#!/usr/bin/env bash
# Provision what the real-ZFS test VM needs, idempotently and quickly when all is present:
# apt sources (contrib, backports), a Debian kernel + headers, OpenZFS 2.3 (bookworm-backports)
# built by DKMS for that kernel as the system's ZFS, qemu and busybox-static.
#
# ZFS_SERIES=2.1 additionally builds OpenZFS 2.1 (bookworm) *side by side* into the cache
# (test/vm/build-zfs-tree.sh: userland .debs extracted, kernel modules compiled; ~5 min once),
# without replacing the system's 2.3, so VMs of both series can run on one machine at the same
# time (runInVm({ zfsSeries: '2.1' }) or ZFS_SERIES=2.1 in the environment of the test run).
# ZFS_SERIES=2.3 (or unset) needs nothing extra. The initramfs is built by test/vm/prepare.mjs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
series=${ZFS_SERIES:-}
cache=${QZB_VM_CACHE:-/var/cache/qubes-zfs-backup-testvm}
system_series=2.3
export DEBIAN_FRONTEND=noninteractive

case $series in
  '' | "$system_series") series= ;;
  2.1) suite=bookworm ;;
  *) echo "provision: unsupported ZFS_SERIES=$series (2.1 or 2.3)" >&2; exit 2 ;;
esac

src=/etc/apt/sources.list.d/qzb-testvm.sources
need_update=0
if [ ! -f "$src" ]; then
  cat > "$src" <<'EOS'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOS
  need_update=1
fi

have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
# Newest kernel version with a DKMS-built zfs.ko (the one the VM boots; vm.ts picks the same).
zfs_kver() {
  local m
  for m in /lib/modules/*/updates/dkms/zfs.ko*; do
    [ -e "$m" ] || continue
    m=${m#/lib/modules/}; m=${m%%/*}
    [ -e "/boot/vmlinuz-$m" ] && echo "$m"
  done | sort -V | tail -1
}
system_ok() {
  have zfs-dkms && have zfsutils-linux || return 1
  case $(dpkg-query -W -f='${Version}' zfs-dkms) in "$system_series".*) ;; *) return 1 ;; esac
  [ -n "$(zfs_kver)" ]
}
base_ok() {
  local p
  for p in qemu-system-x86 busybox-static cpio kmod xz-utils udev linux-image-amd64 linux-headers-amd64; do
    have "$p" || return 1
  done
}
tree_ok() { [ -z "$series" ] || [ -f "$cache/zfs-$series-$(zfs_kver)/load-order" ]; }

if base_ok && system_ok && tree_ok; then
  echo "provision: everything present (system zfs-dkms $(dpkg-query -W -f='${Version}' zfs-dkms), kernel $(zfs_kver)${series:+, OpenZFS $series tree})"
  exit 0
fi

if ! base_ok || ! system_ok; then
  # apt lists are needed on a fresh machine even when our sources file already exists.
  if [ "$need_update" = 1 ] || [ -z "$(ls /var/lib/apt/lists/*backports* 2>/dev/null)" ]; then
    apt-get update -qq
  fi
  apt-get install -y -qq --no-install-recommends qemu-system-x86 busybox-static cpio kmod xz-utils udev \
    linux-image-amd64 linux-headers-amd64 dkms build-essential >/dev/null
  if ! system_ok; then
    apt-get install -y -qq --no-install-recommends -t bookworm-backports zfs-dkms zfsutils-linux >/dev/null
  fi
  system_ok || { echo "provision: OpenZFS $system_series not usable after install (did DKMS build zfs.ko for a kernel in /boot?)" >&2; exit 1; }
fi

if ! tree_ok; then
  kver=$(zfs_kver)
  mkdir -p "$cache"
  bash "$here/build-zfs-tree.sh" "$suite" "$kver" "$cache/zfs-$series-$kver"
fi
echo "provision: done (system zfs-dkms $(dpkg-query -W -f='${Version}' zfs-dkms), kernel $(zfs_kver)${series:+, OpenZFS $series tree in $cache/zfs-$series-$(zfs_kver)})"
