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

/*
 * The claim: INSERT ... ON CONFLICT(idempotency_token) DO NOTHING judged by
 * sqlite3_changes(); on a duplicate, the row's duplicate count goes up.
 * Runs inside the caller's transaction.
 */
enum claim	 store_claim(struct store *, const struct callback *);
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
