#!/usr/bin/env bash
# shellcheck disable=SC2119
# syncorder.sh: no 200 before its claim is on disk. Under load, with every
# system call of the daemon's threads traced by strace, each 200 written to
# a client socket must come after an fdatasync of the WAL file that began
# after the last WAL write of the transaction holding that callback, and
# returned before the 200 was written. Times are strace's: a call's entry
# is stamped before it runs and its exit after it returned, so the check is
# conservative. A build that answered before the sync returned fails it
# (tried: 566 of 600 replies early), as would one with synchronous=NORMAL
# and no sync of its own.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

STRACE=$(command -v strace) ||
    skip_all "strace not installed (apt-get install strace)"
LOADGEN=$top_builddir/tests/fixtures/loadgen
[ -x "$LOADGEN" ] || bail "$LOADGEN not built (make check builds it)"
"$STRACE" -f -o /dev/null true 2>/dev/null ||
    skip_all "strace cannot trace here (ptrace refused: $("$STRACE" -f -o /dev/null true 2>&1 | head -n 1))"
COUNT=${UH_SYNC_COUNT:-600}

mk_config
# The daemon under strace: -f every thread, -tt -T entry time and duration,
# -y the path of each descriptor, -x strings with unprintable bytes in hex.
# Each fdatasync is held 10 ms before it runs (what a slow disk does): a
# reply released before the sync returned shows at once.
REAL_D=$UH_D
UH_D=$T/traced-usagehookd
# LeakSanitizer cannot stop the world under another tracer.
cat >"$UH_D" <<EOF
#!/bin/sh
ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
exec "$STRACE" -f -tt -T -y -x -s 8192 -o "$T/trace" \\
    -e trace=pwrite64,fdatasync,fsync,read,readv,write,writev,sendmsg \\
    -e inject=fdatasync:delay_enter=10000 \\
    "$REAL_D" "\$@"
EOF
chmod +x "$UH_D"
uh_start
# Signals go to the daemon, not to strace, which ends when it does.
TRACER=$UH_PID
wait_for 10 eval 'UH_PID=$(pgrep -P "$TRACER") && [ -n "$UH_PID" ]' ||
    bail "no daemon under strace $TRACER"
uh_track "$UH_PID"	# a killed strace leaves its tracee running
TRACEE_PID=$UH_PID

"$LOADGEN" -a "unix:$UH_SOCK" -k "$T/token" -p so -c 16 -n "$COUNT" \
    -o "$T/results" >"$T/loadgen.out" 2>"$T/loadgen.err"
diag "loader: $(cat "$T/loadgen.out")"
ok200=$(awk '$1 == 200' "$T/results" | wc -l)
is "$ok200" "$COUNT" "all $COUNT callbacks answered 200 under strace"
kill -TERM "$UH_PID"
wait "$TRACER"	# strace exits with the daemon's status
is "$?" 0 "SIGTERM: exit 0"
UH_PID=
# The trace is whole once strace wrote the daemon's exit.
ok "strace wrote the daemon's exit" \
    wait_for 20 grep -Eq "^$TRACEE_PID +[0-9:.]+ \\+\\+\\+ exited with" "$T/trace"
is "$(sql 'SELECT count(*) FROM callbacks')" "$COUNT" "and stored"

# The check, over strace's lines in the order strace wrote them:
#   PID HH:MM:SS.UUUUUU call(FD<path>, "\x..\x..", ...) = RET <DURATION>
# where strace pads the PID to five columns ("%-5d "): a PID under 10000,
# as after the PIDs wrapped around pid_max, is followed by several spaces.
# or split in "call(... <unfinished ...>" and "<... call resumed>...".
# With -x a string holding any unprintable byte is all \xHH: the patterns
# are searched in hex (at a byte boundary) or, in a printable string, as
# text. Tokens are so-N. SQLite writes each WAL frame as a 24-byte header
# and then the page; a commit frame's header has the database size (bytes
# 4-7) non-zero, so the page written after it ends the transaction.
awk -v wal="$UH_DB-wal" '
BEGIN {
	OFMT = "%.6f"
	# "IdempotencyToken=so-", "HTTP/1.1 200" in hex.
	H_PARAM = "4964656d706f74656e6379546f6b656e3d736f2d"
	H_200 = "485454502f312e3120323030"
}
# Every "IdempotencyToken=so-N&" of the raw body in line, as so-N, into
# into[] (and the count). The "&" ends the number: in a page the bytes after
# a token may be digits of another column.
function found(line, into,    s, h, n, d, i, pre, plain, off) {
	pre = H_PARAM
	plain = "IdempotencyToken="
	n = 0
	if (index(line, "\\x")) {
		h = substr(line, index(line, "\"") + 1)	# the first string
		gsub(/\\x/, "", h)
		off = 0
		while (match(h, pre "(3[0-9])+26")) {
			s = substr(h, RSTART + length(pre), RLENGTH - length(pre) - 2)
			if ((off + RSTART) % 2 == 1) {	# at a byte boundary
				d = ""
				for (i = 2; i <= length(s); i += 2) d = d substr(s, i, 1)
				into[++n] = "so-" d
			}
			off += RSTART
			h = substr(h, RSTART + 1)
		}
		return n
	}
	s = line
	while (match(s, plain "so-[0-9]+&")) {
		into[++n] = substr(s, RSTART + length(plain),
		    RLENGTH - length(plain) - 1)
		s = substr(s, RSTART + RLENGTH)
	}
	return n
}
function secs(t,    a) { split(t, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
function dur(line,    m) {
	if (match(line, /<[0-9]+\.[0-9]+>$/))
		return substr(line, RSTART + 1, RLENGTH - 2) + 0
	return 0
}
# A 24-byte frame header: are its bytes 4..7 (the database size) non-zero?
function commit_header(line,    h) {
	h = substr(line, index(line, "\"") + 1, 24 * 4)
	gsub(/\\x/, "", h)
	return substr(h, 9, 8) != "00000000"
}
function is200(line,    h) {
	if (!index(line, "\\x")) return 0
	h = substr(line, index(line, "\"") + 1)
	gsub(/\\x/, "", h)
	return match(h, H_200) && RSTART % 2 == 1
}
# A finished call: name, fd path, entry time, exit time, the whole text.
function call(pid, name, path, t0, t1, text,    k, n, q, tok, got) {
	if (name == "pwrite64" && path == wal) {
		walwrites++
		if (syncing_since != "" && t0 > syncing_since) overlap++
		if (text ~ /, 24, [0-9]+\) = 24/) {
			if (commit_header(text)) last_is_commit[pid] = 1
			return
		}
		n = found(text, got)
		for (k = 1; k <= n; k++) txn[got[k]] = 1
		if (last_is_commit[pid]) {
			last_is_commit[pid] = 0
			for (k in txn) if (!(k in committed)) committed[k] = t1
			for (k in txn) delete txn[k]
			ncommits++
		}
		return
	}
	if ((name == "fdatasync" || name == "fsync") && path == wal) {
		nsyncs[++s_n] = t0; synced_end[s_n] = t1
		return
	}
	if ((name == "read" || name == "readv") && path ~ /socket|UNIX/) {
		n = found(text, got)
		for (k = 1; k <= n; k++) { q = qtail[path]++; queue[path, q] = got[k] }
		return
	}
	if ((name == "writev" || name == "write" || name == "sendmsg") &&
	    path ~ /socket|UNIX/ && (index(text, "HTTP/1.1 200") ||
	    is200(text))) {
		q = qhead[path]++
		if (!((path, q) in queue)) { noreq++; return }
		tok = queue[path, q]
		replies++
		if (!(tok in committed)) { bad++; if (bad <= 5) print "no WAL commit seen before the 200 of " tok > "/dev/stderr"; return }
		# An fdatasync that began after the commit and ended before t0.
		for (k = 1; k <= s_n; k++)
			if (nsyncs[k] > committed[tok] && synced_end[k] < t0) break
		if (k > s_n) { bad++; if (bad <= 5) print "200 of " tok " at " t0 " without an fdatasync of the WAL after its commit at " committed[tok] > "/dev/stderr" }
		return
	}
}
{
	if (!match($0, /^[0-9]+ +[0-9:.]+ /)) next
	pid = $1; t0 = secs($2)
	rest = substr($0, RLENGTH + 1)
	if (rest ~ /^<\.\.\. [a-z0-9]+ resumed>/) {
		if (!(pid in pend_name)) next
		sub(/^<\.\.\. [a-z0-9]+ resumed>/, "", rest)
		call(pid, pend_name[pid], pend_path[pid], pend_t0[pid],
		    pend_t0[pid] + dur(rest), pend_text[pid] rest)
		if (pend_name[pid] == "fdatasync" && pend_path[pid] == wal) syncing_since = ""
		delete pend_name[pid]
		next
	}
	if (!match(rest, /^[a-z0-9_]+\(/)) next
	name = substr(rest, 1, RLENGTH - 1)
	path = ""
	if (match(rest, /^[a-z0-9_]+\([0-9]+<[^>]*>/)) {
		path = substr(rest, 1, RLENGTH - 1)
		path = substr(path, index(path, "<") + 1)
	}
	if (rest ~ /<unfinished \.\.\.>$/) {
		pend_name[pid] = name; pend_path[pid] = path; pend_t0[pid] = t0
		sub(/ <unfinished \.\.\.>$/, "", rest)
		pend_text[pid] = rest
		if (name == "fdatasync" && path == wal) syncing_since = t0
		next
	}
	call(pid, name, path, t0, t0 + dur(rest), rest)
}
END {
	printf "replies=%d bad=%d noreq=%d commits=%d walwrites=%d syncs=%d overlap=%d\n",
	    replies, bad, noreq, ncommits, walwrites, s_n, overlap
}' "$T/trace" >"$T/check" 2>"$T/check.err"
diag "$(cat "$T/check") (trace: $(wc -l <"$T/trace") lines, $(grep -c -- "-wal>" "$T/trace") on the WAL)"
[ -s "$T/check.err" ] && diag "$(cat "$T/check.err")"
field() { tr ' ' '\n' <"$T/check" | sed -n "s/^$1=//p"; }
is "$(field replies)" "$COUNT" "every 200 in the trace was matched to its request"
is "$(field bad)" 0 "every 200 came after an fdatasync of the WAL that began after its commit"
ok "the WAL was synced by fdatasync ($(field syncs) times)" [ "$(field syncs)" -gt 0 ]
ok "commits were recognised in the WAL writes ($(field commits))" [ "$(field commits)" -gt 0 ]
done_testing
