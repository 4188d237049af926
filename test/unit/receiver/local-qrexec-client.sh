#!/bin/sh
# Test stand-in for /usr/lib/qubes/qrexec-client (set QZB_QREXEC_CLIENT to this file): accepts
# "-d QUBE 'root:QUBESRPC qubes.ZfsBackupReceive dom0'" and runs the agent locally, as qrexec would.
[ "$1" = "-d" ] && [ "$3" = "root:QUBESRPC qubes.ZfsBackupReceive dom0" ] || { echo "unexpected qrexec call: $*" >&2; exit 126; }
cd "$(dirname "$0")/../../.." || exit 125
# The built bundle when the caller names one (as qrexec runs it in a real qube), else the sources.
[ -n "$QZB_RECEIVER_BUNDLE" ] && exec node "$QZB_RECEIVER_BUNDLE"
exec node --import tsx receiver/main.ts
