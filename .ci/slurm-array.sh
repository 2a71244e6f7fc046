#!/usr/bin/env bash
# The README's cluster path, run for real: a one-node Slurm cluster
# (slurmctld + slurmd on localhost, munge for credentials, all state in a
# temporary folder, nothing in /etc), the job array of sweep shards that
# `sweep --slurm 4` writes (`sbatch --array=0-3 --wait`), `merge`, and the merged results.csv
# compared byte for byte with an unsharded run of the same sweep. Every
# daemon it starts is stopped by PID, and every wait has a timeout.
#
#   .ci/slurm-array.sh target/release/neurocycle
#
# Installs slurm-wlm and munge with apt-get if they are missing (root).
set -euo pipefail
BIN="$(realpath "${1:?usage: $0 path/to/neurocycle}")"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    echo "installing slurm-wlm and munge"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

T="$(mktemp -d /tmp/neurocycle-slurm.XXXXXX)"
PIDS=()
cleanup() {
    # slurmstepd may outlive its job for a moment: let step sockets go.
    for _ in $(seq 50); do
        compgen -G "$T/spool/*_*" >/dev/null || break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# munge: a private key, socket and state in the temporary folder.
mkdir -p "$T/munge" "$T/state" "$T/spool" "$T/out"
chmod 755 "$T" "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
chown -R munge:munge "$T/munge"
setsid setpriv --reuid=munge --regid=munge --init-groups \
    munged -F --key-file="$T/munge/munge.key" --socket="$T/munge/munge.socket.2" \
    --pid-file="$T/munge/munged.pid" --seed-file="$T/munge/munged.seed" \
    --log-file="$T/munge/munged.log" >"$T/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$T/munge/munge.socket.2" ] && break; sleep 0.1; done
[ -S "$T/munge/munge.socket.2" ] || { echo "munged did not start"; cat "$T/munge/munged.log"; exit 1; }

# Two free ports for slurmctld and slurmd.
read -r CTLD_PORT SLURMD_PORT < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
HOST="$(hostname -s)"
NODE_LINE="$(slurmd -C | head -n 1)"
export SLURM_CONF="$T/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=neurocycle-ci
SlurmctldHost=${HOST}(127.0.0.1)
SlurmctldPort=${CTLD_PORT}
SlurmdPort=${SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.socket.2
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0
MinJobAge=5
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
${NODE_LINE} State=UNKNOWN
PartitionName=ci Nodes=${HOST} Default=YES MaxTime=INFINITE State=UP
EOF
setsid slurmctld -D -f "$SLURM_CONF" >"$T/slurmctld.out" 2>&1 &
PIDS+=($!)
setsid slurmd -D -f "$SLURM_CONF" >"$T/slurmd.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 150); do
    state="$(timeout 5 sinfo -h -o %T 2>/dev/null || true)"
    [ "$state" = idle ] && break
    sleep 0.2
done
if [ "${state:-}" != idle ]; then
    echo "the cluster did not come up (sinfo: ${state:-nothing})"
    tail -n 20 "$T/slurmctld.log" "$T/slurmd.log" "$T"/*.out 2>/dev/null || true
    exit 1
fi
echo "one-node cluster up: $(sinfo -h -o '%P %D %T %c')"

# The sweep: 8 points on the tiny chip (models and config from the repo).
cat >"$T/sweep.ron" <<EOF
Sweep(name: "slurm-ci", hw: "$ROOT/hw_configs/tiny.ron", models: ["$ROOT/models/tiny.ron"], samples: 2,
  axes: [Axis(path: "core.pes", values: List([1, 2, 4, 8])), Axis(path: "barrier_cycles", values: List([0, 4]))])
EOF
# The job array as `sweep --slurm` writes it, with 4 shards.
mkdir -p "$T/out"
"$BIN" sweep "$T/sweep.ron" --out "$T/out" --slurm 4 --no-plots >"$T/array.sh"
cd "$T"
timeout 300 sbatch --wait "$T/array.sh" &
SBATCH=$!
wait "$SBATCH" || { echo "the job array failed"; cat "$T"/slurm-*.out 2>/dev/null; exit 1; }
"$BIN" merge "$T"/out/shard* --out "$T/out/all" --no-plots
"$BIN" sweep "$T/sweep.ron" --out "$T/whole" --no-plots --jobs 1
if cmp "$T/out/all/results.csv" "$T/whole/results.csv"; then
    echo "slurm array of 4 shards, merged: results.csv byte-identical to the unsharded sweep ($(($(wc -l <"$T/whole/results.csv") - 1)) points)"
else
    diff "$T/out/all/results.csv" "$T/whole/results.csv" | head -20
    exit 1
fi
