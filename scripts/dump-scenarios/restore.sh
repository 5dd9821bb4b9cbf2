#!/bin/bash
# Scenario "restore": a checkpoint CRIU has restored from, so its directory also holds the
# restore statistics (stats-restore) and CRIU's cpuinfo image (written next to the images, where
# `criu cpuinfo check` looks for it); plus a second dump of the restored process.
#
#   1. start holder (comm rs-hold): 2 threads, POSIX timers, itimers, pending signals, markers
#   2. criu dump -t PID -D OUT/images --shell-job              (kills it)
#   3. criu restore -D OUT/images --shell-job -d               (adds OUT/images/stats-restore)
#   4. criu dump -t PID -D OUT/redump --shell-job              (the restored process; kills it)
#   5. criu cpuinfo dump -D OUT/images                         (adds OUT/images/cpuinfo.img)
#
# Usage: restore.sh OUTDIR
set -euo pipefail
# Close whatever this script inherited above stderr (255 is bash's own handle on this script).
for fd in $(ls /proc/$$/fd); do
    if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(realpath -m "${1:-/tmp/cfw-dumps/restore}")
WORK=/tmp/cfw-scenarios/restore
CRIU=${CRIU:-/opt/reference/bin/criu}
rm -rf "$WORK" "$OUT"
mkdir -p "$WORK" "$OUT/images" "$OUT/redump"
cd "$WORK"
HOLDER=$(python3 -c "import sys; sys.path.insert(0, '$HERE'); import _common; print(_common.build_holder())")
PID=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

setsid "$HOLDER" -r 3 -n rs-hold -t 2 -T -I -P -m marker-restore-6a1b -- cfw-argv-marker-restore \
    </dev/null >/dev/null 2>"$WORK/stderr.log" 3>"$WORK/ready" &
for _ in $(seq 100); do [ -s ready ] && break; sleep 0.05; done
PID=$(cut -d' ' -f1 ready)
sleep 0.3
python3 "$HERE/_common.py" truth restore "$PID" "$OUT/truth.json" marker-restore-6a1b cfw-argv-marker-restore

run() {  # criu ACTION LOG ARGS...: run CRIU, show its errors on failure
    local action=$1 log=$2
    shift 2
    echo "$CRIU $action $*" >> "$OUT/criu-command.txt"
    if ! "$CRIU" "$action" "$@" -v4 -o "$log" 2>/dev/null; then
        grep Error "$log" >&2
        exit 1
    fi
}
run dump "$OUT/dump.log" -t "$PID" -D "$OUT/images" --shell-job
wait 2>/dev/null || true  # reap the dumped holder, so that its pid is free again
run restore "$OUT/restore.log" -D "$OUT/images" --shell-job -d
run dump "$OUT/redump.log" -t "$PID" -D "$OUT/redump" --shell-job
PID=
run cpuinfo "$OUT/cpuinfo.log" dump -D "$OUT/images"
echo "restore: dumped, restored and dumped again into $OUT"
