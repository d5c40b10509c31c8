#!/usr/bin/env bash
# Build Lamina and boot it on QEMU with the demo VMs of configs/demo.json:
# two Debian Linux guests, linux1 and linux2 (2 vCPUs, 256 MiB each), each to
# a shell on the console. setup.sh installs what is missing, builds Lamina
# and the Linux guest images (images/linux/, once). The bare-metal test
# guests: scripts/lamina-run --vms configs/test-guests.json
#
#   scripts/demo.sh [LAMINA-RUN OPTIONS...]    e.g.  scripts/demo.sh --smp 4
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

"$REPO_DIR/scripts/setup.sh"
echo "demo: starting Lamina with the VMs of configs/demo.json (linux1, linux2)."
echo "demo: typing goes to the focused VM; Ctrl-T 1 / Ctrl-T 2 switch, Ctrl-T h helps;" \
  "to quit QEMU press Ctrl-A, then X."
exec "$REPO_DIR/scripts/lamina-run" --vms "$REPO_DIR/configs/demo.json" "$@"
