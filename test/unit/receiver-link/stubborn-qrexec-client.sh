#!/bin/sh
# A qrexec client stand-in that ignores stdin EOF and SIGTERM, to test the SIGKILL step.
trap '' TERM
while :; do sleep 1; done
