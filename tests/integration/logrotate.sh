#!/usr/bin/env bash
# logrotate.sh: the sample contrib/logrotate/usagehookd.logrotate rotates
# the files of append actions under load and loses no record: every
# callback answered 200 is one line in exactly one of the rotated files.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

LOADGEN=$top_builddir/tests/fixtures/loadgen
[ -x "$LOADGEN" ] || bail "$LOADGEN not built (make check builds it)"
LR=$(command -v logrotate || echo /usr/sbin/logrotate)
[ -x "$LR" ] || skip_all "logrotate is not installed (apt-get install logrotate)"
N=400

mkdir -p "$T/logs"
mk_config "rules:" \
    "  - name: keep" \
    "    match: { UsageCategory: sms }" \
    "    actions:" \
    "      - append: $T/logs/usage.jsonl"
sed "s|/var/log/usagehookd/|$T/logs/|" \
    "$top_srcdir/contrib/logrotate/usagehookd.logrotate" >"$T/logrotate.conf"
chmod 0644 "$T/logrotate.conf"
ok "the sample names the files append actions write" grep -q "^$T/logs/\\*.jsonl {" "$T/logrotate.conf"
uh_start

rotate() { "$LR" -f -s "$T/logrotate.state" "$T/logrotate.conf" 2>>"$T/logrotate.err"; }
all_lines() {
	{
		cat "$T/logs"/usage.jsonl "$T/logs"/usage.jsonl.1 2>/dev/null
		for f in "$T/logs"/usage.jsonl.*.gz; do
			[ -e "$f" ] && gzip -dc "$f"
		done
	}
}
count() { all_lines | wc -l; }

# A bounded load (N callbacks, 200 a second); rotate each time the current
# file has taken a record, as long as the load runs (6 times at most: the
# sample keeps 12).
"$LOADGEN" -a "unix:$UH_SOCK" -k "$T/token" -p "lr-$$" -c 2 -n "$N" -R 200 \
    -o "$T/results" >"$T/loadgen.out" 2>>"$T/loadgen.err" &
lg=$!
uh_track "$lg"
rotations=0
while kill -0 "$lg" 2>/dev/null && [ "$rotations" -lt 6 ]; do
	if wait_for 10 test -s "$T/logs/usage.jsonl" && rotate; then
		rotations=$((rotations + 1))
	fi
done
wait "$lg"
like "$(cat "$T/loadgen.out")" "sent=$N answered=$N ok=$N " "all $N callbacks answered 200"
ok "the files were rotated under load ($rotations times)" test "$rotations" -ge 2
is "$(cat "$T/logrotate.err" 2>/dev/null)" "" "logrotate said nothing wrong"

wait_for 60 eval '[ "$(count)" -ge "$N" ]'
is "$(count)" "$N" "$N records in the current and rotated files together"
is "$(all_lines | grep -o "\"IdempotencyToken\": *\"lr-$$-[0-9]*\"" | sort -u | wc -l)" "$N" \
    "each callback's record is there exactly once"
is "$(all_lines | grep -cv '^{.*}$')" 0 "every line is a whole JSON object"
ok "older rotations are compressed" compgen -G "$T/logs/usage.jsonl.*.gz"

done_testing
