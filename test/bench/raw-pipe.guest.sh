#!/bin/bash
# Baseline of the large-volume send benchmark, in the test VM (real OpenZFS):
#   node --import tsx test/vm/exec.ts --timeout 900 --cwd /tmp -- bash "$PWD/test/bench/raw-pipe.guest.sh"
#   (SIZE_MIB=N via --env SIZE_MIB=N; REPS=N repetitions, default 2)
# A SIZE_MIB zvol of incompressible data, snapshotted; then timed (bash `time`: wall, user, sys of the
# whole pipeline) `zfs send` into /dev/null, the raw `zfs send | zfs receive` pipe between two pools,
# and the same pipe through `cat`, through a node pass-through, and through dom0's own startZfsSend
# (forward.guest.ts: its line reports the transfer without node's start-up).
# Prints `name: value unit` lines.
set -eu
export LC_ALL=C
SIZE_MIB=${SIZE_MIB:-256}
REPS=${REPS:-2}
mkdir -p /tmp/img /tmp/mnt
truncate -s $((SIZE_MIB * 2 + 512))M /tmp/img/bsrc.img /tmp/img/bdst.img
zpool create -R /tmp/mnt -O mountpoint=none bsrc /tmp/img/bsrc.img
zpool create -R /tmp/mnt -O mountpoint=none bdst /tmp/img/bdst.img
zfs create -V ${SIZE_MIB}M bsrc/vol
udevadm settle
s=$(date +%s%N)
dd if=/dev/urandom of=/dev/zvol/bsrc/vol bs=1M count="$SIZE_MIB" conv=fsync status=none
zfs snapshot bsrc/vol@a
zpool sync bsrc
echo "fill: $(( ($(date +%s%N) - s) / 1000000 )) ms"
echo "stream: $(zfs send -n -v -P -L -c -e bsrc/vol@a | awk '$1 == "size" { print $2 }') bytes (estimate)"
TIMEFORMAT='%R %U %S'
measure() { # NAME COMMAND...: prints NAME wall/user/sys
  local name=$1; shift
  local t
  t=$( { time "$@" >/dev/null 2>/tmp/bench.err; } 2>&1 ) || { echo "$name: FAILED $(cat /tmp/bench.err)"; return 1; }
  set -- $t
  echo "$name: wall $1 s, user $2 s, sys $3 s"
}
node_pass='process.stdin.pipe(process.stdout)'
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
for r in $(seq 1 "$REPS"); do
  measure "send-devnull[$r]" sh -c 'zfs send -L -c -e bsrc/vol@a >/dev/null'
  measure "raw-pipe[$r]" sh -c 'zfs send -L -c -e bsrc/vol@a | zfs receive -s -u -o volmode=none bdst/vol'
  zfs destroy -r bdst/vol
  measure "cat-pipe[$r]" sh -c 'zfs send -L -c -e bsrc/vol@a | cat | zfs receive -s -u -o volmode=none bdst/vol'
  zfs destroy -r bdst/vol
  measure "node-pipe[$r]" sh -c "zfs send -L -c -e bsrc/vol@a | node -e '$node_pass' | zfs receive -s -u -o volmode=none bdst/vol"
  zfs destroy -r bdst/vol
  t=$( { time (cd "$ROOT" && node --import tsx test/bench/forward.guest.ts bsrc/vol@a bdst/vol >/tmp/fwd.out 2>/tmp/bench.err); } 2>&1 ) || { echo "node-forward[$r]: FAILED $(cat /tmp/bench.err)"; exit 1; }
  set -- $t
  echo "node-forward[$r]: $(cat /tmp/fwd.out); whole process incl. start-up: wall $1 s, user $2 s, sys $3 s"
  zfs destroy -r bdst/vol
done
echo "node-startup: $( { time node -e 0; } 2>&1 | cut -d' ' -f1) s"
zfs version | head -1
