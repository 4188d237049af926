#!/bin/bash
# Build a side-by-side OpenZFS tree for the test VM, without touching the system's installed zfs:
# the userland .debs of one Debian OpenZFS version extracted into <dest>/root, and its kernel
# modules built from the zfs-dkms source for <kver> into <dest>/modules with a load order.
# The VM overlays <dest>/root on the host's /usr/{sbin,bin,lib/x86_64-linux-gnu} and loads these
# modules instead of the DKMS ones (see guest-stage2.sh). Used for ZFS_SERIES=2.1 (bookworm),
# while the system keeps 2.3 from bookworm-backports.
#
#   build-zfs-tree.sh <debian-suite> <kver> <dest>     e.g. bookworm 6.1.0-56-amd64 /var/cache/.../zfs-2.1
#
# Writes <dest> atomically (builds in <dest>.tmp.*, renames); <dest>/VERSION names the version.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 <debian-suite> <kver> <dest>" >&2; exit 2; }
suite=$1 kver=$2 dest=$3
build=/lib/modules/$kver/build
[ -d "$build" ] || { echo "build-zfs-tree: $build missing (install linux-headers-$kver)" >&2; exit 1; }

# The version the suite offers (apt-cache madison: "pkg | version | url suite/component arch ...").
version=$(apt-cache madison zfs-dkms | awk -F' [|] ' -v s=" $suite/" 'index($3, s) {print $2; exit}')
[ -n "$version" ] || { echo "build-zfs-tree: no zfs-dkms in $suite (apt-get update? contrib enabled?)" >&2; exit 1; }
upstream=${version%%-*}

mkdir -p "$(dirname "$dest")"
work=$(mktemp -d "$dest.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
mkdir -p "$work/debs" "$work/root" "$work/modules"
pkgs="zfs-dkms zfsutils-linux libzfs4linux libzpool5linux libnvpair3linux libuutil3linux"
case $upstream in
  2.1.*) ;;
  *) pkgs="zfs-dkms zfsutils-linux libzfs6linux libzpool6linux libnvpair3linux libuutil3linux" ;;
esac
args=()
for p in $pkgs; do args+=("$p=$version"); done
(cd "$work/debs" && apt-get download -qq -o APT::Sandbox::User=root "${args[@]}")
for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$work/root"; done
# Merge /sbin, /bin, /lib into /usr like the host's merged-/usr layout, so the guest can overlay
# <dest>/root/usr/{sbin,bin,lib/x86_64-linux-gnu} on the host's directories.
for d in sbin bin lib; do
  if [ -d "$work/root/$d" ] && [ ! -L "$work/root/$d" ]; then
    mkdir -p "$work/root/usr/$d"
    cp -a "$work/root/$d/." "$work/root/usr/$d/"
    rm -rf "${work:?}/root/$d"
  fi
done

src=$work/root/usr/src/zfs-$upstream
[ -d "$src" ] || { echo "build-zfs-tree: $src missing from zfs-dkms" >&2; exit 1; }
linux=$build
[ -e "${build%build}source" ] && linux=${build%build}source
echo "build-zfs-tree: building OpenZFS $version kernel modules for $kver (takes minutes)"
(
  cd "$src"
  ./configure -q --disable-dependency-tracking --prefix=/usr --with-config=kernel \
    --with-linux="$linux" --with-linux-obj="$build" >"$work/configure.log" 2>&1 \
    || { tail -30 "$work/configure.log" >&2; exit 1; }
  make -s -C module -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; exit 1; }
)
find "$src/module" -name '*.ko' -exec cp {} "$work/modules/" \;
strip --strip-debug "$work"/modules/*.ko   # as DKMS does; 10x smaller, faster to load over 9p
rm -rf "$src" "$work/root/usr/src"

# Load order: kernel modules they need (loaded with modprobe), then ours in dependency order.
ours=$(cd "$work/modules" && ls -- *.ko | sed 's/\.ko$//')
: > "$work/load-order"
declare -A done_=()
visit() {
  local m=$1 d
  [ -n "${done_[$m]:-}" ] && return
  done_[$m]=1
  for d in $(modinfo -F depends "$work/modules/$m.ko" | tr ',' ' '); do
    if [ -f "$work/modules/$d.ko" ]; then visit "$d"; else echo "modprobe $d" >> "$work/load-order"; fi
  done
  echo "insmod $m.ko" >> "$work/load-order"
}
for m in spl $ours; do [ -f "$work/modules/$m.ko" ] && visit "$m"; done
grep -q '^insmod zfs.ko$' "$work/load-order" || { echo "build-zfs-tree: zfs.ko was not built" >&2; exit 1; }
echo "$version" > "$work/VERSION"
rm -rf "$work/debs" "$work/configure.log" "$work/make.log"

rm -rf "$dest.old"
[ -e "$dest" ] && mv "$dest" "$dest.old"
mv "$work" "$dest"
trap - EXIT
rm -rf "$dest.old"
chmod -R a+rX "$dest"
echo "build-zfs-tree: $dest (OpenZFS $version for $kver: $(grep -c '^insmod' "$dest/load-order") modules)"
