#!/bin/bash
# emofs sim at scale (issue 12 item 7):
# - the whole `emofs sim` process that builds py-dht's network sizes by
#   fast init (no lookups, no values), median of 5 runs, against py-dht's
#   own initialisation of the same sizes (0.52, 1.55, 5.62 s: the figures
#   py-dht's documents give; py-dht is not run here);
# - 1,000,000 nodes by fast init, then 1,000 lookups and 100 values: build
#   time and peak memory (goal: within 60 s and 8 GiB);
# - with EMOFS_OLD=path/to/an/older/emofs: lookups per second at 100,000
#   nodes, this emofs and that one interleaved, median of 3 each.
set -euo pipefail
EMOFS=${EMOFS:-build/emofs}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Wall seconds of one run of "$@".
wall() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}

for pair in 500:0.52 1000:1.55 2000:5.62; do
    n=${pair%%:*}
    theirs=${pair##*:}
    ours=$(for i in 1 2 3 4 5; do wall "$EMOFS" sim --nodes "$n" --lookups 0 --values 0; done | median)
    awk -v n="$n" -v o="$ours" -v t="$theirs" 'BEGIN {
        printf "build %5d nodes, whole process: %.3f s (median of 5); py-dht %.2f s: %.0fx faster\n", n, o, t, t / o }'
done

echo "1,000,000 nodes, fast init (goal: build within 60 s, peak RSS within 8 GiB):"
"$EMOFS" sim --nodes 1000000 --lookups 1000 --values 100 | grep -E '^  (build|memory|lookups|accuracy|values|total)'

if [ -n "${EMOFS_OLD:-}" ]; then
    for round in 1 2 3; do
        for which in new old; do
            bin=$EMOFS
            [ "$which" = new ] || bin=$EMOFS_OLD
            rate=$("$bin" sim --nodes 100000 --lookups 10000 --values 100 |
                sed -n 's/^  lookups .*: \([0-9]*\) lookups\/s.*/\1/p')
            echo "$which $rate"
        done
    done >/tmp/bench_sim_scale.$$
    new=$(awk '$1 == "new" { print $2 }' /tmp/bench_sim_scale.$$ | median)
    old=$(awk '$1 == "old" { print $2 }' /tmp/bench_sim_scale.$$ | median)
    rm -f /tmp/bench_sim_scale.$$
    awk -v n="$new" -v o="$old" 'BEGIN {
        printf "lookups/s at 100,000 nodes, median of 3 interleaved: %d, EMOFS_OLD %d: ratio %.2f\n", n, o, n / o }'
else
    echo "lookups/s at 100,000 nodes against an older emofs: not measured (EMOFS_OLD=path measures it)"
fi
