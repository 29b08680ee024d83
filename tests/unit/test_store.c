/* test_store.c: the SQLite store on real files in a temporary directory. */
#include "config-sys.h"

#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"

struct fixture {
	char	dir[1024];
	char	db[PATH_MAX];
};

static char	method[] = "POST";
static char	uri[] = "/twilio/usage";
static char	url[] = "https://hooks.example.com/twilio/usage";
static char	headers[] = "Host: hooks.example.com\r\n"
		    "Content-Type: application/x-www-form-urlencoded\r\n";
/* A NUL inside: the body must be stored as bodylen bytes, not a string. */
static char	body[] = "AccountSid=AC0123\0IdempotencyToken=x";
static char	remote[] = "127.0.0.1";
static char	signature[] = "c2lnbmF0dXJl";

/* A callback built by hand from static strings; token points at tok. */
static void
make_callback(struct callback *cb, const char *tok)
{
	memset(cb, 0, sizeof *cb);
	cb->method = method;
	cb->uri = uri;
	cb->url = url;
	cb->headers = headers;
	cb->body = body;
	cb->bodylen = sizeof body - 1;
	cb->remote = remote;
	cb->signature = signature;
	cb->received_at = 1700000000000;
	cb->f.account_sid = "AC0123456789abcdef0123456789abcdef";
	cb->f.usage_trigger_sid = "UT0123456789abcdef0123456789abcdef";
	cb->f.idempotency_token = tok;
	cb->f.date_fired = "Mon, 20 Nov 2023 10:00:00 +0000";
	cb->f.recurring = "daily";
	cb->f.usage_category = "sms";
	cb->f.trigger_by = "price";
	cb->f.trigger_value = "100";
	cb->f.current_value = "100.25";
	cb->f.usage_record_uri = NULL;	/* must bind as NULL */
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture	*fx;
	const char	*tmp;

	if ((fx = calloc(1, sizeof *fx)) == NULL)
		return -1;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(fx->dir, sizeof fx->dir, "%s/test_store.XXXXXX", tmp);
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->db, sizeof fx->db, "%s/usagehookd.db", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	chmod(fx->dir, 0700);
	nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Open or fail the test with the store's own message. */
static struct store *
open_ok(const char *path, int readonly)
{
	struct store	*s;
	char		*err = NULL;

	s = store_open(path, readonly, &err);
	if (s == NULL)
		fail_msg("store_open %s: %s", path, err ? err : "(no message)");
	assert_null(err);
	return s;
}

/* One integer from raw SQL against the file, bypassing the store. */
static int64_t
raw_int(const char *path, const char *sql)
{
	sqlite3		*db;
	sqlite3_stmt	*st;
	int64_t		 v = -12345;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3	*db;
	char	*msg = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fail_msg("%s: %s", sql, msg);
	}
	sqlite3_close(db);
}

static void
test_first_claim_is_new_second_is_duplicate(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 cb;

	make_callback(&cb, "tok-first");
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_DUPLICATE);
	assert_int_equal(store_count(s, "callbacks"), 1);
	store_close(s);
}

static void
test_duplicate_counter_increments(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 cb;
	int		 i;

	make_callback(&cb, "tok-dup");
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	assert_int_equal(store_duplicates(s, "tok-dup"), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_DUPLICATE);
	assert_int_equal(store_duplicates(s, "tok-dup"), 3);
	assert_int_equal(store_duplicates(s, "tok-never-seen"), -1);
	assert_int_equal(store_count(s, "callbacks"), 1);
	store_close(s);
	assert_true(raw_int(fx->db, "SELECT last_duplicate_at FROM callbacks"
	    " WHERE idempotency_token = 'tok-dup'") > 0);
}

static void
test_claim_survives_reopen(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 cb;

	make_callback(&cb, "tok-durable");
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	s = open_ok(fx->db, 0);
	assert_int_equal(store_count(s, "callbacks"), 1);
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_DUPLICATE);
	store_close(s);

	/* The raw request came back whole: body bytes past a NUL, NULLs. */
	assert_int_equal(raw_int(fx->db, "SELECT length(body) FROM callbacks"),
	    sizeof body - 1);
	assert_int_equal(raw_int(fx->db, "SELECT received_at FROM callbacks"),
	    1700000000000);
	assert_int_equal(raw_int(fx->db, "SELECT usage_record_uri IS NULL"
	    " FROM callbacks"), 1);
	assert_int_equal(raw_int(fx->db, "SELECT count(*) FROM callbacks"
	    " WHERE usage_category = 'sms' AND method = 'POST'"
	    " AND signature = 'c2lnbmF0dXJl'"), 1);

	/* A read-only store sees it too. */
	s = open_ok(fx->db, 1);
	assert_int_equal(store_count(s, "callbacks"), 1);
	assert_int_equal(store_duplicates(s, "tok-durable"), 1);
	store_close(s);
}

static void
test_many_claims_in_one_transaction(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 cb;
	char		 tok[64];
	int		 i;

	assert_int_equal(store_begin(s), 0);
	for (i = 0; i < 1000; i++) {
		snprintf(tok, sizeof tok, "tok-batch-%d", i);
		make_callback(&cb, tok);
		assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	}
	/* A repeat inside the same transaction is already a duplicate. */
	make_callback(&cb, "tok-batch-7");
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_DUPLICATE);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_count(s, "callbacks"), 1000);
	assert_int_equal(store_duplicates(s, "tok-batch-7"), 1);
	store_close(s);
}

static void
test_rollback_discards_claims(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 cb;
	char		 tok[64];
	int		 i;

	assert_int_equal(store_begin(s), 0);
	for (i = 0; i < 10; i++) {
		snprintf(tok, sizeof tok, "tok-rb-%d", i);
		make_callback(&cb, tok);
		assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	}
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_count(s, "callbacks"), 0);

	/* Twilio's retry of a rolled-back claim is new, not a duplicate. */
	make_callback(&cb, "tok-rb-3");
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	assert_int_equal(store_count(s, "callbacks"), 1);
	/* Rolling back with no transaction open is harmless. */
	assert_int_equal(store_rollback(s), 0);
	store_close(s);
}

static void
test_schema_version_recorded_and_reopen_does_not_rerun(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 cb;
	int64_t		 applied;
	int		 latest = store_schema_latest();

	assert_true(latest >= 1);
	assert_int_equal(store_schema_version(s), latest);
	assert_int_equal(store_count(s, "schema_version"), latest);
	make_callback(&cb, "tok-schema");
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	store_close(s);

	applied = raw_int(fx->db, "SELECT applied_at FROM schema_version"
	    " WHERE version = 1");
	assert_true(applied > 0);
	usleep(5000);

	s = open_ok(fx->db, 0);
	assert_int_equal(store_schema_version(s), latest);
	assert_int_equal(store_count(s, "schema_version"), latest);
	assert_int_equal(store_count(s, "callbacks"), 1);
	store_close(s);
	assert_int_equal(raw_int(fx->db, "SELECT applied_at FROM schema_version"
	    " WHERE version = 1"), applied);
}

static void
test_newer_schema_is_refused(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	char		 sql[128], want[128];
	char		*err = NULL;
	int		 latest = store_schema_latest();

	store_close(s);
	snprintf(sql, sizeof sql, "INSERT INTO schema_version"
	    " (version, applied_at) VALUES (%d, 1)", latest + 1);
	raw_exec(fx->db, sql);

	snprintf(want, sizeof want, "database schema version %d is newer than"
	    " this usagehookd supports (%d)", latest + 1, latest);
	assert_null(store_open(fx->db, 0, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, want));
	free(err);
	err = NULL;
	assert_null(store_open(fx->db, 1, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, want));
	free(err);
}

static void
test_rejected_is_capped(void **state)
{
	struct fixture		*fx = *state;
	struct store		*s = open_ok(fx->db, 0);
	struct rejection	 r;
	char			 detail[64];
	int			 i, n = STORE_REJECTED_CAP + 50;

	memset(&r, 0, sizeof r);
	r.status = 403;
	r.remote = "192.0.2.1";
	r.method = "POST";
	r.uri = "/twilio/usage";
	r.reason = "signature";
	r.detail = detail;
	assert_int_equal(store_begin(s), 0);
	for (i = 0; i < n; i++) {
		r.at = 1000 + i;
		snprintf(detail, sizeof detail, "n=%d", i);
		if (store_reject(s, &r) != 0)
			fail_msg("store_reject %d: %s", i, store_errmsg(s));
	}
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_count(s, "rejected"), STORE_REJECTED_CAP);

	/* One more outside a transaction: still capped, oldest goes. */
	r.at = 1000 + n;
	r.reason = NULL;
	r.account_sid = "AC0123456789abcdef0123456789abcdef";
	assert_int_equal(store_reject(s, &r), 0);
	assert_int_equal(store_count(s, "rejected"), STORE_REJECTED_CAP);
	store_close(s);

	assert_int_equal(raw_int(fx->db, "SELECT min(at) FROM rejected"),
	    1000 + 51);
	assert_int_equal(raw_int(fx->db, "SELECT max(at) FROM rejected"),
	    1000 + n);
	assert_int_equal(raw_int(fx->db, "SELECT count(*) FROM rejected"
	    " WHERE detail = 'n=50'"), 0);
	assert_int_equal(raw_int(fx->db, "SELECT count(*) FROM rejected"
	    " WHERE detail = 'n=51'"), 1);
}

/* A string of n copies of c; allocated. */
static char *
filled(size_t n, char c)
{
	char	*p = malloc(n + 1);

	assert_non_null(p);
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* A refusal as the report's flood sent it: 24 KB query, 7 KB headers. */
static void
make_huge_rejection(struct rejection *r, char **bufs)
{
	memset(r, 0, sizeof *r);
	bufs[0] = filled(24000, 'q');
	bufs[1] = filled(7000, 'h');
	bufs[2] = filled(8192, 'b');
	r->status = 403;
	r->remote = "192.0.2.1";
	r->method = "POST";
	r->uri = bufs[0];
	r->url = bufs[0];
	r->reason = "missing-signature";
	r->detail = "no X-Twilio-Signature header";
	r->headers = bufs[1];
	r->body = bufs[2];
	r->bodylen = 8192;
}

static void
test_rejected_parts_are_cut_and_marked(void **state)
{
	struct fixture		*fx = *state;
	struct store		*s = open_ok(fx->db, 0);
	struct rejection	 r;
	char			*bufs[3];
	int			 i;

	make_huge_rejection(&r, bufs);
	assert_int_equal(store_reject(s, &r), 0);
	store_close(s);
	for (i = 0; i < 3; i++)
		free(bufs[i]);

	assert_int_equal(raw_int(fx->db, "SELECT length(uri) FROM rejected"),
	    2048);
	assert_int_equal(raw_int(fx->db, "SELECT length(url) FROM rejected"),
	    2048);
	assert_int_equal(raw_int(fx->db, "SELECT length(headers) FROM"
	    " rejected"), 4096);
	assert_int_equal(raw_int(fx->db, "SELECT length(body) FROM rejected"),
	    4096);
	assert_int_equal(raw_int(fx->db, "SELECT uri LIKE"
	    " '%qqq...[truncated from 24000 bytes]' FROM rejected"), 1);
	assert_int_equal(raw_int(fx->db, "SELECT headers LIKE"
	    " '%...[truncated from 7000 bytes]' FROM rejected"), 1);
	assert_int_equal(raw_int(fx->db, "SELECT detail = '[body truncated"
	    " from 8192 bytes] no X-Twilio-Signature header' FROM rejected"),
	    1);
	/* Short parts are kept as they were. */
	assert_int_equal(raw_int(fx->db, "SELECT remote = '192.0.2.1' AND"
	    " reason = 'missing-signature' FROM rejected"), 1);
}

#define ROW_BYTES_SQL							\
	"SELECT sum(length(CAST(uri AS BLOB)) + length(CAST(url AS BLOB))"\
	" + length(CAST(headers AS BLOB)) + length(body)"		\
	" + length(CAST(detail AS BLOB)) + length(CAST(remote AS BLOB))"\
	" + length(CAST(method AS BLOB)) + length(CAST(reason AS BLOB)))"\
	" FROM rejected"

static void
test_rejected_is_capped_in_bytes(void **state)
{
	struct fixture		*fx = *state;
	struct store		*s = open_ok(fx->db, 0);
	struct rejection	 r;
	char			*bufs[3];
	int64_t			 bytes, rows;
	int			 i, n = 2000;

	make_huge_rejection(&r, bufs);
	assert_int_equal(store_begin(s), 0);
	for (i = 0; i < n; i++) {
		r.at = 1000 + i;
		if (store_reject(s, &r) != 0)
			fail_msg("store_reject %d: %s", i, store_errmsg(s));
	}
	assert_int_equal(store_commit(s), 0);
	bytes = raw_int(fx->db, ROW_BYTES_SQL);
	rows = raw_int(fx->db, "SELECT count(*) FROM rejected");
	assert_true(bytes <= STORE_REJECTED_BYTES);
	/* Full, not emptied: within one row of the cap. */
	assert_true(bytes > STORE_REJECTED_BYTES - 16384);
	assert_true(rows < n);
	assert_int_equal(raw_int(fx->db, "SELECT max(at) FROM rejected"),
	    1000 + n - 1);

	/* Another connection deletes half: the count is read again. */
	raw_exec(fx->db, "DELETE FROM rejected WHERE id IN (SELECT id FROM"
	    " rejected ORDER BY id LIMIT (SELECT count(*) / 2 FROM"
	    " rejected))");
	rows = raw_int(fx->db, "SELECT count(*) FROM rejected");
	assert_int_equal(store_reject(s, &r), 0);
	assert_int_equal(raw_int(fx->db, "SELECT count(*) FROM rejected"),
	    rows + 1);
	store_close(s);
	for (i = 0; i < 3; i++)
		free(bufs[i]);
}

static void
test_new_database_and_its_wal_are_private(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s;
	struct stat	 sb;
	char		 path[PATH_MAX + 8];
	const char	*sfx[] = { "", "-wal", "-shm" };
	mode_t		 old = umask(022);
	size_t		 i;

	s = open_ok(fx->db, 0);
	assert_int_equal(store_probe(s), 0);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s%s", fx->db, sfx[i]);
		if (stat(path, &sb) == -1)
			fail_msg("%s: not there", path);
		if ((sb.st_mode & 0777) != 0600)
			fail_msg("%s: mode %03o, want 600", path,
			    (unsigned)(sb.st_mode & 0777));
	}
	store_close(s);
	umask(old);
}

static void
test_moved_database_refuses_writes_until_back(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	char		 away[PATH_MAX + 8], why[512];

	snprintf(away, sizeof away, "%s.away", fx->db);
	assert_int_equal(store_moved(s, why, sizeof why), 0);
	assert_int_equal(rename(fx->db, away), 0);
	assert_int_equal(store_moved(s, why, sizeof why), 1);
	assert_non_null(strstr(why, fx->db));
	assert_int_equal(store_begin(s), -1);
	assert_non_null(strstr(store_errmsg(s), "moved or deleted"));
	store_moved_reason(why, sizeof why);
	assert_non_null(strstr(why, fx->db));

	/* Another file at the path is not the one opened either. */
	assert_int_equal(close(open(fx->db, O_CREAT | O_WRONLY, 0600)), 0);
	assert_int_equal(store_begin(s), -1);
	assert_non_null(strstr(store_errmsg(s), "another file"));
	assert_int_equal(unlink(fx->db), 0);

	assert_int_equal(rename(away, fx->db), 0);
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_probe(s), 0);
	assert_int_equal(store_commit(s), 0);
	store_moved_reason(why, sizeof why);
	assert_string_equal(why, "");
	store_close(s);
}

static void
test_unwritable_directory_gives_clear_error(void **state)
{
	struct fixture	*fx = *state;
	char		 path[PATH_MAX + 32], ro[PATH_MAX];
	char		*err = NULL;

	/* A directory that is not there. */
	snprintf(path, sizeof path, "%s/missing/usagehookd.db", fx->dir);
	assert_null(store_open(path, 0, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "cannot open database"));
	assert_non_null(strstr(err, "writable by this user"));
	free(err);
	err = NULL;

	/* A directory without write permission (root ignores modes). */
	if (geteuid() != 0) {
		snprintf(ro, sizeof ro, "%s/ro", fx->dir);
		assert_int_equal(mkdir(ro, 0555), 0);
		snprintf(path, sizeof path, "%s/usagehookd.db", ro);
		assert_null(store_open(path, 0, &err));
		assert_non_null(err);
		assert_non_null(strstr(err, path));
		assert_non_null(strstr(err, "writable by this user"));
		free(err);
		err = NULL;
	}

	/* Read-only on a file that does not exist says so, and creates none. */
	assert_null(store_open(fx->db, 1, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, fx->db));
	free(err);
	assert_int_equal(access(fx->db, F_OK), -1);
}

#define NTOKENS	200

struct racer {
	const char		*path;
	pthread_barrier_t	*start;
	int			 batched;	/* claims in BEGIN/COMMIT of 10 */
	int			 isnew[NTOKENS];
	int			 errors;
	char			 err[256];
};

/* Claim every token on this thread's own connection. */
static void *
race(void *arg)
{
	struct racer	*r = arg;
	struct store	*s;
	struct callback	 cb;
	enum claim	 c;
	char		 tok[64], *err = NULL;
	int		 i;

	s = store_open(r->path, 0, &err);
	pthread_barrier_wait(r->start);
	if (s == NULL) {
		snprintf(r->err, sizeof r->err, "%s", err);
		free(err);
		r->errors++;
		return NULL;
	}
	for (i = 0; i < NTOKENS; i++) {
		if (r->batched && i % 10 == 0 && store_begin(s) != 0)
			goto bad;
		snprintf(tok, sizeof tok, "tok-race-%d", i);
		make_callback(&cb, tok);
		if ((c = store_claim(s, &cb, NULL, 0)) == CLAIM_ERROR)
			goto bad;
		r->isnew[i] = c == CLAIM_NEW;
		if (r->batched && i % 10 == 9 && store_commit(s) != 0)
			goto bad;
	}
	store_close(s);
	return NULL;
bad:
	snprintf(r->err, sizeof r->err, "%s", store_errmsg(s));
	r->errors++;
	store_rollback(s);
	store_close(s);
	return NULL;
}

static void
test_two_connections_concurrent_claims_give_one_row(void **state)
{
	struct fixture		*fx = *state;
	struct store		*s = open_ok(fx->db, 0);
	pthread_barrier_t	 start;
	pthread_t		 t[2];
	struct racer		 r[2];
	int			 i, j;

	store_close(s);	/* schema in place before the race */
	pthread_barrier_init(&start, NULL, 2);
	for (i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof r[i]);
		r[i].path = fx->db;
		r[i].start = &start;
		r[i].batched = i == 0;
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	for (i = 0; i < 2; i++)
		if (r[i].errors != 0)
			fail_msg("racer %d: %s", i, r[i].err);

	for (j = 0; j < NTOKENS; j++)
		if (r[0].isnew[j] + r[1].isnew[j] != 1)
			fail_msg("token %d claimed new %d times", j,
			    r[0].isnew[j] + r[1].isnew[j]);
	s = open_ok(fx->db, 0);
	assert_int_equal(store_count(s, "callbacks"), NTOKENS);
	assert_int_equal(store_duplicates(s, "tok-race-0"), 1);
	assert_int_equal(store_duplicates(s, "tok-race-199"), 1);
	store_close(s);
}

static void
test_probe_writes(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	int64_t		 first;

	assert_int_equal(store_count(s, "health"), 0);
	assert_int_equal(store_probe(s), 0);
	assert_int_equal(store_count(s, "health"), 1);
	first = raw_int(fx->db, "SELECT at FROM health WHERE id = 1");
	assert_true(first > 0);
	usleep(5000);
	assert_int_equal(store_probe(s), 0);
	assert_int_equal(store_count(s, "health"), 1);
	assert_true(raw_int(fx->db, "SELECT at FROM health") > first);

	/* Inside the caller's transaction it joins it. */
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_probe(s), 0);
	assert_int_equal(store_commit(s), 0);
	store_close(s);

	/* A store that cannot write says so instead of answering 0. */
	s = open_ok(fx->db, 1);
	assert_int_equal(store_probe(s), -1);
	assert_non_null(strstr(store_errmsg(s), "readonly"));
	assert_int_equal(store_count(s, "jobs; DROP TABLE callbacks"), -1);
	store_close(s);
}

static void
test_wal_mode_enabled(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 cb;
	sqlite3		*db;
	sqlite3_stmt	*st;
	char		 wal[PATH_MAX + 8];

	make_callback(&cb, "tok-wal");
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);

	assert_int_equal(sqlite3_open_v2(fx->db, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1,
	    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* The WAL file is beside the database while the store is open. */
	snprintf(wal, sizeof wal, "%s-wal", fx->db);
	assert_int_equal(access(wal, F_OK), 0);
	store_close(s);
}

static const struct job_spec two_jobs[] = {
	{ "page", 0, "exec", 3 },
	{ "page", 1, "log", 8 },
};

static void
test_new_claim_queues_jobs_duplicate_does_not(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 cb;

	make_callback(&cb, "tok-jobs");
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_NEW);
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_DUPLICATE);
	assert_int_equal(store_count(s, "jobs"), 2);
	store_close(s);
	assert_int_equal(raw_int(fx->db, "SELECT count(*) FROM jobs j JOIN "
	    "callbacks c ON c.id = j.callback_id WHERE c.idempotency_token = "
	    "'tok-jobs' AND j.state = 'queued' AND j.attempts = 0"), 2);
}

static void
test_rolled_back_claim_leaves_no_jobs(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 cb;

	make_callback(&cb, "tok-rollback-jobs");
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_NEW);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_count(s, "jobs"), 0);
	assert_int_equal(store_count(s, "callbacks"), 0);
	store_close(s);
}

static void
test_due_jobs_run_then_finish_or_retry(void **state)
{
	struct fixture		*fx = *state;
	struct store		*s = open_ok(fx->db, 0);
	struct callback		 cb;
	struct job_row		*rows;
	struct job_update	 u;
	size_t			 n;
	int64_t			 far = (int64_t)1 << 50;

	make_callback(&cb, "tok-due");
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_NEW);
	assert_int_equal(store_jobs_due(s, far, 10, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].rule, "page");
	assert_int_equal(rows[0].action, 0);
	assert_int_equal(rows[0].max_attempts, 3);
	assert_string_equal(rows[0].method, cb.method);
	assert_int_equal(rows[0].bodylen, cb.bodylen);
	assert_memory_equal(rows[0].body, cb.body, cb.bodylen);

	u = (struct job_update){ rows[0].id, JOB_RUNNING, 0, NULL, NULL, 0 };
	assert_int_equal(store_job_update(s, &u), 0);
	u = (struct job_update){ rows[0].id, JOB_QUEUED, far - 1, "exit 1", NULL, 0 };
	assert_int_equal(store_job_update(s, &u), 0);
	u = (struct job_update){ rows[1].id, JOB_RUNNING, 0, NULL, NULL, 0 };
	assert_int_equal(store_job_update(s, &u), 0);
	u = (struct job_update){ rows[1].id, JOB_DONE, 0, NULL, NULL, 0 };
	assert_int_equal(store_job_update(s, &u), 0);
	store_job_rows_free(rows, n);

	/* The retried job is due later; the done one never again. */
	assert_int_equal(store_jobs_due(s, far - 2, 10, &rows, &n), 0);
	assert_int_equal(n, 0);
	store_job_rows_free(rows, n);
	assert_int_equal(store_jobs_next(s), far - 1);
	assert_int_equal(store_jobs_due(s, far, 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].attempts, 1);
	store_job_rows_free(rows, n);
	store_close(s);
	assert_int_equal(raw_int(fx->db, "SELECT count(*) FROM jobs WHERE "
	    "last_error = 'exit 1'"), 1);
}

static void
test_recover_requeues_jobs_left_running(void **state)
{
	struct fixture		*fx = *state;
	struct store		*s = open_ok(fx->db, 0);
	struct callback		 cb;
	struct job_row		*rows;
	struct job_update	 u;
	size_t			 n;

	make_callback(&cb, "tok-recover");
	assert_int_equal(store_claim(s, &cb, two_jobs, 1), CLAIM_NEW);
	assert_int_equal(store_jobs_due(s, (int64_t)1 << 50, 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	u = (struct job_update){ rows[0].id, JOB_RUNNING, 0, NULL, NULL, 0 };
	assert_int_equal(store_job_update(s, &u), 0);
	store_job_rows_free(rows, n);
	store_close(s);

	/* A new process finds it running and queues it again. */
	s = open_ok(fx->db, 0);
	assert_int_equal(store_jobs_recover(s), 1);
	assert_int_equal(store_jobs_due(s, (int64_t)1 << 50, 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].attempts, 1);
	store_job_rows_free(rows, n);
	store_close(s);
}

/* A firing recovered from the REST API, as reconcile.c makes it. */
static void
make_recovered(struct callback *cb, const char *tok, const char *fired)
{
	make_callback(cb, tok);
	cb->source = "api";
	cb->signature = NULL;
	cb->f.date_fired = fired;
}

static void
test_recovered_firing_makes_late_delivery_a_duplicate(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 api, cb;
	struct callback_filter flt;
	struct callback_row *rows;
	struct job_spec	 job = { "r", 0, "log", 3 };
	size_t		 n;

	make_recovered(&api, "AC0123456789abcdef0123456789abcdef-FIRES-"
	    "UT0123456789abcdef0123456789abcdef-2023-11-20",
	    "Mon, 20 Nov 2023 10:00:00 +0000");
	assert_int_equal(store_claim(s, &api, &job, 1), CLAIM_NEW);
	/* Twilio's last retry, another token, later that day (GMT). */
	make_callback(&cb, "tok-late");
	cb.f.date_fired = "Mon, 20 Nov 2023 23:59:59 +0000";
	assert_int_equal(store_claim(s, &cb, &job, 1), CLAIM_DUPLICATE);
	/* The same token: a duplicate as ever. */
	assert_int_equal(store_claim(s, &api, &job, 1), CLAIM_DUPLICATE);
	assert_int_equal(store_count(s, "callbacks"), 1);
	assert_int_equal(store_count(s, "jobs"), 1);
	assert_int_equal(store_duplicates(s, api.f.idempotency_token), 2);
	/* The next day is another firing. */
	make_callback(&cb, "tok-next-day");
	cb.f.date_fired = "Tue, 21 Nov 2023 00:00:00 +0000";
	assert_int_equal(store_claim(s, &cb, &job, 1), CLAIM_NEW);
	memset(&flt, 0, sizeof flt);
	flt.source = "api";
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].source, "api");
	store_callback_rows_free(rows, n);
	flt.source = "callback";
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].token, "tok-next-day");
	store_callback_rows_free(rows, n);
	store_close(s);
}

static void
test_delivered_firing_is_never_recovered(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 api, cb;

	make_callback(&cb, "tok-in-time");
	cb.f.recurring = "monthly";
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	/* Another delivery that month, another token: kept, as before. */
	make_callback(&cb, "tok-in-time-2");
	cb.f.recurring = "monthly";
	cb.f.date_fired = "Thu, 30 Nov 2023 10:00:00 +0000";
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	make_recovered(&api, "AC0123456789abcdef0123456789abcdef-FIRES-"
	    "UT0123456789abcdef0123456789abcdef-2023-11",
	    "Wed, 01 Nov 2023 00:00:01 +0000");
	api.f.recurring = "monthly";
	assert_int_equal(store_claim(s, &api, NULL, 0), CLAIM_DUPLICATE);
	assert_int_equal(store_count(s, "callbacks"), 2);
	/* December is another interval. */
	make_recovered(&api, "AC0123456789abcdef0123456789abcdef-FIRES-"
	    "UT0123456789abcdef0123456789abcdef-2023-12",
	    "Fri, 01 Dec 2023 00:00:01 +0000");
	api.f.recurring = "monthly";
	assert_int_equal(store_claim(s, &api, NULL, 0), CLAIM_NEW);
	/* A one-off trigger: its interval is the instant it fired. */
	make_callback(&cb, "tok-once");
	cb.f.usage_trigger_sid = "UTffffffffffffffffffffffffffffffff";
	cb.f.recurring = "";
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	make_recovered(&api, "AC0123456789abcdef0123456789abcdef-FIRES-"
	    "UTffffffffffffffffffffffffffffffff-2023-11-20T10:00:00Z",
	    "Mon, 20 Nov 2023 10:00:00 GMT");
	api.f.usage_trigger_sid = "UTffffffffffffffffffffffffffffffff";
	api.f.recurring = "alltime";
	assert_int_equal(store_claim(s, &api, NULL, 0), CLAIM_DUPLICATE);
	store_close(s);
}

static void
test_trigger_latest_and_reconcile_lease(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx->db, 0);
	struct callback	 cb;
	int64_t		 latest;

	assert_int_equal(store_trigger_latest(s,
	    "UT0123456789abcdef0123456789abcdef", 0, &latest), 0);
	assert_int_equal(latest, 0);
	make_callback(&cb, "tok-a");
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	make_callback(&cb, "tok-b");
	cb.f.date_fired = "not a date";
	cb.received_at = 1600000000000;
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	assert_int_equal(store_trigger_latest(s,
	    "UT0123456789abcdef0123456789abcdef", 0, &latest), 0);
	/* Mon, 20 Nov 2023 10:00:00 +0000 */
	assert_int_equal(latest, 1700474400000LL);
	assert_int_equal(store_trigger_latest(s,
	    "UT0123456789abcdef0123456789abcdef", 1700000000001LL, &latest),
	    0);
	assert_int_equal(latest, 0);
	assert_int_equal(store_reconcile_lock(s, "one", 1000, 2000), 1);
	assert_int_equal(store_reconcile_lock(s, "two", 1500, 2500), 0);
	assert_int_equal(store_reconcile_lock(s, "one", 1500, 2500), 1);
	assert_int_equal(store_reconcile_lock(s, "two", 2600, 3000), 1);
	assert_int_equal(store_reconcile_lock(s, "two", 0, 0), 1);
	assert_int_equal(store_reconcile_lock(s, "one", 2700, 3000), 1);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_first_claim_is_new_second_is_duplicate),
		T(test_duplicate_counter_increments),
		T(test_claim_survives_reopen),
		T(test_many_claims_in_one_transaction),
		T(test_rollback_discards_claims),
		T(test_schema_version_recorded_and_reopen_does_not_rerun),
		T(test_newer_schema_is_refused),
		T(test_rejected_is_capped),
		T(test_rejected_parts_are_cut_and_marked),
		T(test_rejected_is_capped_in_bytes),
		T(test_new_database_and_its_wal_are_private),
		T(test_moved_database_refuses_writes_until_back),
		T(test_unwritable_directory_gives_clear_error),
		T(test_two_connections_concurrent_claims_give_one_row),
		T(test_probe_writes),
		T(test_wal_mode_enabled),
		T(test_new_claim_queues_jobs_duplicate_does_not),
		T(test_rolled_back_claim_leaves_no_jobs),
		T(test_due_jobs_run_then_finish_or_retry),
		T(test_recover_requeues_jobs_left_running),
		T(test_recovered_firing_makes_late_delivery_a_duplicate),
		T(test_delivered_firing_is_never_recovered),
		T(test_trigger_latest_and_reconcile_lease),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
