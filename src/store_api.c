/* store_api.c: store.h, dispatched to the backend chosen at open. */
#include "config-sys.h"

#include <stdio.h>
#include <string.h>

#include "store.h"
#include "store_backend.h"

/* What every backend's struct store starts with. */
struct store_head {
	const struct store_ops	*ops;
};

#define OPS(s)	(((const struct store_head *)(const void *)(s))->ops)

int
store_is_remote(const char *database)
{
	return strncmp(database, "postgresql://", 13) == 0 ||
	    strncmp(database, "postgres://", 11) == 0;
}

const char *
store_shown(const char *database, char *buf, size_t size)
{
	const char	*user, *at, *colon, *end;

	char		*q, *v;

	snprintf(buf, size, "%s", database);
	if (!store_is_remote(database))
		return buf;
	user = strstr(database, "://") + 3;
	end = user + strcspn(user, "/?");
	/* The last '@' of the authority ends the user info. */
	for (at = NULL, colon = user; colon < end; colon++)
		if (*colon == '@')
			at = colon;
	if (at != NULL && (colon = memchr(user, ':', at - user)) != NULL)
		snprintf(buf, size, "%.*s:***%s", (int)(colon - database),
		    database, at);
	/* And a password=... parameter. */
	if ((q = strchr(buf, '?')) != NULL &&
	    ((v = strstr(q, "?password=")) != NULL ||
	    (v = strstr(q, "&password=")) != NULL)) {
		v += strlen("?password=");
		end = v + strcspn(v, "&");
		if ((size_t)(v - buf) + 3 + strlen(end) < size) {
			memmove(v + 3, end, strlen(end) + 1);
			memcpy(v, "***", 3);
		}
	}
	return buf;
}

/* The backend a database setting names: a path is SQLite. */
static const struct store_ops *
backend_of(const char *database)
{
	return store_is_remote(database) ? &store_pg_ops : &store_sqlite_ops;
}

struct store *
store_open(const char *path, int readonly, char **err)
{
	return store_open_auth(path, NULL, readonly, err);
}

struct store *
store_open_auth(const char *database, const char *password_file,
    int readonly, char **err)
{
	return backend_of(database)->open(database, password_file, readonly,
	    err);
}

void
store_close(struct store *s)
{
	if (s != NULL)
		OPS(s)->close(s);
}

const char *
store_errmsg(struct store *s)
{
	if (s == NULL)
		return "no database";
	return OPS(s)->errmsg(s);
}

int
store_schema_version(struct store *s)
{
	return OPS(s)->schema_version(s);
}

int
store_schema_latest(void)
{
	return store_sqlite_ops.schema_latest();
}

int
store_begin(struct store *s)
{
	return OPS(s)->begin(s);
}

int
store_commit(struct store *s)
{
	return OPS(s)->commit(s);
}

int
store_rollback(struct store *s)
{
	return OPS(s)->rollback(s);
}

enum claim
store_claim(struct store *s, const struct callback *cb,
    const struct job_spec *jobs, size_t njobs)
{
	return OPS(s)->claim(s, cb, jobs, njobs);
}

int
store_claims(struct store *s, struct claim_item *items, size_t n)
{
	return OPS(s)->claims(s, items, n);
}

int
store_jobs_take(struct store *s, const char *owner, int64_t now,
    int64_t lease_ms, size_t limit, const char *skip_rules,
    struct job_row **rows, size_t *n)
{
	return OPS(s)->jobs_take(s, owner, now, lease_ms, limit, skip_rules,
	    rows, n);
}

int
store_reject(struct store *s, const struct rejection *r)
{
	return OPS(s)->reject(s, r);
}

int
store_probe(struct store *s)
{
	return OPS(s)->probe(s);
}

int64_t
store_count(struct store *s, const char *table)
{
	return OPS(s)->count(s, table);
}

int
store_duplicates(struct store *s, const char *token)
{
	return OPS(s)->duplicates(s, token);
}

int
store_jobs_due(struct store *s, int64_t now, size_t limit,
    struct job_row **rows, size_t *n)
{
	return OPS(s)->jobs_due(s, now, limit, rows, n);
}

int
store_job_update(struct store *s, const struct job_update *u)
{
	return OPS(s)->job_update(s, u);
}

int64_t
store_jobs_next(struct store *s)
{
	return OPS(s)->jobs_next(s);
}

int
store_jobs_recover(struct store *s)
{
	return OPS(s)->jobs_recover(s);
}

int
store_callbacks_list(struct store *s, const struct callback_filter *flt,
    struct callback_row **rows, size_t *n)
{
	return OPS(s)->callbacks_list(s, flt, rows, n);
}

int
store_callback_find(struct store *s, const char *key, struct callback_row *r)
{
	return OPS(s)->callback_find(s, key, r);
}

int
store_jobs_list(struct store *s, const struct job_filter *flt,
    struct job_listing **rows, size_t *n)
{
	return OPS(s)->jobs_list(s, flt, rows, n);
}

int
store_jobs_add(struct store *s, int64_t callback_id,
    const struct job_spec *jobs, size_t njobs, int64_t *ids)
{
	return OPS(s)->jobs_add(s, callback_id, jobs, njobs, ids);
}

int
store_job_retry(struct store *s, int64_t id)
{
	return OPS(s)->job_retry(s, id);
}

int
store_rejected_list(struct store *s, size_t limit,
    struct rejected_listing **rows, size_t *n)
{
	return OPS(s)->rejected_list(s, limit, rows, n);
}

int
store_stats(struct store *s, enum store_stat which, int64_t since,
    struct count_row **rows, size_t *n)
{
	return OPS(s)->stats(s, which, since, rows, n);
}

int
store_purge(struct store *s, int64_t callbacks_before_ms,
    int64_t rejected_before_ms, int64_t *ncb, int64_t *nrej)
{
	return OPS(s)->purge(s, callbacks_before_ms, rejected_before_ms, ncb,
	    nrej);
}

int
store_autocheckpoint(struct store *s, int pages)
{
	return OPS(s)->autocheckpoint(s, pages);
}

int
store_checkpoint(struct store *s, int *left, int64_t *used)
{
	return OPS(s)->checkpoint(s, left, used);
}

#define COPY_PAGE	500

/* One page of callbacks and their jobs, in one transaction of to's. */
static int
copy_page(struct store *from, struct store *to, struct callback_row *rows,
    size_t n, struct copy_progress *p, const char **err)
{
	struct job_filter	 flt;
	struct job_listing	*jobs;
	size_t			 i, j, njobs;
	int64_t			 id;
	int			 r;

	if (store_begin(to) == -1)
		goto to_fail;
	for (i = 0; i < n; i++) {
		p->callbacks_seen++;
		if ((r = OPS(to)->import_callback(to, &rows[i], &id)) == -1)
			goto to_fail;
		if (r == 0)
			continue;
		p->callbacks_copied++;
		memset(&flt, 0, sizeof flt);
		flt.callback_id = rows[i].id;
		if (store_jobs_list(from, &flt, &jobs, &njobs) == -1) {
			*err = store_errmsg(from);
			store_rollback(to);
			return -1;
		}
		for (j = 0; j < njobs; j++) {
			if (OPS(to)->import_job(to, id, &jobs[j]) == -1) {
				store_job_listings_free(jobs, njobs);
				goto to_fail;
			}
			p->jobs_copied++;
		}
		store_job_listings_free(jobs, njobs);
	}
	if (store_commit(to) == -1)
		goto to_fail;
	return 0;
to_fail:
	*err = store_errmsg(to);
	store_rollback(to);
	return -1;
}

int
store_copy(struct store *from, struct store *to,
    void (*progress)(const struct copy_progress *, void *), void *arg,
    struct copy_progress *p, const char **err)
{
	struct callback_row	*rows;
	struct rejected_listing	*rej;
	size_t			 n, i;
	int64_t			 after = 0;
	int			 r, rv;

	memset(p, 0, sizeof *p);
	*err = NULL;
	if ((p->callbacks_total = store_count(from, "callbacks")) == -1) {
		*err = store_errmsg(from);
		return -1;
	}
	for (;;) {
		if (OPS(from)->callbacks_page(from, after, COPY_PAGE, &rows,
		    &n) == -1) {
			*err = store_errmsg(from);
			return -1;
		}
		if (n == 0) {
			store_callback_rows_free(rows, n);
			break;
		}
		after = rows[n - 1].id;
		rv = copy_page(from, to, rows, n, p, err);
		store_callback_rows_free(rows, n);
		if (rv == -1)
			return -1;
		if (progress != NULL)
			progress(p, arg);
	}
	/* At most STORE_REJECTED_CAP rows: one list, oldest first. */
	if (store_rejected_list(from, 0, &rej, &n) == -1) {
		*err = store_errmsg(from);
		return -1;
	}
	rv = store_begin(to);
	for (i = n; rv == 0 && i > 0; i--) {
		p->rejected_seen++;
		if ((r = OPS(to)->import_rejected(to, &rej[i - 1])) == -1)
			rv = -1;
		else
			p->rejected_copied += r;
	}
	store_rejected_listings_free(rej, n);
	if (rv == 0)
		rv = store_commit(to);
	if (rv == -1) {
		*err = store_errmsg(to);
		store_rollback(to);
		return -1;
	}
	if (progress != NULL)
		progress(p, arg);
	return 0;
}

const char *
store_path(struct store *s)
{
	return OPS(s)->path != NULL ? OPS(s)->path(s) : "";
}

int
store_purge_counts(struct store *s, int64_t callbacks_before_ms,
    int64_t rejected_before_ms, struct purge_counts *pc)
{
	if (OPS(s)->purge_counts == NULL) {
		memset(pc, 0, sizeof *pc);
		return 0;
	}
	return OPS(s)->purge_counts(s, callbacks_before_ms, rejected_before_ms,
	    pc);
}

int64_t
store_wal_bytes(struct store *s)
{
	return OPS(s)->wal_bytes != NULL ? OPS(s)->wal_bytes(s) : 0;
}

int
store_checkpoint_truncate(struct store *s)
{
	return OPS(s)->checkpoint_truncate != NULL ?
	    OPS(s)->checkpoint_truncate(s) : 0;
}

int
store_moved(struct store *s, char *why, size_t len)
{
	return OPS(s)->moved != NULL ? OPS(s)->moved(s, why, len) : 0;
}

int
store_trigger_latest(struct store *s, const char *trigger_sid, int64_t since,
    int64_t *latest)
{
	*latest = 0;
	/* Without it the claim's firing key still keeps out duplicates. */
	return OPS(s)->trigger_latest != NULL ?
	    OPS(s)->trigger_latest(s, trigger_sid, since, latest) : 0;
}

int
store_reconcile_lock(struct store *s, const char *owner, int64_t now,
    int64_t until)
{
	return OPS(s)->reconcile_lock != NULL ?
	    OPS(s)->reconcile_lock(s, owner, now, until) : 1;
}
