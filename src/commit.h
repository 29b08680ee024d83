/* commit.h: group commit: a writer thread batches claims into transactions. */
#ifndef COMMIT_H
#define COMMIT_H

#include <stddef.h>

#include "store.h"
#include "usagehook.h"

struct event_base;
struct store;
struct committer;

enum commit_kind {
	COMMIT_CLAIM,		/* store cb; result is an enum claim */
	COMMIT_REJECT,		/* keep rej in the rejected table */
	COMMIT_PROBE,		/* a real write for /healthz; result 0 or -1 */
	COMMIT_JOBS_DUE,	/* take due jobs into rows; result 0 or -1 */
	COMMIT_JOB_UPDATE	/* apply update; result 0 or -1 */
};

/*
 * One unit of work for the writer. The submitter owns it; done runs on the
 * event loop thread after the transaction holding it committed or failed.
 */
struct commit_req {
	enum commit_kind	 kind;
	struct callback		*cb;
	const struct job_spec	*jobs;		/* COMMIT_CLAIM: the outbox rows */
	size_t			 njobs;
	struct rejection	*rej;
	int64_t			 due_now;	/* COMMIT_JOBS_DUE, in: ms */
	size_t			 due_limit;	/* in */
	const char		*owner;		/* in: this instance */
	char			*skip_rules;	/* in: rules at their limit */
	int64_t			 lease_ms;	/* in */
	struct job_row		*rows;		/* out, allocated */
	size_t			 nrows;		/* out */
	int64_t			 next_due;	/* out: ms, -1 if none queued */
	struct job_update	 update;	/* COMMIT_JOB_UPDATE */
	int			 result;
	char			 error[160];	/* out: why it failed, or "" */
	void			(*done)(struct commit_req *, void *);
	void			*arg;
	/*
	 * If set, called on the writer thread once the request is durable
	 * (or failed), before done: one whole log line into buf (at most
	 * len, LOG_LINE_MAX), its length. A batch's lines go out in one
	 * write(2), and only for what is decided: the line is the truth.
	 */
	size_t			(*line)(struct commit_req *, char *, size_t);
	struct commit_req	*next;
	/* Set by the writer on the first request of each batch (BEGIN to durable). */
	size_t			 batch_n;
	double			 batch_seconds;
};

/* Called on the loop thread once per committed batch. */
typedef void (*commit_stats_fn)(size_t n, double seconds, void *arg);

/* Start the writer thread on store; done callbacks run on base. */
struct committer *committer_new(struct event_base *, struct store *,
		    commit_stats_fn, void *arg);
/* Queue req; it is answered through req->done. */
void		 committer_submit(struct committer *, struct commit_req *);
/*
 * From any thread: have the writer run a PASSIVE checkpoint on its own
 * connection between two batches. Asked for when another connection's
 * checkpoint has copied all but the last frames of a long WAL: the few
 * frames left are copied quickly, and the writer's next transaction then
 * starts the WAL over, without the RESTART checkpoint that would hold
 * the writer while it copied and synced the database file.
 */
void		 committer_checkpoint(struct committer *);
/* Requests submitted and not yet answered. */
size_t		 committer_pending(const struct committer *);
/* Finish every queued request, run their done callbacks, stop the thread. */
void		 committer_free(struct committer *);

#define COMMIT_MAX_BATCH	1024

#endif
