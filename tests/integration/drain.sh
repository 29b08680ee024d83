#!/usr/bin/env bash
# shellcheck disable=SC2119
# drain.sh: SIGTERM with callbacks in flight. New connections are refused at
# once; every request already read gets a whole answer: 200 once its row is
# committed (the commit held back by another writer's lock), 503 when the
# commit cannot happen (lock held past the busy timeout), never a 200
# without a row nor a row without an answer; under a stream of clients
# nothing read goes unanswered.
# The daemon exits 0 each time.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

# wait_until SECONDS CMD...: poll CMD every 50 ms, at most SECONDS.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	while [ "$SECONDS" -le "$end" ]; do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# hold_lock MAX-SECONDS: another writer takes the database's write lock and
# keeps it until $T/release exists (or MAX-SECONDS pass).
hold_lock() {
	local ticks=$(($1 * 20))
	rm -f "$T/locked" "$T/release"
	{
		echo ".timeout 5000"
		echo "BEGIN IMMEDIATE;"
		echo ".shell touch $T/locked"
		echo ".shell i=0; while [ ! -e $T/release ] && [ \$i -lt $ticks ]; do sleep 0.05; i=\$((i + 1)); done"
		echo "COMMIT;"
	} | sqlite3 -batch "$UH_DB" >/dev/null 2>>"$T/lock.err" &
	LOCK_PID=$!
	uh_track "$LOCK_PID"
	wait_until 10 test -e "$T/locked" || bail "sqlite3 did not take the write lock"
}

# fire TOKEN: POST a signed callback; "$T/res.TOKEN" gets "CURL-EXIT STATUS".
fire() {
	local tok=$1 sig p code rc args=()
	uh_params "$tok"
	sig=$(uh_sign "$(uh_public)" "${PARAMS[@]}") || { echo "sign 000" >"$T/res.$tok"; return; }
	for p in "${PARAMS[@]}"; do
		args+=(--data-urlencode "$p")
	done
	code=$(curl -sS --max-time 30 --unix-socket "$UH_SOCK" -o /dev/null \
	    -w '%{http_code}' -H "X-Twilio-Signature: $sig" "${args[@]}" \
	    "http://localhost$UH_PATH" 2>>"$T/curl.err")
	rc=$?
	echo "$rc $code" >"$T/res.$tok"
}

# received: the daemon's count of callback requests read.
received() {
	fetch_metrics >/dev/null
	metric usagehookd_received_total
}

# received_at_least N
received_at_least() {
	[ "$(received)" -ge "$1" ]
}

# stop_and_wait SECONDS: wait for the draining daemon to exit; UH_STATUS.
wait_exit() {
	wait_until "$1" eval '! kill -0 "$UH_PID" 2>/dev/null'
	if kill -0 "$UH_PID" 2>/dev/null; then
		diag "usagehookd still draining after $1 s: SIGKILL"
		kill -KILL "$UH_PID"
	fi
	wait "$UH_PID" 2>/dev/null
	UH_STATUS=$?
	UH_PID=
}

# rows LIKE-PATTERN: rows whose IdempotencyToken matches.
rows() {
	sql "SELECT count(*) FROM callbacks WHERE idempotency_token LIKE '$1'"
}

N=6
mk_config
uh_start

# -- Commits held back by a lock, released while draining: all 200, all stored.
base=$(received)
hold_lock 20
for i in $(seq 1 $N); do
	fire "held-$i" &
done
ok "$N callbacks read, their commit waiting on the lock" \
    wait_until 10 received_at_least $((base + N))
kill -TERM "$UH_PID"
wait_until 10 grep -q 'draining: no new connections' "$UH_LOG"
ok "SIGTERM: the daemon drains (still running)" uh_alive
# new_refused: a connection now is refused; "CURL-EXIT STATUS" in $T/new.
new_refused() {
	local code rc
	code=$(curl -sS --max-time 5 --unix-socket "$UH_SOCK" -o /dev/null \
	    -w '%{http_code}' http://localhost/healthz 2>/dev/null)
	rc=$?
	echo "$rc $code" >"$T/new"
	[ "$rc $code" = "7 000" ]
}
wait_until 5 new_refused
is "$(cat "$T/new")" "7 000" "SIGTERM: a new connection is refused (curl exit 7)"
touch "$T/release"
wait_exit 15
is "$UH_STATUS" 0 "drained: exit 0"
wait
got=$(cat "$T"/res.held-* | sort | uniq -c | sed 's/^ *//' | tr '\n' ';')
is "$got" "$N 0 200;" "every request in flight got 200"
is "$(rows 'held-%')" "$N" "and every one of them is in the database"

# -- The lock outlasts the busy timeout: the commit fails, the answer is 503.
uh_start
base=$(received)
hold_lock 20
for i in $(seq 1 $N); do
	fire "failed-$i" &
done
ok "$N more read, their commit waiting" \
    wait_until 10 received_at_least $((base + N))
kill -TERM "$UH_PID"
# Released once the daemon has answered a 503: past its 5 s busy timeout
# (however long that takes on a loaded machine), within its 10 s drain.
answered_503() { grep -qx '0 503' "$T"/res.failed-* 2>/dev/null; }
wait_until 20 answered_503
touch "$T/release"
wait_exit 15
is "$UH_STATUS" 0 "drained after failed commits: exit 0"
wait
# The writer takes the claims in batches: the first batch fails at the busy
# timeout, a later one may commit once the lock is gone. Either way: answered.
n503=0 bad=
for i in $(seq 1 $N); do
	read -r rc code <"$T/res.failed-$i"
	n=$(rows "failed-$i")
	case "$rc $code" in
	"0 200") [ "$n" = 1 ] || bad+=" failed-$i:200-without-row" ;;
	"0 503") [ "$n" = 0 ] || bad+=" failed-$i:503-with-row"; n503=$((n503 + 1)) ;;
	*) bad+=" failed-$i:$rc-$code" ;;
	esac
done
ok "a commit that outlasts the busy timeout is answered 503 ($n503 of $N)" \
    [ "$n503" -gt 0 ]
is "$bad" "" "every one answered: 503 without a row or 200 with its row"

# -- A stream of clients when SIGTERM comes: whatever was read is answered.
uh_start
rm -f "$T"/res.*
stream() {
	local w=$1 i
	for i in $(seq 1 40); do
		fire "stream-$w-$i"
		case $(cat "$T/res.stream-$w-$i") in
		"7 "*) break ;;
		esac
	done
}
for w in 1 2 3 4; do
	stream "$w" &
done
# SIGTERM once some are answered (on a loaded machine the first take a while).
answered_200() { grep -qx '0 200' "$T"/res.stream-* 2>/dev/null; }
wait_until 20 answered_200
kill -TERM "$UH_PID"
wait_exit 15
is "$UH_STATUS" 0 "SIGTERM under load: exit 0"
wait
answered=0 refused=0 bad=
for f in "$T"/res.stream-*; do
	tok=${f#"$T"/res.}
	read -r rc code <"$f"
	n=$(rows "$tok")
	logged=$(grep -c "IdempotencyToken=$tok " "$UH_LOG")
	case "$rc $code" in
	"0 200") [ "$n" = 1 ] || bad+=" $tok:200-without-row"; answered=$((answered + 1)) ;;
	"0 503") [ "$n" = 0 ] || bad+=" $tok:503-with-row"; answered=$((answered + 1)) ;;
	"7 000") [ "$logged" = 0 ] || bad+=" $tok:read-but-refused"; refused=$((refused + 1)) ;;
	*) [ "$logged" = 0 ] && [ "$n" = 0 ] || bad+=" $tok:read-but-$rc-$code" ;;
	esac
done
diag "stream: $answered answered, $refused refused after SIGTERM"
ok "stream: some answered before SIGTERM ($answered)" [ "$answered" -gt 0 ]
is "$bad" "" "stream: every 200 has its row, nothing read went unanswered"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token LIKE 'stream-%'")" \
    "$(cat "$T"/res.stream-* | grep -c '^0 200$')" \
    "stream: rows in the database = 200s given"

done_testing
