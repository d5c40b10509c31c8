#!/bin/sh
# modules: load every module the initramfs ships (modules.list, in load
# order, each through modprobe and modules.dep) and check /proc/modules.
#   lamina-test: modules loaded <n> of <m>
#   lamina-test: modules PASS | FAIL
dir=/lib/modules/$(uname -r)
verdict=PASS
if [ ! -s "$dir/modules.list" ]; then
    echo "lamina-test: FAIL no $dir/modules.list"
    echo "lamina-test: modules FAIL"
    exit 0
fi
wanted=0
loaded=0
# shellcheck disable=SC2013 # one module name per line
for module in $(cat "$dir/modules.list"); do
    wanted=$((wanted + 1))
    modprobe "$module" || { echo "lamina-test: FAIL modprobe $module"; verdict=FAIL; }
    if grep -q "^$module " /proc/modules; then
        loaded=$((loaded + 1))
    else
        echo "lamina-test: FAIL $module not loaded"
        verdict=FAIL
    fi
done
echo "lamina-test: modules loaded $loaded of $wanted"
echo "lamina-test: modules $verdict"
