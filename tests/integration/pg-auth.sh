#!/usr/bin/env bash
# pg-auth.sh: a PostgreSQL user with a password: database_password_file
# ($CREDENTIALS_DIRECTORY expanded) is read at each connection, so a wrong
# one stops the start with libpq's reason and a rotated one is used when the
# daemon reconnects; the password is never logged; check-config refuses a
# missing password file and a dispatch.lease shorter than an action timeout.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"

pg_need
pg_start

sends_200() { [ "$(uh_send IdempotencyToken="$1")" = "200 OK IdempotencyToken=$1" ]; }

psql_q "CREATE ROLE uh LOGIN PASSWORD 'first-Secret-1';
    GRANT CREATE ON SCHEMA public TO uh" >/dev/null
# Password (scram) for uh on the socket; trust stays for the test's psql.
_pg sh -c "{ echo 'local all uh scram-sha-256'; cat '$PG_DATA/pg_hba.conf'; } \
    >'$PG_DATA/pg_hba.new' && mv '$PG_DATA/pg_hba.new' '$PG_DATA/pg_hba.conf'"
_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" reload >/dev/null

export CREDENTIALS_DIRECTORY=$T/creds
mkdir -m 700 "$CREDENTIALS_DIRECTORY"
(umask 077 && echo 'not-the-password' >"$CREDENTIALS_DIRECTORY/pg-password")
UH_DB="postgresql:///postgres?host=$PG_DIR&user=uh"
mk_config "database_password_file: \$CREDENTIALS_DIRECTORY/pg-password"

timeout 20 "$UH_D" -c "$UH_CONF" >/dev/null 2>"$T/wrong.err"
isnt "$?" 0 "a wrong password: the daemon does not start"
like "$(cat "$T/wrong.err")" 'password authentication failed for user "uh"' \
    "and says what PostgreSQL said"
unlike "$(cat "$T/wrong.err")" 'not-the-password' "without the password"

(umask 077 && echo 'first-Secret-1' >"$CREDENTIALS_DIRECTORY/pg-password")
uh_start
is "$(uh_send IdempotencyToken=auth-1)" "200 OK IdempotencyToken=auth-1" "the right password: 200"
is "$(psql_q "SELECT count(*) FROM callbacks")" 1 "the row is in PostgreSQL"

# Rotate: a new password in the database and the file, connections cut.
psql_q "ALTER ROLE uh PASSWORD 'second-Secret-2'" >/dev/null
(umask 077 && echo 'second-Secret-2' >"$CREDENTIALS_DIRECTORY/pg-password")
psql_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE usename = 'uh'" >/dev/null
ok "after a rotation the daemon reconnects with the new password" \
    wait_for 20 sends_200 auth-2
unlike "$(cat "$UH_LOG")" 'Secret' "no password in the daemon's log"
uh_stop

# check-config refusals, with file:line:col.
mk_config "database_password_file: $T/absent" \
    "dispatch: { lease: 2s }" \
    "rules:" \
    "  - name: slow" \
    "    match: { UsageCategory: sms }" \
    "    actions:" \
    "      - exec: [\"/bin/true\"]" \
    "        timeout: 5s"
"$UH_CTL" -c "$UH_CONF" check-config >/dev/null 2>"$T/check.err"
is "$?" 1 "check-config refuses the file"
like "$(cat "$T/check.err")" 'yaml:[0-9]+:[0-9]+: database_password_file .*absent: cannot read' \
    "a missing database_password_file"
like "$(cat "$T/check.err")" 'yaml:[0-9]+:[0-9]+: dispatch: lease \(2000ms\) must be longer than the timeout of rule slow' \
    "a lease shorter than an action's timeout"
done_testing
