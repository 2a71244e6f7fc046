#!/bin/sh
# Wall time of a 64-point sweep of the default chip on a synthetic model,
# with --jobs 1 and --jobs 2 (docs/performance.md records the figures).
#
#   sh benches/sweep-scaling.sh [SAMPLES]
set -e
samples=${1:-4}
bin=target/release/neurocycle
cargo build --release --quiet
dir=$(mktemp -d)
$bin gen --layers 784,512,256,10 --sparsity 0.9 --weight-bits 4 --timesteps 8 --seed 1 --out "$dir/synthetic.ron"
cat > "$dir/sweep.ron" <<RON
Sweep(
    name: "scaling-64",
    hw: "preset:default",
    models: ["synthetic.ron"],
    samples: $samples,
    axes: [
        Axis(path: "core.pes", values: Geometric(start: 1, end: 8, factor: 2)),
        Axis(path: "synapse_memory.word_bits", values: Geometric(start: 16, end: 128, factor: 2)),
        Axis(path: "router.buffer_depth", values: List([2, 4])),
        Axis(path: "core.queue_depth", values: List([4, 16])),
    ],
)
RON
for jobs in 1 2; do
    start=$(date +%s.%N)
    $bin sweep "$dir/sweep.ron" --out "$dir/out$jobs" --jobs $jobs --no-plots 2>/dev/null
    end=$(date +%s.%N)
    echo "jobs $jobs: $(echo "$end - $start" | bc) s"
done
cmp "$dir/out1/results.csv" "$dir/out2/results.csv" && echo "results.csv identical for --jobs 1 and 2"
rm -rf "$dir"
