#!/bin/bash
# --json: put, get, status, ls and manifest show print one JSON object per
# line with the documented fields; errors stay one line on stderr.
. "$(dirname "$0")/lib.sh"

export EMOFS_HOME=$T/home
head -c 300000 /dev/urandom >"$T/a.bin"
hex='[0-9a-f]{64}'

out=$("$EMOFS" put "$T/a.bin" --json)
check "put --json: key, input, size, copies (none: no peers), seconds" \
    grep -Eq "^\{\"key\":\"$hex\",\"input\":\"$T/a.bin\",\"size\":300000,\"copies_fewest\":0,\"copies_median\":0,\"seconds\":[0-9.]+\}$" <<<"$out"
KEY=$(sed -E 's/^\{"key":"([0-9a-f]{64})".*/\1/' <<<"$out")
out=$(printf 'hello' | "$EMOFS" put - --json)
check "put - --json counts the bytes of standard input" \
    grep -Eq "\"input\":\"standard input\",\"size\":5," <<<"$out"

out=$("$EMOFS" get "$KEY" -o "$T/b.bin" --json)
check "get --json: key, path, size, note, seconds" \
    grep -Eq "^\{\"key\":\"$KEY\",\"path\":\"$T/b.bin\",\"size\":300000,\"note\":\"\",\"seconds\":[0-9.]+\}$" <<<"$out"

out=$("$EMOFS" status --json)
check "status --json: the documented fields (embedded: no replicas, store_max 0)" \
    grep -Eq "^\{\"node\":\"$hex\",\"address\":\"[^\"]+\",\"peers\":[0-9]+,\"peers_live\":[0-9]+,\"peers_stale\":[0-9]+,\"values\":0,\"value_bytes\":0,\"store_max\":0,\"blobs\":[1-9][0-9]*,\"blob_bytes\":[1-9][0-9]*,\"published\":2,\"data\":\"$T/home\"\}$" <<<"$out"

out=$("$EMOFS" ls --json)
check "ls --json: one object per file" test "$(grep -c '^{"key":' <<<"$out")" -eq 2
check "  with key, size and name" grep -Fq "{\"key\":\"$KEY\",\"size\":300000,\"name\":\"a.bin\"}" <<<"$out"

out=$("$EMOFS" manifest show "$KEY" --json)
check "manifest show --json: key, name, size, sha256, encrypted, chunks, nodes, entries" \
    grep -Eq "^\{\"key\":\"$KEY\",\"name\":\"a.bin\",\"size\":300000,\"sha256\":\"$hex\",\"encrypted\":false,\"chunks\":[0-9]+,\"nodes\":1,\"entries\":\[\{\"offset\":0,\"size\":[0-9]+,\"key\":\"$hex\"\}" <<<"$out"

echo other >"$T/c.bin"
set +e
"$EMOFS" get "$KEY" -o "$T/c.bin" --json >"$T/out" 2>"$T/err"
rc=$?
set -e
check "a failure with --json: exit 9, nothing on stdout, one line on stderr" \
    test "$rc" -eq 9 -a ! -s "$T/out" -a "$(wc -l <"$T/err")" -eq 1
set +e
"$EMOFS" get "$KEY" -o - --json >"$T/out" 2>"$T/err"
rc=$?
set -e
check "get -o - --json is a usage error (stdout carries the file)" test "$rc" -eq 2
finish
