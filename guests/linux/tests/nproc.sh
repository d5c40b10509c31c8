#!/bin/sh
# nproc: how many CPUs the guest kernel brought online.
echo "lamina-test: nproc $(nproc)"
