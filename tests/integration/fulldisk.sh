#!/usr/bin/env bash
# shellcheck disable=SC2119
# fulldisk.sh: the database's filesystem fills up. Callbacks then get 503,
# never 200, and nothing of them is stored; /healthz says 503; refusals that
# need no write still work; an action that finishes meanwhile is not run
# again and again. When space comes back, /healthz and callbacks are 200
# again without a restart, Twilio's retries of the 503s are new callbacks,
# every job reaches done and every callback answered 200 is stored.
#
# The database lives on a 4 MiB tmpfs mounted in a private mount namespace
# (unshare -m as root, unshare -rm as a user where user namespaces are
# allowed), so nothing leaks out. Elsewhere RLIMIT_FSIZE stands in for the
# full disk: prlimit caps the daemon's file size at what its files hold.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
if [ -z "${UH_FULLDISK_MODE:-}" ]; then
	if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
		UH_FULLDISK_MODE=tmpfs exec unshare -m --propagation private bash "$0" "$@"
	elif [ "$(id -u)" != 0 ] && unshare -rm --propagation private true 2>/dev/null; then
		UH_FULLDISK_MODE=tmpfs exec unshare -rm --propagation private bash "$0" "$@"
	fi
	UH_FULLDISK_MODE=fsize
fi
. "$(dirname "$0")/lib.sh"

LOADGEN=$top_builddir/tests/fixtures/loadgen
[ -x "$LOADGEN" ] || bail "$LOADGEN not built (make check builds it)"
DISK=$T/disk
mkdir "$DISK" || bail "mkdir $DISK"
if [ "$UH_FULLDISK_MODE" = tmpfs ]; then
	mount -t tmpfs -o size=4m,mode=0700 usagehookd-test "$DISK" ||
	    bail "mount tmpfs in a private namespace failed"
	# Lazily: the daemon may still hold files there when this runs.
	fulldisk_cleanup() {
		local rc=$?
		umount -l "$DISK" 2>/dev/null
		(exit "$rc")
		_uh_cleanup
	}
	trap fulldisk_cleanup EXIT
	diag "full disk: a 4 MiB tmpfs in a private mount namespace"
else
	command -v prlimit >/dev/null ||
	    skip_all "no mount namespace and no prlimit (util-linux) to fill a disk with"
	# The daemon must get EFBIG, not be killed by SIGXFSZ.
	trap '' XFSZ
	diag "full disk: no mount namespace here; RLIMIT_FSIZE through prlimit"
fi

# The action blocks until the test opens the gate, then records a run.
cat >"$T/gate.sh" <<SH
#!/bin/sh
while [ ! -e "$T/gate-open" ]; do sleep 0.05; done
echo "\$USAGEHOOK_IDEMPOTENCY_TOKEN" >>"$T/runs"
SH
chmod +x "$T/gate.sh"
mk_config "dispatch: { concurrency: 4, per_rule: 1, backoff: 1s }" \
    "rules:" \
    "  - name: gated" \
    "    match: { UsageCategory: sms }" \
    "    actions:" \
    "      - exec: [\"$T/gate.sh\"]"
UH_DB=$DISK/usagehookd.db
sed -i "s|^database: .*|database: $UH_DB|" "$UH_CONF"
uh_start

# send PREFIX N: N distinct callbacks, one at a time; results in $T/results.
send() {
	"$LOADGEN" -a "unix:$UH_SOCK" -k "$T/token" -p "$1" -n "$2" -c 1 \
	    -o "$T/results" 2>>"$T/loadgen.err"
}
job_states() { sql "SELECT group_concat(state, ' ') FROM (SELECT state FROM jobs ORDER BY id)"; }
states_are() { [ "$(job_states)" = "$1" ]; }
runs_of() { grep -cx "$1" "$T/runs" 2>/dev/null || true; }

# Two jobs before the disk fills: the first runs (and waits at the gate),
# the second waits for it (per_rule 1).
like "$(send before 2)" '^sent=2 answered=2 ok=2 ' "two callbacks before the disk fills: 200"
wait_for 10 states_are "running queued"
is "$(job_states)" "running queued" "their jobs: one running, one queued"

# Fill it.
if [ "$UH_FULLDISK_MODE" = tmpfs ]; then
	dd if=/dev/zero of="$DISK/fill" bs=4k 2>"$T/dd.err"
	like "$(cat "$T/dd.err")" "No space left" "filled the tmpfs ($(du -sk "$DISK/fill" | cut -f1) KiB)"
else
	cap=$(stat -c %s "$UH_DB" "$UH_DB-wal" 2>/dev/null | sort -n | tail -n 1)
	ok "capped the daemon's file size at $cap bytes" \
	    prlimit --pid "$UH_PID" --fsize="$cap:unlimited"
fi

out=$(send full 20)
like "$out" '^sent=20 answered=20 ok=0 ' "20 callbacks on a full disk: none answered 200 ($out)"
is "$(awk '$2 ~ /^full-/ { print $1 }' "$T/results" | sort -u)" 503 "all of them 503"
is "$(uh_status /healthz)" 503 "/healthz: 503 while the disk is full"
uh_params full-forged
is "$(uh_post "$UH_PATH" not-a-signature)" 403 "a forged callback is still refused with 403"
ok "the daemon lives on" uh_alive

# The first job finishes now: its outcome cannot be recorded, so it is kept
# and retried, and no new action starts while it waits (its start could not
# be recorded either, and it would be fetched and run again and again).
: >"$T/gate-open"
wait_for 10 grep -qsx before-0 "$T/runs"
sleep 3
is "$(runs_of before-0)" 1 "the action that finished while the disk was full ran once"
is "$(runs_of before-1)" 0 "no new action starts while the disk is full"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token GLOB 'full-*'")" 0 \
    "none of the 503s was stored"

# Space comes back.
if [ "$UH_FULLDISK_MODE" = tmpfs ]; then
	rm -f "$DISK/fill"
else
	prlimit --pid "$UH_PID" --fsize=unlimited:unlimited ||
	    diag "prlimit could not lift the cap"
fi
code=
for _ in $(seq 1 50); do
	code=$(uh_status /healthz)
	[ "$code" = 200 ] && break
	sleep 0.1
done
is "$code" 200 "/healthz: 200 again once there is space, without a restart"
is "$(sql "SELECT count(*) FROM callbacks WHERE idempotency_token GLOB 'full-*'")" 0 \
    "and the 503s did not turn up in the database later"
rm -f "$T/results.retry"
out=$("$LOADGEN" -a "unix:$UH_SOCK" -k "$T/token" -p full -n 20 -c 1 -o "$T/results.retry")
like "$out" '^sent=20 answered=20 ok=20 dup=0 ' "Twilio's retries of the 20: 200, none a duplicate"
like "$(send after 5)" '^sent=5 answered=5 ok=5 ' "new callbacks: 200"
wait_for 10 states_are "$(printf 'done%.0s ' $(seq 1 27) | sed 's/ $//')"
is "$(sql "SELECT state || ' ' || count(*) FROM jobs GROUP BY state")" "done 27" \
    "every job (2 before, 25 after) reached done without a restart"
is "$(runs_of before-0) $(runs_of before-1)" "1 1" \
    "once space is back, the waiting action ran exactly once, the finished one not again"
cat "$T/results" "$T/results.retry" | awk '$1 == 200 { print $2 }' | sort -u >"$T/acked"
stored=$(sql 'SELECT idempotency_token FROM callbacks ORDER BY 1' | sort)
is "$(comm -23 "$T/acked" <(printf '%s\n' "$stored") | wc -l)" 0 \
    "every callback answered 200 is stored ($(wc -l <"$T/acked") of them)"
is "$(sql 'PRAGMA integrity_check')" ok "PRAGMA integrity_check"
ok "daemon still running" uh_alive
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
