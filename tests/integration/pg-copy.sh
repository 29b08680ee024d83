#!/usr/bin/env bash
# pg-copy.sh: usagehookctl copy-db FILE postgresql://... moves an SQLite
# database (callbacks with their raw requests and duplicates, jobs in every
# state, rejected rows) into PostgreSQL with progress; a second run copies
# nothing twice; usagehookctl -d postgresql://... then reads it.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"

pg_need

sql_is() { [ "$(sql "$1")" = "$2" ]; }

# An SQLite database as a daemon leaves it: done, dead and rejected rows.
mk_config \
"dispatch: { max_attempts: 1 }" \
"rules:" \
"  - name: keep" \
"    match: { UsageCategory: sms }" \
"    actions:" \
"      - append: $T/append.jsonl" \
"  - name: broken" \
"    match: { UsageCategory: calls }" \
"    actions:" \
"      - exec: [\"/bin/false\"]"
uh_start
for i in $(seq 1 20); do
	uh_send IdempotencyToken="cp-$i" UsageCategory=sms >/dev/null
done
uh_send IdempotencyToken=cp-1 UsageCategory=sms >/dev/null
for i in 1 2; do
	uh_send IdempotencyToken="cp-call-$i" UsageCategory=calls >/dev/null
done
uh_params cp-rejected
for i in 1 2 3; do
	uh_post "$UH_PATH" "bad-signature-$i" >/dev/null
done
wait_for 20 sql_is "SELECT group_concat(state || ':' || n) FROM (SELECT
    state, count(*) AS n FROM jobs GROUP BY state ORDER BY state)" \
    "dead:2,done:20" || diag "$(sql 'SELECT state, count(*) FROM jobs GROUP BY 1')"
uh_stop
# Jobs a stopped daemon left queued and running.
sql "UPDATE jobs SET state = 'queued', next_run_at = 4102444800000
    WHERE id = (SELECT min(id) FROM jobs WHERE state = 'done');
    UPDATE jobs SET state = 'running', owner = 'gone:1:1'
    WHERE id = (SELECT max(id) FROM jobs WHERE state = 'done')"

pg_start
timeout 60 "$UH_CTL" copy-db "$UH_DB" "$PG_URI" >"$T/copy1.out" 2>"$T/copy1.err"
is "$?" 0 "copy-db FILE postgresql://...: exit 0"
is "$(cat "$T/copy1.out")" \
    "copied 22 of 22 callbacks (22 jobs), 3 of 3 rejected; the rest were there already" \
    "it says what it copied"
like "$(cat "$T/copy1.err")" 'copy-db: callbacks 22/22 \(22 new\), jobs 22' \
    "it prints progress"
is "$(psql_q "SELECT count(*), sum(duplicates) FROM callbacks")" "22|1" \
    "every callback, with its duplicate count"
is "$(psql_q "SELECT string_agg(state || ':' || n, ',') FROM (SELECT state,
    count(*) AS n FROM jobs GROUP BY state ORDER BY state) s")" \
    "dead:2,done:18,queued:2" \
    "jobs in every state; the one left running is queued again"
is "$(psql_q "SELECT count(*) FROM jobs WHERE owner IS NOT NULL")" 0 \
    "no copied job has an owner"
is "$(psql_q "SELECT count(*) FROM rejected")" 3 "the rejected rows"
is "$(psql_q "SELECT upper(encode(body, 'hex')) || ' ' || headers
    FROM callbacks WHERE idempotency_token = 'cp-7'")" \
    "$(sql "SELECT hex(body) || ' ' || headers FROM callbacks
    WHERE idempotency_token = 'cp-7'")" \
    "the raw request is byte for byte the same"
is "$(psql_q "SELECT last_error FROM jobs WHERE state = 'dead' LIMIT 1")" \
    "$(sql "SELECT last_error FROM jobs WHERE state = 'dead' LIMIT 1")" \
    "a dead job keeps its last error"

timeout 60 "$UH_CTL" copy-db --json "$UH_DB" "$PG_URI" >"$T/copy2.out" 2>"$T/copy2.err"
is "$?" 0 "a second run: exit 0"
is "$(cat "$T/copy2.out")" \
    '{"callbacks": 22, "callbacks_copied": 0, "jobs_copied": 0, "rejected": 3, "rejected_copied": 0}' \
    "a second run copies nothing"
is "$(psql_q "SELECT (SELECT count(*) FROM callbacks) || ' ' ||
    (SELECT count(*) FROM jobs) || ' ' || (SELECT count(*) FROM rejected)")" \
    "22 22 3" "the counts did not move"

# usagehookctl on PostgreSQL.
like "$(timeout 30 "$UH_CTL" -d "$PG_URI" show cp-7 2>&1)" 'idempotency token +cp-7' \
    "usagehookctl -d postgresql://... show"
is "$(timeout 30 "$UH_CTL" -d "$PG_URI" jobs --dead --json 2>&1 | grep -o '"state": *"dead"' | wc -l)" 2 \
    "usagehookctl -d postgresql://... jobs --dead"
like "$(timeout 30 "$UH_CTL" -d "$PG_URI" rejected 2>&1)" 'bad-signature|signature' \
    "usagehookctl -d postgresql://... rejected"
like "$(timeout 30 "$UH_CTL" -d "$PG_URI" stats 2>&1)" 'callbacks since' \
    "usagehookctl -d postgresql://... stats"

dead=$(psql_q "SELECT min(id) FROM jobs WHERE state = 'dead'")
timeout 30 "$UH_CTL" -d "$PG_URI" retry "$dead" >/dev/null 2>&1
is "$(psql_q "SELECT state || ' ' || attempts FROM jobs WHERE id = $dead")" \
    "queued 0" "usagehookctl -d postgresql://... retry"
timeout 30 "$UH_CTL" -c "$UH_CONF" -d "$PG_URI" rerun cp-3 >/dev/null 2>&1
is "$(psql_q "SELECT count(*) FROM jobs j JOIN callbacks c ON c.id =
    j.callback_id WHERE c.idempotency_token = 'cp-3'")" 2 \
    "usagehookctl -d postgresql://... rerun queues its actions again"
like "$(timeout 30 "$UH_CTL" -d "$PG_URI" purge --older-than 1h 2>&1)" \
    'deleted 0|0 callbacks|purged' "usagehookctl -d postgresql://... purge"
is "$(psql_q "SELECT count(*) FROM callbacks")" 22 "purge kept the recent rows"
like "$(timeout 30 "$UH_CTL" -d "$PG_URI" list --category calls 2>&1)" 'cp-call-2' \
    "usagehookctl -d postgresql://... list --category"

"$UH_CTL" copy-db "$PG_URI" "$UH_DB" >/dev/null 2>"$T/copy3.err"
is "$?" 2 "copy-db the wrong way round: usage error"
like "$(cat "$T/copy3.err")" 'copy-db FILE postgresql://' "and it says which way"
done_testing
