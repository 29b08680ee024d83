#!/usr/bin/env bash
# shellcheck disable=SC2119
# concurrency.sh: 50 identical deliveries at once give 50 answers of 200,
# exactly one row and 49 duplicates; 50 different ones at once give 50 rows.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

N=50
mk_config
uh_start

# One body and one signature, sent N times in parallel.
uh_params conc-same
body=$(uh_query)
sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
pids=()
for i in $(seq 1 "$N"); do
	uh_curl "$UH_PATH" -o /dev/null -D "$T/same.$i.h" -w '%{http_code}\n' \
	    -H "X-Twilio-Signature: $sig" --data-binary "$body" \
	    -H 'Content-Type: application/x-www-form-urlencoded' \
	    >"$T/same.$i.code" 2>"$T/same.$i.err" &
	pids+=("$!")
	uh_track "$!"
done
for p in "${pids[@]}"; do
	wait "$p"
done
codes=$(cat "$T"/same.*.code | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')
is "$codes" "$N 200 " "$N concurrent identical deliveries: all 200"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token = 'conc-same'")" 1 \
    "exactly one row"
is "$(sql "SELECT duplicates FROM callbacks WHERE idempotency_token = 'conc-same'")" $((N - 1)) \
    "duplicates column is $((N - 1))"
ndup=$(cat "$T"/same.*.h | tr -d '\r' | grep -ci '^X-Usagehook-Duplicate: 1$')
is "$ndup" $((N - 1)) "$((N - 1)) answers carry X-Usagehook-Duplicate: 1"

# The same again from one curl with N connections opened at once.
uh_params conc-par
body=$(uh_query)
sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
if [ -n "$UH_SOCK" ]; then
	conn=(--unix-socket "$UH_SOCK")
	base=http://localhost
else
	conn=()
	base=http://127.0.0.1:$UH_PORT
fi
# -o and URL pairs: curl takes each -o for the next URL without one.
args=()
for i in $(seq 1 "$N"); do
	args+=(-o /dev/null "$base$UH_PATH")
done
curl -sS --max-time 30 --parallel --parallel-immediate --parallel-max "$N" \
    "${conn[@]}" -H "X-Twilio-Signature: $sig" \
    -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$body" \
    -w '%{http_code} %header{x-usagehook-duplicate}\n' "${args[@]}" \
    >"$T/par.out" 2>"$T/par.err"
is "$(grep -c '^200' "$T/par.out")" "$N" "curl --parallel: $N identical deliveries at once, all 200" ||
    diag "$(sort "$T/par.out" | uniq -c)" "$(head -n 5 "$T/par.err")"
is "$(grep -c '^200 1$' "$T/par.out")" $((N - 1)) "curl --parallel: $((N - 1)) marked duplicate"
is "$(sql "SELECT count(*) || ' ' || duplicates FROM callbacks WHERE idempotency_token = 'conc-par'")" \
    "1 $((N - 1))" "curl --parallel: one row, duplicates $((N - 1))"

# N different callbacks at once: N rows (group commit must not lose any).
sigs=() bodies=() pids=()
for i in $(seq 1 "$N"); do
	uh_params "conc-$i"
	sigs[i]=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
	bodies[i]=$(uh_query)
done
for i in $(seq 1 "$N"); do
	uh_curl "$UH_PATH" -o /dev/null -w '%{http_code}\n' \
	    -H "X-Twilio-Signature: ${sigs[i]}" --data-binary "${bodies[i]}" \
	    -H 'Content-Type: application/x-www-form-urlencoded' \
	    >"$T/diff.$i.code" 2>"$T/diff.$i.err" &
	pids+=("$!")
	uh_track "$!"
done
for p in "${pids[@]}"; do
	wait "$p"
done
codes=$(cat "$T"/diff.*.code | sort | uniq -c | sed 's/^ *//' | tr '\n' ' ')
is "$codes" "$N 200 " "$N concurrent different deliveries: all 200"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token GLOB 'conc-[0-9]*'")" "$N" \
    "$N rows"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token GLOB 'conc-[0-9]*' AND duplicates != 0")" 0 \
    "none of them counted as a duplicate"

ok "daemon still running" uh_alive
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
