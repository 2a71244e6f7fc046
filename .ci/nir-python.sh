#!/usr/bin/env bash
# NIR export is read back by the reference Python package (nir 1.0.8, with
# its type checks): every shipped model and both fixtures after an import.
# Usage: .ci/nir-python.sh NEUROCYCLE_BINARY
set -euo pipefail
cd "$(dirname "$0")/.."
nc=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for m in models/*.ron; do
    "$nc" export "$m" --out "$out/$(basename "$m" .ron).nir" 2>/dev/null
done
# A recurrent graph with delays (pipelined: every connection one step).
"$nc" gen --layers 20,30,10 --recurrent 3 --semantics pipelined --out "$out/recurrent.ron" 2>/dev/null
"$nc" export "$out/recurrent.ron" --out "$out/recurrent.nir" 2>/dev/null
for f in tests/fixtures/nir/*.nir; do
    b=$(basename "$f" .nir)
    "$nc" import "$f" --out "$out/$b.ron" --reset delayed-subtract --weight-bits 16 2>/dev/null
    "$nc" export "$out/$b.ron" --out "$out/$b-export.nir" 2>/dev/null
done
python3 - "$out" <<'PY'
import glob, sys
import nir
files = sorted(glob.glob(sys.argv[1] + "/*.nir"))
for f in files:
    g = nir.read(f)
    kinds = sorted({type(n).__name__ for n in g.nodes.values()})
    print(f"nir {nir.version} read {f.split('/')[-1]}: {len(g.nodes)} nodes, {len(g.edges)} edges ({', '.join(kinds)})")
assert files, "nothing exported"
PY
