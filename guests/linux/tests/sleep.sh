#!/bin/sh
# sleep: `sleep 5` must take 5 s of guest time, within 10 %. The clock is
# /proc/uptime (CLOCK_BOOTTIME, which is CLOCK_MONOTONIC here: no suspend;
# 10 ms steps) read with the shell's builtin `read`, so that taking the
# time costs no process start: only the `sleep` process itself is timed.
#   lamina-test: sleep_ms <n>
#   lamina-test: sleep PASS | FAIL

# Sets NOW_MS from "<seconds>.<centiseconds>" (the 1-prefix keeps "08" decimal).
now_ms() {
    read -r uptime _ < /proc/uptime
    NOW_MS=$(( ${uptime%.*} * 1000 + (1${uptime#*.} - 100) * 10 ))
}

now_ms
start_ms=$NOW_MS
sleep 5
now_ms
ms=$((NOW_MS - start_ms))
echo "lamina-test: sleep_ms $ms"
if [ "$ms" -ge 4500 ] && [ "$ms" -le 5500 ]; then
    echo "lamina-test: sleep PASS"
else
    echo "lamina-test: sleep FAIL"
fi
