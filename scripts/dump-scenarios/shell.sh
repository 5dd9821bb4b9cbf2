#!/bin/bash
# Scenario "shell": a bash job tree, set up by bash itself.
#
# The root is `bash` (argv[0] changed with `exec -a cfw-shell-root`) in its own session, holding:
#   fd 3  FIFO fifo1 opened read-write with unread bytes
#   fd 4  read end of a process substitution's pipe, with unread output
#   fd 5  a here-document larger than a pipe (bash keeps it in a deleted temporary file: a
#         ghost file)
#   fd 6  /dev/tcp/127.0.0.1/PORT and fd 7 /dev/tcp/::1/PORT6: TCP connections to listeners
#         outside the dumped tree (the scenario's helper), with unread bytes sent by the helper
#   fd 8  work/notes.txt open for appending
#   a coprocess `cfw-coproc` (bash's coproc, exec -a'd into `sleep`), connected by two pipes
#   a background subshell that did `exec -a cfw-renamed-sleep sleep 1000`
#   a background pipeline `yes marker-shell-pipe-6f1d | sleep 1000`, with the pipe full
#   shell variables and an exported variable holding markers
# and waits in `wait`.
#
# Dump: criu dump -t ROOT -D OUT/images --shell-job --tcp-established --network-lock skip
#       --ghost-limit 1M
# Usage: shell.sh OUTDIR
set -euo pipefail
# Close whatever this script inherited above stderr (255 is bash's own handle on this script).
for fd in $(ls /proc/$$/fd); do
    if [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
done
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(realpath -m "${1:-/tmp/cfw-dumps/shell}")
WORK=/tmp/cfw-scenarios/shell
CRIU=${CRIU:-/opt/reference/bin/criu}
rm -rf "$WORK" "$OUT"
mkdir -p "$WORK" "$OUT/images"
cd "$WORK"
mkfifo fifo1 ready

# Listeners outside the tree (IPv4 and IPv6 loopback), which write to each accepted connection.
python3 - "$WORK" <<'EOF' &
import socket, sys, time
ls = []
for fam, host, name in ((socket.AF_INET, "127.0.0.1", "port4"), (socket.AF_INET6, "::1", "port6")):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen(1)
    open(f"{sys.argv[1]}/{name}", "w").write(str(s.getsockname()[1]))
    ls.append(s)
conns = []
for s in ls:
    c, _ = s.accept()
    c.sendall(b"sent by the outside peer, unread " + s.getsockname()[0].encode())
    conns.append(c)
time.sleep(600)
EOF
HELPER=$!
trap 'kill $HELPER 2>/dev/null || true; [ -n "${ROOT:-}" ] && kill -9 $ROOT 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [ -s port4 ] && [ -s port6 ] && break; sleep 0.05; done

cat > root.sh <<'EOF'
cfw_marker="marker-shell-var-2c8e"
export CFW_EXPORTED="marker-shell-exported-93b4"
exec 3<>fifo1
echo "fifo data unread" >&3
exec 4< <(echo "process substitution output unread")
exec 5<<HEREDOC
$(head -c 70000 /dev/zero | tr '\0' 'h')
marker-shell-heredoc-1a7e
HEREDOC
exec 6<>/dev/tcp/127.0.0.1/$(cat port4)
exec 7<>/dev/tcp/::1/$(cat port6)
exec 8>>notes.txt
echo "a note" >&8
coproc CFWCO { exec -a cfw-coproc sleep 1000; }
(exec -a cfw-renamed-sleep sleep 1000) &
yes marker-shell-pipe-6f1d 2>/dev/null | sleep 1000 &
sleep 0.3
echo ready > ready
wait
EOF

setsid bash -c 'exec -a cfw-shell-root bash --norc --noprofile root.sh cfw-argv-marker-shell' \
    </dev/null >/dev/null 2>"$WORK/stderr.log" &
ROOT=$!
read -r _ < ready
sleep 0.3
python3 "$HERE/_common.py" truth shell "$ROOT" "$OUT/truth.json" marker-shell-var-2c8e \
    marker-shell-exported-93b4 marker-shell-heredoc-1a7e marker-shell-pipe-6f1d cfw-argv-marker-shell
echo "$CRIU dump -t $ROOT -D $OUT/images --shell-job -v4 -o $OUT/dump.log --tcp-established" \
    "--network-lock skip --ghost-limit 1M" > "$OUT/criu-command.txt"
if ! "$CRIU" dump -t "$ROOT" -D "$OUT/images" --shell-job -v4 -o "$OUT/dump.log" --tcp-established \
    --network-lock skip --ghost-limit 1M 2>/dev/null; then
    grep Error "$OUT/dump.log" >&2
    exit 1
fi
wait "$ROOT" 2>/dev/null || true
ROOT=
echo "shell: dumped into $OUT/images"
