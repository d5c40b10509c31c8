#!/bin/sh
# disk_ram: the RAM-backed disk given in lamina.ramdisk= (e.g. vdb) takes a
# pattern and reads it back intact (page cache dropped in between).
#   lamina-test: disk_ram PASS | FAIL
dev=/dev/$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^lamina\.ramdisk=//p')
verdict=PASS
if [ ! -b "$dev" ]; then
    echo "lamina-test: FAIL no block device $dev"
    echo "lamina-test: disk_ram FAIL"
    exit 0
fi
head -c 1048576 /dev/urandom > /tmp/pattern
dd if=/tmp/pattern of="$dev" bs=65536 conv=fsync 2>/dev/null || verdict=FAIL
echo 3 > /proc/sys/vm/drop_caches
dd if="$dev" of=/tmp/back bs=65536 count=16 2>/dev/null || verdict=FAIL
if ! cmp -s /tmp/pattern /tmp/back; then
    echo "lamina-test: FAIL read back differs from what was written"
    verdict=FAIL
fi
echo "lamina-test: disk_ram size $(blockdev --getsize64 "$dev")"
echo "lamina-test: disk_ram $verdict"
