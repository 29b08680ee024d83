/*
 * test_store_pg.c: the store's behaviour through store.h, each test on both
 * backends: an SQLite file in a temporary directory and the PostgreSQL
 * database named by USAGEHOOKD_TEST_PG_URI (tests/integration/pg-store.sh
 * makes a throwaway cluster and sets it). Without it the PostgreSQL half
 * skips, saying so.
 */
#include "config-sys.h"

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
#include <libpq-fe.h>

#include "store.h"

#define PG_ENV	"USAGEHOOKD_TEST_PG_URI"

struct fixture {
	int	pg;
	char	dir[1024];
	char	db[PATH_MAX];		/* the file, or the URI */
};

static char	method[] = "POST";
static char	uri[] = "/twilio/usage";
static char	url[] = "https://hooks.example.com/twilio/usage";
static char	headers[] = "Host: hooks.example.com\r\n";
/* A NUL inside: the body is bodylen bytes, not a string. */
static char	body[] = "AccountSid=AC0123\0IdempotencyToken=x";
static char	remote[] = "127.0.0.1";

static const struct job_spec two_jobs[] = {
	{ "page", 0, "exec", 3 },
	{ "page", 1, "append", 3 },
};

static void
make_callback(struct callback *cb, const char *tok, const char *category,
    const char *trigger, int64_t at)
{
	memset(cb, 0, sizeof *cb);
	cb->method = method;
	cb->uri = uri;
	cb->url = url;
	cb->headers = headers;
	cb->body = body;
	cb->bodylen = sizeof body - 1;
	cb->remote = remote;
	cb->received_at = at;
	cb->f.account_sid = "AC0123456789abcdef0123456789abcdef";
	cb->f.usage_trigger_sid = trigger;
	cb->f.idempotency_token = tok;
	cb->f.usage_category = category;
	cb->f.trigger_by = "count";
	cb->f.trigger_value = "100";
	cb->f.current_value = "101";
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* A fresh PostgreSQL schema for each test: drop everything. */
static int
pg_reset(const char *conninfo)
{
	PGconn		*c;
	PGresult	*r;
	int		 ok;

	c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "# %s: %s", conninfo, PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

static int
setup_sqlite(void **state)
{
	struct fixture	*fx;
	const char	*tmp;

	if ((fx = calloc(1, sizeof *fx)) == NULL)
		return -1;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(fx->dir, sizeof fx->dir, "%s/test_store_pg.XXXXXX", tmp);
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->db, sizeof fx->db, "%s/usagehookd.db", fx->dir);
	*state = fx;
	return 0;
}

static int
setup_pg(void **state)
{
	struct fixture	*fx;
	const char	*conninfo = getenv(PG_ENV);

	if (conninfo == NULL || *conninfo == '\0')
		return -1;
	if ((fx = calloc(1, sizeof *fx)) == NULL)
		return -1;
	fx->pg = 1;
	snprintf(fx->db, sizeof fx->db, "%s", conninfo);
	if (pg_reset(conninfo) == -1) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*fx = *state;

	if (!fx->pg)
		nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static struct store *
open_ok(const struct fixture *fx)
{
	struct store	*s;
	char		*err = NULL;

	if ((s = store_open(fx->db, 0, &err)) == NULL)
		fail_msg("store_open %s: %s", fx->db, err ? err : "?");
	return s;
}

static int64_t
job_count(struct store *s, const char *state)
{
	struct job_filter	 flt = { 0, 0, state, 0 };
	struct job_listing	*rows;
	size_t			 n;

	assert_int_equal(store_jobs_list(s, &flt, &rows, &n), 0);
	store_job_listings_free(rows, n);
	return (int64_t)n;
}

static void
test_claim_new_then_duplicate_queues_jobs_once(void **state)
{
	struct store		*s = open_ok(*state);
	struct callback		 cb;
	struct callback_row	 r;

	make_callback(&cb, "tok-1", "sms", "UT1", 1700000000000);
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_NEW);
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_DUPLICATE);
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_DUPLICATE);
	assert_int_equal(store_count(s, "callbacks"), 1);
	assert_int_equal(store_count(s, "jobs"), 2);
	assert_int_equal(store_duplicates(s, "tok-1"), 2);
	assert_int_equal(store_duplicates(s, "absent"), -1);
	assert_int_equal(store_callback_find(s, "tok-1", &r), 1);
	assert_int_equal(r.bodylen, sizeof body - 1);
	assert_memory_equal(r.body, body, sizeof body - 1);
	assert_string_equal(r.headers, headers);
	assert_null(r.usage_record_uri);
	assert_int_equal(r.received_at, 1700000000000);
	store_callback_row_clear(&r);
	assert_int_equal(store_callback_find(s, "1", &r), 1);
	assert_string_equal(r.token, "tok-1");
	store_callback_row_clear(&r);
	assert_int_equal(store_callback_find(s, "nope", &r), 0);
	store_close(s);
}

/* A firing of trigger UT on day (2026-11-DD), delivered or recovered. */
static void
make_firing(struct callback *cb, const char *tok, int day, const char *source)
{
	static char	dates[32][40];

	make_callback(cb, tok, "sms", "UTc142bed7b38c4f8186ef41a309814fd2",
	    1700000000000 + day);
	/* No day name: Twilio's is checked against the date. */
	snprintf(dates[day % 32], sizeof dates[0], "%02d Nov 2026 03:00:00 "
	    "+0000", day);
	cb->f.date_fired = dates[day % 32];
	cb->f.recurring = "daily";
	cb->source = source;
}

static void
test_one_firing_whichever_came_first(void **state)
{
	struct store		*s = open_ok(*state);
	struct callback		 a, b, c;
	struct claim_item	 it[2];
	int64_t			 latest;

	/* Recovered first: a late delivery of that day is a duplicate. */
	make_firing(&a, "AC0123456789abcdef0123456789abcdef-FIRES-"
	    "UTc142bed7b38c4f8186ef41a309814fd2-2026-11-24", 24, "api");
	assert_int_equal(store_claim(s, &a, two_jobs, 2), CLAIM_NEW);
	make_firing(&b, "tok-real-24", 24, NULL);
	assert_int_equal(store_claim(s, &b, two_jobs, 2), CLAIM_DUPLICATE);
	assert_int_equal(store_count(s, "callbacks"), 1);
	assert_int_equal(store_count(s, "jobs"), 2);
	/* Delivered first: the recovery of that day is the duplicate. */
	make_firing(&b, "tok-real-25", 25, NULL);
	assert_int_equal(store_claim(s, &b, two_jobs, 1), CLAIM_NEW);
	make_firing(&a, "recovered-25", 25, "api");
	assert_int_equal(store_claim(s, &a, two_jobs, 2), CLAIM_DUPLICATE);
	/* Two deliveries under two tokens: both kept, as before. */
	make_firing(&c, "tok-real-25-again", 25, NULL);
	assert_int_equal(store_claim(s, &c, two_jobs, 1), CLAIM_NEW);
	assert_int_equal(store_count(s, "callbacks"), 3);
	assert_int_equal(store_count(s, "jobs"), 4);
	/* In one batch, whichever comes first in it. */
	make_firing(&a, "recovered-26", 26, "api");
	make_firing(&b, "tok-real-26", 26, NULL);
	it[0] = (struct claim_item){ &a, two_jobs, 2, CLAIM_ERROR };
	it[1] = (struct claim_item){ &b, two_jobs, 2, CLAIM_ERROR };
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_claims(s, it, 2), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(it[0].result, CLAIM_NEW);
	assert_int_equal(it[1].result, CLAIM_DUPLICATE);
	assert_int_equal(store_count(s, "callbacks"), 4);
	/* The newest firing of the trigger, for reconciliation. */
	assert_int_equal(store_trigger_latest(s,
	    "UTc142bed7b38c4f8186ef41a309814fd2", 0, &latest), 0);
	assert_int_equal(latest, 1795662000000);	/* 2026-11-26T03:00Z */
	/* One instance reconciles at a time. */
	assert_int_equal(store_reconcile_lock(s, "a", 1000, 2000), 1);
	assert_int_equal(store_reconcile_lock(s, "b", 1500, 2500), 0);
	assert_int_equal(store_reconcile_lock(s, "b", 2001, 3000), 1);
	assert_int_equal(store_reconcile_lock(s, "b", 0, 0), 1);
	assert_int_equal(store_reconcile_lock(s, "a", 2100, 3100), 1);
	store_close(s);
}

static void
test_claims_of_one_batch_commit_together(void **state)
{
	struct store		*s = open_ok(*state);
	struct callback		 a, b;
	struct claim_item	 it[3];

	make_callback(&a, "tok-a", "sms", "UT1", 1700000000000);
	make_callback(&b, "tok-b", "sms", "UT1", 1700000000000);
	it[0] = (struct claim_item){ &a, two_jobs, 2, CLAIM_ERROR };
	it[1] = (struct claim_item){ &b, two_jobs, 1, CLAIM_ERROR };
	it[2] = (struct claim_item){ &a, two_jobs, 2, CLAIM_ERROR };
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_claims(s, it, 3), 0);
	assert_int_equal(it[0].result, CLAIM_NEW);
	assert_int_equal(it[1].result, CLAIM_NEW);
	assert_int_equal(it[2].result, CLAIM_DUPLICATE);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_count(s, "callbacks"), 2);
	assert_int_equal(store_count(s, "jobs"), 3);
	assert_int_equal(store_duplicates(s, "tok-a"), 1);

	/* A rolled back batch leaves nothing. */
	make_callback(&a, "tok-c", "sms", "UT1", 1700000000000);
	it[0] = (struct claim_item){ &a, two_jobs, 2, CLAIM_ERROR };
	assert_int_equal(store_begin(s), 0);
	assert_int_equal(store_claims(s, it, 1), 0);
	assert_int_equal(store_rollback(s), 0);
	assert_int_equal(store_count(s, "callbacks"), 2);
	assert_int_equal(store_count(s, "jobs"), 3);
	store_close(s);
}

static void
test_taken_jobs_are_leased_to_one_owner(void **state)
{
	struct store	*s = open_ok(*state);
	struct callback	 cb;
	struct job_row	*rows;
	size_t		 n;
	int64_t		 now = 1800000000000, id1;

	make_callback(&cb, "tok-1", "sms", "UT1", 1700000000000);
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_NEW);
	assert_int_equal(store_jobs_take(s, "A", now, 5000, 1, NULL, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].attempts, 0);
	assert_int_equal(rows[0].bodylen, sizeof body - 1);
	assert_memory_equal(rows[0].body, body, sizeof body - 1);
	assert_string_equal(rows[0].rule, "page");
	assert_int_equal(rows[0].callback_id, 1);
	assert_int_equal(rows[0].received_at, 1700000000000);
	id1 = rows[0].id;
	store_job_rows_free(rows, n);
	assert_int_equal(store_jobs_take(s, "B", now, 5000, 10, NULL, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_true(rows[0].id != id1);
	store_job_rows_free(rows, n);
	/* Both held: nothing left for a third until a lease passes. */
	assert_int_equal(store_jobs_take(s, "C", now + 4999, 5000, 10, NULL,
	    &rows, &n), 0);
	assert_int_equal(n, 0);
	store_job_rows_free(rows, n);
	assert_int_equal(store_jobs_next(s), now + 5000);
	assert_int_equal(job_count(s, "running"), 2);
	store_close(s);
}

static void
test_passed_lease_goes_to_another_owner(void **state)
{
	struct store		*s = open_ok(*state);
	struct callback		 cb;
	struct job_row		*rows;
	struct job_update	 u;
	struct job_filter	 flt = { 0, 0, NULL, 0 };
	struct job_listing	*jl;
	size_t			 n;
	int64_t			 now = 1800000000000, id;

	make_callback(&cb, "tok-1", "sms", "UT1", 1700000000000);
	assert_int_equal(store_claim(s, &cb, two_jobs, 1), CLAIM_NEW);
	assert_int_equal(store_jobs_take(s, "A", now, 1000, 10, NULL, &rows, &n), 0);
	assert_int_equal(n, 1);
	id = rows[0].id;
	store_job_rows_free(rows, n);
	/* A died: after its lease B takes the job, a second attempt. */
	assert_int_equal(store_jobs_take(s, "B", now + 1000, 1000, 10, NULL,
	    &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].id, id);
	assert_int_equal(rows[0].attempts, 1);
	store_job_rows_free(rows, n);
	/* A late word from A changes nothing: B holds it. */
	u = (struct job_update){ id, JOB_DONE, 0, NULL, "A", 0 };
	assert_int_equal(store_job_update(s, &u), 0);
	assert_int_equal(job_count(s, "running"), 1);
	u = (struct job_update){ id, JOB_DONE, 0, NULL, "B", 0 };
	assert_int_equal(store_job_update(s, &u), 0);
	flt.id = id;
	assert_int_equal(store_jobs_list(s, &flt, &jl, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(jl[0].state, "done");
	assert_int_equal(jl[0].attempts, 2);
	store_job_listings_free(jl, n);
	assert_int_equal(store_jobs_next(s), -1);
	store_close(s);
}

static void
test_released_job_gets_its_attempt_back(void **state)
{
	struct store		*s = open_ok(*state);
	struct callback		 cb;
	struct job_row		*rows;
	struct job_update	 u;
	size_t			 n;
	int64_t			 now = 1800000000000, id;

	make_callback(&cb, "tok-1", "sms", "UT1", 1700000000000);
	assert_int_equal(store_claim(s, &cb, two_jobs, 1), CLAIM_NEW);
	assert_int_equal(store_jobs_take(s, "A", now, 1000, 10, NULL, &rows, &n), 0);
	id = rows[0].id;
	store_job_rows_free(rows, n);
	u = (struct job_update){ id, JOB_QUEUED, now, NULL, "A", 1 };
	assert_int_equal(store_job_update(s, &u), 0);
	assert_int_equal(store_jobs_take(s, "B", now, 1000, 10, NULL, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].attempts, 0);
	store_job_rows_free(rows, n);
	/* Dead, then retried by the operator: due again from attempt 0. */
	u = (struct job_update){ id, JOB_DEAD, 0, "gave up", "B", 0 };
	assert_int_equal(store_job_update(s, &u), 0);
	assert_int_equal(job_count(s, "dead"), 1);
	assert_int_equal(store_job_retry(s, id), 1);
	assert_int_equal(store_job_retry(s, id + 100), 0);
	assert_int_equal(job_count(s, "queued"), 1);
	store_close(s);
}

static void
test_rules_at_their_limit_are_not_taken(void **state)
{
	static const struct job_spec three[] = {
		{ "busy", 0, "exec", 3 },
		{ "idle", 0, "exec", 3 },
		{ "other", 0, "exec", 3 },
	};
	struct store	*s = open_ok(*state);
	struct callback	 cb;
	struct job_row	*rows;
	size_t		 n;

	make_callback(&cb, "tok-1", "sms", "UT1", 1700000000000);
	assert_int_equal(store_claim(s, &cb, three, 3), CLAIM_NEW);
	assert_int_equal(store_jobs_take(s, "A", 1800000000000, 1000, 10,
	    "busy\nother", &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].rule, "idle");
	store_job_rows_free(rows, n);
	assert_int_equal(job_count(s, "queued"), 2);
	store_close(s);
}

static void
test_rejected_rows_list_newest_first(void **state)
{
	struct store		*s = open_ok(*state);
	struct rejected_listing	*rows;
	struct rejection	 r;
	size_t			 n;
	int			 i;

	for (i = 0; i < 3; i++) {
		memset(&r, 0, sizeof r);
		r.at = 1700000000000 + i;
		r.status = 403;
		r.reason = i == 2 ? "signature" : "missing-field";
		r.body = body;
		r.bodylen = sizeof body - 1;
		assert_int_equal(store_reject(s, &r), 0);
	}
	assert_int_equal(store_rejected_list(s, 2, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].reason, "signature");
	assert_int_equal(rows[0].status, 403);
	assert_int_equal(rows[0].bodylen, sizeof body - 1);
	assert_memory_equal(rows[0].body, body, sizeof body - 1);
	assert_null(rows[0].url);
	store_rejected_listings_free(rows, n);
	assert_int_equal(store_count(s, "rejected"), 3);
	assert_int_equal(store_count(s, "callbacks; DROP TABLE x"), -1);
	assert_int_equal(store_probe(s), 0);
	assert_int_equal(store_count(s, "health"), 1);
	store_close(s);
}

static void
test_list_filters_by_category_and_triggers(void **state)
{
	struct store		*s = open_ok(*state);
	struct callback		 cb;
	struct callback_row	*rows;
	struct callback_filter	 flt;
	const char		*trig[] = { "UT2", "UT\"3'" };
	size_t			 n;

	make_callback(&cb, "t1", "sms", "UT1", 1700000001000);
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	make_callback(&cb, "t2", "calls", "UT2", 1700000002000);
	cb.f.account_sid = "AC99999999999999999999999999999999";
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);
	make_callback(&cb, "t3", "sms", "UT\"3'", 1700000003000);
	assert_int_equal(store_claim(s, &cb, NULL, 0), CLAIM_NEW);

	memset(&flt, 0, sizeof flt);
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].token, "t3");
	assert_null(rows[0].body);
	store_callback_rows_free(rows, n);
	flt.category = "sms";
	flt.limit = 1;
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].token, "t3");
	store_callback_rows_free(rows, n);
	memset(&flt, 0, sizeof flt);
	flt.triggers = trig;
	flt.ntriggers = 2;
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].token, "t3");
	assert_string_equal(rows[1].token, "t2");
	store_callback_rows_free(rows, n);
	flt.since = 1700000002500;
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	store_callback_rows_free(rows, n);

	/* --until, --account, a glob for the category, --unmatched. */
	memset(&flt, 0, sizeof flt);
	flt.until = 1700000002500;
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].token, "t2");
	store_callback_rows_free(rows, n);
	memset(&flt, 0, sizeof flt);
	flt.account = "AC99999999999999999999999999999999";
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].token, "t2");
	store_callback_rows_free(rows, n);
	memset(&flt, 0, sizeof flt);
	flt.category = "s*";
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 2);
	store_callback_rows_free(rows, n);
	flt.category = "c?ll[a-z]";
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].token, "t2");
	store_callback_rows_free(rows, n);
	flt.category = "[^s]*";
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 1);
	store_callback_rows_free(rows, n);
	flt.category = "s.s";	/* literal dot: no match */
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 0);
	store_callback_rows_free(rows, n);
	make_callback(&cb, "t4", "sms", "UT1", 1700000004000);
	assert_int_equal(store_claim(s, &cb, two_jobs, 1), CLAIM_NEW);
	memset(&flt, 0, sizeof flt);
	flt.unmatched = 1;
	assert_int_equal(store_callbacks_list(s, &flt, &rows, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(rows[0].token, "t3");
	store_callback_rows_free(rows, n);
	store_close(s);
}

static void
test_stats_count_and_purge_deletes_old_rows_with_jobs(void **state)
{
	struct store		*s = open_ok(*state);
	struct callback		 cb;
	struct count_row	*rows;
	struct rejection	 r;
	struct purge_counts	 pc;
	size_t			 n;
	int64_t			 ncb = -1, nrej = -1;

	make_callback(&cb, "old", "sms", "UT1", 1700000000000);
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_NEW);
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_DUPLICATE);
	make_callback(&cb, "new", "calls", "UT1", 1800000000000);
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_NEW);
	memset(&r, 0, sizeof r);
	r.at = 1700000000000;
	r.reason = "signature";
	assert_int_equal(store_reject(s, &r), 0);

	assert_int_equal(store_stats(s, STAT_DAILY, 0, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].key, "2023-11-14");
	assert_string_equal(rows[0].sub, "sms");
	assert_int_equal(rows[0].n, 1);
	assert_int_equal(rows[0].extra, 1);
	store_count_rows_free(rows, n);
	assert_int_equal(store_stats(s, STAT_JOBS, 0, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].key, "queued");
	assert_int_equal(rows[0].n, 4);
	store_count_rows_free(rows, n);

	assert_int_equal(store_purge_counts(s, 1750000000000, 1750000000000,
	    &pc), 0);
	assert_int_equal(pc.callbacks, 1);
	assert_int_equal(pc.jobs, 2);
	assert_int_equal(pc.jobs_pending, 2);
	assert_int_equal(pc.rejected, 1);
	assert_int_equal(store_purge(s, 1750000000000, 1750000000000, &ncb,
	    &nrej), 0);
	assert_int_equal(ncb, 1);
	assert_int_equal(nrej, 1);
	assert_int_equal(store_count(s, "callbacks"), 1);
	assert_int_equal(store_count(s, "jobs"), 2);
	assert_int_equal(store_count(s, "rejected"), 0);
	store_close(s);
}

/* PostgreSQL: while another instance holds the retention lock, skip. */
static void
test_purge_runs_on_one_instance_at_a_time(void **state)
{
	struct fixture	*fx = *state;
	struct store	*s = open_ok(fx);
	struct callback	 cb;
	PGconn		*other;
	PGresult	*r;
	int64_t		 ncb = -1, nrej = -1;

	make_callback(&cb, "old", "sms", "UT1", 1700000000000);
	assert_int_equal(store_claim(s, &cb, two_jobs, 2), CLAIM_NEW);
	other = PQconnectdb(fx->db);
	assert_int_equal(PQstatus(other), CONNECTION_OK);
	r = PQexec(other, "SELECT pg_advisory_lock(1970498408002)");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	assert_int_equal(store_purge(s, 1750000000000, 1750000000000, &ncb,
	    &nrej), 0);
	assert_int_equal(ncb, 0);
	assert_int_equal(store_count(s, "callbacks"), 1);
	/* The other instance is done: this one purges. */
	r = PQexec(other, "SELECT pg_advisory_unlock(1970498408002)");
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	PQfinish(other);
	assert_int_equal(store_purge(s, 1750000000000, 1750000000000, &ncb,
	    &nrej), 0);
	assert_int_equal(ncb, 1);
	assert_int_equal(store_count(s, "callbacks"), 0);
	store_close(s);
}

struct opener {
	const char	*db;
	int		 ok;
};

static void *
open_thread(void *arg)
{
	struct opener	*o = arg;
	struct store	*s;
	char		*err = NULL;

	s = store_open(o->db, 0, &err);
	o->ok = s != NULL && store_schema_version(s) == store_schema_latest();
	if (s == NULL)
		printf("# %s\n", err);
	else if (!o->ok)
		printf("# opened at schema version %d, latest %d\n",
		    store_schema_version(s), store_schema_latest());
	free(err);
	store_close(s);
	return NULL;
}

static void
test_instances_starting_together_migrate_once(void **state)
{
	struct fixture	*fx = *state;
	struct opener	 o[4];
	pthread_t	 t[4];
	struct store	*s;
	int		 i;

	for (i = 0; i < 4; i++) {
		o[i].db = fx->db;
		o[i].ok = 0;
		assert_int_equal(pthread_create(&t[i], NULL, open_thread, &o[i]),
		    0);
	}
	/* All joined before any assertion: none outlives the test. */
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 4; i++)
		assert_true(o[i].ok);
	s = open_ok(fx);
	assert_int_equal(store_count(s, "schema_version"),
	    store_schema_latest());
	store_close(s);
}

static void
test_shown_database_hides_passwords(void **state)
{
	char	b[256];

	assert_string_equal(store_shown("postgresql://u:pw@h/db", b,
	    sizeof b), "postgresql://u:***@h/db");
	assert_string_equal(store_shown("postgres://u:p@w@h1,h2:5/db", b,
	    sizeof b), "postgres://u:***@h1,h2:5/db");
	assert_string_equal(store_shown("postgresql:///d?host=/x&password=zz"
	    "&sslmode=require", b, sizeof b),
	    "postgresql:///d?host=/x&password=***&sslmode=require");
	assert_string_equal(store_shown("postgresql://u@h/d", b, sizeof b),
	    "postgresql://u@h/d");
	assert_string_equal(store_shown("/var/lib/a:b@c", b, sizeof b),
	    "/var/lib/a:b@c");
	assert_true(store_is_remote("postgres://h"));
	assert_false(store_is_remote("postgresql.db"));
}

/* Each test twice: the SQLite file, then PostgreSQL. */
#define BOTH(f)								\
	cmocka_unit_test_setup_teardown(f, setup_sqlite, teardown),	\
	cmocka_unit_test_setup_teardown(f, setup_pg, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_claim_new_then_duplicate_queues_jobs_once),
		BOTH(test_claims_of_one_batch_commit_together),
		BOTH(test_one_firing_whichever_came_first),
		BOTH(test_taken_jobs_are_leased_to_one_owner),
		BOTH(test_passed_lease_goes_to_another_owner),
		BOTH(test_released_job_gets_its_attempt_back),
		BOTH(test_rules_at_their_limit_are_not_taken),
		BOTH(test_rejected_rows_list_newest_first),
		BOTH(test_list_filters_by_category_and_triggers),
		BOTH(test_stats_count_and_purge_deletes_old_rows_with_jobs),
		BOTH(test_instances_starting_together_migrate_once),
		cmocka_unit_test_setup_teardown(
		    test_purge_runs_on_one_instance_at_a_time, setup_pg,
		    teardown),
		cmocka_unit_test(test_shown_database_hides_passwords),
	};

	if (getenv(PG_ENV) == NULL || *getenv(PG_ENV) == '\0') {
		/* Only the SQLite half can run: say so, loudly. */
		fprintf(stderr, "test_store_pg: %s is not set: the PostgreSQL "
		    "half cannot run (tests/integration/pg-store.sh sets it)\n",
		    PG_ENV);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
