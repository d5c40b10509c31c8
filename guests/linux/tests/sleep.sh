#!/bin/sh
# sleep: `sleep 5` must take 5 s of guest time, within 10 %, measured on
# CLOCK_MONOTONIC (/proc/timer_list; /proc/uptime if that is missing).
#   lamina-test: sleep_ms <n>
#   lamina-test: sleep PASS | FAIL
now_ms() {
    if [ -r /proc/timer_list ]; then
        awk '/^now at/ { printf "%d\n", $3 / 1000000; exit }' /proc/timer_list
    else
        awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
    fi
}

start_ms=$(now_ms)
sleep 5
end_ms=$(now_ms)
ms=$((end_ms - start_ms))
echo "lamina-test: sleep_ms $ms"
if [ "$ms" -ge 4500 ] && [ "$ms" -le 5500 ]; then
    echo "lamina-test: sleep PASS"
else
    echo "lamina-test: sleep FAIL"
fi
