#!/bin/sh
# disk_persist: data written and synced to the VM's disk (/data, from
# lamina.disk=) survives a reboot of the VM. First boot: write a token,
# sync, reboot at once (reboot -f: no further flushing). Second boot: the
# token is there.
#   lamina-test: disk token written <token>
#   lamina-test: disk token <token> survived the reboot
#   lamina-test: disk_persist PASS | FAIL
if ! grep -q " /data " /proc/mounts; then
    echo "lamina-test: FAIL no disk on /data"
    echo "lamina-test: disk_persist FAIL"
    exit 0
fi
if [ -s /data/token ]; then
    token=$(sed -n 's/^lamina-persist-marker //p' /data/token)
    echo "lamina-test: disk token $token survived the reboot"
    echo "lamina-test: disk_persist PASS"
    exit 0
fi
token=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "lamina-persist-marker $token" > /data/token
sync
echo "lamina-test: disk token written $token"
reboot -f
