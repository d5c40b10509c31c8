#!/bin/sh
# idle: the witness. Prints one line, then a tick every second of guest
# time, forever. A VM starved of CPU sees its guest time run on without it:
# a tick more than 3 s after the one before is noted, not failed, since on
# an overloaded TCG host the `sleep` process each tick starts can take
# seconds too (5.6 s gaps seen with a load of 10 on two cores).
#   lamina-test: idle
#   lamina-test: alive 1
#   lamina-test: alive 2 ...
#   lamina-test: note: alive <n> came <ms> ms after the one before

# Sets NOW_MS from /proc/uptime ("<seconds>.<centiseconds>"), without
# starting a process (the 1-prefix keeps "08" decimal).
now_ms() {
    read -r uptime _ < /proc/uptime
    NOW_MS=$(( ${uptime%.*} * 1000 + (1${uptime#*.} - 100) * 10 ))
}

echo "lamina-test: idle"
n=0
now_ms
last_ms=$NOW_MS
while :; do
    sleep 1
    n=$((n + 1))
    now_ms
    echo "lamina-test: alive $n"
    if [ $((NOW_MS - last_ms)) -gt 3000 ]; then
        echo "lamina-test: note: alive $n came $((NOW_MS - last_ms)) ms after the one before"
    fi
    last_ms=$NOW_MS
done
