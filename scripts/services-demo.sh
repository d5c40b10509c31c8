#!/usr/bin/env bash
# The autoscaling demo (docs/services.md): Lamina boots with the service
# "web" of configs/services.json, a CPU-bound CGI (/cgi-bin/work) whose
# replicas are 1-vCPU Linux VMs capped at half a core. lamina-load drives it
# from the host through the uplink's forwarded port with a step load (1, then
# 7, then 1 request per second), and `lamina top` shows the replicas
# following the load; the scaling decisions and the client's view are
# printed at the end.
#
#   scripts/services-demo.sh [LAMINA-RUN OPTIONS...]
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="$REPO_DIR/build"
PORT="${LAMINA_DEMO_PORT:-8080}"
SCHEDULE="${LAMINA_DEMO_SCHEDULE:-1:20,7:60,1:60}"
STATE="$(mktemp -d -t lamina-services-demo.XXXXXX)"
SOCKET="$STATE/lamina.sock"
LAMINA=("$BUILD_DIR/tools/cli/lamina" --socket "$SOCKET")

cleanup() {
    [[ -n ${QEMU_PID:-} ]] && kill "$QEMU_PID" 2>/dev/null || true
    [[ -n ${LOAD_PID:-} ]] && kill "$LOAD_PID" 2>/dev/null || true
}
trap cleanup EXIT

"$REPO_DIR/scripts/setup.sh"
echo "demo: Lamina's console goes to $STATE/console.log"
"$REPO_DIR/scripts/lamina-run" --vms "$REPO_DIR/configs/services.json" --forward "$PORT:10.0.2.50:80" \
    --management "$SOCKET" "$@" </dev/null >"$STATE/console.log" 2>&1 &
QEMU_PID=$!

echo "demo: waiting for the first replica of web to answer on port 80"
for _ in $(seq 180); do
    grep -q "replica_ready web-1" "$STATE/console.log" 2>/dev/null && break
    kill -0 "$QEMU_PID" 2>/dev/null || { tail "$STATE/console.log"; exit 1; }
    sleep 1
done
grep -q "replica_ready web-1" "$STATE/console.log" || { echo "demo: web-1 never became ready"; exit 1; }

echo "demo: load $SCHEDULE (requests per second : seconds) on http://127.0.0.1:$PORT/cgi-bin/work"
"$BUILD_DIR/tools/loadgen/lamina-load" "http://127.0.0.1:$PORT/cgi-bin/work?n=2500" --schedule "$SCHEDULE" \
    --timeout 120 >"$STATE/load.log" 2>&1 &
LOAD_PID=$!
seconds=$(tr ',' '\n' <<<"$SCHEDULE" | awk -F: '{ total += $2 } END { print total + 30 }')
"${LAMINA[@]}" top --iterations "$seconds" --interval 1 || true
wait "$LOAD_PID" || true
LOAD_PID=

echo
echo "demo: what the autoscaler decided (lamina scaling-log):"
"${LAMINA[@]}" scaling-log || grep "lamina: service" "$STATE/console.log"
echo
echo "demo: what the client saw (lamina-load):"
tail -n 25 "$STATE/load.log"
