#!/usr/bin/env bash
# Build Lamina and boot it with a few demo VMs (configs/demo.json) on QEMU.
#
#   scripts/demo.sh [LAMINA-RUN OPTIONS...]    e.g.  scripts/demo.sh --smp 4
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

"$REPO_DIR/scripts/setup.sh"
echo "demo: starting Lamina with the VMs of configs/demo.json; to quit QEMU press Ctrl-A, then X."
exec "$REPO_DIR/scripts/lamina-run" --vms "$REPO_DIR/configs/demo.json" "$@"
