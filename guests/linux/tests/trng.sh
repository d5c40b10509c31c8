#!/bin/sh
# trng: Lamina's SMCCC TRNG as the kernel's hardware random number
# generator. arm_smccc_trng registers "smccc_trng" with hw_random (the
# kernel found the TRNG at boot); 64 bytes are read from /dev/hwrng twice.
# PASS when smccc_trng is available and both reads gave 64 bytes that
# differ.
#   lamina-test: trng rng_available <names>
#   lamina-test: trng bytes <n> <n>
#   lamina-test: trng first <the first 16 bytes, hex>
#   lamina-test: trng PASS | FAIL
hw_random=/sys/class/misc/hw_random
verdict=PASS
modprobe arm_smccc_trng || { echo "lamina-test: FAIL modprobe arm_smccc_trng"; verdict=FAIL; }
available=$(cat "$hw_random/rng_available" 2>/dev/null)
echo "lamina-test: trng rng_available $available"
case " $available " in
    *" smccc_trng "*) echo smccc_trng > "$hw_random/rng_current" ;;
    *) echo "lamina-test: FAIL no smccc_trng in rng_available"; verdict=FAIL ;;
esac

head -c 64 /dev/hwrng > /tmp/trng.1 2>/dev/null
head -c 64 /dev/hwrng > /tmp/trng.2 2>/dev/null
first=$(wc -c < /tmp/trng.1)
second=$(wc -c < /tmp/trng.2)
echo "lamina-test: trng bytes $first $second"
echo "lamina-test: trng first $(od -An -tx1 -N16 /tmp/trng.1 | tr -d ' \n')"
[ "$first" -eq 64 ] && [ "$second" -eq 64 ] || verdict=FAIL
if cmp -s /tmp/trng.1 /tmp/trng.2; then
    echo "lamina-test: FAIL two reads gave the same bytes"
    verdict=FAIL
fi
echo "lamina-test: trng $verdict"
