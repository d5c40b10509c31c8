#!/bin/sh
# poweroff: the kernel powers the VM off (PSCI SYSTEM_OFF); Lamina destroys it.
echo "lamina-test: powering off"
sync
poweroff -f
