#!/bin/sh
# A fake `zfs`/`zpool` for the process-plumbing test (QZB_ZFS / QZB_ZPOOL): answers hello's
# questions and an empty inventory under backup/qzb; logs its argv and environment keys to
# /tmp/qzb-fake-zfs.log (the agent gives zfs no other variable that could say where).
log=/tmp/qzb-fake-zfs.log
{ printf '%s\n' "$*"; env | cut -d= -f1 | grep -v '^PWD$' | sort | tr '\n' ' '; echo; } >> "$log"
case "$*" in
  version) printf 'zfs-2.3.2-1\nzfs-kmod-2.3.2-1\n' ;;
  "get -H -p -o property,value type,encryption,keystatus backup/qzb") printf 'type\tfilesystem\nencryption\toff\nkeystatus\t-\n' ;;
  "get -H -p -o property,value all backup") printf 'size\t1\nfeature@extensible_dataset\tactive\n' ;;
  "list -H -p -r -t filesystem,volume "*) printf 'backup/qzb\tfilesystem\t5\t2\t-\toff\t-\t-\t-\t24576\n' ;;
  "list -H -p -r -t snapshot,bookmark "*) ;;
  "receive -s -u "*) exec cat > /dev/null ;;
  "create -o canmount=off "*) ;;
  "get -H -p -o value type "*) exit 1 ;;
  "get -H -p -o value receive_resume_token "*) echo '1-abc-10-789c' ;;
  *) echo "fake zfs: unexpected $*" >&2; exit 2 ;;
esac
