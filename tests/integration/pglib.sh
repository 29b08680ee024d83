# shellcheck shell=bash
# pglib.sh: a throwaway PostgreSQL 15 cluster for the tests, sourced after
# lib.sh: initdb and pg_ctl in $T/pg, run as the postgres user when the suite
# runs as root, listening only on a Unix socket in that directory, stopped
# at exit.
#
# pg_need: skip the script when no cluster can be made here; with
# USAGEHOOKD_REQUIRE_PG=1 (CI) that is a failure instead.
# pg_start / pg_stop / pg_restart; PG_URI is the database for usagehookd;
# psql_q QUERY prints the result unaligned, tuples only.

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=$T/pg
PG_DATA=$PG_DIR/data
PG_URI=
_pg_runas=()

# _pg_missing: why no cluster can be made, or nothing.
_pg_missing() {
	local b
	for b in initdb pg_ctl postgres psql; do
		if [ "$b" = psql ]; then
			command -v psql >/dev/null 2>&1 || [ -x "$PG_BIN/psql" ] ||
			    { echo "psql not found (apt-get install postgresql-client)"; return; }
			continue
		fi
		[ -x "$PG_BIN/$b" ] ||
		    { echo "$PG_BIN/$b not found (apt-get install postgresql)"; return; }
	done
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		echo "running as root and there is no postgres user to run the cluster as"
	fi
}

pg_need() {
	local why
	why=$(_pg_missing)
	[ -z "$why" ] && return 0
	if [ "${USAGEHOOKD_REQUIRE_PG:-0}" = 1 ]; then
		bail "PostgreSQL tests required (USAGEHOOKD_REQUIRE_PG=1) but: $why"
	fi
	skip_all "no PostgreSQL cluster can be started: $why"
}

# _pg ARG...: run a PostgreSQL program as the cluster's owner.
_pg() {
	"${_pg_runas[@]}" "$@"
}

_pg_psql() {
	if [ -x "$PG_BIN/psql" ]; then
		echo "$PG_BIN/psql"
	else
		command -v psql
	fi
}

pg_start() {
	local i
	if [ ! -d "$PG_DATA" ]; then
		mkdir -p "$PG_DIR"
		if [ "$(id -u)" -eq 0 ]; then
			_pg_runas=(runuser -u postgres --)
			# The cluster's owner must reach its directory.
			chmod 711 "$T"
			chown postgres: "$PG_DIR"
		fi
		_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust \
		    --no-sync -E UTF8 >"$PG_DIR/initdb.log" 2>&1 ||
		    bail "initdb failed: $(tail -n 5 "$PG_DIR/initdb.log")"
		{
			echo "listen_addresses = ''"
			echo "unix_socket_directories = '$PG_DIR'"
			echo "max_connections = 50"
			echo "fsync = ${PG_FSYNC:-off}"
			echo "synchronous_commit = ${PG_SYNC:-on}"
		} | _pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
	fi
	_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/server.log" -w -t 30 \
	    start >/dev/null 2>&1 ||
	    bail "pg_ctl start failed: $(tail -n 5 "$PG_DIR/server.log")"
	_pg_started=1
	PG_URI="postgresql:///postgres?host=$PG_DIR&user=postgres"
	for i in $(seq 1 50); do
		psql_q 'SELECT 1' >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	bail "PostgreSQL did not answer on $PG_DIR"
}

# pg_stop [MODE]: stop the cluster (fast by default: connections cut).
pg_stop() {
	_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m "${1:-fast}" -w -t 30 stop \
	    >/dev/null 2>&1
}

pg_restart() {
	pg_stop && pg_start
}

# psql_q QUERY: one query on the test database, unaligned, tuples only.
psql_q() {
	"$(_pg_psql)" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR" -U postgres \
	    -d postgres -c "$1"
}

# psql_eventually QUERY WANT: poll (up to 10 s) until QUERY prints WANT.
psql_eventually() {
	local got i
	for i in $(seq 1 100); do
		got=$(psql_q "$1" 2>&1)
		[ "$got" = "$2" ] && break
		sleep 0.1
	done
	printf '%s\n' "$got"
}

_pg_started=0
_pg_exit() {
	local rc=$?
	if [ "$_pg_started" -eq 1 ]; then
		_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 30 stop \
		    >/dev/null 2>&1
	fi
	(exit "$rc")
	_uh_cleanup
}
trap _pg_exit EXIT
