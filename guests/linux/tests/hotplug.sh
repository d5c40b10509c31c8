#!/bin/sh
# hotplug: takes vCPU 1 offline and back online through Linux's CPU hotplug
# (PSCI CPU_OFF, then CPU_ON), checking what the kernel reports each time.
cpu=/sys/devices/system/cpu/cpu1/online
if [ ! -w "$cpu" ]; then
    echo "lamina-test: hotplug FAIL no $cpu"
    exit 0
fi
echo 0 > "$cpu" || { echo "lamina-test: hotplug FAIL offline refused"; exit 0; }
echo "lamina-test: hotplug offline, nproc $(nproc)"
echo 1 > "$cpu" || { echo "lamina-test: hotplug FAIL online refused"; exit 0; }
echo "lamina-test: hotplug online, nproc $(nproc)"
[ "$(nproc)" = 2 ] && echo "lamina-test: hotplug PASS" || echo "lamina-test: hotplug FAIL"
