#!/usr/bin/env bash
# pg-instances.sh: two daemons on one PostgreSQL. 100 identical signed
# deliveries sent to both at once store one row and run each action once;
# 500 distinct ones split between them store 500 rows and run each action
# once; a daemon killed while its exec action sleeps loses nothing: the
# other runs the job once its lease has passed.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"

pg_need
pg_start
UH_DB=$PG_URI

lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
q_is() { [ "$(psql_q "$1" 2>/dev/null)" = "$2" ]; }

cat >"$T/record.sh" <<SH
#!/bin/sh
echo "\$1" >>"$T/exec.out"
SH
# Says it started, sleeps (the daemon is killed meanwhile), says it ended.
cat >"$T/slow.sh" <<SH
#!/bin/sh
echo "start \$PPID" >>"$T/slow.out"
sleep 2
echo "end \$PPID" >>"$T/slow.out"
SH
chmod +x "$T/record.sh" "$T/slow.sh"

mk_config \
"dispatch: { concurrency: 16, per_rule: 16, lease: 4s }" \
"rules:" \
"  - name: record" \
"    match: { UsageCategory: sms }" \
"    actions:" \
"      - exec: [\"$T/record.sh\", \"{IdempotencyToken}\"]" \
"        timeout: 3s" \
"      - append: $T/append.jsonl" \
"  - name: slow" \
"    match: { UsageCategory: mms }" \
"    actions:" \
"      - exec: [\"$T/slow.sh\"]" \
"        timeout: 3s"
sed "s|^listen: .*|listen: \"unix:$T/b.sock\"|" "$UH_CONF" >"$T/b.yaml"
cp "$UH_CONF" "$T/a.yaml"

# Both daemons, each on its own socket; A's log is $UH_LOG, B's b.log.
UH_CONF=$T/a.yaml uh_start
A_PID=$UH_PID
A_SOCK=$UH_SOCK
UH_CONF=$T/b.yaml UH_SOCK=$T/b.sock UH_LOG=$T/b.log uh_start
B_PID=$UH_PID
B_SOCK=$T/b.sock
UH_SOCK=$A_SOCK
ok "two daemons serve one PostgreSQL database" kill -0 "$A_PID" "$B_PID"
is "$(psql_q 'SELECT max(version) FROM schema_version')" \
    "$(psql_q 'SELECT count(*) FROM schema_version')" \
    "the migrations ran once each although both daemons started"

# post SOCK BODY SIG OUT: one delivery to one daemon; its status into OUT.
post() {
	curl -sS --max-time 20 --unix-socket "$1" -o /dev/null \
	    -w '%{http_code}\n' -H "X-Twilio-Signature: $3" \
	    -H 'Content-Type: application/x-www-form-urlencoded' \
	    --data-binary "$2" "http://localhost$UH_PATH" >"$4" 2>&1
}

# 1. 100 identical deliveries, half to each daemon, all at once.
uh_params pg-same
body=$(uh_query)
sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
pids=()
for i in $(seq 1 100); do
	if [ $((i % 2)) -eq 0 ]; then s=$A_SOCK; else s=$B_SOCK; fi
	post "$s" "$body" "$sig" "$T/same.$i.code" &
	pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p"; done
is "$(cat "$T"/same.*.code | sort | uniq -c | sed 's/^ *//')" "100 200" \
    "100 identical deliveries to two daemons: all 200"
is "$(psql_q "SELECT count(*) || ' ' || max(duplicates) FROM callbacks
    WHERE idempotency_token = 'pg-same'")" "1 99" \
    "one row, 99 duplicates counted"
wait_for 20 q_is "SELECT count(*) FROM jobs WHERE state = 'done'" 2 ||
    diag "$(psql_q 'SELECT id, state, attempts, owner FROM jobs')"
is "$(lines "$T/exec.out")" 1 "the exec action ran once"
is "$(lines "$T/append.jsonl")" 1 "the append action wrote one line"

# 2. 500 distinct callbacks, split between the daemons, 50 at a time.
: >"$T/exec.out"
for b in $(seq 0 9); do
	pids=()
	for i in $(seq $((b * 50 + 1)) $((b * 50 + 50))); do
		uh_params "pg-many-$i"
		body=$(uh_query)
		sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
		if [ $((i % 2)) -eq 0 ]; then s=$A_SOCK; else s=$B_SOCK; fi
		post "$s" "$body" "$sig" "$T/many.$i.code" &
		pids+=("$!")
	done
	for p in "${pids[@]}"; do wait "$p"; done
done
is "$(cat "$T"/many.*.code | sort | uniq -c | sed 's/^ *//')" "500 200" \
    "500 distinct callbacks: all 200"
is "$(psql_q "SELECT count(*) FROM callbacks
    WHERE idempotency_token LIKE 'pg-many-%'")" 500 "500 rows"
wait_for 60 q_is "SELECT count(*) FROM jobs WHERE state = 'done'" 1002 ||
    diag "$(psql_q "SELECT state, count(*) FROM jobs GROUP BY 1")"
is "$(sort "$T/exec.out" | uniq | wc -l) $(lines "$T/exec.out")" "500 500" \
    "each of the 500 exec actions ran once"
is "$(lines "$T/append.jsonl")" 501 "each append action wrote one line"
is "$(psql_q "SELECT count(*) FROM jobs WHERE attempts <> 1")" 0 \
    "no job took a second attempt"
a_ran=$(grep -c ': done on attempt' "$UH_LOG")
b_ran=$(grep -c ': done on attempt' "$T/b.log")
diag "jobs run: daemon A $a_ran, daemon B $b_ran"
ok "both daemons ran jobs" test "$a_ran" -gt 0 -a "$b_ran" -gt 0

# 3. SIGKILL the daemon whose exec action sleeps: the other runs it later.
uh_params pg-slow UsageCategory=mms
body=$(uh_query)
sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}")
post "$A_SOCK" "$body" "$sig" "$T/slow.code"
is "$(cat "$T/slow.code")" 200 "the slow callback is stored"
wait_for 10 test -s "$T/slow.out" || diag "the slow action never started"
owner=$(psql_q "SELECT owner FROM jobs j JOIN callbacks c ON c.id =
    j.callback_id WHERE c.idempotency_token = 'pg-slow'")
victim=$(cut -d: -f2 <<<"$owner")
diag "job owner $owner"
if [ "$victim" = "$A_PID" ]; then
	survivor=B
elif [ "$victim" = "$B_PID" ]; then
	survivor=A
else
	survivor=none
fi
isnt "$survivor" none "the running job names its daemon as owner"
kill -KILL "$victim" 2>/dev/null
{ wait "$victim"; } 2>/dev/null
t0=$SECONDS
wait_for 30 q_is "SELECT state || ' ' || attempts FROM jobs j JOIN callbacks c
    ON c.id = j.callback_id WHERE c.idempotency_token = 'pg-slow'" "done 2" ||
    diag "$(psql_q "SELECT id, state, attempts, owner, lease_until FROM jobs
        WHERE state <> 'done'")"
diag "the job ended done $((SECONDS - t0)) s after the kill (lease 4 s)"
is "$(grep -c '^start' "$T/slow.out")" 2 \
    "it ran twice: the killed run and the survivor's"
if [ "$survivor" = A ]; then log=$UH_LOG; else log=$T/b.log; fi
ok "the surviving daemon ran it" grep -q 'rule slow, exec): done' "$log"

kill -TERM "$A_PID" "$B_PID" 2>/dev/null
wait "$A_PID" "$B_PID" 2>/dev/null
UH_PID=
done_testing
