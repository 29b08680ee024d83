#!/usr/bin/env bash
# shellcheck disable=SC2119
# crash.sh: under a steady load of distinct signed callbacks, usagehookd is
# killed with SIGKILL at 20 random moments and started again each time.
# After each restart every callback answered 200 before the kill is in the
# database with its job and PRAGMA integrity_check is ok; at the end every
# job ran (at least once: the append file names every stored callback).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

LOADGEN=$top_builddir/tests/fixtures/loadgen
[ -x "$LOADGEN" ] || bail "$LOADGEN not built (make check builds it)"
KILLS=${UH_CRASH_KILLS:-20}
RATE=${UH_CRASH_RATE:-2000}	# requests a second, all connections together

# One cheap rule with an append action, so every callback has a job.
mk_config "dispatch: { concurrency: 8, per_rule: 8, backoff: 1s }" \
    "rules:" \
    "  - name: every-sms" \
    "    match: { UsageCategory: sms }" \
    "    actions:" \
    "      - append: $T/append.jsonl"
# What a kill in the middle of an append's write(2) leaves behind (the
# kernel stops a write between pages): half a line, no newline.
TORN='{"AccountSid":"AC0123456789abcdef0123456789abcdef","UsageTriggerSid":"UT01'
printf '%s' "$TORN" >"$T/append.jsonl"
uh_start

# acked_file FILE: the distinct tokens answered 200 in the loader's results.
acked_file() {
	awk '$1 == 200 { print $2 }' "$T/results" | sort -u >"$1"
}
# missing FILE: how many tokens of FILE are not in callbacks.
missing() {
	rm -f "$T/acks.db"
	sqlite3 -batch "$T/acks.db" "CREATE TABLE acks (token TEXT PRIMARY KEY);" \
	    ".import '$1' acks" || { echo import-failed; return; }
	sqlite3 -batch -cmd '.timeout 5000' "$T/acks.db" \
	    "ATTACH '$UH_DB' AS m; SELECT count(*) FROM acks WHERE token NOT IN
	    (SELECT idempotency_token FROM m.callbacks)"
}

: >"$T/results"
"$LOADGEN" -a "unix:$UH_SOCK" -k "$T/token" -p crash -c 8 -R "$RATE" \
    -d 300 -o "$T/results" >"$T/loadgen.out" 2>"$T/loadgen.err" &
loader=$!
uh_track "$loader"
sleep 0.5

kills_losing=0 kills_corrupt=0 kills_jobless=0
for k in $(seq 1 "$KILLS"); do
	# 0.2 to 1.0 s of load, then a crash.
	sleep "0.$((2 + RANDOM % 8))$((RANDOM % 10))"
	uh_kill
	# No 200 can arrive while it is down: these are all acked before the kill.
	acked_file "$T/acked.$k"
	uh_start
	lost=$(missing "$T/acked.$k")
	integrity=$(sql 'PRAGMA integrity_check')
	# Jobs are written with their callback: none without one (one rule, one action).
	nojob=$(sql 'SELECT count(*) FROM callbacks c WHERE NOT EXISTS
	    (SELECT 1 FROM jobs j WHERE j.callback_id = c.id)')
	if [ "$lost" != 0 ] || [ "$integrity" != ok ] || [ "$nojob" != 0 ]; then
		diag "kill $k: acked $(wc -l <"$T/acked.$k"), missing $lost," \
		    "integrity '$integrity', callbacks without a job $nojob"
	fi
	[ "$lost" = 0 ] || kills_losing=$((kills_losing + 1))
	[ "$integrity" = ok ] || kills_corrupt=$((kills_corrupt + 1))
	[ "$nojob" = 0 ] || kills_jobless=$((kills_jobless + 1))
done
kill -TERM "$loader"
wait "$loader"
diag "loader: $(cat "$T/loadgen.out")"

acked_file "$T/acked"
nacked=$(wc -l <"$T/acked")
ok "the loader got 200s between the kills ($nacked)" [ "$nacked" -ge $((KILLS * 20)) ]
is "$kills_losing" 0 "after each of the $KILLS restarts every callback acknowledged before the kill is stored"
is "$kills_corrupt" 0 "after each restart PRAGMA integrity_check is ok"
is "$kills_jobless" 0 "after each restart every stored callback has its job"
is "$(missing "$T/acked")" 0 "at the end every acknowledged callback is stored"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token NOT GLOB 'crash-*'")" 0 \
    "nothing else was stored"
is "$(sql 'SELECT count(*) FROM callbacks c WHERE (SELECT count(*) FROM jobs j
    WHERE j.callback_id = c.id) != 1')" 0 "every stored callback has exactly one job"

# Every job runs to done (interrupted ones run again after the restart).
for _ in $(seq 1 600); do
	[ "$(sql "SELECT count(*) FROM jobs WHERE state != 'done'")" = 0 ] && break
	sleep 0.1
done
is "$(sql "SELECT count(*) FROM jobs WHERE state != 'done'")" 0 "every job reached done"
rows=$(sql 'SELECT count(*) FROM callbacks')
jobs=$(sql 'SELECT count(*) FROM jobs')
grep -o '"IdempotencyToken":"[^"]*"' "$T/append.jsonl" |
    sed 's/.*:"//; s/"$//' | sort >"$T/ran.all"
sort -u "$T/ran.all" >"$T/ran"
lines=$(wc -l <"$T/ran.all")
ran=$(wc -l <"$T/ran")
sql 'SELECT idempotency_token FROM callbacks' | sort >"$T/stored"
is "$(comm -23 "$T/stored" "$T/ran" | wc -l)" 0 \
    "the append file names every stored callback (at least once)"
is "$(comm -13 "$T/stored" "$T/ran" | wc -l)" 0 \
    "and only stored callbacks: no action ran for a callback that is not in the database" ||
    diag "run but not stored: $(comm -13 "$T/stored" "$T/ran" | head -n 5 | tr '\n' ' ')"
is "$(comm -23 "$T/acked" "$T/ran" | wc -l)" 0 "every acknowledged callback's action ran"
# One whole JSON object a line. A kill in the middle of our write(2) may
# leave half a line (the kernel stops a write between pages): it stays on a
# line of its own, and as its job never reached done it ran again, so it is
# a prefix of a whole record further on. Nothing may be glued onto it, and
# the half line planted before the start stays as it was.
awk -v torn="$TORN" '
    BEGIN { whole = "^\\{\"AccountSid\":\"[^{}]*,\"usagehook\":\\{\"job\":[0-9]+,\"rule\":\"every-sms\",\"attempt\":[0-9]+,\"id\":[0-9]+,\"received_at\":\"[-0-9T:.]+Z\",\"source\":\"callback\"\\}\\}$" }
    NR == FNR { if ($0 ~ whole) full[++n] = $0; next }
    $0 == torn || $0 ~ whole { next }
    {
	for (i = 1; i <= n; i++)
		if (index(full[i], $0) == 1) { cut++; next }
	print
    }
    END { print cut + 0 >"/dev/stderr" }' \
    "$T/append.jsonl" "$T/append.jsonl" >"$T/torn" 2>"$T/cut"
is "$(wc -l <"$T/torn")" 0 "no record in the append file is glued to half a line a kill left" ||
    diag "$(head -n 3 "$T/torn" | cut -c 1-300)"
is "$(sql 'PRAGMA integrity_check')" ok "PRAGMA integrity_check at the end"
diag "kills=$KILLS lines_cut_by_a_kill=$(cat "$T/cut") acked=$nacked rows=$rows jobs=$jobs jobs_done=$(sql "SELECT count(*) FROM jobs WHERE state = 'done'") action_lines=$lines distinct_run=$ran reruns=$((lines - ran))"

ok "daemon still running" uh_alive
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
