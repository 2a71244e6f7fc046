#!/usr/bin/env bash
# Whole-process figures of large models, as a user runs them:
# - the Loihi-size workload (`model::gen::loihi_spec`): `gen` and
#   `run --samples 1` on hw_configs/loihi.ron, on 1 and 2 threads: wall
#   time, peak memory, bytes of model file per synapse, and whether the
#   reports of 1 and 2 threads are byte-identical;
# - the 1024-1024-1024 network at 10% density, T = 200, from a binary
#   model file: the median wall time of 5 whole-process runs on 1 thread.
#
# Usage: benches/scale.sh [NEUROCYCLE]   (default: target/release/neurocycle,
# built first). Needs GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
nc=${1:-}
if [ -z "$nc" ]; then
    cargo build --release --quiet
    nc=target/release/neurocycle
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

measure() { # label, command...: prints wall seconds and peak MiB
    local label=$1
    shift
    /usr/bin/time -f "%e %M" -o "$out/time" "$@" >"$out/stdout" 2>"$out/stderr"
    read -r secs kb <"$out/time"
    printf '%-44s %7.2f s  %7.1f MiB\n' "$label" "$secs" "$(awk "BEGIN{print $kb/1024}")"
}

echo "== Loihi-size workload (4096-60000-60000, fan-in 52 within 2048, 4-bit, T = 16)"
measure "gen (.ncm)" "$nc" gen --layers 4096,60000,60000 --fan-in 52 --locality 2048 \
    --weight-bits 4 --timesteps 16 --threshold-scale 3 --out "$out/loihi.ncm"
synapses=$(grep -o '[0-9]* synapses' "$out/stderr" | cut -d' ' -f1)
bytes=$(stat -c %s "$out/loihi.ncm")
printf '%-44s %d bytes, %d synapses: %.2f bytes per synapse\n' "model file" "$bytes" "$synapses" \
    "$(awk "BEGIN{print $bytes/$synapses}")"
for t in 1 2; do
    measure "run --samples 1 --threads $t" "$nc" run --hw hw_configs/loihi.ron \
        --model "$out/loihi.ncm" --samples 1 --threads "$t" --report "$out/report-$t.json"
done
if cmp -s "$out/report-1.json" "$out/report-2.json"; then
    echo "reports of 1 and 2 threads: byte-identical"
else
    echo "reports of 1 and 2 threads: DIFFER"
    exit 1
fi

echo "== 1024-1024-1024, 10% density, T = 200, binary model file, 1 thread"
"$nc" gen --layers 1024,1024,1024 --sparsity 0.9 --timesteps 200 --out "$out/k.ncm" 2>/dev/null
for i in 1 2 3 4 5; do
    /usr/bin/time -f "%e" -o "$out/t$i" "$nc" run --hw hw_configs/default.ron --model "$out/k.ncm" \
        --samples 1 --threads 1 >/dev/null 2>&1
done
median=$(cat "$out"/t[1-5] | sort -n | sed -n 3p)
printf '%-44s %7.2f s (runs: %s)\n' "median of 5 whole-process runs" "$median" "$(cat "$out"/t[1-5] | tr '\n' ' ')"
