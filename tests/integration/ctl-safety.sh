#!/usr/bin/env bash
# ctl-safety.sh: usagehookctl asks before what cannot be undone: triggers
# apply lists the triggers it will delete and, on a terminal, asks (unless
# --yes); purge --dry-run counts what would go and deletes nothing; rerun
# --rule of a rule the callback does not match queues nothing without
# --force.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

command -v openssl >/dev/null 2>&1 ||
	skip_all "openssl not installed (apt-get install openssl)"
command -v script >/dev/null 2>&1 ||
	skip_all "script not installed (apt-get install bsdutils)"
FAKE=$top_builddir/tests/fixtures/fake-twilio
[ -x "$FAKE" ] || bail "$FAKE not built (make check builds it)"
REQ=$T/api.log

deletes() { if [ -f "$REQ" ]; then grep -c '^DELETE ' "$REQ"; else echo 0; fi; }

uh_certs good:IP:127.0.0.1
"$FAKE" -o "$REQ" -p "$T/api.port" -c "$T/good.pem" -k "$T/good.key" \
    -a "$UH_SID" -u "$UH_SID:$UH_TOKEN" >>"$T/fake.err" 2>&1 </dev/null &
uh_track "$!"
wait_for 5 test -s "$T/api.port" || bail "fake-twilio did not start"
API=$(cat "$T/api.port")

mk_config "twilio_api: https://127.0.0.1:$API" "twilio_ca_file: $T/ca.pem" \
    "rules:" \
    "  - name: big" \
    "    match: { CurrentValue: \">= 500\" }" \
    "    actions: [{ append: $T/big.jsonl }]"

# A trigger calling this daemon that the config does not declare: apply
# deletes it.
stale() {
	ctl triggers create --category sms --value 10 --name stale \
	    --url "$(uh_public)" 2>>"$T/ctl.err" | awk '$1 == "sid" { print $2 }'
}

# ---- triggers apply asks on a terminal ------------------------------------------
SID=$(stale)
# in_tty INPUT CMD...: CMD on a pseudo-terminal, INPUT typed into it.
in_tty() {
	local input=$1 cmdline= a
	shift
	for a in "$@"; do
		cmdline+=" $(printf '%q' "$a")"
	done
	printf '%s' "$input" | timeout 30 script -qec "$cmdline" /dev/null
}
out=$(in_tty $'n\n' "$UH_CTL" -c "$UH_CONF" triggers apply)
is "$?" 1 "apply on a terminal, answered n: exit 1"
like "$out" "will delete:" "it lists what it will delete"
like "$out" "$SID stale \\($UH_SID\\)" "with the trigger's SID and name"
like "$out" "Delete 1 trigger at Twilio\\? \\[y/N\\]" "and asks"
is "$(deletes)" 0 "nothing is deleted"

out=$(in_tty $'y\n' "$UH_CTL" -c "$UH_CONF" triggers apply)
is "$?" 0 "answered y: exit 0"
is "$(deletes)" 1 "the trigger is deleted"

SID=$(stale)
out=$(in_tty "" "$UH_CTL" -c "$UH_CONF" triggers apply --yes)
is "$?" 0 "apply --yes on a terminal: exit 0"
unlike "$out" "\\[y/N\\]" "--yes does not ask"
is "$(deletes)" 2 "and deletes"

SID=$(stale)
ctl triggers apply >"$T/out" 2>"$T/err" </dev/null
is "$?" 0 "apply without a terminal: exit 0 (scripts are not asked)"
like "$(cat "$T/err")" "will delete:.*$SID stale" "it still says what it deletes"
is "$(deletes)" 3 "and deletes"

# ---- purge --dry-run ----------------------------------------------------------------
uh_start
uh_params p-1 CurrentValue=10
is "$(uh_post_signed)" 200 "a callback is stored"
# purged_by_then: a dry run over 1 s counts it once it is that old.
old_enough() { ctl purge --older-than 1s --dry-run --json 2>/dev/null |
    grep -q '"callbacks": 1'; }
wait_for 10 old_enough
out=$(ctl purge --older-than 1s --dry-run)
is "$?" 0 "purge --dry-run: exit 0"
like "$out" "^would purge 1 callback \\(with 0 jobs\\) and 0 rejected requests from before .*; nothing deleted \\(--dry-run\\)$" \
    "it says what would go"
is "$(sql 'SELECT count(*) FROM callbacks')" 1 "and deletes nothing"
like "$(ctl purge --older-than 1s --force 2>/dev/null)" "^purged 1 callback" "purge without it deletes (--force: 1s is under the 1h minimum)"

# ---- rerun --rule of a rule that does not match -------------------------------------
uh_params p-2 CurrentValue=10
is "$(uh_post_signed)" 200 "a callback the rule does not match"
out=$(ctl rerun p-2 --rule big 2>&1)
is "$?" 1 "rerun --rule big: exit 1"
like "$out" "rule big does not match p-2: nothing queued .*--force queues its actions anyway" \
    "it refuses and says how to insist"
is "$(sql 'SELECT count(*) FROM jobs')" 0 "nothing is queued"
out=$(ctl rerun p-2 --rule big --force 2>&1)
is "$?" 0 "rerun --rule big --force: exit 0"
like "$out" "queued as --force asks" "it warns"
wait_for 10 test -s "$T/big.jsonl"
ok "the forced action ran" test -s "$T/big.jsonl"

done_testing
