/* store_backend.h: what a storage backend implements behind store.h. */
#ifndef STORE_BACKEND_H
#define STORE_BACKEND_H

#include "store.h"

/*
 * Every backend's struct store starts with a pointer to its table, so that
 * store_api.c can dispatch without knowing the rest of it.
 */
struct store_ops {
	const char	*name;
	struct store	*(*open)(const char *, const char *, int, char **);
	void		 (*close)(struct store *);
	const char	*(*errmsg)(struct store *);
	int		 (*schema_version)(struct store *);
	int		 (*schema_latest)(void);
	int		 (*begin)(struct store *);
	int		 (*commit)(struct store *);
	int		 (*rollback)(struct store *);
	enum claim	 (*claim)(struct store *, const struct callback *,
			    const struct job_spec *, size_t);
	int		 (*claims)(struct store *, struct claim_item *, size_t);
	int		 (*jobs_take)(struct store *, const char *, int64_t,
			    int64_t, size_t, const char *, struct job_row **,
			    size_t *);
	int		 (*reject)(struct store *, const struct rejection *);
	int		 (*probe)(struct store *);
	int64_t		 (*count)(struct store *, const char *);
	int		 (*duplicates)(struct store *, const char *);
	int		 (*jobs_due)(struct store *, int64_t, size_t,
			    struct job_row **, size_t *);
	int		 (*job_update)(struct store *, const struct job_update *);
	int64_t		 (*jobs_next)(struct store *);
	int		 (*jobs_recover)(struct store *);
	int		 (*callbacks_list)(struct store *,
			    const struct callback_filter *,
			    struct callback_row **, size_t *);
	int		 (*callback_find)(struct store *, const char *,
			    struct callback_row *);
	int		 (*jobs_list)(struct store *, const struct job_filter *,
			    struct job_listing **, size_t *);
	int		 (*jobs_add)(struct store *, int64_t,
			    const struct job_spec *, size_t, int64_t *);
	int		 (*job_retry)(struct store *, int64_t);
	int		 (*rejected_list)(struct store *, size_t,
			    struct rejected_listing **, size_t *);
	int		 (*stats)(struct store *, enum store_stat, int64_t,
			    struct count_row **, size_t *);
	int		 (*purge)(struct store *, int64_t, int64_t, int64_t *,
			    int64_t *);
	/* copy-db: full callbacks by id after after_id, oldest first. */
	int		 (*callbacks_page)(struct store *, int64_t, size_t,
			    struct callback_row **, size_t *);
	/* 1 inserted (*id its new id), 0 already there, -1 error. */
	int		 (*import_callback)(struct store *,
			    const struct callback_row *, int64_t *);
	int		 (*import_job)(struct store *, int64_t,
			    const struct job_listing *);
	/* 1 inserted, 0 already there, -1 error. */
	int		 (*import_rejected)(struct store *,
			    const struct rejected_listing *);
	int		 (*autocheckpoint)(struct store *, int);
	int		 (*checkpoint)(struct store *, int *, int64_t *);
	/* Optional from here on: NULL means "nothing to do" (see store_api.c). */
	const char	*(*path)(struct store *);
	int		 (*purge_counts)(struct store *, int64_t, int64_t,
			    struct purge_counts *);
	int64_t		 (*wal_bytes)(struct store *);
	int		 (*checkpoint_truncate)(struct store *);
	int		 (*moved)(struct store *, char *, size_t);
	int		 (*trigger_latest)(struct store *, const char *, int64_t,
			    int64_t *);
	int		 (*reconcile_lock)(struct store *, const char *, int64_t,
			    int64_t);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

#endif
