#!/bin/sh
# CRIU action script for restores (src/snapshot/restore.ts). Restores run with `--empty-ns net`:
# CRIU creates the instance's network namespace but does not replay its configuration, which cost
# 15-25 ms per restore (it runs ip and iptables-restore several times). An instance's namespace is
# loopback-only, so its whole configuration is "lo up" (the kernel then adds 127.0.0.1 and ::1).
# Runs before the restored tasks do, so no instance ever sees loopback down.
[ "$CRTOOLS_SCRIPT_ACTION" = "setup-namespaces" ] || exit 0
exec nsenter -t "$CRTOOLS_INIT_PID" -n ip link set lo up
