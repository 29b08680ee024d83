/* store.h: the one storage interface (SQLite or PostgreSQL behind it). */
#ifndef STORE_H
#define STORE_H

#include <stdint.h>

#include "usagehook.h"

struct store;

enum claim {
	CLAIM_NEW,		/* row inserted: first delivery */
	CLAIM_DUPLICATE,	/* token already stored: duplicate counted */
	CLAIM_ERROR		/* database failure: see store_errmsg */
};

/*
 * Open the database at path (creating it and running migrations unless
 * readonly), WAL mode, synchronous=FULL, a busy timeout. Returns NULL and an
 * allocated *err on failure.
 */
struct store	*store_open(const char *path, int readonly, char **err);
/*
 * The same for a database setting that may be a PostgreSQL URI
 * ("postgresql://" or "postgres://"; anything else is an SQLite path), with
 * the file holding its password (read at each connection), or NULL.
 */
struct store	*store_open_auth(const char *database, const char *password_file,
		    int readonly, char **err);
/* 1 if database names a PostgreSQL server rather than an SQLite file. */
int		 store_is_remote(const char *database);
/* database for logs and messages: a URI's password as "***"; in buf. */
const char	*store_shown(const char *database, char *buf, size_t size);
void		 store_close(struct store *);
const char	*store_errmsg(struct store *);
const char	*store_path(struct store *);
int		 store_schema_version(struct store *);
/* The newest schema version this code knows (its last migration). */
int		 store_schema_latest(void);

/* Transactions for group commit: BEGIN IMMEDIATE, COMMIT, ROLLBACK. 0/-1. */
int		 store_begin(struct store *);
int		 store_commit(struct store *);
int		 store_rollback(struct store *);

/* One action to run for a new callback: a row of the jobs outbox. */
struct job_spec {
	const char	*rule;		/* rule name */
	int		 action;	/* index in the rule's actions */
	const char	*kind;		/* "exec", "http", "append", "log" */
	int		 max_attempts;
};

/*
 * The claim: INSERT ... ON CONFLICT DO NOTHING judged by sqlite3_changes();
 * on a duplicate, the row's duplicate count goes up. Two keys make a
 * duplicate: the IdempotencyToken, and the firing key (firing.h: the
 * trigger and the recurring interval of DateFired) between a firing
 * recovered from the REST API (source "api") and a delivered one, either
 * way round: one firing, one set of actions, whichever came first.
 * A new callback's jobs are inserted in the same transaction (the outbox),
 * so they exist exactly when the callback does. Runs inside the caller's
 * transaction.
 */
enum claim	 store_claim(struct store *, const struct callback *,
		    const struct job_spec *jobs, size_t njobs);

/* One claim of a batch for store_claims; result is set by it. */
struct claim_item {
	const struct callback	*cb;
	const struct job_spec	*jobs;
	size_t			 njobs;
	enum claim		 result;
};

/*
 * The claims of one group commit, in order, inside the caller's
 * transaction: PostgreSQL sends them in a pipeline, not one round trip
 * each. 0, or -1 when the transaction failed (every result CLAIM_ERROR).
 */
int		 store_claims(struct store *, struct claim_item *, size_t n);

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_DEAD };

/* A due job with what it needs to run: its callback's raw request. */
struct job_row {
	int64_t		 id;
	char		*rule;
	int		 action;
	int		 attempts;	/* attempts made before this one */
	int		 max_attempts;
	char		*method;
	char		*uri;
	char		*body;
	size_t		 bodylen;
	int64_t		 callback_id;	/* the callback's row */
	int64_t		 received_at;	/* its arrival, ms since the epoch */
	int		 from_api;	/* recovered by reconciliation */
};

/*
 * A change of a job's state; JOB_RUNNING also counts an attempt. With an
 * owner, only a job that owner still holds changes (its lease may have
 * passed to another instance); the owner and lease are cleared. release:
 * a job taken but not started goes back to queued with its attempt undone.
 */
struct job_update {
	int64_t		 id;
	enum job_state	 state;
	int64_t		 next_run_at;	/* ms; for JOB_QUEUED */
	const char	*error;		/* last failure, or NULL */
	const char	*owner;		/* the instance that took it, or NULL */
	int		 release;
};

/* Queued jobs due at now (ms), oldest first, at most limit; allocated. */
int		 store_jobs_due(struct store *, int64_t now, size_t limit,
		    struct job_row **rows, size_t *n);
void		 store_job_rows_free(struct job_row *, size_t);
/*
 * Take due jobs for owner (one instance): queued ones due at now (ms) and
 * running ones whose lease has passed (their instance died), at most
 * limit, oldest first; each becomes running, owned, with an attempt
 * counted and a lease until now + lease_ms. Others taking at the same
 * time skip them (FOR UPDATE SKIP LOCKED). Jobs of the rules named in
 * skip_rules (newline-separated; NULL for none: rules at their per_rule
 * limit here) are left for later. Rows as store_jobs_due.
 */
int		 store_jobs_take(struct store *, const char *owner, int64_t now,
		    int64_t lease_ms, size_t limit, const char *skip_rules,
		    struct job_row **rows, size_t *n);
int		 store_job_update(struct store *, const struct job_update *);
/* When the next queued job is due or lease ends (ms); -1 when none. */
int64_t		 store_jobs_next(struct store *);
/*
 * At start: jobs a dead process left running are queued again (SQLite: one
 * instance; PostgreSQL leaves them to their leases, other instances live).
 */
int		 store_jobs_recover(struct store *);
const char	*job_state_name(enum job_state);
/*
 * Keep a refused request, each part cut to a few KiB (marked
 * "...[truncated from N bytes]"), and only the newest STORE_REJECTED_CAP
 * rows and STORE_REJECTED_BYTES bytes.
 */
int		 store_reject(struct store *, const struct rejection *);
/* A real write, for /healthz: 0 when the database takes writes. */
int		 store_probe(struct store *);

/*
 * Rows in table ("callbacks", "rejected", "health", "schema_version");
 * -1 on error or for any other name (never put into SQL text).
 */
int64_t		 store_count(struct store *, const char *table);
/* The duplicate count of the callback with this token; -1 if absent. */
int		 store_duplicates(struct store *, const char *token);

#define STORE_REJECTED_CAP	10000
/* The rejected rows' text and blobs together: at most this many bytes. */
#define STORE_REJECTED_BYTES	(16 * 1024 * 1024)

/* A stored callback for usagehookctl; strings allocated, NULL for NULL. */
struct callback_row {
	int64_t		 id;
	char		*token;		/* IdempotencyToken */
	int64_t		 received_at;	/* ms since the epoch */
	char		*method;
	char		*uri;
	char		*url;
	char		*headers;	/* store_callback_find only */
	char		*body;		/* store_callback_find only */
	size_t		 bodylen;
	char		*remote;
	char		*signature;
	char		*account_sid;
	char		*usage_trigger_sid;
	char		*date_fired;
	char		*recurring;
	char		*usage_category;
	char		*trigger_by;
	char		*trigger_value;
	char		*current_value;
	char		*usage_record_uri;
	int64_t		 duplicates;
	int64_t		 last_duplicate_at; /* ms; 0 when never */
	char		*source;	/* "callback" or "api" */
	int		 verified_by;	/* 1 primary token, 2 secondary, 0 */
};

#define STORE_LIST_TRIGGERS_MAX	64

/* Which callbacks store_callbacks_list returns; zeroes mean any. */
struct callback_filter {
	int64_t		 since;		/* received at or after, ms */
	int64_t		 until;		/* received before, ms; 0: now */
	const char	*category;	/* UsageCategory, or a glob (* ? [) */
	const char	*account;	/* AccountSid */
	int		 unmatched;	/* only those that got no job */
	const char	**triggers;	/* UsageTriggerSids, any of */
	size_t		 ntriggers;
	size_t		 limit;		/* 0: no limit */
	const char	*source;	/* "callback" or "api" */
};

/*
 * Callbacks newest first, without headers and body, through an index for
 * every filter. Allocated rows: free with store_callback_rows_free. 0/-1.
 */
int		 store_callbacks_list(struct store *,
		    const struct callback_filter *, struct callback_row **,
		    size_t *);
/*
 * The callback whose id (when key is all digits) or IdempotencyToken is
 * key, every column: 1 found, 0 not found, -1 error. Clear the row after.
 */
int		 store_callback_find(struct store *, const char *key,
		    struct callback_row *);
void		 store_callback_row_clear(struct callback_row *);
void		 store_callback_rows_free(struct callback_row *, size_t);

/* A job with its callback's token, as usagehookctl lists it; allocated. */
struct job_listing {
	int64_t		 id;
	int64_t		 callback_id;
	char		*token;
	char		*rule;
	int		 action;	/* index in the rule's actions */
	char		*kind;
	char		*state;
	int		 attempts;
	int		 max_attempts;
	int64_t		 next_run_at;	/* ms */
	int64_t		 created_at;
	int64_t		 updated_at;
	char		*last_error;
};

/* Which jobs store_jobs_list returns: the first filter set wins. */
struct job_filter {
	int64_t		 id;		/* this job only */
	int64_t		 callback_id;	/* this callback's, oldest first */
	const char	*state;		/* queued, running, done or dead */
	size_t		 limit;		/* 0: no limit */
};

/* Jobs, newest first unless by callback; allocated. 0/-1. */
int		 store_jobs_list(struct store *, const struct job_filter *,
		    struct job_listing **, size_t *);
void		 store_job_listings_free(struct job_listing *, size_t);
/*
 * Queue jobs for a stored callback now (attempts 0), in one transaction
 * unless the caller holds one; the new job ids go to ids[0..njobs) if not
 * NULL. The daemon's dispatcher picks them up at its next poll. 0/-1.
 */
int		 store_jobs_add(struct store *, int64_t callback_id,
		    const struct job_spec *jobs, size_t njobs, int64_t *ids);
/*
 * Make a dead or queued job due now; a dead one gets its attempts back to
 * 0. Returns 1 if requeued, 0 when the job is absent or in another state,
 * -1 on error.
 */
int		 store_job_retry(struct store *, int64_t id);

/* A row of rejected; allocated strings, NULL for NULL (older rows). */
struct rejected_listing {
	int64_t		 id;
	int64_t		 at;		/* ms */
	int		 status;
	char		*remote;
	char		*method;
	char		*uri;
	char		*reason;
	char		*detail;
	char		*account_sid;
	char		*idempotency_token;
	char		*url;		/* where the signature was checked */
	char		*headers;
	char		*body;
	size_t		 bodylen;
	char		*signature;
};

/* The newest refused requests, newest first; allocated. 0/-1. */
int		 store_rejected_list(struct store *, size_t limit,
		    struct rejected_listing **, size_t *);
void		 store_rejected_listings_free(struct rejected_listing *,
		    size_t);

enum store_stat {
	/* key: UTC day, sub: category, n: callbacks, extra: duplicates */
	STAT_DAILY,
	STAT_REJECTED,	/* key: reason, n: rows */
	STAT_JOBS	/* key: state, n: jobs */
};

struct count_row {
	char		*key;
	char		*sub;
	int64_t		 n;
	int64_t		 extra;
};

/* Grouped counts of rows at or after since (ms; not for STAT_JOBS). */
int		 store_stats(struct store *, enum store_stat, int64_t since,
		    struct count_row **, size_t *);
void		 store_count_rows_free(struct count_row *, size_t);

#define STORE_PURGE_BATCH	1000

/*
 * Delete callbacks received before callbacks_before_ms (their jobs with
 * them) and rejected rows before rejected_before_ms; a bound <= 0 deletes
 * none. Batches of STORE_PURGE_BATCH rows, each its own transaction unless
 * the caller holds one. The counts deleted go to *ncb and *nrej. 0/-1.
 * On PostgreSQL one instance purges at a time (an advisory lock): while
 * another does, this returns 0 having deleted nothing.
 */
int		 store_purge(struct store *, int64_t callbacks_before_ms,
		    int64_t rejected_before_ms, int64_t *ncb, int64_t *nrej);

/* What store_copy has done so far. */
struct copy_progress {
	int64_t		 callbacks_total;	/* in the source */
	int64_t		 callbacks_seen;
	int64_t		 callbacks_copied;	/* new in the destination */
	int64_t		 jobs_copied;
	int64_t		 rejected_seen;
	int64_t		 rejected_copied;
};

/*
 * Copy every callback (with its raw request and its jobs; running jobs
 * become queued), then the rejected rows, from one store into another (a
 * PostgreSQL database). What the destination already holds is skipped: a
 * callback by its IdempotencyToken, a rejected row by time, reason, detail
 * and peer; so a second run copies nothing twice. Each page of callbacks
 * commits with its jobs; progress (if not NULL) is called after each.
 * 0/-1 (the message from store_errmsg of the store that failed, in err).
 */
int		 store_copy(struct store *from, struct store *to,
		    void (*progress)(const struct copy_progress *, void *),
		    void *arg, struct copy_progress *, const char **err);

/* What store_purge would delete with the same bounds. */
struct purge_counts {
	int64_t		 callbacks;
	int64_t		 jobs;		/* of those callbacks, in all */
	int64_t		 jobs_pending;	/* of those, queued or running */
	int64_t		 rejected;
};

/* Count what store_purge would delete with these bounds. 0/-1. */
int		 store_purge_counts(struct store *, int64_t callbacks_before_ms,
		    int64_t rejected_before_ms, struct purge_counts *);

/*
 * WAL checkpoints: the daemon's writer turns them off (store_autocheckpoint
 * 0) so no COMMIT that requests wait on also copies the WAL into the
 * database; a housekeeping connection runs store_checkpoint instead.
 */
int		 store_autocheckpoint(struct store *, int pages);
/*
 * A PASSIVE checkpoint: never blocks writers. Pages it could not copy yet
 * in *left (-1 when it could not run: another checkpoint was running), the
 * bytes of the WAL in use (written since it last started over) in *used.
 * Either may be NULL. 0/-1.
 */
int		 store_checkpoint(struct store *, int *left, int64_t *used);

/*
 * A WAL is cut back to this size when it starts over (journal_size_limit):
 * only after a burst beyond what steady saturating load keeps (about 135
 * MB here). 64 MiB cut the file at every start-over under such load (an
 * ftruncate in the first commit, then the file grown again block by
 * block): under wrk -c64 p99 32 ms and max 51 ms, against 15 and 31 ms
 * with 256 MiB, 1.04-1.06 x the req/s (two runs each).
 */
#define STORE_WAL_LIMIT		268435456
/*
 * A WAL file longer than this is started over once a checkpoint caught up
 * (by the writer, see committer_checkpoint()), and cut to nothing
 * (TRUNCATE) when the load is gone: nothing written since the last tick,
 * or less than half of this since the WAL started over.
 */
#define STORE_WAL_KEEP		(16 * 1024 * 1024)
/* The size of the database's -wal file now; 0 when there is none. */
int64_t		 store_wal_bytes(struct store *);
/*
 * A TRUNCATE checkpoint: waits (up to the busy timeout) for the writer
 * between commits, copies the whole WAL, and cuts the file to 0 bytes
 * (the writer waits for that too: for when the load is gone). 0 done,
 * 1 busy (try later), -1 error.
 */
int		 store_checkpoint_truncate(struct store *);

/*
 * 1 when the file at the database's path is no longer the one opened
 * (moved, deleted or replaced; SQLite would write on into the old one),
 * with a message for the operator in why; 0 when it is in place.
 * store_begin fails while it is moved, so callbacks get 503.
 */
int		 store_moved(struct store *, char *why, size_t len);
/* The message of the last store_moved in this process, "" if in place. */
void		 store_moved_reason(char *buf, size_t len);

/*
 * The newest firing of a trigger stored among callbacks received at or
 * after since (ms): the greatest DateFired (ms), or received_at where
 * DateFired does not parse, into *latest; 0 when none. 0/-1; -1 with
 * "not supported" when the backend has no such query.
 */
int		 store_trigger_latest(struct store *, const char *trigger_sid,
		    int64_t since, int64_t *latest);
/*
 * The reconciliation lease, so that one instance reconciles at a time:
 * take it for owner until ms (1 taken or renewed, 0 another owner holds
 * it), or give it back (until 0). -1 on error. A backend without it
 * grants it (one instance).
 */
int		 store_reconcile_lock(struct store *, const char *owner,
		    int64_t now, int64_t until);

#endif
