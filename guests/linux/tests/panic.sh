#!/bin/sh
# panic: crash the kernel on purpose (SysRq c). With panic=-1 on the kernel
# command line it resets at once (PSCI SYSTEM_RESET); Lamina restarts the VM,
# which boots this test again (a panic loop).
echo "lamina-test: triggering a kernel panic"
sync
echo c > /proc/sysrq-trigger
echo "lamina-test: FAIL still running after the SysRq crash"
