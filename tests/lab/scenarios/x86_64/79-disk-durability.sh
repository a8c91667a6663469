#!/bin/sh
# Durability: every record whose fsync the guest saw complete survives
# kill -9 of kvmini; no record is torn.
. "$(dirname "$0")/common.sh"; . "$LAB_COMMON/disk.sh"
durability
