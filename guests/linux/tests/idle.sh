#!/bin/sh
# idle: the witness. Prints one line, then a tick every second of guest
# time, forever; a gap in the ticks means this VM was starved.
#   lamina-test: idle
#   lamina-test: alive 1
#   lamina-test: alive 2 ...
echo "lamina-test: idle"
n=0
while :; do
    sleep 1
    n=$((n + 1))
    echo "lamina-test: alive $n"
done
