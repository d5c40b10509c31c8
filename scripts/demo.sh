#!/usr/bin/env bash
# Build Lamina and boot it on QEMU with the demo VMs of configs/demo.json, a
# two-tier service on Debian Linux guests: "web" serves HTTP (BusyBox httpd;
# /cgi-bin/data reads its virtio disk, a slice of the board's disk) and
# "client" fetches that page through Lamina's virtual switch. The switch's
# uplink is the board's network card, so the host reaches web too:
#     curl http://127.0.0.1:8080/cgi-bin/data
# setup.sh installs what is missing, builds Lamina and the Linux guest images
# (images/linux/, once). The board's disk is images/demo-disk.img (made once,
# kept: what web writes survives). The bare-metal test guests:
#     scripts/lamina-run --vms configs/test-guests.json
#
#   scripts/demo.sh [LAMINA-RUN OPTIONS...]    e.g.  scripts/demo.sh --smp 4
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

DISK="$REPO_DIR/images/demo-disk.img"
PORT="${LAMINA_DEMO_PORT:-8080}"

"$REPO_DIR/scripts/setup.sh"
[[ -f $DISK ]] || truncate -s 256M "$DISK"
echo "demo: starting Lamina with the VMs of configs/demo.json (web, client)."
echo "demo: from the host: curl http://127.0.0.1:$PORT/cgi-bin/data"
echo "demo: typing goes to the focused VM; Ctrl-T 1 / Ctrl-T 2 switch, Ctrl-T h helps;" \
  "to quit QEMU press Ctrl-A, then X."
exec "$REPO_DIR/scripts/lamina-run" --vms "$REPO_DIR/configs/demo.json" \
  --forward "$PORT:10.0.2.15:80" --disk "$DISK" "$@"
