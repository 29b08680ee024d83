#!/usr/bin/env bash
# shellcheck disable=SC2119
# config.sh: a bad configuration is refused with every problem reported as
# FILE:LINE:COL on stderr and exit 1, at start and by --check-config / -n;
# a good one is "configuration OK".
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"

mk_config
good=$UH_CONF

# run_d ARG...: usagehookd bounded in time; stdout+stderr in $T/out, exit in $rc.
run_d() {
	timeout 10 "$UH_D" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

run_d --check-config -c "$good"
is "$rc" 0 "--check-config on a good config: exit 0"
like "$(cat "$T/out" "$T/err")" 'configuration OK' "--check-config says configuration OK"
run_d -n -c "$good"
is "$rc" 0 "-n on a good config: exit 0"

# An unknown key on line 5 and a malformed SID on line 8.
bad=$T/bad.yaml
cat >"$bad" <<YAML
listen: "unix:$T/bad.sock"
public_url: http://hooks.test
path: /twilio/usage
database: $T/bad.db
colour: blue
trusted_proxies: [127.0.0.1, unix]
accounts:
  - sid: ACnot-a-valid-account-sid
    auth_token_file: $T/token
YAML
re_unknown="(^|
)$bad:5:1: [^
]*colour"
re_sid="(^|
)$bad:8:(5|10): "

run_d -c "$bad"
is "$rc" 1 "usagehookd refuses a bad config: exit 1"
err=$(cat "$T/err")
like "$err" "$re_unknown" "stderr: $(basename "$bad"):5:1: for the unknown key 'colour'" ||
    diag "$err"
like "$err" "$re_sid" "stderr: $(basename "$bad"):8:COL: for the malformed sid" ||
    diag "$err"
ok "no socket was created" test ! -e "$T/bad.sock"

run_d --check-config -c "$bad"
is "$rc" 1 "--check-config on the bad config: exit 1"
err=$(cat "$T/err")
like "$err" "$re_unknown" "--check-config reports the unknown key at 5:1"
like "$err" "$re_sid" "--check-config reports the sid at line 8"
run_d -n -c "$bad"
is "$rc" 1 "-n on the bad config: exit 1"

# More kinds of error, each with its line.
cat >"$bad" <<YAML
listen: "unix:$T/bad.sock"
public_url: http://hooks.test
path: [not, a, string]
database: $T/bad.db
limits: {max_body: lots}
accounts:
  - sid: $UH_SID
    auth_token_file: $T/no-such-token-file
YAML
run_d --check-config -c "$bad"
is "$rc" 1 "wrong type, bad size, unreadable token file: exit 1"
err=$(cat "$T/err")
like "$err" "(^|
)$bad:3:[0-9]+: " "wrong type for path reported at line 3" || diag "$err"
like "$err" "(^|
)$bad:5:[0-9]+: " "impossible max_body reported at line 5" || diag "$err"
like "$err" "(^|
)$bad:8:[0-9]+: " "unreadable auth_token_file reported at line 8" || diag "$err"
unlike "$err" "$UH_TOKEN" "no token in the messages"

# A required key missing.
cat >"$bad" <<YAML
listen: "unix:$T/bad.sock"
database: $T/bad.db
YAML
run_d --check-config -c "$bad"
is "$rc" 1 "no accounts: exit 1"
like "$(cat "$T/err")" "(^|
)$bad:[0-9]+:[0-9]+: .*accounts" "missing accounts reported with file:line:col"

# A YAML syntax error.
printf 'listen: "unix:%s/bad.sock\naccounts: [\n' "$T" >"$bad"
run_d --check-config -c "$bad"
is "$rc" 1 "broken YAML: exit 1"
like "$(cat "$T/err")" "(^|
)$bad:[0-9]+:[0-9]+: " "broken YAML reported with file:line:col"

# A missing file.
run_d --check-config -c "$T/no-such.yaml"
is "$rc" 1 "missing config file: exit 1"
like "$(cat "$T/err")" "no-such\\.yaml" "the message names the file"

# http: URLs libevent cannot parse (issue 11): refused at check-config,
# not at every attempt of the action; a secret header over plain http is a
# warning and the file still loads.
cp "$good" "$bad"
printf 'secret\n' >"$T/hook-secret"
cat >>"$bad" <<YAML
rules:
  - name: r
    actions:
      - http: https://ops.example.com/hook/{UsageCategory}
      - http: "https://ops.example.com/a|b"
      - http: https://ops.example.com/\`id\`
YAML
n=$(wc -l <"$bad")
ctl -c "$bad" check-config >"$T/out" 2>"$T/err"
is "$?:$(cat "$T/err")" "1:$bad:$((n - 2)):15: http: 'https://ops.example.com/hook/{UsageCategory}' is not an http:// or https:// URL: its '{' at character 30 is not allowed in a URL: write it as %7B
$bad:$((n - 1)):15: http: 'https://ops.example.com/a|b' is not an http:// or https:// URL: its '|' at character 26 is not allowed in a URL: write it as %7C
$bad:$n:15: http: 'https://ops.example.com/\`id\`' is not an http:// or https:// URL: its '\`' at character 25 is not allowed in a URL: write it as %60" \
    "usagehookctl check-config: URLs libevent cannot parse refused with file:line:col"
run_d --check-config -c "$bad"
is "$rc" 1 "usagehookd --check-config refuses them too"
cp "$good" "$bad"
cat >>"$bad" <<YAML
rules:
  - name: r
    actions:
      - http: http://ops.example.com/hook
        headers: { X-Secret: { file: $T/hook-secret } }
      - http: https://ops.example.com/hook
        headers: { X-Secret: { file: $T/hook-secret } }
YAML
n=$(wc -l <"$bad")
ctl -c "$bad" check-config >"$T/out" 2>"$T/err"
is "$?:$(cat "$T/err")" "0:$bad:$((n - 2)):9: warning: headers X-Secret: a secret read from $T/hook-secret is sent to http://ops.example.com/hook in clear text; use https://" \
    "a secret header for a plain http:// URL: a warning, the file loads (not for https://)"

# The good config still starts.
uh_start
is "$(uh_status /healthz)" 200 "the good config starts: /healthz 200"
uh_stop
is "$UH_STATUS" 0 "SIGTERM: exit 0"
done_testing
