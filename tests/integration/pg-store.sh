#!/usr/bin/env bash
# pg-store.sh: the store's unit tests on both backends (tests/unit/
# test_store_pg: each test on an SQLite file and on PostgreSQL), with a
# throwaway PostgreSQL cluster whose URI it gets from USAGEHOOKD_TEST_PG_URI.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"

BIN=$top_builddir/tests/unit/test_store_pg
[ -x "$BIN" ] || bail "$BIN is not built (make check builds it)"
pg_need
pg_start
USAGEHOOKD_TEST_PG_URI=$PG_URI CMOCKA_MESSAGE_OUTPUT=TAP "$BIN"
