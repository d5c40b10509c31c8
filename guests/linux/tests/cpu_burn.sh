#!/bin/sh
# cpu_burn: one busy loop per online CPU for ~3 s of guest time, not pinned,
# so the kernel's scheduler must spread them. Per CPU, from /proc/stat
# (USER_HZ is 100: a jiffy is 10 ms), busy = user + nice + system jiffies,
# accounted = the jiffies of all its states (busy, idle, iowait, irq,
# softirq, steal). PASS when every CPU was busy
#   - for at least half of its accounted time: the loops kept it busy
#     (an idle CPU accounts its time as idle), and
#   - for at least a tenth of the elapsed time (/proc/uptime): it ran.
# Why not half of the elapsed time: Linux accounts one tick per timer
# interrupt, so time the host does not run the vCPU's thread (TCG on a
# loaded machine, which Lamina's steal time does not see) is accounted nowhere.
# Busy was 60-80 % of elapsed under `ctest -j2`, down to 23 % on a host
# with a load of 7-10 on two cores, while ~100 % of accounted throughout.
#   lamina-test: cpu_burn cpus <n> elapsed_jiffies <n>
#   lamina-test: cpu<i> busy_jiffies <n>        (per CPU)
#   lamina-test: cpu<i> accounted_jiffies <n>   (per CPU)
#   lamina-test: cpu_burn PASS | FAIL
BURN_S=3

# Sets NOW_MS from /proc/uptime ("<seconds>.<centiseconds>"), without
# starting a process (the 1-prefix keeps "08" decimal).
now_ms() {
    read -r uptime _ < /proc/uptime
    NOW_MS=$(( ${uptime%.*} * 1000 + (1${uptime#*.} - 100) * 10 ))
}

# "<cpu> <busy> <accounted>" per CPU.
cpu_jiffies() {
    awk '/^cpu[0-9]+ / { print substr($1, 4), $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

cpus=$(nproc)
pids=
i=0
while [ "$i" -lt "$cpus" ]; do
    ( while :; do :; done ) &
    pids="$pids $!"
    i=$((i + 1))
done

now_ms
start_ms=$NOW_MS
cpu_jiffies > /tmp/cpu_burn.before
sleep "$BURN_S"
cpu_jiffies > /tmp/cpu_burn.after
now_ms
end_ms=$NOW_MS
# shellcheck disable=SC2086 # one word per pid
kill $pids
wait 2>/dev/null

elapsed=$(( (end_ms - start_ms) / 10 ))
echo "lamina-test: cpu_burn cpus $cpus elapsed_jiffies $elapsed"
verdict=PASS
while read -r cpu busy_before accounted_before; do
    read -r busy_after accounted_after <<EOF
$(awk -v c="$cpu" '$1 == c { print $2, $3 }' /tmp/cpu_burn.after)
EOF
    busy=$((busy_after - busy_before))
    accounted=$((accounted_after - accounted_before))
    echo "lamina-test: cpu$cpu busy_jiffies $busy"
    echo "lamina-test: cpu$cpu accounted_jiffies $accounted"
    [ $((busy * 2)) -ge "$accounted" ] || verdict=FAIL
    [ $((busy * 10)) -ge "$elapsed" ] || verdict=FAIL
done < /tmp/cpu_burn.before
[ "$(wc -l < /tmp/cpu_burn.before)" -eq "$cpus" ] || verdict=FAIL
echo "lamina-test: cpu_burn $verdict"
