#!/bin/sh
# cpu_burn: one busy loop per online CPU for ~3 s of guest time, not pinned,
# so the kernel's scheduler must spread them. Every CPU must have spent at
# least half of the elapsed time busy (user + nice + system jiffies of
# /proc/stat; USER_HZ is 100, so a jiffy here is 10 ms).
#   lamina-test: cpu_burn cpus <n> elapsed_jiffies <n>
#   lamina-test: cpu<i> busy_jiffies <n>        (per CPU)
#   lamina-test: cpu_burn PASS | FAIL
BURN_S=3

# CLOCK_MONOTONIC in ms ("now at <ns> nsecs"), else /proc/uptime.
now_ms() {
    if [ -r /proc/timer_list ]; then
        awk '/^now at/ { printf "%d\n", $3 / 1000000; exit }' /proc/timer_list
    else
        awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
    fi
}

busy_jiffies() {
    awk '/^cpu[0-9]+ / { print substr($1, 4), $2 + $3 + $4 }' /proc/stat
}

cpus=$(nproc)
pids=
i=0
while [ "$i" -lt "$cpus" ]; do
    ( while :; do :; done ) &
    pids="$pids $!"
    i=$((i + 1))
done

start_ms=$(now_ms)
busy_jiffies > /tmp/cpu_burn.before
sleep "$BURN_S"
busy_jiffies > /tmp/cpu_burn.after
end_ms=$(now_ms)
kill $pids
wait 2>/dev/null

elapsed=$(( (end_ms - start_ms) / 10 ))
echo "lamina-test: cpu_burn cpus $cpus elapsed_jiffies $elapsed"
verdict=PASS
while read -r cpu before; do
    after=$(awk -v c="$cpu" '$1 == c { print $2 }' /tmp/cpu_burn.after)
    busy=$((after - before))
    echo "lamina-test: cpu$cpu busy_jiffies $busy"
    [ $((busy * 2)) -ge "$elapsed" ] || verdict=FAIL
done < /tmp/cpu_burn.before
[ "$(wc -l < /tmp/cpu_burn.before)" -eq "$cpus" ] || verdict=FAIL
echo "lamina-test: cpu_burn $verdict"
