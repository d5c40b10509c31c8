#!/bin/sh
# http_fetch: GET the URL of lamina.fetch= (another VM's service, through
# Lamina's switch), retrying for up to 60 s while that VM boots.
#   lamina-test: fetched: <each line of the body>
#   lamina-test: http_fetch PASS | FAIL
url=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^lamina\.fetch=//p')
if [ -z "$url" ]; then
    echo "lamina-test: FAIL no lamina.fetch= on the command line"
    echo "lamina-test: http_fetch FAIL"
    exit 0
fi
tries=0
while [ "$tries" -lt 60 ]; do
    if body=$(timeout 10 wget -q -O - "$url" 2>/dev/null) && [ -n "$body" ]; then
        echo "$body" | while IFS= read -r line; do echo "lamina-test: fetched: $line"; done
        echo "lamina-test: http_fetch PASS"
        exit 0
    fi
    tries=$((tries + 1))
    sleep 1
done
echo "lamina-test: http_fetch FAIL (no answer from $url)"
