#!/usr/bin/env bash
# operator.sh: what an operator types first: --version on both programs,
# USAGEHOOKD_CONFIG as the default configuration file, send --connect
# keeping the URL's scheme.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

mk_config

# --version: ours and the libraries' versions, exit 0.
for prog in "$UH_D" "$UH_CTL"; do
	name=${prog##*/}
	out=$("$prog" --version 2>&1)
	is "$?" 0 "$name --version: exit 0"
	like "$out" "^$name [0-9]+\\.[0-9]+" "$name --version names its version"
	like "$out" "libevent [0-9].*SQLite [0-9].*OpenSSL [0-9].*libyaml [0-9]" \
	    "$name --version names the libraries' versions"
	is "$("$prog" -V 2>&1)" "$out" "$name -V is --version"
done

# USAGEHOOKD_CONFIG: the default for both programs; -c still wins.
out=$(USAGEHOOKD_CONFIG=$UH_CONF timeout 30 "$UH_D" --check-config 2>&1)
is "$?:$out" "0:configuration OK" "usagehookd --check-config reads \$USAGEHOOKD_CONFIG"
out=$(USAGEHOOKD_CONFIG=$UH_CONF timeout 30 "$UH_CTL" check-config 2>&1)
is "$?" 0 "usagehookctl check-config reads \$USAGEHOOKD_CONFIG"
out=$(USAGEHOOKD_CONFIG=$T/missing.yaml timeout 30 "$UH_CTL" check-config 2>&1)
is "$?" 1 "usagehookctl: a missing \$USAGEHOOKD_CONFIG fails"
like "$out" "$T/missing.yaml" "... naming the file it tried"
out=$(USAGEHOOKD_CONFIG=$T/missing.yaml timeout 30 "$UH_D" -c "$UH_CONF" -n 2>&1)
is "$?:$out" "0:configuration OK" "usagehookd: -c wins over \$USAGEHOOKD_CONFIG"
like "$(USAGEHOOKD_CONFIG=$T/x.yaml "$UH_D" --help)" "default $T/x.yaml" \
    "usagehookd --help shows the default in use"
like "$(USAGEHOOKD_CONFIG=$T/x.yaml "$UH_CTL" --help)" "default $T/x.yaml" \
    "usagehookctl --help shows the default in use"

# send --url https://… --connect HOST:PORT speaks TLS to HOST:PORT (the
# URL's scheme), the certificate checked against the URL's host.
SINK=$top_builddir/tests/fixtures/sink
uh_certs hooks:DNS:hooks.test
"$SINK" -o "$T/tls.out" -p "$T/tls.port" -c "$T/hooks.pem" -k "$T/hooks.key" \
    >>"$T/sink.log" 2>&1 </dev/null &
uh_track "$!"
wait_for 10 test -s "$T/tls.port" || bail "the TLS sink did not start"
TLS_PORT=$(cat "$T/tls.port")
out=$(uh_send --url "https://hooks.test/twilio/usage" \
    --connect "127.0.0.1:$TLS_PORT" --ca-file "$T/ca.pem" 2>&1)
like "$out" "^200 " "send --url https://… --connect ADDR speaks TLS to ADDR"
like "$(cat "$T/tls.out" 2>/dev/null)" "^POST /twilio/usage" \
    "... and the TLS server got the request"
out=$(ctl send --url "https://hooks.test/twilio/usage" \
    --connect "127.0.0.1:$TLS_PORT" 2>&1)
like "$out" "certificate" "... the certificate checked (no --ca-file: refused)"
# http://ADDR: plain HTTP whatever the URL, as to the daemon's own listener.
out=$(ctl send --url "https://hooks.test/twilio/usage" \
    --connect "http://127.0.0.1:$TLS_PORT" --timeout 5 2>&1)
unlike "$out" "^200 " "send --connect http://ADDR speaks plain HTTP (the TLS port refuses it)"
uh_start
out=$(uh_send --url "$UH_PUBLIC_URL$UH_PATH" --connect "$UH_LISTEN" 2>&1)
like "$out" "^200 " "send --connect to the daemon's listener (plain) still works"

# Reload: a listen changed is reported against the running address, so a
# change undone by the next reload is not reported again.
cp "$UH_CONF" "$T/running.yaml"
sed -i "s|^listen: .*|listen: \"unix:$T/elsewhere.sock\"|" "$UH_CONF"
kill -HUP "$UH_PID"
wait_for 10 grep -q "reloaded " "$UH_LOG"
is "$(grep -c 'listen changed' "$UH_LOG")" 1 "reload: a changed listen is reported"
like "$(grep 'listen changed' "$UH_LOG")" "still listening on $UH_LISTEN" \
    "... naming the address still in use"
cp "$T/running.yaml" "$UH_CONF"
kill -HUP "$UH_PID"
nreloaded() { grep -c 'reloaded ' "$UH_LOG"; }
wait_for 10 eval '[ "$(nreloaded)" -ge 2 ]'
is "$(grep -c 'reloaded ' "$UH_LOG")" 2 "the second reload is done"
is "$(grep -c 'listen changed' "$UH_LOG")" 1 \
    "reload: listen set back to the running address is not reported"

# show --raw and replay --dry-run: byte for byte into a pipe, and ending
# with a newline on a terminal (script(1) gives them one).
uh_send IdempotencyToken=op-raw >/dev/null
last_byte() { tail -c 1 | od -An -c | tr -d ' '; }
isnt "$(ctl show op-raw --raw | last_byte)" '\n' \
    "show --raw into a pipe is byte for byte (no newline added)"
if command -v script >/dev/null 2>&1; then
	tty_out() {
		script -qec "$(printf '%q ' "$UH_CTL" -c "$UH_CONF" "$@")" /dev/null
	}
	is "$(tty_out show op-raw --raw | last_byte)" '\n' \
	    "show --raw on a terminal ends with a newline"
	is "$(tty_out replay op-raw --dry-run 2>/dev/null | last_byte)" '\n' \
	    "replay --dry-run on a terminal ends with a newline"
else
	skip "show --raw on a terminal" "script(1) is not installed (apt-get install bsdutils)"
	skip "replay --dry-run on a terminal" "script(1) is not installed (apt-get install bsdutils)"
fi

# libyaml's syntax errors come with a hint for the common mistakes.
hint_for() {
	printf '%s\n' "$1" >"$T/hint.yaml"
	timeout 30 "$UH_CTL" -c "$T/hint.yaml" check-config 2>&1
}
like "$(hint_for 'rules: [{ name: a, match: { CurrentValue: >= 500 } }]')" \
    'hint.yaml:1:43: syntax error: .*; quote the value: a comparison such as ">= 500"' \
    "an unquoted '>= 500' in a flow mapping: file:line:col and 'quote the value'"
like "$(hint_for "$(printf 'rules:\n\t- name: a')")" \
    "hint.yaml:2:1: .*spaces, not tabs" "a tab in the indentation: 'spaces, not tabs'"
like "$(hint_for 'log: "a\q"')" "single quotes" "a backslash in double quotes: use single quotes"
like "$(hint_for 'public_url: https://a.example: 8443')" 'quote a value that contains ": "' \
    "a ': ' inside a value: quote it"
like "$(hint_for 'trusted_proxies: [127.0.0.1, localhost')" "separate items with ','" \
    "an unclosed [ … ]: the hint names the separators"
like "$(hint_for 'trusted_proxies: [127.0.0.1, ::1]')" '"::1"\) must be quoted' \
    "an unquoted ::1 in [ … ]: quote it"

# A name that does not resolve: said in plain words, with where to look.
out=$(timeout 60 "$UH_CTL" -c "$UH_CONF" triggers list \
    --api-base https://no-such-host.invalid 2>&1)
like "$out" "cannot resolve no-such-host.invalid: (no such host|DNS lookup failed)" \
    "triggers: a name that does not resolve is said in plain words"
like "$out" "twilio_api.*--api-base" "... suggesting twilio_api / --api-base"
unlike "$out" "nodename nor servname" "... not libevent's BSD text"
out=$(timeout 60 "$UH_CTL" -c "$UH_CONF" send --url https://no-such-host.invalid/x 2>&1)
like "$out" "cannot resolve no-such-host.invalid: (no such host|DNS lookup failed)" \
    "send: the same words"

# The request log line carries the whole IdempotencyToken, so it can be
# pasted into show: a real one is 108 characters, the longest 256.
long=op-long-$(printf 'x%.0s' $(seq 1 248))
is "${#long}" 256 "a 256-byte token"
uh_send IdempotencyToken="$long" >/dev/null
wait_for 10 grep -q "IdempotencyToken=$long " "$UH_LOG"
ok "the log line holds the whole 256-byte IdempotencyToken" grep -q "IdempotencyToken=$long " "$UH_LOG"
tok=$(sed -n "s/.*IdempotencyToken=\(op-long-[^ ]*\) .*/\1/p" "$UH_LOG" | tail -n 1)
like "$(ctl show "$tok" 2>&1)" "$long" "... and show finds it by what the log says"

# retry --all-dead [--rule R]: after the target is fixed, every dead job
# (of one rule) runs again.
uh_stop
printf '#!/bin/sh\n[ -f "%s/fixed" ] || exit 3\necho "$1" >>"%s/retried"\n' "$T" "$T" >"$T/flaky.sh"
chmod +x "$T/flaky.sh"
mk_config "dispatch: { max_attempts: 1 }" "rules:" \
    "  - name: first" "    match: { UsageCategory: sms }" "    continue: true" \
    "    actions: [ { exec: [\"$T/flaky.sh\", first] } ]" \
    "  - name: second" "    match: { UsageCategory: sms }" \
    "    actions: [ { exec: [\"$T/flaky.sh\", second] } ]"
uh_start
uh_send IdempotencyToken=op-dead-1 UsageCategory=sms >/dev/null
uh_send IdempotencyToken=op-dead-2 UsageCategory=sms >/dev/null
ndead() { ctl jobs --dead --json | grep -c '"id"'; }
wait_for 30 eval '[ "$(ndead)" -ge 4 ]'
is "$(ndead)" 4 "four dead jobs (two callbacks, two rules, one attempt each)"
touch "$T/fixed"
out=$(ctl retry --all-dead --rule first)
is "$(printf '%s\n' "$out" | grep -c ' queued$')" 2 "retry --all-dead --rule first queues that rule's two"
nretried() { grep -c "$1" "$T/retried" 2>/dev/null; }
wait_for 30 eval '[ "$(nretried first)" -ge 2 ]'
is "$(ndead)" 2 "... and leaves the other rule's dead"
out=$(ctl retry --all-dead)
is "$(printf '%s\n' "$out" | grep -c ' queued$')" 2 "retry --all-dead queues the rest"
wait_for 30 eval '[ "$(nretried second)" -ge 2 ]'
is "$(ndead)" 0 "no dead job is left"
is "$(ctl retry --all-dead)" "no dead job" "retry --all-dead with none: says so"
ctl retry --all-dead 12 >/dev/null 2>&1
is "$?" 2 "retry --all-dead with ids: a usage error"

# tail: new callbacks and job outcomes as they happen, one JSON object a
# line with --json; SIGTERM ends it with 0.
# --since the next whole second, so what came before is not news however
# late the tails start.
t0=$(($(date +%s) + 1))
wait_for 5 eval '[ "$(date +%s)" -ge "$t0" ]'
since=$(date -u -d "@$t0" +%Y-%m-%dT%H:%M:%SZ)
timeout 60 "$UH_CTL" -c "$UH_CONF" tail --json --since "$since" >"$T/tail.json" 2>"$T/tail.err" &
tailpid=$!
uh_track "$tailpid"
timeout 60 "$UH_CTL" -c "$UH_CONF" tail --since "$since" >"$T/tail.txt" 2>>"$T/tail.err" &
tailpid2=$!
uh_track "$tailpid2"
rm -f "$T/fixed"
uh_send IdempotencyToken=op-tail-1 UsageCategory=sms >/dev/null
# Both jobs dead, whether tail saw them go or found them dead (--since).
ntaildead() { grep -c '"type": "job".*"state": "dead"' "$T/tail.json"; }
wait_for 60 eval '[ "$(ntaildead)" -ge 2 ]'
wait_for 30 grep -q ' dead ' "$T/tail.txt"
pkill -TERM -P "$tailpid"
wait "$tailpid"
is "$?" 0 "tail ends with 0 on SIGTERM"
pkill -TERM -P "$tailpid2"
wait "$tailpid2"
like "$(grep '"type": "callback"' "$T/tail.json")" '"idempotency_token": "op-tail-1"' \
    "tail --json: the new callback, on one line"
is "$(ntaildead)" 2 \
    "tail --json: both of its jobs going dead"
is "$(grep -vc '^{.*}$' "$T/tail.json")" 0 "tail --json: one whole object a line"
like "$(cat "$T/tail.txt")" "callback [0-9]+ $UH_SID sms .*IdempotencyToken=op-tail-1" \
    "tail: the callback in words"
like "$(cat "$T/tail.txt")" "job [0-9]+ rule first exec: dead \\(attempt 1 of 1\\): " \
    "tail: a job's outcome with its error"
unlike "$(cat "$T/tail.txt")" "op-dead-1" "tail: callbacks from before it started are not news"

# Tables fit 120 columns: Twilio's 108-character tokens are shortened;
# --wide prints them whole.
full=$UH_SID-FIRES-UT0123456789abcdef0123456789abcdef-2026-11-24
uh_send IdempotencyToken="$full" UsageTriggerSid=UT0123456789abcdef0123456789abcdef \
    UsageCategory=sms >/dev/null
out=$(ctl list)
is "$(printf '%s\n' "$out" | awk '{ if (length($0) > m) m = length($0) } END { print (m <= 120) }')" 1 \
    "list: every line fits 120 columns"
like "$out" "AC0123\\.\\.-UT0123\\.\\.-2026-11-24" "list: Twilio's token shape shortened"
like "$(ctl list --wide)" "$full" "list --wide: the whole token"
like "$(ctl jobs --wide)" "$full" "jobs --wide: the whole token"
is "$(ctl jobs | awk '{ if (length($0) > m) m = length($0) } END { print (m <= 120) }')" 1 \
    "jobs: every line fits 120 columns"
like "$(ctl list --json)" "\"$full\"" "list --json: the whole token"

# list filters: --account, --until, --unmatched, a glob in --category.
uh_stop
mk_config --secondary "rules:" "  - name: smsonly" "    match: { UsageCategory: sms }" \
    "    actions: [ { log: \"sms {CurrentValue}\" } ]"
uh_start
uh_send IdempotencyToken=lf-sms UsageCategory=sms >/dev/null
uh_send IdempotencyToken=lf-calls UsageCategory=calls >/dev/null
uh_send IdempotencyToken=lf-calls-in UsageCategory=calls-inbound >/dev/null
toks() { ctl list --json "$@" | sed -n 's/.*"idempotency_token": "\(lf-[^"]*\)".*/\1/p' | sort | tr '\n' ' '; }
is "$(toks --category 'calls*')" "lf-calls lf-calls-in " "list --category 'calls*': a glob"
is "$(toks --category calls)" "lf-calls " "list --category calls: that one only"
is "$(toks --unmatched)" "lf-calls lf-calls-in " "list --unmatched: those no rule matched"
is "$(toks --account "$UH_SID")" "lf-calls lf-calls-in lf-sms " "list --account: that account's"
is "$(toks --account AC00000000000000000000000000000000)" "" "list --account another: none"
ctl list --account ACnope >/dev/null 2>&1
is "$?" 2 "list --account with a malformed sid: usage error"
is "$(toks --until 2000-01-01)" "" "list --until a date before them: none"
is "$(toks --since 1h --until 2099-01-01)" "lf-calls lf-calls-in lf-sms " \
    "list --since 1h --until a later date: all three"

done_testing
