/* store.h: SQLite: schema and migrations, the claim, rejected, queries. */
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
void		 store_close(struct store *);
const char	*store_errmsg(struct store *);
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
 * The claim: INSERT ... ON CONFLICT(idempotency_token) DO NOTHING judged by
 * sqlite3_changes(); on a duplicate, the row's duplicate count goes up.
 * A new callback's jobs are inserted in the same transaction (the outbox),
 * so they exist exactly when the callback does. Runs inside the caller's
 * transaction.
 */
enum claim	 store_claim(struct store *, const struct callback *,
		    const struct job_spec *jobs, size_t njobs);

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
};

/* A change of a job's state; JOB_RUNNING also counts an attempt. */
struct job_update {
	int64_t		 id;
	enum job_state	 state;
	int64_t		 next_run_at;	/* ms; for JOB_QUEUED */
	const char	*error;		/* last failure, or NULL */
};

/* Queued jobs due at now (ms), oldest first, at most limit; allocated. */
int		 store_jobs_due(struct store *, int64_t now, size_t limit,
		    struct job_row **rows, size_t *n);
void		 store_job_rows_free(struct job_row *, size_t);
int		 store_job_update(struct store *, const struct job_update *);
/* When the next queued job is due (ms), or -1 when none is queued. */
int64_t		 store_jobs_next(struct store *);
/* At start: jobs a dead process left running are queued again. */
int		 store_jobs_recover(struct store *);
const char	*job_state_name(enum job_state);
/* Keep a refused request (capped at the newest STORE_REJECTED_CAP rows). */
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

#endif
