#!/bin/sh
# steal: Lamina's stolen time (Arm PV time) reaches the guest's CPU
# accounting. A busy loop keeps this VM's vCPU runnable for ~5 s of guest
# time; while Lamina runs another VM on the CPU instead, the kernel reads the
# time it lost from its stolen-time record and accounts it as steal. Reads
# the steal column of the `cpu` line of /proc/stat (the 8th number; USER_HZ
# is 100: a tick is 10 ms) 1 s into the loop and 4 s later. PASS when it
# grew, which needs another VM busy on the same CPU meanwhile.
#   lamina-test: steal pv_time <yes|no>   (the kernel said "using stolen time PV")
#   lamina-test: steal_ticks <n>
#   lamina-test: steal PASS | FAIL
BURN_S=4

steal_ticks() { awk '$1 == "cpu" { print $9 }' /proc/stat; }

if dmesg | grep -q "using stolen time PV"; then
    echo "lamina-test: steal pv_time yes"
else
    echo "lamina-test: steal pv_time no"
fi

( while :; do :; done ) &
burner=$!
sleep 1
before=$(steal_ticks)
sleep "$BURN_S"
after=$(steal_ticks)
kill "$burner"
wait 2>/dev/null

steal=$((after - before))
echo "lamina-test: steal_ticks $steal"
if [ "$steal" -gt 0 ]; then
    echo "lamina-test: steal PASS"
else
    echo "lamina-test: steal FAIL"
fi
