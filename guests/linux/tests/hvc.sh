#!/bin/sh
# hvc: the virtio console is the guest's /dev/hvc0, and what the guest
# writes there reaches Lamina's console (prefixed with the VM's name, like
# the PL011's lines).
#   lamina-test: hvc0 says hello        (written to /dev/hvc0)
#   lamina-test: hvc FAIL               (no /dev/hvc0)
if [ -c /dev/hvc0 ]; then
    echo "lamina-test: hvc0 says hello" > /dev/hvc0
else
    echo "lamina-test: hvc FAIL no /dev/hvc0"
fi
