#!/bin/sh
# http_unreachable: the service of lamina.fetch= must NOT answer this VM
# (it sits on a network of its own). Tries for about 30 s, like a client that
# keeps retrying, and checks that no ARP answer ever arrived either.
#   lamina-test: http_unreachable PASS | FAIL
url=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^lamina\.fetch=//p')
host=${url#http://}
host=${host%%/*}
tries=0
while [ "$tries" -lt 5 ]; do
    if timeout 5 wget -q -O /dev/null "$url" 2>/dev/null; then
        echo "lamina-test: FAIL reached $url from another network"
        echo "lamina-test: http_unreachable FAIL"
        exit 0
    fi
    tries=$((tries + 1))
    sleep 1
done
if ip neigh show "$host" | grep -q lladdr; then
    echo "lamina-test: FAIL learned a MAC for $host: $(ip neigh show "$host")"
    echo "lamina-test: http_unreachable FAIL"
else
    echo "lamina-test: http_unreachable PASS"
fi
