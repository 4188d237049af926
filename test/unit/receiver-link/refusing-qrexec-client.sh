#!/bin/sh
# A qrexec client stand-in that fails at once, like a refused or failed qrexec call.
echo "Request refused" >&2
exit 126
