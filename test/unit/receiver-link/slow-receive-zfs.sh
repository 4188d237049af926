#!/bin/bash
# fake-zfs.sh with a slow `zfs receive` (64 KiB per 10 ms), so dom0 meets backpressure.
case "$*" in
  "receive -s -u "*) while [ "$(head -c 65536 | wc -c)" -gt 0 ]; do sleep 0.01; done; exit 0 ;;
esac
exec "$(dirname "$0")/fake-zfs.sh" "$@"
