#!/bin/bash
# Lookups at py-dht's settings (issue 14 item 9): peers contacted per lookup
# by emofs sim --alpha A --b 20 --steps-to-stop 3 and, when PYDHT names a
# py-dht checkout (its python3 needs bitarray: apt-get install
# python3-bitarray), by py-dht's own lookup_for_hash on a network of the
# same size built its fast way, in the same run. Both: no loss, no delay
# that matters to the count; 2,000 nodes, 1,000 lookups of random targets
# from random nodes.
set -euo pipefail
EMOFS=${EMOFS:-build/emofs}
N=2000
LOOKUPS=1000
for a in 1 3; do
    report=$("$EMOFS" sim --nodes $N --lookups $LOOKUPS --values 0 --alpha $a --b 20 --steps-to-stop 3)
    ours=$(sed -n 's/.*per lookup (\([0-9.]*\) requests.*/\1/p' <<<"$report")
    found=$(sed -n 's/^  success *\([0-9.]*%\).*/\1/p' <<<"$report")
    echo "emofs:  $N nodes, k 20, a $a, b 20, steps-to-stop 3: $ours peers contacted per lookup" \
        "($found found the node closest to the target)"
    if [ -n "${PYDHT:-}" ]; then
        theirs=$(PYTHONPATH=$PYDHT python3 tests/bench/pydht_lookups.py $N $LOOKUPS $a 20 3)
        echo "$theirs"
        per=$(sed -n 's/.*: \([0-9.]*\) peers contacted.*/\1/p' <<<"$theirs")
        awk -v o="$ours" -v t="$per" 'BEGIN { printf "ratio:  emofs contacts %.2fx the peers py-dht does\n", o / t }'
    fi
done
[ -n "${PYDHT:-}" ] || echo "py-dht: not measured (PYDHT=/path/to/py-dht make bench measures it here too)"
