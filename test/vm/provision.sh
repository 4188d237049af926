#!/usr/bin/env bash
# Provision what the real-ZFS test VM needs, idempotently: apt sources (contrib, backports),
# a Debian kernel + headers, OpenZFS built by DKMS for that kernel, qemu and busybox.
# ZFS_SERIES=2.3 (default, bookworm-backports) or 2.1 (bookworm). Installs system-wide; the
# initramfs is built by test/vm/build-initramfs.sh into the cache directory ($QZB_VM_CACHE).
set -euo pipefail
series=${ZFS_SERIES:-2.3}
export DEBIAN_FRONTEND=noninteractive

need_update=0
src=/etc/apt/sources.list.d/qzb-testvm.sources
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
zfs_ok() {
  have zfs-dkms || return 1
  local v; v=$(dpkg-query -W -f='${Version}' zfs-dkms)
  case "$v" in "$series".*) ;; *) return 1;; esac
  ls /lib/modules/*/updates/dkms/zfs.ko* >/dev/null 2>&1
}

if have qemu-system-x86 && have busybox-static && have linux-image-amd64 && have linux-headers-amd64 && zfs_ok; then
  echo "provision: everything present (zfs-dkms $(dpkg-query -W -f='${Version}' zfs-dkms))"
  exit 0
fi

# apt lists are needed on a fresh machine even when our sources file already exists.
if [ "$need_update" = 1 ] || [ -z "$(ls /var/lib/apt/lists/*backports* 2>/dev/null)" ]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends qemu-system-x86 busybox-static cpio kmod \
  linux-image-amd64 linux-headers-amd64 dkms build-essential >/dev/null
if [ "$series" = 2.3 ]; then
  apt-get install -y -qq --no-install-recommends -t bookworm-backports zfs-dkms zfsutils-linux >/dev/null
else
  apt-get install -y -qq --no-install-recommends --allow-downgrades zfs-dkms/bookworm zfsutils-linux/bookworm libzfs4linux/bookworm libnvpair3linux/bookworm libuutil3linux/bookworm libzpool5linux/bookworm >/dev/null
fi
ls /lib/modules/*/updates/dkms/zfs.ko* >/dev/null 2>&1 || { echo "provision: DKMS did not build zfs.ko" >&2; exit 1; }
echo "provision: done (zfs-dkms $(dpkg-query -W -f='${Version}' zfs-dkms))"
