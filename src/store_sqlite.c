/* store_sqlite.c: SQLite: schema, migrations, the claim, rejected, queries. */
#include "config-sys.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "firing.h"
#include "store.h"
#include "store_backend.h"
#include "xmalloc.h"

#define BUSY_TIMEOUT_MS	5000
/*
 * SQLite's own page cache per connection, KiB (SQLite's default: 2000).
 * The kernel's page cache holds the file anyway; this one mostly holds
 * the right edges of the table and indexes the writer appends to. With a
 * 583,000-row database, wrk -c64: 1024 KiB took 0.88-0.96 x the CPU per
 * callback of 2000 KiB and 1 MiB less memory (512 KiB: the same speed).
 */
#define STORE_CACHE_KIB	1024

#define STORE_STR_(x)	#x
#define STORE_STR(x)	STORE_STR_(x)

/* Numbered migrations, applied in order, each in its own transaction. */
struct migration {
	int		 version;
	const char	*sql;
};

static const struct migration migrations[] = {
	{ 1,
	"CREATE TABLE callbacks ("
	"  id INTEGER PRIMARY KEY,"
	"  idempotency_token TEXT NOT NULL UNIQUE,"
	"  received_at INTEGER NOT NULL,"	/* ms since the epoch */
	"  method TEXT,"
	"  uri TEXT,"
	"  url TEXT,"
	"  headers TEXT,"
	"  body BLOB,"
	"  remote TEXT,"
	"  signature TEXT,"
	"  account_sid TEXT,"
	"  usage_trigger_sid TEXT,"
	"  date_fired TEXT,"
	"  recurring TEXT,"
	"  usage_category TEXT,"
	"  trigger_by TEXT,"
	"  trigger_value TEXT,"
	"  current_value TEXT,"
	"  usage_record_uri TEXT,"
	"  duplicates INTEGER NOT NULL DEFAULT 0,"
	"  last_duplicate_at INTEGER"
	");"
	"CREATE INDEX callbacks_received_at ON callbacks(received_at);"
	"CREATE INDEX callbacks_category ON callbacks(usage_category, received_at);"
	"CREATE INDEX callbacks_trigger ON callbacks(usage_trigger_sid, received_at);"
	"CREATE TABLE rejected ("
	"  id INTEGER PRIMARY KEY,"
	"  at INTEGER NOT NULL,"		/* ms since the epoch */
	"  status INTEGER,"
	"  remote TEXT,"
	"  method TEXT,"
	"  uri TEXT,"
	"  reason TEXT NOT NULL,"
	"  detail TEXT,"
	"  account_sid TEXT,"
	"  idempotency_token TEXT"
	");"
	"CREATE INDEX rejected_at ON rejected(at);"
	"CREATE TABLE health ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  at INTEGER"
	");" },
	{ 2,
	/* The outbox: written with its callback, run at least once. */
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY,"
	"  callback_id INTEGER NOT NULL"
	"    REFERENCES callbacks(id) ON DELETE CASCADE,"
	"  rule TEXT NOT NULL,"
	"  action INTEGER NOT NULL,"		/* index in the rule's actions */
	"  kind TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'queued'"
	"    CHECK (state IN ('queued', 'running', 'done', 'dead')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  max_attempts INTEGER NOT NULL,"
	"  next_run_at INTEGER NOT NULL,"	/* ms since the epoch */
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  last_error TEXT"
	");"
	"CREATE INDEX jobs_due ON jobs(state, next_run_at);"
	"CREATE INDEX jobs_callback ON jobs(callback_id);" },
	{ 3,
	/*
	 * What usagehookctl rejected needs to recompute a refused signature
	 * over other URLs: the URL checked, the headers (Host, X-Forwarded-*),
	 * the signature and a small body. NULL in rows from older releases.
	 */
	"ALTER TABLE rejected ADD COLUMN url TEXT;"
	"ALTER TABLE rejected ADD COLUMN headers TEXT;"
	"ALTER TABLE rejected ADD COLUMN body BLOB;"
	"ALTER TABLE rejected ADD COLUMN signature TEXT;" },
	{ 4,
	/*
	 * Every claim paid for two more B-trees that only usagehookctl list
	 * --category/--trigger used; those now walk callbacks_received_at.
	 */
	"DROP INDEX IF EXISTS callbacks_category;"
	"DROP INDEX IF EXISTS callbacks_trigger;" },
	{ 5,
	/*
	 * The job model shared with PostgreSQL: the instance running a job
	 * and until when (ms) it holds it; a passed lease means it died.
	 */
	"ALTER TABLE jobs ADD COLUMN owner TEXT;"
	"ALTER TABLE jobs ADD COLUMN lease_until INTEGER;" },
	{ 6,
	/*
	 * Firings recovered from the REST API (source 'api') and the firing
	 * key that makes a late delivery of one a duplicate (store.h,
	 * sqlite_claim). NULL keys are many; one row per key otherwise.
	 * The lease lets one process reconcile at a time.
	 */
	"ALTER TABLE callbacks ADD COLUMN source TEXT NOT NULL"
	"  DEFAULT 'callback';"
	"ALTER TABLE callbacks ADD COLUMN firing_key TEXT;"
	"ALTER TABLE callbacks ADD COLUMN fired_at INTEGER;"	/* ms */
	"CREATE UNIQUE INDEX callbacks_firing ON callbacks(firing_key);"
	"CREATE TABLE reconcile_lock ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  owner TEXT NOT NULL,"
	"  expires INTEGER NOT NULL"	/* ms since the epoch */
	");" },
	{ 7,
	/* Which account token verified it: 1 primary, 2 secondary. */
	"ALTER TABLE callbacks ADD COLUMN verified_by INTEGER;" },
};

#define NMIGRATIONS	(sizeof migrations / sizeof migrations[0])
#define SCHEMA_LATEST	(migrations[NMIGRATIONS - 1].version)

/* Tables store_count may name; nothing else is ever put into SQL text. */
static const struct {
	const char	*table;
	const char	*sql;
} count_sql[] = {
	{ "callbacks",		"SELECT count(*) FROM callbacks" },
	{ "rejected",		"SELECT count(*) FROM rejected" },
	{ "health",		"SELECT count(*) FROM health" },
	{ "schema_version",	"SELECT count(*) FROM schema_version" },
	{ "jobs",		"SELECT count(*) FROM jobs" },
};

enum stmt {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_CLAIM,
	ST_CLAIM_HOLDER,
	ST_DUPLICATE,
	ST_REJECT,
	ST_REJECT_TRIM,
	ST_PROBE,
	ST_DUPLICATES_OF,
	ST_JOB_INSERT,
	ST_JOBS_DUE,
	ST_JOB_START,
	ST_JOB_FINISH,
	ST_JOBS_NEXT,
	ST_JOBS_RECOVER,
	ST_JOBS_TAKE,
	ST_JOB_LEASE,
	ST_REJECT_BYTES,
	ST_REJECT_BYTES_UPTO,
	ST_REJECT_OLDEST,
	ST_DATA_VERSION,
	ST_MAX
};

/* The bytes a rejected row keeps: its text and blob columns. */
#define REJECTED_ROW_BYTES						\
	"(coalesce(length(CAST(remote AS BLOB)), 0)"			\
	" + coalesce(length(CAST(method AS BLOB)), 0)"			\
	" + coalesce(length(CAST(uri AS BLOB)), 0)"			\
	" + coalesce(length(CAST(reason AS BLOB)), 0)"			\
	" + coalesce(length(CAST(detail AS BLOB)), 0)"			\
	" + coalesce(length(CAST(account_sid AS BLOB)), 0)"		\
	" + coalesce(length(CAST(idempotency_token AS BLOB)), 0)"	\
	" + coalesce(length(CAST(url AS BLOB)), 0)"			\
	" + coalesce(length(CAST(headers AS BLOB)), 0)"			\
	" + coalesce(length(CAST(body AS BLOB)), 0)"			\
	" + coalesce(length(CAST(signature AS BLOB)), 0))"

/* Prepared once in store_open and reused: the claim is the hot path. */
static const char *const stmt_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_CLAIM] =
	    "INSERT INTO callbacks (idempotency_token, received_at, method,"
	    " uri, url, headers, body, remote, signature, account_sid,"
	    " usage_trigger_sid, date_fired, recurring, usage_category,"
	    " trigger_by, trigger_value, current_value, usage_record_uri,"
	    " source, firing_key, fired_at, verified_by)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
	    " ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
	    " ON CONFLICT DO NOTHING",
	/* The row a claim ran into: by its token first, else its firing. */
	[ST_CLAIM_HOLDER] =
	    "SELECT id, source, 1 FROM callbacks WHERE idempotency_token = ?1"
	    " UNION ALL"
	    " SELECT id, source, 0 FROM callbacks WHERE firing_key = ?2"
	    " LIMIT 1",
	[ST_DUPLICATE] =
	    "UPDATE callbacks SET duplicates = duplicates + 1,"
	    " last_duplicate_at = ?1 WHERE id = ?2",
	[ST_REJECT] =
	    "INSERT INTO rejected (at, status, remote, method, uri, reason,"
	    " detail, account_sid, idempotency_token, url, headers, body,"
	    " signature)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[ST_REJECT_TRIM] = "DELETE FROM rejected WHERE id <= ?1",
	[ST_PROBE] = "INSERT OR REPLACE INTO health (id, at) VALUES (1, ?1)",
	[ST_DUPLICATES_OF] =
	    "SELECT duplicates FROM callbacks WHERE idempotency_token = ?1",
	[ST_JOB_INSERT] =
	    "INSERT INTO jobs (callback_id, rule, action, kind, max_attempts,"
	    " next_run_at, created_at, updated_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)",
	[ST_JOBS_DUE] =
	    "SELECT j.id, j.rule, j.action, j.attempts, j.max_attempts,"
	    " c.method, c.uri, c.body, c.id, c.received_at, c.source = 'api'"
	    " FROM jobs j JOIN callbacks c ON c.id = j.callback_id"
	    " WHERE j.state = 'queued' AND j.next_run_at <= ?1"
	    " ORDER BY j.next_run_at, j.id LIMIT ?2",
	[ST_JOB_START] =
	    "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
	    " updated_at = ?2 WHERE id = ?1",
	[ST_JOB_FINISH] =
	    "UPDATE jobs SET state = ?2, next_run_at = ?3,"
	    " last_error = coalesce(?4, last_error), updated_at = ?5,"
	    " owner = NULL, lease_until = NULL, attempts = attempts - ?7"
	    " WHERE id = ?1 AND (?6 IS NULL OR owner = ?6)",
	[ST_JOBS_NEXT] =
	    "SELECT min(t) FROM (SELECT min(next_run_at) AS t FROM jobs"
	    " WHERE state = 'queued' UNION ALL SELECT min(lease_until) FROM"
	    " jobs WHERE state = 'running')",
	[ST_JOBS_RECOVER] =
	    "UPDATE jobs SET state = 'queued', owner = NULL,"
	    " lease_until = NULL WHERE state = 'running'",
	[ST_JOBS_TAKE] =
	    "SELECT j.id, j.rule, j.action, j.attempts, j.max_attempts,"
	    " c.method, c.uri, c.body, c.id, c.received_at, c.source = 'api'"
	    " FROM jobs j JOIN callbacks c ON c.id = j.callback_id"
	    " WHERE ((j.state = 'queued' AND j.next_run_at <= ?1)"
	    " OR (j.state = 'running' AND j.lease_until <= ?1))"
	    " AND (?3 IS NULL OR instr(char(10) || ?3 || char(10),"
	    " char(10) || j.rule || char(10)) = 0)"
	    " ORDER BY j.next_run_at, j.id LIMIT ?2",
	[ST_JOB_LEASE] =
	    "UPDATE jobs SET state = 'running', attempts = attempts + 1,"
	    " owner = ?2, lease_until = ?3, updated_at = ?4 WHERE id = ?1",
	[ST_REJECT_BYTES] =
	    "SELECT coalesce(sum(" REJECTED_ROW_BYTES "), 0) FROM rejected",
	[ST_REJECT_BYTES_UPTO] =
	    "SELECT coalesce(sum(" REJECTED_ROW_BYTES "), 0) FROM rejected"
	    " WHERE id <= ?1",
	[ST_REJECT_OLDEST] =
	    "SELECT id, " REJECTED_ROW_BYTES " FROM rejected ORDER BY id"
	    " LIMIT 64",
	[ST_DATA_VERSION] = "PRAGMA data_version",
};

static const char *const job_states[] = {
	[JOB_QUEUED] = "queued",
	[JOB_RUNNING] = "running",
	[JOB_DONE] = "done",
	[JOB_DEAD] = "dead",
};

struct store {
	const struct store_ops *ops;	/* first: store.c dispatches on it */
	sqlite3		*db;
	char		*path;
	int		 readonly;
	int		 version;	/* schema version of the database */
	int		 txn;		/* store_begin succeeded, not yet ended */
	int		 have_id;	/* dev and ino are the file opened */
	dev_t		 dev;
	ino_t		 ino;
	int64_t		 rej_bytes;	/* bytes in rejected; -1: count again */
	int64_t		 data_version;	/* as last read, to see others' writes */
	sqlite3_stmt	*st[ST_MAX];
	char		 err[512];
};

/* Milliseconds since the epoch. */
static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What the operator can do about a failed open or start-up step. */
static const char *
open_hint(int rc, int readonly)
{
	switch (rc & 0xff) {
	case SQLITE_CANTOPEN:
		if (readonly)
			return " (does the file exist, and are it and its "
			    "directory readable by this user?)";
		return " (is the directory there and writable by this user? "
		    "SQLite also creates the -wal and -shm files beside it)";
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return " (are the file, its -wal and -shm files and the "
		    "directory writable by this user?)";
	case SQLITE_NOTADB:
		return " (is this an SQLite database? check the database "
		    "setting)";
	case SQLITE_CORRUPT:
		return " (the file is damaged: restore it from a backup)";
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return " (another process held a lock for more than 5 s; "
		    "is a long transaction or backup running?)";
	case SQLITE_FULL:
		return " (the filesystem is full)";
	case SQLITE_IOERR:
		return " (I/O error: check the disk and the kernel log)";
	case SQLITE_NOMEM:
		return " (out of memory)";
	default:
		return "";
	}
}

/* Set an allocated *err: "cannot open database PATH: WHAT: sqlite (hint)". */
static void
open_error(char **err, const char *path, const char *what, sqlite3 *db,
    int rc, int readonly)
{
	const char	*msg;

	msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	if (err == NULL)
		return;
	xasprintf(err, "cannot open database %s: %s%s%s%s", path,
	    what != NULL ? what : "", what != NULL ? ": " : "", msg,
	    open_hint(rc, readonly));
}

/* Keep a message for store_errmsg. */
static void __attribute__((format(printf, 2, 3)))
set_err(struct store *s, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof s->err, fmt, ap);
	va_end(ap);
}

/* Keep SQLite's message for the last failure, prefixed with what we did. */
static void
set_dberr(struct store *s, const char *what)
{
	int	xrc = sqlite3_extended_errcode(s->db);

	/* SQLite says only "disk I/O error": say which call and where to look. */
	if (xrc == SQLITE_IOERR_FSYNC || xrc == SQLITE_IOERR_DIR_FSYNC)
		set_err(s, "%s: %s (fsync failed: the disk did not take the "
		    "write; see the kernel log)", what, sqlite3_errmsg(s->db));
	else if ((xrc & 0xff) == SQLITE_IOERR)
		set_err(s, "%s: %s (extended code %d; see the kernel log)",
		    what, sqlite3_errmsg(s->db), xrc);
	else
		set_err(s, "%s: %s", what, sqlite3_errmsg(s->db));
}

/* Step a statement that returns no row, reset it; 0/-1 with s->err set. */
static int
run(struct store *s, enum stmt which, const char *what)
{
	sqlite3_stmt	*st = s->st[which];
	int		 rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		set_dberr(s, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : -1;
}

/* Bind a string or NULL as text; SQLITE_STATIC: we reset before returning. */
static int
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v == NULL)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* Run one SQL text with no result rows during start-up; 0 or an SQLite rc. */
static int
exec_sql(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Run a one-value query; the integer in *out (0 when NULL). 0 or rc. */
static int
query_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt	*st;
	int		 rc;

	*out = 0;
	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(st);
	return rc;
}

/* The version recorded in schema_version, 0 when the table is absent. */
static int
read_version(sqlite3 *db, int *version)
{
	int64_t	n;
	int	rc;

	*version = 0;
	rc = query_int(db, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name = 'schema_version'", &n);
	if (rc != SQLITE_OK || n == 0)
		return rc;
	rc = query_int(db, "SELECT coalesce(max(version), 0)"
	    " FROM schema_version", &n);
	if (rc == SQLITE_OK)
		*version = n > INT32_MAX ? INT32_MAX : (int)n;
	return rc;
}

/* Message for a database written by a newer release; allocated. */
static void
newer_error(char **err, const char *path, int version)
{
	if (err != NULL)
		xasprintf(err, "%s: database schema version %d is newer than "
		    "this usagehookd supports (%d); run the newer release or "
		    "restore a matching backup", path, version, SCHEMA_LATEST);
}

/*
 * Apply every migration newer than the database, each in one transaction.
 * The version is read again under the write lock so that two processes
 * starting together do not both apply the same step.
 */
static int
migrate(struct store *s, char **err)
{
	size_t		 i;
	int		 rc, version;
	sqlite3_stmt	*st;

	for (i = 0; i < NMIGRATIONS; i++) {
		if (migrations[i].version <= s->version)
			continue;
		if ((rc = exec_sql(s->db, "BEGIN IMMEDIATE")) != SQLITE_OK) {
			open_error(err, s->path, "starting a migration",
			    s->db, rc, 0);
			return -1;
		}
		rc = exec_sql(s->db, "CREATE TABLE IF NOT EXISTS schema_version"
		    " (version INTEGER PRIMARY KEY,"
		    " applied_at INTEGER NOT NULL)");
		if (rc == SQLITE_OK)
			rc = read_version(s->db, &version);
		if (rc != SQLITE_OK)
			goto fail;
		s->version = version;
		if (version > SCHEMA_LATEST) {
			exec_sql(s->db, "ROLLBACK");
			newer_error(err, s->path, version);
			return -1;
		}
		if (version >= migrations[i].version) {
			/* Another process applied it meanwhile. */
			if ((rc = exec_sql(s->db, "COMMIT")) != SQLITE_OK)
				goto fail;
			continue;
		}
		if ((rc = exec_sql(s->db, migrations[i].sql)) != SQLITE_OK)
			goto fail;
		rc = sqlite3_prepare_v2(s->db, "INSERT INTO schema_version"
		    " (version, applied_at) VALUES (?1, ?2)", -1, &st, NULL);
		if (rc != SQLITE_OK)
			goto fail;
		sqlite3_bind_int(st, 1, migrations[i].version);
		sqlite3_bind_int64(st, 2, now_ms());
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			goto fail;
		if ((rc = exec_sql(s->db, "COMMIT")) != SQLITE_OK)
			goto fail;
		s->version = migrations[i].version;
	}
	return 0;

fail:
	if (err != NULL) {
		xasprintf(err, "cannot open database %s: schema migration to "
		    "version %d failed: %s%s", s->path, migrations[i].version,
		    sqlite3_errmsg(s->db), open_hint(rc, 0));
	}
	if (!sqlite3_get_autocommit(s->db))
		exec_sql(s->db, "ROLLBACK");
	return -1;
}

/* Switch to WAL and insist on it: readers must not block the commits. */
static int
set_wal(struct store *s, char **err)
{
	sqlite3_stmt	*st;
	const char	*mode;
	char		 got[32];
	int		 rc;

	rc = sqlite3_prepare_v2(s->db, s->readonly ? "PRAGMA journal_mode" :
	    "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		mode = (const char *)sqlite3_column_text(st, 0);
		snprintf(got, sizeof got, "%s", mode != NULL ? mode : "");
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		open_error(err, s->path, s->readonly ? "reading the journal mode" :
		    "setting WAL mode", s->db, rc,
		    s->readonly);
		return -1;
	}
	/* A read-only connection cannot change the mode; it reads either. */
	if (s->readonly || strcasecmp(got, "wal") == 0)
		return 0;
	/* An in-memory database (tests) has no file to keep a WAL beside. */
	if (strcasecmp(got, "memory") == 0 && strcmp(s->path, ":memory:") == 0)
		return 0;
	if (err != NULL)
		xasprintf(err, "cannot open database %s: journal_mode stayed "
		    "\"%s\" instead of \"wal\" (WAL needs a local filesystem "
		    "with shared memory; network filesystems do not work)",
		    s->path, got);
	return -1;
}

/*
 * Create a missing database 0600 before SQLite would (0644 under the usual
 * umask): it holds raw requests. SQLite gives the -wal and -shm files the
 * database's mode. A failure here is left for sqlite3_open_v2 to report.
 */
static void
create_private(const char *path)
{
	int	fd;

	if (*path == '\0' || strcmp(path, ":memory:") == 0)
		return;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd != -1)
		close(fd);
}

/* Remember which file is open, to see later that it was moved away. */
static void
record_identity(struct store *s)
{
	struct stat	sb;

	if (strcmp(s->path, ":memory:") == 0 || stat(s->path, &sb) == -1)
		return;
	s->dev = sb.st_dev;
	s->ino = sb.st_ino;
	s->have_id = 1;
}

/* The last finding of store_moved in this process, for /healthz. */
static pthread_mutex_t	moved_lock = PTHREAD_MUTEX_INITIALIZER;
static char		moved_why[512];

static void
note_moved(const char *why)
{
	pthread_mutex_lock(&moved_lock);
	snprintf(moved_why, sizeof moved_why, "%s", why);
	pthread_mutex_unlock(&moved_lock);
}

void
store_moved_reason(char *buf, size_t len)
{
	pthread_mutex_lock(&moved_lock);
	snprintf(buf, len, "%s", moved_why);
	pthread_mutex_unlock(&moved_lock);
}

/*
 * SQLite keeps writing to the file it opened, even once it is renamed or
 * unlinked: compare the path's inode with the one opened (as
 * SQLITE_FCNTL_HAS_MOVED does, but with the device too).
 */
static int
sqlite_moved(struct store *s, char *why, size_t len)
{
	struct stat	sb;
	char		buf[128];
	int		moved = 1;

	if (!s->have_id)
		return 0;
	if (stat(s->path, &sb) == -1)
		snprintf(why, len, "database %s is gone (%s): it was moved or "
		    "deleted while open; move it back to resume, or restart "
		    "usagehookd", s->path, strerror_r(errno, buf, sizeof buf));
	else if (sb.st_dev != s->dev || sb.st_ino != s->ino)
		snprintf(why, len, "database %s is another file than the one "
		    "opened: it was moved or replaced while open; move the "
		    "original back to resume, or restart usagehookd to use "
		    "the new one", s->path);
	else
		moved = 0;
	note_moved(moved ? why : "");
	return moved;
}

static void	sqlite_close(struct store *);

static struct store *
sqlite_open(const char *path, int readonly, char **err)
{
	struct store	*s;
	int		 flags, rc;
	size_t		 i;

	if (err != NULL)
		*err = NULL;
	s = xcalloc(1, sizeof *s);
	s->ops = &store_sqlite_ops;
	s->path = xstrdup(path);
	s->readonly = readonly;
	s->rej_bytes = -1;

	if (!readonly)
		create_private(path);
	flags = SQLITE_OPEN_NOMUTEX | (readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	if ((rc = sqlite3_open_v2(path, &s->db, flags, NULL)) != SQLITE_OK) {
		open_error(err, path, NULL, s->db, rc, readonly);
		goto bad;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

	if (set_wal(s, err) == -1)
		goto bad;
	rc = exec_sql(s->db, "PRAGMA synchronous = FULL");
	if (rc == SQLITE_OK)
		rc = exec_sql(s->db, "PRAGMA foreign_keys = ON");
	if (rc == SQLITE_OK)
		rc = exec_sql(s->db, "PRAGMA cache_size = -"
		    STORE_STR(STORE_CACHE_KIB));
	/* A WAL that grew in a burst is cut back when it starts over. */
	if (rc == SQLITE_OK && !readonly)
		rc = exec_sql(s->db, "PRAGMA journal_size_limit = "
		    STORE_STR(STORE_WAL_LIMIT));
	if (rc != SQLITE_OK) {
		open_error(err, path, "setting pragmas", s->db, rc, readonly);
		goto bad;
	}

	if ((rc = read_version(s->db, &s->version)) != SQLITE_OK) {
		open_error(err, path, "reading the schema version", s->db, rc,
		    readonly);
		goto bad;
	}
	if (s->version > SCHEMA_LATEST) {
		newer_error(err, path, s->version);
		goto bad;
	}
	if (!readonly) {
		if (migrate(s, err) == -1)
			goto bad;
	} else if (s->version < SCHEMA_LATEST) {
		if (err != NULL)
			xasprintf(err, "cannot open database %s read-only: it "
			    "has schema version %d, this release needs %d "
			    "(start usagehookd once to create or migrate it)",
			    path, s->version, SCHEMA_LATEST);
		goto bad;
	}

	for (i = 0; i < ST_MAX; i++) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL);
		if (rc != SQLITE_OK) {
			open_error(err, path, "preparing statements", s->db,
			    rc, readonly);
			goto bad;
		}
	}
	record_identity(s);
	return s;

bad:
	sqlite_close(s);
	return NULL;
}

static void
sqlite_close(struct store *s)
{
	size_t	i;

	if (s == NULL)
		return;
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(s->st[i]);
	/* Closing rolls back an open transaction. */
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

static const char *
sqlite_errmsg(struct store *s)
{
	if (s == NULL)
		return "no database";
	return s->err[0] != '\0' ? s->err : "no error";
}

static const char *
sqlite_path(struct store *s)
{
	return s->path;
}

static int
sqlite_schema_version(struct store *s)
{
	return s->version;
}

static int
sqlite_schema_latest(void)
{
	return SCHEMA_LATEST;
}

static int
sqlite_begin(struct store *s)
{
	char	why[sizeof s->err];

	if (store_moved(s, why, sizeof why)) {
		set_err(s, "%s", why);
		return -1;
	}
	if (run(s, ST_BEGIN, "BEGIN IMMEDIATE") == -1)
		return -1;
	s->txn = 1;
	return 0;
}

static int
sqlite_commit(struct store *s)
{
	int	r;

	if (s->txn && sqlite3_get_autocommit(s->db)) {
		s->txn = 0;
		set_err(s, "COMMIT: the transaction was already rolled back "
		    "by an earlier error");
		return -1;
	}
	r = run(s, ST_COMMIT, "COMMIT");
	if (r == -1)
		s->rej_bytes = -1;
	/* A failed COMMIT may leave the transaction open for ROLLBACK. */
	s->txn = !sqlite3_get_autocommit(s->db);
	return r;
}

static int
sqlite_rollback(struct store *s)
{
	s->txn = 0;
	s->rej_bytes = -1;
	/* SQLite may already have rolled back after an I/O or full error. */
	if (sqlite3_get_autocommit(s->db))
		return 0;
	return run(s, ST_ROLLBACK, "ROLLBACK");
}

/*
 * Writes inside a transaction that SQLite rolled back on an earlier error
 * would silently autocommit one by one; refuse them instead.
 */
static int
txn_lost(struct store *s)
{
	if (s->txn && sqlite3_get_autocommit(s->db)) {
		set_err(s, "the transaction was rolled back by an earlier "
		    "error");
		return 1;
	}
	return 0;
}

/* The outbox rows of the callback just inserted. */
static int
insert_jobs(struct store *s, const struct job_spec *jobs, size_t njobs,
    int64_t at)
{
	sqlite3_stmt	*st = s->st[ST_JOB_INSERT];
	sqlite3_int64	 cbid = sqlite3_last_insert_rowid(s->db);
	size_t		 i;

	for (i = 0; i < njobs; i++) {
		sqlite3_bind_int64(st, 1, cbid);
		bind_text(st, 2, jobs[i].rule);
		sqlite3_bind_int(st, 3, jobs[i].action);
		bind_text(st, 4, jobs[i].kind);
		sqlite3_bind_int(st, 5, jobs[i].max_attempts);
		sqlite3_bind_int64(st, 6, at);
		if (run(s, ST_JOB_INSERT, "queueing a job") == -1)
			return -1;
	}
	return 0;
}

/* Insert cb with this firing key (NULL: none); 0/-1, changes() says. */
static int
insert_callback(struct store *s, const struct callback *cb, int64_t at,
    const char *key, int64_t fired_at)
{
	sqlite3_stmt		*st = s->st[ST_CLAIM];
	const struct usage_fields *f = &cb->f;
	int			 rc;

	rc = bind_text(st, 1, f->idempotency_token);
	rc |= sqlite3_bind_int64(st, 2, at);
	rc |= bind_text(st, 3, cb->method);
	rc |= bind_text(st, 4, cb->uri);
	rc |= bind_text(st, 5, cb->url);
	rc |= bind_text(st, 6, cb->headers);
	if (cb->body != NULL)
		rc |= sqlite3_bind_blob64(st, 7, cb->body, cb->bodylen,
		    SQLITE_STATIC);
	else
		rc |= sqlite3_bind_null(st, 7);
	rc |= bind_text(st, 8, cb->remote);
	rc |= bind_text(st, 9, cb->signature);
	rc |= bind_text(st, 10, f->account_sid);
	rc |= bind_text(st, 11, f->usage_trigger_sid);
	rc |= bind_text(st, 12, f->date_fired);
	rc |= bind_text(st, 13, f->recurring);
	rc |= bind_text(st, 14, f->usage_category);
	rc |= bind_text(st, 15, f->trigger_by);
	rc |= bind_text(st, 16, f->trigger_value);
	rc |= bind_text(st, 17, f->current_value);
	rc |= bind_text(st, 18, f->usage_record_uri);
	rc |= bind_text(st, 19, cb->source != NULL ? cb->source : "callback");
	rc |= bind_text(st, 20, key);
	if (fired_at > 0)
		rc |= sqlite3_bind_int64(st, 21, fired_at);
	else
		rc |= sqlite3_bind_null(st, 21);
	if (cb->verified_by > 0)
		rc |= sqlite3_bind_int(st, 22, cb->verified_by);
	else
		rc |= sqlite3_bind_null(st, 22);
	if (rc != SQLITE_OK) {
		set_dberr(s, "claim: binding");
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		return -1;
	}
	return run(s, ST_CLAIM, "claim");
}

/*
 * The row an insert ran into: its id, whether it is a recovered one, and
 * whether the token matched (else the firing key). 1 found, 0 none, -1.
 */
static int
claim_holder(struct store *s, const char *token, const char *key,
    int64_t *id, int *api, int *by_token)
{
	sqlite3_stmt	*st = s->st[ST_CLAIM_HOLDER];
	const char	*src;
	int		 rc;

	bind_text(st, 1, token);
	bind_text(st, 2, key);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		src = (const char *)sqlite3_column_text(st, 1);
		*api = src != NULL && strcmp(src, "api") == 0;
		*by_token = sqlite3_column_int(st, 2);
	} else if (rc != SQLITE_DONE)
		set_dberr(s, "claim: finding the stored firing");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * The claim. A firing has two keys: its IdempotencyToken, and its firing
 * key (the trigger and the recurring interval of DateFired, firing.h),
 * filled for delivered and recovered callbacks alike. Both are UNIQUE and
 * the INSERT ... ON CONFLICT DO NOTHING stops at either; then the row it
 * ran into decides:
 * - the same token: a duplicate, as ever;
 * - the same firing with one side recovered from the API (source 'api'):
 *   a duplicate, whichever came first: one firing, one set of actions;
 * - the same firing delivered twice under two tokens: Twilio fires once
 *   per interval, so this should not happen; if it does, the second is
 *   stored without a firing key, as before keys existed: a signed
 *   delivery is never dropped on our reading of its DateFired.
 * A DateFired that does not parse gives no key: the token alone decides.
 */
static enum claim
sqlite_claim(struct store *s, const struct callback *cb,
    const struct job_spec *jobs, size_t njobs)
{
	sqlite3_stmt		*st;
	const struct usage_fields *f = &cb->f;
	char			 key[FIRING_KEY_MAX];
	int64_t			 at, fired_at = 0, id;
	int			 haskey, api, held_api, by_token, r;

	if (f->idempotency_token == NULL || *f->idempotency_token == '\0') {
		set_err(s, "claim: the callback has no IdempotencyToken");
		return CLAIM_ERROR;
	}
	if (txn_lost(s))
		return CLAIM_ERROR;
	at = cb->received_at > 0 ? cb->received_at : now_ms();
	api = cb->source != NULL && strcmp(cb->source, "api") == 0;
	haskey = firing_key(f->usage_trigger_sid, f->recurring, f->date_fired,
	    key, sizeof key, &fired_at) == 0;
	if (api && !haskey) {
		set_err(s, "claim: a recovered firing needs a UsageTriggerSid, "
		    "Recurring and a DateFired that parses");
		return CLAIM_ERROR;
	}
	if (insert_callback(s, cb, at, haskey ? key : NULL, fired_at) == -1)
		return CLAIM_ERROR;
	if (sqlite3_changes(s->db) == 0) {
		if ((r = claim_holder(s, f->idempotency_token, haskey ? key :
		    NULL, &id, &held_api, &by_token)) == -1)
			return CLAIM_ERROR;
		if (r == 0) {
			set_err(s, "claim: refused, but no row holds its token "
			    "or firing");
			return CLAIM_ERROR;
		}
		if (by_token || api || held_api)
			goto duplicate;
		if (insert_callback(s, cb, at, NULL, fired_at) == -1)
			return CLAIM_ERROR;
		/* Outside a transaction another connection may have won. */
		if (sqlite3_changes(s->db) == 0) {
			if ((r = claim_holder(s, f->idempotency_token, NULL,
			    &id, &held_api, &by_token)) == -1)
				return CLAIM_ERROR;
			if (r == 1)
				goto duplicate;
			set_err(s, "claim: refused, but no row holds its token");
			return CLAIM_ERROR;
		}
	}
	if (insert_jobs(s, jobs, njobs, now_ms()) == -1)
		return CLAIM_ERROR;
	return CLAIM_NEW;

duplicate:
	st = s->st[ST_DUPLICATE];
	sqlite3_bind_int64(st, 1, now_ms());
	sqlite3_bind_int64(st, 2, id);
	if (run(s, ST_DUPLICATE, "counting a duplicate") == -1)
		return CLAIM_ERROR;
	return CLAIM_DUPLICATE;
}

/* Begin our own transaction when the caller has none; *own says so. */
static int
begin_own(struct store *s, int *own)
{
	*own = 0;
	if (txn_lost(s))
		return -1;
	if (!sqlite3_get_autocommit(s->db))
		return 0;
	if (run(s, ST_BEGIN, "BEGIN IMMEDIATE") == -1)
		return -1;
	*own = 1;
	return 0;
}

/* End a transaction begin_own started: commit on success, else roll back. */
static int
end_own(struct store *s, int own, int r)
{
	if (!own)
		return r;
	if (r == 0 && run(s, ST_COMMIT, "COMMIT") == 0)
		return 0;
	s->rej_bytes = -1;
	if (!sqlite3_get_autocommit(s->db))
		(void)run(s, ST_ROLLBACK, "ROLLBACK");
	return -1;
}

/* What a refusal keeps of each part, in bytes (Twilio's whole request: ~2 KiB). */
#define REJ_SHORT_MAX	256	/* remote, method, reason, sids, signature */
#define REJ_URI_MAX	2048	/* uri and url */
#define REJ_DETAIL_MAX	1024
#define REJ_HEADERS_MAX	4096
#define REJ_BODY_MAX	4096

/*
 * Bind a copy of v, cut to max bytes and then ending in "...[truncated
 * from N bytes]" when it is longer; the bytes bound go to *bytes.
 */
static int
bind_capped(sqlite3_stmt *st, int i, const char *v, size_t max,
    int64_t *bytes)
{
	char	buf[REJ_HEADERS_MAX], mark[64];
	size_t	len;
	int	n;

	if (v == NULL)
		return sqlite3_bind_null(st, i);
	if (max > sizeof buf)
		max = sizeof buf;
	if ((len = strlen(v)) <= max) {
		*bytes += len;
		return sqlite3_bind_text(st, i, v, len, SQLITE_TRANSIENT);
	}
	n = snprintf(mark, sizeof mark, "...[truncated from %zu bytes]", len);
	memcpy(buf, v, max - n);
	memcpy(buf + max - n, mark, n);
	*bytes += max;
	return sqlite3_bind_text(st, i, buf, max, SQLITE_TRANSIENT);
}

/* Bind the detail, saying first when the body was cut; 0 or an rc. */
static int
bind_detail(sqlite3_stmt *st, int i, const struct rejection *r,
    int64_t *bytes)
{
	char	*d;
	int	 rc;

	if (r->body == NULL || r->bodylen <= REJ_BODY_MAX)
		return bind_capped(st, i, r->detail, REJ_DETAIL_MAX, bytes);
	if (asprintf(&d, "[body truncated from %zu bytes] %s", r->bodylen,
	    r->detail != NULL ? r->detail : "") == -1)
		return bind_capped(st, i, r->detail, REJ_DETAIL_MAX, bytes);
	rc = bind_capped(st, i, d, REJ_DETAIL_MAX, bytes);
	free(d);
	return rc;
}

/* Bind every part of a refusal, each within its cap; the bytes to *bytes. */
static int
bind_rejection(sqlite3_stmt *st, const struct rejection *r, int64_t *bytes)
{
	size_t	bodylen = r->bodylen;
	int	rc;

	*bytes = 0;
	rc = sqlite3_bind_int64(st, 1, r->at > 0 ? r->at : now_ms());
	rc |= sqlite3_bind_int(st, 2, r->status);
	rc |= bind_capped(st, 3, r->remote, REJ_SHORT_MAX, bytes);
	rc |= bind_capped(st, 4, r->method, REJ_SHORT_MAX, bytes);
	rc |= bind_capped(st, 5, r->uri, REJ_URI_MAX, bytes);
	rc |= bind_capped(st, 6, r->reason != NULL ? r->reason : "unknown",
	    REJ_SHORT_MAX, bytes);
	rc |= bind_detail(st, 7, r, bytes);
	rc |= bind_capped(st, 8, r->account_sid, REJ_SHORT_MAX, bytes);
	rc |= bind_capped(st, 9, r->idempotency_token, REJ_SHORT_MAX, bytes);
	rc |= bind_capped(st, 10, r->url, REJ_URI_MAX, bytes);
	rc |= bind_capped(st, 11, r->headers, REJ_HEADERS_MAX, bytes);
	if (r->body != NULL) {
		if (bodylen > REJ_BODY_MAX)
			bodylen = REJ_BODY_MAX;
		rc |= sqlite3_bind_blob64(st, 12, r->body, bodylen,
		    SQLITE_STATIC);
		*bytes += bodylen;
	}
	rc |= bind_capped(st, 13, r->signature, REJ_SHORT_MAX, bytes);
	return rc;
}

/* Step a one-value query with ?1 = arg (when the query has it). 0/-1. */
static int
stmt_int(struct store *s, enum stmt which, int64_t arg, int64_t *out,
    const char *what)
{
	sqlite3_stmt	*st = s->st[which];
	int		 rc;

	if (sqlite3_bind_parameter_count(st) > 0)
		sqlite3_bind_int64(st, 1, arg);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	if (rc != SQLITE_ROW)
		set_dberr(s, what);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Know the bytes of the rejected table: counted once, then kept in step
 * with our own inserts and deletes, and counted again when another
 * connection (retention, usagehookctl purge) changed the database.
 */
static int
rejected_bytes_sync(struct store *s)
{
	int64_t	version;

	if (stmt_int(s, ST_DATA_VERSION, 0, &version, "data_version") == -1)
		return -1;
	if (version != s->data_version)
		s->rej_bytes = -1;
	s->data_version = version;
	if (s->rej_bytes >= 0)
		return 0;
	return stmt_int(s, ST_REJECT_BYTES, 0, &s->rej_bytes,
	    "measuring rejected");
}

/* Delete the rejected rows up to id cut, minding their bytes. */
static int
rejected_drop_upto(struct store *s, int64_t cut)
{
	int64_t	freed;

	if (stmt_int(s, ST_REJECT_BYTES_UPTO, cut, &freed,
	    "measuring rejected") == -1)
		return -1;
	sqlite3_bind_int64(s->st[ST_REJECT_TRIM], 1, cut);
	if (run(s, ST_REJECT_TRIM, "trimming rejected") == -1)
		return -1;
	s->rej_bytes -= freed;
	return 0;
}

/*
 * Drop the oldest rejected rows until the rest fit STORE_REJECTED_BYTES,
 * at most 4 x 64 rows a call: a table an older release let grow huge is
 * brought down over a few refusals, not in one long transaction.
 */
static int
rejected_fit_bytes(struct store *s)
{
	sqlite3_stmt	*st = s->st[ST_REJECT_OLDEST];
	int64_t		 over, freed, cut;
	int		 rc = SQLITE_OK, rounds = 4;

	while ((over = s->rej_bytes - STORE_REJECTED_BYTES) > 0 &&
	    rounds-- > 0) {
		freed = 0;
		cut = -1;
		while (freed < over && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			cut = sqlite3_column_int64(st, 0);
			freed += sqlite3_column_int64(st, 1);
		}
		rc = freed < over && rc != SQLITE_DONE ? rc : SQLITE_OK;
		sqlite3_reset(st);
		if (rc != SQLITE_OK) {
			set_dberr(s, "measuring rejected");
			return -1;
		}
		if (cut == -1) {
			/* Empty: the count had drifted. */
			s->rej_bytes = 0;
			return 0;
		}
		if (rejected_drop_upto(s, cut) == -1)
			return -1;
	}
	return 0;
}

/*
 * Keep a refusal, each part within its cap, then trim the oldest rows to
 * STORE_REJECTED_CAP rows and STORE_REJECTED_BYTES bytes: a flood of huge
 * forged requests costs a bounded amount of disk.
 */
static int
sqlite_reject(struct store *s, const struct rejection *r)
{
	sqlite3_stmt	*st = s->st[ST_REJECT];
	sqlite3_int64	 cut;
	int64_t		 bytes;
	int		 own, rv = -1;

	if (begin_own(s, &own) == -1)
		return -1;
	if (rejected_bytes_sync(s) == -1)
		goto out;
	if (bind_rejection(st, r, &bytes) != SQLITE_OK) {
		set_dberr(s, "recording a rejection: binding");
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		goto out;
	}
	if (run(s, ST_REJECT, "recording a rejection") == -1)
		goto out;
	s->rej_bytes += bytes;
	/* Ids only grow, so the newest CAP rows are those above this cut. */
	cut = sqlite3_last_insert_rowid(s->db) - STORE_REJECTED_CAP;
	if (cut > 0 && rejected_drop_upto(s, cut) == -1)
		goto out;
	if (rejected_fit_bytes(s) == -1)
		goto out;
	rv = 0;
out:
	if (rv == -1)
		s->rej_bytes = -1;
	return end_own(s, own, rv);
}

static int
sqlite_probe(struct store *s)
{
	int	own, rv;

	if (begin_own(s, &own) == -1)
		return -1;
	sqlite3_bind_int64(s->st[ST_PROBE], 1, now_ms());
	rv = run(s, ST_PROBE, "health probe");
	return end_own(s, own, rv);
}

static int64_t
sqlite_count(struct store *s, const char *table)
{
	sqlite3_stmt	*st;
	int64_t		 n = -1;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof count_sql / sizeof count_sql[0]; i++)
		if (strcmp(count_sql[i].table, table) == 0)
			break;
	if (i == sizeof count_sql / sizeof count_sql[0]) {
		set_err(s, "count: no table named \"%s\"", table);
		return -1;
	}
	rc = sqlite3_prepare_v2(s->db, count_sql[i].sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		set_dberr(s, "count");
		return -1;
	}
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	else
		set_dberr(s, "count");
	sqlite3_finalize(st);
	return n;
}

static int
sqlite_duplicates(struct store *s, const char *token)
{
	sqlite3_stmt	*st = s->st[ST_DUPLICATES_OF];
	int		 n = -1, rc;

	bind_text(st, 1, token);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	else if (rc != SQLITE_DONE)
		set_dberr(s, "reading duplicates");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return n;
}

const char *
job_state_name(enum job_state st)
{
	if (st < JOB_QUEUED || st > JOB_DEAD)
		return "unknown";
	return job_states[st];
}

/* A column as an allocated string ("" for NULL); NULL when out of memory. */
static char *
column_dup(sqlite3_stmt *st, int col, size_t *len)
{
	const void	*p = sqlite3_column_blob(st, col);
	size_t		 n = sqlite3_column_bytes(st, col);
	char		*out;

	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	if (n > 0)
		memcpy(out, p, n);
	out[n] = '\0';
	if (len != NULL)
		*len = n;
	return out;
}

void
store_job_rows_free(struct job_row *rows, size_t n)
{
	size_t	i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(rows[i].rule);
		free(rows[i].method);
		free(rows[i].uri);
		free(rows[i].body);
	}
	free(rows);
}

static int
sqlite_jobs_due(struct store *s, int64_t now, size_t limit,
    struct job_row **rowsp, size_t *np)
{
	sqlite3_stmt	*st = s->st[ST_JOBS_DUE];
	struct job_row	*rows, *r;
	size_t		 n = 0;
	int		 rc;

	*rowsp = NULL;
	*np = 0;
	if ((rows = calloc(limit ? limit : 1, sizeof *rows)) == NULL) {
		set_err(s, "jobs due: out of memory");
		return -1;
	}
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = &rows[n++];
		r->id = sqlite3_column_int64(st, 0);
		r->action = sqlite3_column_int(st, 2);
		r->attempts = sqlite3_column_int(st, 3);
		r->max_attempts = sqlite3_column_int(st, 4);
		r->callback_id = sqlite3_column_int64(st, 8);
		r->received_at = sqlite3_column_int64(st, 9);
		r->from_api = sqlite3_column_int(st, 10);
		if ((r->rule = column_dup(st, 1, NULL)) == NULL ||
		    (r->method = column_dup(st, 5, NULL)) == NULL ||
		    (r->uri = column_dup(st, 6, NULL)) == NULL ||
		    (r->body = column_dup(st, 7, &r->bodylen)) == NULL) {
			set_err(s, "jobs due: out of memory");
			rc = SQLITE_NOMEM;
			break;
		}
	}
	if (n < limit && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		if (rc != SQLITE_NOMEM)
			set_dberr(s, "reading due jobs");
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		store_job_rows_free(rows, n);
		return -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	*rowsp = rows;
	*np = n;
	return 0;
}

static int
sqlite_job_update(struct store *s, const struct job_update *u)
{
	sqlite3_stmt	*st;
	int		 own, rv;

	if (begin_own(s, &own) == -1)
		return -1;
	if (u->state == JOB_RUNNING) {
		st = s->st[ST_JOB_START];
		sqlite3_bind_int64(st, 1, u->id);
		sqlite3_bind_int64(st, 2, now_ms());
		rv = run(s, ST_JOB_START, "starting a job");
	} else {
		st = s->st[ST_JOB_FINISH];
		sqlite3_bind_int64(st, 1, u->id);
		bind_text(st, 2, job_state_name(u->state));
		sqlite3_bind_int64(st, 3, u->next_run_at);
		bind_text(st, 4, u->error);
		sqlite3_bind_int64(st, 5, now_ms());
		bind_text(st, 6, u->owner);
		sqlite3_bind_int(st, 7, u->release ? 1 : 0);
		rv = run(s, ST_JOB_FINISH, "recording a job's outcome");
	}
	return end_own(s, own, rv);
}

static int64_t
sqlite_jobs_next(struct store *s)
{
	sqlite3_stmt	*st = s->st[ST_JOBS_NEXT];
	int64_t		 next = -1;

	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		next = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return next;
}

static int
sqlite_jobs_recover(struct store *s)
{
	int	own, rv, n;

	if (begin_own(s, &own) == -1)
		return -1;
	rv = run(s, ST_JOBS_RECOVER, "requeueing interrupted jobs");
	n = rv == 0 ? sqlite3_changes(s->db) : -1;
	if (end_own(s, own, rv) == -1)
		return -1;
	return n;
}

/* A column as an allocated string, NULL for SQL NULL; aborts when out of memory. */
static char *
column_opt(sqlite3_stmt *st, int col, size_t *len)
{
	const void	*p;
	size_t		 n;
	char		*out;

	if (len != NULL)
		*len = 0;
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return NULL;
	p = sqlite3_column_blob(st, col);
	n = sqlite3_column_bytes(st, col);
	out = xmalloc(n + 1);
	if (n > 0)
		memcpy(out, p, n);
	out[n] = '\0';
	if (len != NULL)
		*len = n;
	return out;
}

/* Prepare a query of usagehookctl; 0, or -1 with s->err set. */
static int
prepare(struct store *s, const char *sql, sqlite3_stmt **st, const char *what)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) {
		set_dberr(s, what);
		*st = NULL;
		return -1;
	}
	return 0;
}

/* Grow an array of rows by one, zeroed; aborts when out of memory. */
static void *
grow(void *rows, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return rows;
	*cap = *cap ? *cap * 2 : 16;
	rows = xreallocarray(rows, *cap, size);
	memset((char *)rows + n * size, 0, (*cap - n) * size);
	return rows;
}

/* The columns of a callback that list shows; show adds headers and body. */
#define CALLBACK_COLUMNS						\
	"id, idempotency_token, received_at, method, uri, url, remote,"	\
	" signature, account_sid, usage_trigger_sid, date_fired,"	\
	" recurring, usage_category, trigger_by, trigger_value,"	\
	" current_value, usage_record_uri, duplicates, last_duplicate_at,"\
	" source, verified_by"

/* Fill r from a row of CALLBACK_COLUMNS (and headers, body when all). */
static void
read_callback(sqlite3_stmt *st, struct callback_row *r, int all)
{
	r->id = sqlite3_column_int64(st, 0);
	r->token = column_opt(st, 1, NULL);
	r->received_at = sqlite3_column_int64(st, 2);
	r->method = column_opt(st, 3, NULL);
	r->uri = column_opt(st, 4, NULL);
	r->url = column_opt(st, 5, NULL);
	r->remote = column_opt(st, 6, NULL);
	r->signature = column_opt(st, 7, NULL);
	r->account_sid = column_opt(st, 8, NULL);
	r->usage_trigger_sid = column_opt(st, 9, NULL);
	r->date_fired = column_opt(st, 10, NULL);
	r->recurring = column_opt(st, 11, NULL);
	r->usage_category = column_opt(st, 12, NULL);
	r->trigger_by = column_opt(st, 13, NULL);
	r->trigger_value = column_opt(st, 14, NULL);
	r->current_value = column_opt(st, 15, NULL);
	r->usage_record_uri = column_opt(st, 16, NULL);
	r->duplicates = sqlite3_column_int64(st, 17);
	r->last_duplicate_at = sqlite3_column_int64(st, 18);
	r->source = column_opt(st, 19, NULL);
	r->verified_by = sqlite3_column_int(st, 20);
	if (all) {
		r->headers = column_opt(st, 21, NULL);
		r->body = column_opt(st, 22, &r->bodylen);
	}
}

void
store_callback_row_clear(struct callback_row *r)
{
	if (r == NULL)
		return;
	free(r->token);
	free(r->method);
	free(r->uri);
	free(r->url);
	free(r->headers);
	free(r->body);
	free(r->remote);
	free(r->signature);
	free(r->account_sid);
	free(r->usage_trigger_sid);
	free(r->date_fired);
	free(r->recurring);
	free(r->usage_category);
	free(r->trigger_by);
	free(r->trigger_value);
	free(r->current_value);
	free(r->usage_record_uri);
	free(r->source);
	memset(r, 0, sizeof *r);
}

void
store_callback_rows_free(struct callback_row *rows, size_t n)
{
	size_t	i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++)
		store_callback_row_clear(&rows[i]);
	free(rows);
}

/*
 * Newest first. Every variant walks callbacks_received_at from the newest
 * row down to since; the category and trigger filters are checked on the
 * rows it meets (no index of their own: each would cost every claim).
 */
/*
 * Every row of st (CALLBACK_COLUMNS, and headers and body when all) into
 * allocated rows, then finalize st. 0, or -1 with what in the error.
 */
static int
step_callbacks(struct store *s, sqlite3_stmt *st, int all, const char *what,
    struct callback_row **rowsp, size_t *np)
{
	struct callback_row	*rows = NULL;
	size_t			 n = 0, cap = 0;
	int			 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows = grow(rows, &cap, n, sizeof *rows);
		read_callback(st, &rows[n++], all);
	}
	if (rc != SQLITE_DONE) {
		set_dberr(s, what);
		sqlite3_finalize(st);
		store_callback_rows_free(rows, n);
		return -1;
	}
	sqlite3_finalize(st);
	*rowsp = rows;
	*np = n;
	return 0;
}

static int
sqlite_callbacks_list(struct store *s, const struct callback_filter *flt,
    struct callback_row **rowsp, size_t *np)
{
	sqlite3_stmt		*st;
	char			 sql[2048];
	size_t			 i;
	int			 len, b = 1;

	*rowsp = NULL;
	*np = 0;
	if (flt->ntriggers > STORE_LIST_TRIGGERS_MAX) {
		set_err(s, "list: at most %d trigger SIDs",
		    STORE_LIST_TRIGGERS_MAX);
		return -1;
	}
	len = snprintf(sql, sizeof sql, "SELECT " CALLBACK_COLUMNS
	    " FROM callbacks WHERE received_at >= ?");
	if (flt->until > 0)
		len += snprintf(sql + len, sizeof sql - len,
		    " AND received_at < ?");
	if (flt->category != NULL)
		len += snprintf(sql + len, sizeof sql - len,
		    " AND usage_category %s ?",
		    strpbrk(flt->category, "*?[") ? "GLOB" : "=");
	if (flt->account != NULL)
		len += snprintf(sql + len, sizeof sql - len,
		    " AND account_sid = ?");
	if (flt->unmatched)
		len += snprintf(sql + len, sizeof sql - len, " AND NOT EXISTS"
		    " (SELECT 1 FROM jobs WHERE jobs.callback_id = callbacks.id)");
	if (flt->source != NULL)
		len += snprintf(sql + len, sizeof sql - len,
		    " AND source = ?");
	for (i = 0; i < flt->ntriggers; i++)
		len += snprintf(sql + len, sizeof sql - len, "%s?%s",
		    i == 0 ? " AND usage_trigger_sid IN (" : ", ",
		    i + 1 == flt->ntriggers ? ")" : "");
	snprintf(sql + len, sizeof sql - len,
	    " ORDER BY received_at DESC, id DESC LIMIT ?");
	if (prepare(s, sql, &st, "listing callbacks") == -1)
		return -1;
	sqlite3_bind_int64(st, b++, flt->since);
	if (flt->until > 0)
		sqlite3_bind_int64(st, b++, flt->until);
	if (flt->category != NULL)
		bind_text(st, b++, flt->category);
	if (flt->account != NULL)
		bind_text(st, b++, flt->account);
	if (flt->source != NULL)
		bind_text(st, b++, flt->source);
	for (i = 0; i < flt->ntriggers; i++)
		bind_text(st, b++, flt->triggers[i]);
	sqlite3_bind_int64(st, b, flt->limit > 0 ? (sqlite3_int64)flt->limit :
	    -1);
	return step_callbacks(s, st, 0, "listing callbacks", rowsp, np);
}

/* 1 if s is all digits and short enough to be a row id. */
static int
is_row_id(const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return i > 0 && i <= 18;
}

static int
sqlite_callback_find(struct store *s, const char *key, struct callback_row *r)
{
	static const char *const sql[2] = {
		"SELECT " CALLBACK_COLUMNS ", headers, body FROM callbacks"
		" WHERE id = ?1",
		"SELECT " CALLBACK_COLUMNS ", headers, body FROM callbacks"
		" WHERE idempotency_token = ?1",
	};
	sqlite3_stmt	*st;
	int		 i, rc;

	memset(r, 0, sizeof *r);
	/* An id first: Twilio's tokens are never all digits. */
	for (i = is_row_id(key) ? 0 : 1; i < 2; i++) {
		if (prepare(s, sql[i], &st, "finding a callback") == -1)
			return -1;
		if (i == 0)
			sqlite3_bind_int64(st, 1, strtoll(key, NULL, 10));
		else
			bind_text(st, 1, key);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			read_callback(st, r, 1);
		else if (rc != SQLITE_DONE)
			set_dberr(s, "finding a callback");
		sqlite3_finalize(st);
		if (rc == SQLITE_ROW)
			return 1;
		if (rc != SQLITE_DONE)
			return -1;
	}
	return 0;
}

#define JOB_COLUMNS							\
	"SELECT j.id, j.callback_id, c.idempotency_token, j.rule,"	\
	" j.action, j.kind, j.state, j.attempts, j.max_attempts,"	\
	" j.next_run_at, j.created_at, j.updated_at, j.last_error"	\
	" FROM jobs j JOIN callbacks c ON c.id = j.callback_id"

/* Fill j from a row of JOB_COLUMNS. */
static void
read_job(sqlite3_stmt *st, struct job_listing *j)
{
	j->id = sqlite3_column_int64(st, 0);
	j->callback_id = sqlite3_column_int64(st, 1);
	j->token = column_opt(st, 2, NULL);
	j->rule = column_opt(st, 3, NULL);
	j->action = sqlite3_column_int(st, 4);
	j->kind = column_opt(st, 5, NULL);
	j->state = column_opt(st, 6, NULL);
	j->attempts = sqlite3_column_int(st, 7);
	j->max_attempts = sqlite3_column_int(st, 8);
	j->next_run_at = sqlite3_column_int64(st, 9);
	j->created_at = sqlite3_column_int64(st, 10);
	j->updated_at = sqlite3_column_int64(st, 11);
	j->last_error = column_opt(st, 12, NULL);
}

void
store_job_listings_free(struct job_listing *rows, size_t n)
{
	size_t	i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(rows[i].token);
		free(rows[i].rule);
		free(rows[i].kind);
		free(rows[i].state);
		free(rows[i].last_error);
	}
	free(rows);
}

static int
sqlite_jobs_list(struct store *s, const struct job_filter *flt,
    struct job_listing **rowsp, size_t *np)
{
	sqlite3_stmt		*st;
	struct job_listing	*rows = NULL;
	const char		*sql;
	size_t			 n = 0, cap = 0;
	int			 rc;

	*rowsp = NULL;
	*np = 0;
	/* Fixed texts: the filters are bound, never pasted. */
	if (flt->id > 0)
		sql = JOB_COLUMNS " WHERE j.id = ?1 LIMIT ?4";
	else if (flt->callback_id > 0)
		sql = JOB_COLUMNS " WHERE j.callback_id = ?2 ORDER BY j.id"
		    " LIMIT ?4";
	else if (flt->state != NULL)
		sql = JOB_COLUMNS " WHERE j.state = ?3 ORDER BY j.id DESC"
		    " LIMIT ?4";
	else
		sql = JOB_COLUMNS " ORDER BY j.id DESC LIMIT ?4";
	if (prepare(s, sql, &st, "listing jobs") == -1)
		return -1;
	if (flt->id > 0)
		sqlite3_bind_int64(st, 1, flt->id);
	else if (flt->callback_id > 0)
		sqlite3_bind_int64(st, 2, flt->callback_id);
	else if (flt->state != NULL)
		bind_text(st, 3, flt->state);
	sqlite3_bind_int64(st, 4, flt->limit > 0 ? (sqlite3_int64)flt->limit :
	    -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows = grow(rows, &cap, n, sizeof *rows);
		read_job(st, &rows[n++]);
	}
	if (rc != SQLITE_DONE) {
		set_dberr(s, "listing jobs");
		sqlite3_finalize(st);
		store_job_listings_free(rows, n);
		return -1;
	}
	sqlite3_finalize(st);
	*rowsp = rows;
	*np = n;
	return 0;
}

static int
sqlite_jobs_add(struct store *s, int64_t callback_id,
    const struct job_spec *jobs, size_t njobs, int64_t *ids)
{
	sqlite3_stmt	*st = s->st[ST_JOB_INSERT];
	int64_t		 at = now_ms();
	size_t		 i;
	int		 own, rv = 0;

	if (begin_own(s, &own) == -1)
		return -1;
	for (i = 0; i < njobs && rv == 0; i++) {
		sqlite3_bind_int64(st, 1, callback_id);
		bind_text(st, 2, jobs[i].rule);
		sqlite3_bind_int(st, 3, jobs[i].action);
		bind_text(st, 4, jobs[i].kind);
		sqlite3_bind_int(st, 5, jobs[i].max_attempts);
		sqlite3_bind_int64(st, 6, at);
		rv = run(s, ST_JOB_INSERT, "queueing a job");
		if (rv == 0 && ids != NULL)
			ids[i] = sqlite3_last_insert_rowid(s->db);
	}
	return end_own(s, own, rv);
}

static int
sqlite_job_retry(struct store *s, int64_t id)
{
	sqlite3_stmt	*st;
	int64_t		 at = now_ms();
	int		 own, rv = -1, n = 0;

	if (prepare(s, "UPDATE jobs SET state = 'queued', next_run_at = ?2,"
	    " attempts = CASE state WHEN 'dead' THEN 0 ELSE attempts END,"
	    " updated_at = ?2 WHERE id = ?1 AND state IN ('queued', 'dead')",
	    &st, "retrying a job") == -1)
		return -1;
	if (begin_own(s, &own) == 0) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, at);
		if (sqlite3_step(st) == SQLITE_DONE) {
			n = sqlite3_changes(s->db);
			rv = 0;
		} else
			set_dberr(s, "retrying a job");
		rv = end_own(s, own, rv);
	}
	sqlite3_finalize(st);
	return rv == -1 ? -1 : n;
}

/* Fill r from a row of the rejected query. */
static void
read_rejected(sqlite3_stmt *st, struct rejected_listing *r)
{
	r->id = sqlite3_column_int64(st, 0);
	r->at = sqlite3_column_int64(st, 1);
	r->status = sqlite3_column_int(st, 2);
	r->remote = column_opt(st, 3, NULL);
	r->method = column_opt(st, 4, NULL);
	r->uri = column_opt(st, 5, NULL);
	r->reason = column_opt(st, 6, NULL);
	r->detail = column_opt(st, 7, NULL);
	r->account_sid = column_opt(st, 8, NULL);
	r->idempotency_token = column_opt(st, 9, NULL);
	r->url = column_opt(st, 10, NULL);
	r->headers = column_opt(st, 11, NULL);
	r->body = column_opt(st, 12, &r->bodylen);
	r->signature = column_opt(st, 13, NULL);
}

void
store_rejected_listings_free(struct rejected_listing *rows, size_t n)
{
	size_t	i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(rows[i].remote);
		free(rows[i].method);
		free(rows[i].uri);
		free(rows[i].reason);
		free(rows[i].detail);
		free(rows[i].account_sid);
		free(rows[i].idempotency_token);
		free(rows[i].url);
		free(rows[i].headers);
		free(rows[i].body);
		free(rows[i].signature);
	}
	free(rows);
}

static int
sqlite_rejected_list(struct store *s, size_t limit,
    struct rejected_listing **rowsp, size_t *np)
{
	sqlite3_stmt		*st;
	struct rejected_listing	*rows = NULL;
	size_t			 n = 0, cap = 0;
	int			 rc;

	*rowsp = NULL;
	*np = 0;
	if (prepare(s, "SELECT id, at, status, remote, method, uri, reason,"
	    " detail, account_sid, idempotency_token, url, headers, body,"
	    " signature FROM rejected ORDER BY id DESC LIMIT ?1", &st,
	    "listing rejected requests") == -1)
		return -1;
	sqlite3_bind_int64(st, 1, limit > 0 ? (sqlite3_int64)limit : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows = grow(rows, &cap, n, sizeof *rows);
		read_rejected(st, &rows[n++]);
	}
	if (rc != SQLITE_DONE) {
		set_dberr(s, "listing rejected requests");
		sqlite3_finalize(st);
		store_rejected_listings_free(rows, n);
		return -1;
	}
	sqlite3_finalize(st);
	*rowsp = rows;
	*np = n;
	return 0;
}

/* The queries of store_stats, by enum store_stat. */
static const char *const stat_sql[] = {
	[STAT_DAILY] =
	    ("SELECT strftime('%Y-%m-%d', received_at / 1000, 'unixepoch'),"
	    " coalesce(usage_category, ''), count(*), sum(duplicates)"
	    " FROM callbacks WHERE received_at >= ?1 GROUP BY 1, 2"
	    " ORDER BY 1, 2"),
	[STAT_REJECTED] =
	    ("SELECT reason, '', count(*), 0 FROM rejected WHERE at >= ?1"
	    " GROUP BY 1 ORDER BY 3 DESC, 1"),
	[STAT_JOBS] =
	    "SELECT state, '', count(*), 0 FROM jobs GROUP BY 1 ORDER BY 1",
};

void
store_count_rows_free(struct count_row *rows, size_t n)
{
	size_t	i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(rows[i].key);
		free(rows[i].sub);
	}
	free(rows);
}

static int
sqlite_stats(struct store *s, enum store_stat which, int64_t since,
    struct count_row **rowsp, size_t *np)
{
	sqlite3_stmt		*st;
	struct count_row	*rows = NULL;
	size_t			 n = 0, cap = 0;
	int			 rc;

	*rowsp = NULL;
	*np = 0;
	if (which < STAT_DAILY || which > STAT_JOBS) {
		set_err(s, "stats: no such statistic");
		return -1;
	}
	if (prepare(s, stat_sql[which], &st, "counting") == -1)
		return -1;
	if (which != STAT_JOBS)
		sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows = grow(rows, &cap, n, sizeof *rows);
		rows[n].key = column_opt(st, 0, NULL);
		rows[n].sub = column_opt(st, 1, NULL);
		rows[n].n = sqlite3_column_int64(st, 2);
		rows[n].extra = sqlite3_column_int64(st, 3);
		n++;
	}
	if (rc != SQLITE_DONE) {
		set_dberr(s, "counting");
		sqlite3_finalize(st);
		store_count_rows_free(rows, n);
		return -1;
	}
	sqlite3_finalize(st);
	*rowsp = rows;
	*np = n;
	return 0;
}

/*
 * Delete in batches, each its own transaction unless the caller holds one,
 * so that the daemon's commits are never kept waiting for long.
 */
static int
purge_table(struct store *s, const char *sql, int64_t before, int64_t *count)
{
	sqlite3_stmt	*st;
	int		 own, rv, n;

	*count = 0;
	if (before <= 0)
		return 0;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		set_dberr(s, "purging");
		return -1;
	}
	do {
		if (begin_own(s, &own) == -1) {
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_bind_int64(st, 1, before);
		sqlite3_bind_int(st, 2, STORE_PURGE_BATCH);
		rv = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
		if (rv == -1)
			set_dberr(s, "purging");
		n = rv == 0 ? sqlite3_changes(s->db) : 0;
		sqlite3_reset(st);
		if (end_own(s, own, rv) == -1) {
			sqlite3_finalize(st);
			return -1;
		}
		*count += n;
	} while (n == STORE_PURGE_BATCH);
	sqlite3_finalize(st);
	return 0;
}

static int
sqlite_purge(struct store *s, int64_t callbacks_before_ms,
    int64_t rejected_before_ms, int64_t *ncb, int64_t *nrej)
{
	int64_t	a = 0, b = 0;
	int	rv;

	/* Jobs go with their callback: ON DELETE CASCADE. */
	rv = purge_table(s, "DELETE FROM callbacks WHERE id IN (SELECT id"
	    " FROM callbacks WHERE received_at < ?1 ORDER BY received_at"
	    " LIMIT ?2)", callbacks_before_ms, &a);
	if (rv == 0)
		rv = purge_table(s, "DELETE FROM rejected WHERE id IN (SELECT"
		    " id FROM rejected WHERE at < ?1 ORDER BY at LIMIT ?2)",
		    rejected_before_ms, &b);
	if (ncb != NULL)
		*ncb = a;
	if (nrej != NULL)
		*nrej = b;
	return rv;
}

/* One count of a purge preview, bound to before; 0/-1. */
static int
count_before(struct store *s, const char *sql, int64_t before, int64_t *n,
    int64_t *n2)
{
	sqlite3_stmt	*st;
	int		 rc;

	*n = 0;
	if (n2 != NULL)
		*n2 = 0;
	if (before <= 0)
		return 0;
	if (prepare(s, sql, &st, "counting what a purge deletes") == -1)
		return -1;
	sqlite3_bind_int64(st, 1, before);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		if (n2 != NULL)
			*n2 = sqlite3_column_int64(st, 1);
	} else
		set_dberr(s, "counting what a purge deletes");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

static int
sqlite_purge_counts(struct store *s, int64_t callbacks_before_ms,
    int64_t rejected_before_ms, struct purge_counts *pc)
{
	memset(pc, 0, sizeof *pc);
	if (count_before(s, "SELECT count(*) FROM callbacks"
	    " WHERE received_at < ?1", callbacks_before_ms, &pc->callbacks,
	    NULL) == -1 ||
	    count_before(s, "SELECT count(*), coalesce(sum(j.state IN"
	    " ('queued', 'running')), 0) FROM jobs j JOIN callbacks c"
	    " ON c.id = j.callback_id WHERE c.received_at < ?1",
	    callbacks_before_ms, &pc->jobs, &pc->jobs_pending) == -1 ||
	    count_before(s, "SELECT count(*) FROM rejected WHERE at < ?1",
	    rejected_before_ms, &pc->rejected, NULL) == -1)
		return -1;
	return 0;
}

static int
sqlite_autocheckpoint(struct store *s, int pages)
{
	if (sqlite3_wal_autocheckpoint(s->db, pages) != SQLITE_OK) {
		set_dberr(s, "wal_autocheckpoint");
		return -1;
	}
	return 0;
}

/* The database's page size (4096 unless it was made otherwise). */
static int
page_size(struct store *s)
{
	sqlite3_stmt	*st;
	int		 n = 4096;

	if (sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st,
	    NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static int
sqlite_checkpoint(struct store *s, int *left, int64_t *used)
{
	int	nlog = 0, nckpt = 0, rc;

	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &nlog, &nckpt);
	/* BUSY: another checkpoint runs; it is done next time. */
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		set_dberr(s, "checkpoint");
		return -1;
	}
	if (left != NULL)
		*left = rc == SQLITE_BUSY || nlog < 0 ? -1 :
		    nlog > nckpt ? nlog - nckpt : 0;
	/* A frame: a 24-byte header and a page. */
	if (used != NULL)
		*used = nlog > 0 ? (int64_t)nlog * (24 + page_size(s)) : 0;
	return 0;
}

static int64_t
sqlite_wal_bytes(struct store *s)
{
	struct stat	sb;
	char		wal[4096];

	if (snprintf(wal, sizeof wal, "%s-wal", s->path) >= (int)sizeof wal ||
	    stat(wal, &sb) == -1)
		return 0;
	return sb.st_size;
}

static int
sqlite_checkpoint_truncate(struct store *s)
{
	int	rc;

	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
	    NULL, NULL);
	/* BUSY: a reader or the writer held on past the busy timeout. */
	if (rc == SQLITE_BUSY)
		return 1;
	if (rc != SQLITE_OK) {
		set_dberr(s, "checkpoint (truncate)");
		return -1;
	}
	return 0;
}

/* store_open_auth: an SQLite file has no password. */
static struct store *
sqlite_open_auth(const char *path, const char *password_file, int readonly,
    char **err)
{
	return sqlite_open(path, readonly, err);
}

static int
sqlite_claims(struct store *s, struct claim_item *items, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		items[i].result = sqlite_claim(s, items[i].cb, items[i].jobs,
		    items[i].njobs);
		if (items[i].result == CLAIM_ERROR) {
			for (; i < n; i++)
				items[i].result = CLAIM_ERROR;
			return -1;
		}
	}
	return 0;
}

/* Read the due jobs, then lease each: the writer is the only writer. */
static int
sqlite_jobs_take(struct store *s, const char *owner, int64_t now,
    int64_t lease_ms, size_t limit, const char *skip_rules,
    struct job_row **rowsp, size_t *np)
{
	sqlite3_stmt	*st = s->st[ST_JOBS_TAKE];
	struct job_row	*rows, *r;
	size_t		 n = 0, i;
	int		 own, rc = SQLITE_DONE, rv = 0;

	*rowsp = NULL;
	*np = 0;
	if (begin_own(s, &own) == -1)
		return -1;
	if ((rows = calloc(limit ? limit : 1, sizeof *rows)) == NULL) {
		set_err(s, "taking jobs: out of memory");
		return end_own(s, own, -1);
	}
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	bind_text(st, 3, skip_rules);
	while (n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = &rows[n++];
		r->id = sqlite3_column_int64(st, 0);
		r->action = sqlite3_column_int(st, 2);
		r->attempts = sqlite3_column_int(st, 3);
		r->max_attempts = sqlite3_column_int(st, 4);
		r->callback_id = sqlite3_column_int64(st, 8);
		r->received_at = sqlite3_column_int64(st, 9);
		r->from_api = sqlite3_column_int(st, 10);
		if ((r->rule = column_dup(st, 1, NULL)) == NULL ||
		    (r->method = column_dup(st, 5, NULL)) == NULL ||
		    (r->uri = column_dup(st, 6, NULL)) == NULL ||
		    (r->body = column_dup(st, 7, &r->bodylen)) == NULL) {
			set_err(s, "taking jobs: out of memory");
			rc = SQLITE_NOMEM;
			break;
		}
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		if (rc != SQLITE_NOMEM)
			set_dberr(s, "reading due jobs");
		rv = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	st = s->st[ST_JOB_LEASE];
	for (i = 0; i < n && rv == 0; i++) {
		sqlite3_bind_int64(st, 1, rows[i].id);
		bind_text(st, 2, owner);
		sqlite3_bind_int64(st, 3, now + lease_ms);
		sqlite3_bind_int64(st, 4, now);
		rv = run(s, ST_JOB_LEASE, "leasing a job");
	}
	if (end_own(s, own, rv) == -1) {
		store_job_rows_free(rows, n);
		return -1;
	}
	*rowsp = rows;
	*np = n;
	return 0;
}

/* copy-db reads an SQLite file page by page, oldest first. */
static int
sqlite_callbacks_page(struct store *s, int64_t after, size_t limit,
    struct callback_row **rowsp, size_t *np)
{
	sqlite3_stmt		*st;

	*rowsp = NULL;
	*np = 0;
	if (prepare(s, "SELECT " CALLBACK_COLUMNS ", headers, body FROM"
	    " callbacks WHERE id > ?1 ORDER BY id LIMIT ?2", &st,
	    "reading callbacks") == -1)
		return -1;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	return step_callbacks(s, st, 1, "reading callbacks", rowsp, np);
}

/* copy-db writes into PostgreSQL only. */
static int
sqlite_import_callback(struct store *s, const struct callback_row *r,
    int64_t *id)
{
	set_err(s, "copy-db: the destination must be a PostgreSQL database "
	    "(postgresql://...)");
	return -1;
}

static int
sqlite_import_job(struct store *s, int64_t callback_id,
    const struct job_listing *j)
{
	return sqlite_import_callback(s, NULL, NULL);
}

static int
sqlite_import_rejected(struct store *s, const struct rejected_listing *r)
{
	return sqlite_import_callback(s, NULL, NULL);
}

/*
 * Through callbacks_received_at: reconciliation looks back max_age only,
 * and an index on the trigger would cost every claim.
 */
static int
sqlite_trigger_latest(struct store *s, const char *trigger_sid, int64_t since,
    int64_t *latest)
{
	sqlite3_stmt	*st;
	int		 rc;

	*latest = 0;
	if (prepare(s, "SELECT coalesce(max(coalesce(fired_at, received_at)),"
	    " 0) FROM callbacks WHERE received_at >= ?1"
	    " AND usage_trigger_sid = ?2", &st, "finding a trigger's firings")
	    == -1)
		return -1;
	sqlite3_bind_int64(st, 1, since);
	bind_text(st, 2, trigger_sid);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*latest = sqlite3_column_int64(st, 0);
	else
		set_dberr(s, "finding a trigger's firings");
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* A lease row: taken when free, expired, or already ours. */
static int
sqlite_reconcile_lock(struct store *s, const char *owner, int64_t now,
    int64_t until)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (until == 0) {
		if (prepare(s, "DELETE FROM reconcile_lock WHERE owner = ?1",
		    &st, "releasing the reconcile lease") == -1)
			return -1;
		bind_text(st, 1, owner);
	} else {
		if (prepare(s, "INSERT INTO reconcile_lock (id, owner, expires)"
		    " VALUES (1, ?1, ?3) ON CONFLICT (id) DO UPDATE SET"
		    " owner = ?1, expires = ?3"
		    " WHERE reconcile_lock.owner = ?1"
		    " OR reconcile_lock.expires < ?2",
		    &st, "taking the reconcile lease") == -1)
			return -1;
		bind_text(st, 1, owner);
		sqlite3_bind_int64(st, 2, now);
		sqlite3_bind_int64(st, 3, until);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		set_dberr(s, "the reconcile lease");
		return -1;
	}
	return until == 0 ? 1 : sqlite3_changes(s->db) > 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sqlite_open_auth,
	.close = sqlite_close,
	.errmsg = sqlite_errmsg,
	.schema_version = sqlite_schema_version,
	.schema_latest = sqlite_schema_latest,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.claim = sqlite_claim,
	.claims = sqlite_claims,
	.jobs_take = sqlite_jobs_take,
	.reject = sqlite_reject,
	.probe = sqlite_probe,
	.count = sqlite_count,
	.duplicates = sqlite_duplicates,
	.jobs_due = sqlite_jobs_due,
	.job_update = sqlite_job_update,
	.jobs_next = sqlite_jobs_next,
	.jobs_recover = sqlite_jobs_recover,
	.callbacks_list = sqlite_callbacks_list,
	.callback_find = sqlite_callback_find,
	.jobs_list = sqlite_jobs_list,
	.jobs_add = sqlite_jobs_add,
	.job_retry = sqlite_job_retry,
	.rejected_list = sqlite_rejected_list,
	.stats = sqlite_stats,
	.purge = sqlite_purge,
	.callbacks_page = sqlite_callbacks_page,
	.import_callback = sqlite_import_callback,
	.import_job = sqlite_import_job,
	.import_rejected = sqlite_import_rejected,
	.autocheckpoint = sqlite_autocheckpoint,
	.checkpoint = sqlite_checkpoint,
	.path = sqlite_path,
	.purge_counts = sqlite_purge_counts,
	.wal_bytes = sqlite_wal_bytes,
	.checkpoint_truncate = sqlite_checkpoint_truncate,
	.moved = sqlite_moved,
	.trigger_latest = sqlite_trigger_latest,
	.reconcile_lock = sqlite_reconcile_lock,
};
