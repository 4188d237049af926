#!/bin/sh
# A qrexec client stand-in for a receiver qube that is not running: what the real client prints and
# its exit status (125, it cannot connect to the qube's qrexec socket).
echo "qrexec-client[1]: qrexec-daemon-common.c:268:connect_unix_socket: connect /var/run/qubes/qrexec.backup-vm: No such file or directory" >&2
exit 125
