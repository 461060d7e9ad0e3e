#!/bin/bash
# The GMM benchmark with tapegrad and PyTorch interleaved size by size: for each round and
# each size, tapegrad's bench and then gmm.py on the same file, so that both engines are timed
# in the same phase of a noisy machine. Prints one line per engine, round and size:
#   round  engine  d  K  objective-ms  gradient-ms  ratio
# Usage, from the repository root (PyTorch installed for `python3`, or set PYTHON):
#   bash benches/compare/gmm_rounds.sh [rounds]
set -euo pipefail
rounds=${1:-3}
python=${PYTHON:-python3}
cargo bench -p tapegrad-benches --bench gmm --no-run
for round in $(seq "$rounds"); do
    for d in 2 10 20 64; do
        for k in 5 10 25 50 100; do
            size="d${d}_K${k}"
            # The filter d20_K10 also keeps d20_K100: keep the line of this size only.
            row="^${d}"$'\t'"${k}"$'\t'
            ours=$(cargo bench -q -p tapegrad-benches --bench gmm "$size" 2>/dev/null | grep "$row")
            theirs=$("$python" benches/compare/gmm.py --time target/gmm "$size" | grep "$row")
            printf '%s\ttapegrad\t%s\n%s\tpytorch\t%s\n' "$round" "$ours" "$round" "$theirs"
        done
    done
done
