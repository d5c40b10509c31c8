#!/bin/sh
# reboot: the kernel resets the VM (PSCI SYSTEM_RESET); Lamina restarts it
# from its images, which boots this test again (a reboot loop).
echo "lamina-test: rebooting"
sync
reboot -f
