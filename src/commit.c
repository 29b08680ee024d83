/* commit.c: group commit: a writer thread batches claims into transactions. */
#include "config-sys.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "commit.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

/* At most one warning this often while batches keep failing, s. */
#define WARN_EVERY	10

/* A FIFO of requests. */
struct reqlist {
	struct commit_req	*head;
	struct commit_req	*tail;
};

struct committer {
	struct store		*store;
	struct event		*wake;		/* loop side: answers are ready */
	commit_stats_fn		 stats;
	void			*stats_arg;
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct reqlist		 queue;		/* submitted, not yet taken */
	struct reqlist		 done;		/* committed, not yet answered */
	char			*lines;		/* writer's: log lines of finish() */
	size_t			 lines_size;
	struct claim_item	 items[COMMIT_MAX_BATCH]; /* writer's */
	size_t			 failures;	/* writer's: batches in a row */
	double			 last_warn;	/* writer's */
	size_t			 pending;	/* loop thread only */
	int			 checkpoint;	/* under lock: asked for */
	int			 stopping;
};

static void
reqlist_append(struct reqlist *l, struct commit_req *first,
    struct commit_req *last)
{
	if (l->tail == NULL)
		l->head = first;
	else
		l->tail->next = first;
	l->tail = last;
}

static double
now_seconds(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Do one request's statement inside the open transaction; 0 or -1. */
static int
apply(struct store *st, struct commit_req *r)
{
	switch (r->kind) {
	case COMMIT_CLAIM:
		r->result = store_claim(st, r->cb, r->jobs, r->njobs);
		return r->result == CLAIM_ERROR ? -1 : 0;
	case COMMIT_JOBS_DUE:
		r->result = store_jobs_take(st, r->owner, r->due_now,
		    r->lease_ms, r->due_limit, r->skip_rules, &r->rows,
		    &r->nrows);
		if (r->result == 0)
			r->next_due = store_jobs_next(st);
		return r->result;
	case COMMIT_JOB_UPDATE:
		r->result = store_job_update(st, &r->update);
		return r->result;
	case COMMIT_REJECT:
		r->result = store_reject(st, r->rej);
		return r->result;
	case COMMIT_PROBE:
		r->result = store_probe(st);
		return r->result;
	}
	return -1;
}

/* Mark every request of a failed batch as failed, saying why. */
static void
fail_batch(struct store *st, struct commit_req *batch)
{
	struct commit_req	*r;

	for (r = batch; r != NULL; r = r->next) {
		r->result = r->kind == COMMIT_CLAIM ? CLAIM_ERROR : -1;
		snprintf(r->error, sizeof r->error, "%s", store_errmsg(st));
	}
}

/*
 * The batch's claims in one call, so that PostgreSQL gets them in one
 * pipeline rather than a round trip each. 0/-1.
 */
static int
apply_claims(struct store *st, struct commit_req *batch,
    struct claim_item *items)
{
	struct commit_req	*r;
	size_t			 n = 0;
	int			 rv;

	for (r = batch; r != NULL; r = r->next) {
		if (r->kind != COMMIT_CLAIM)
			continue;
		items[n].cb = r->cb;
		items[n].jobs = r->jobs;
		items[n].njobs = r->njobs;
		n++;
	}
	if (n == 0)
		return 0;
	rv = store_claims(st, items, n);
	n = 0;
	for (r = batch; r != NULL; r = r->next)
		if (r->kind == COMMIT_CLAIM)
			r->result = items[n++].result;
	return rv;
}

/*
 * Log a failed batch: the first of a run, then at most one line per
 * WARN_EVERY seconds (a database down under load fails thousands).
 */
static void
batch_failed(struct committer *c, const char *prefix)
{
	double	now = now_seconds();

	if (c->failures++ == 0 || now - c->last_warn >= WARN_EVERY) {
		log_warnx("database: %s%s%s", prefix, store_errmsg(c->store),
		    c->failures > 1 ? " (batches keep failing)" : "");
		c->last_warn = now;
	}
}

/* Commit one batch: all of it durable, or none of it acknowledged. */
static void
commit_batch(struct committer *c, struct commit_req *batch)
{
	struct store		*st = c->store;
	struct commit_req	*r;
	int			 failed = 0;

	if (store_begin(st) == -1) {
		batch_failed(c, "BEGIN: ");
		fail_batch(st, batch);
		return;
	}
	if (apply_claims(st, batch, c->items) == -1) {
		batch_failed(c, "");
		failed = 1;
	}
	for (r = batch; r != NULL && !failed; r = r->next) {
		if (r->kind == COMMIT_CLAIM)
			continue;
		if (apply(st, r) == -1) {
			batch_failed(c, "");
			failed = 1;
			break;
		}
	}
	if (!failed && store_commit(st) == -1) {
		batch_failed(c, "");
		failed = 1;
	}
	if (failed) {
		/* SQLite may have rolled back already; ROLLBACK is harmless. */
		fail_batch(st, batch);
		store_rollback(st);
	} else if (c->failures > 0) {
		log_info("database: writes succeed again after %zu failed "
		    "batch(es)", c->failures);
		c->failures = 0;
	}
}

/*
 * The batch from first to last is durable (or failed): write its log lines
 * in one write(2), then hand it to the loop.
 */
static void
finish(struct committer *c, struct commit_req *first, struct commit_req *last)
{
	struct commit_req	*r;
	size_t			 used = 0;
	double			 now = now_seconds();

	for (r = first; r != NULL; r = r->next) {
		if (r->batch_n != 0)
			r->batch_seconds = now - r->batch_seconds;
		if (r->line == NULL)
			continue;
		if (c->lines_size - used < LOG_LINE_MAX) {
			c->lines_size = c->lines_size * 2 + LOG_LINE_MAX;
			c->lines = xreallocarray(c->lines, c->lines_size, 1);
		}
		used += r->line(r, c->lines + used, LOG_LINE_MAX);
	}
	log_write_lines(c->lines, used);

	pthread_mutex_lock(&c->lock);
	reqlist_append(&c->done, first, last);
	event_active(c->wake, EV_READ, 0);
	pthread_mutex_unlock(&c->lock);
}

/* Between two batches: see committer_checkpoint(). */
static void
writer_checkpoint(struct committer *c)
{
	int	left = -1;

	if (store_checkpoint(c->store, &left, NULL) == -1)
		log_warnx("database: checkpoint: %s", store_errmsg(c->store));
	else
		log_debug("database: the writer's checkpoint: %s", left == 0 ?
		    "caught up, the WAL starts over" : "frames left, later");
}

/* The writer thread: take what has queued up, commit it as one batch. */
static void *
writer(void *arg)
{
	struct committer	*c = arg;
	struct commit_req	*batch, *last;
	size_t			 n;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->queue.head == NULL && !c->stopping &&
		    !c->checkpoint)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->checkpoint) {
			c->checkpoint = 0;
			pthread_mutex_unlock(&c->lock);
			writer_checkpoint(c);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		if (c->queue.head == NULL)
			break;
		batch = c->queue.head;
		for (n = 1, last = batch; last->next != NULL &&
		    n < COMMIT_MAX_BATCH; last = last->next)
			n++;
		c->queue.head = last->next;
		if (c->queue.head == NULL)
			c->queue.tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&c->lock);

		batch->batch_n = n;
		batch->batch_seconds = now_seconds();	/* finish() subtracts */
		commit_batch(c, batch);
		finish(c, batch, last);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Run the done callbacks of everything the writer has finished. */
static void
deliver(struct committer *c)
{
	struct commit_req	*r, *next;

	pthread_mutex_lock(&c->lock);
	r = c->done.head;
	c->done.head = c->done.tail = NULL;
	pthread_mutex_unlock(&c->lock);

	for (; r != NULL; r = next) {
		next = r->next;
		if (r->batch_n != 0 && c->stats != NULL)
			c->stats(r->batch_n, r->batch_seconds, c->stats_arg);
		c->pending--;
		r->done(r, r->arg);
	}
}

static void
wake_cb(evutil_socket_t fd, short events, void *arg)
{
	deliver(arg);
}

struct committer *
committer_new(struct event_base *base, struct store *st,
    commit_stats_fn stats, void *arg)
{
	struct committer	*c;
	int			 error;

	c = xcalloc(1, sizeof *c);
	c->store = st;
	c->stats = stats;
	c->stats_arg = arg;
	if ((c->wake = event_new(base, -1, 0, wake_cb, c)) == NULL)
		fatalx("event_new failed");
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	if ((error = pthread_create(&c->thread, NULL, writer, c)) != 0)
		fatalx("cannot start the writer thread: error %d", error);
	return c;
}

void
committer_submit(struct committer *c, struct commit_req *r)
{
	r->next = NULL;
	r->batch_n = 0;
	c->pending++;
	pthread_mutex_lock(&c->lock);
	reqlist_append(&c->queue, r, r);
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void
committer_checkpoint(struct committer *c)
{
	pthread_mutex_lock(&c->lock);
	c->checkpoint = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

size_t
committer_pending(const struct committer *c)
{
	return c->pending;
}

void
committer_free(struct committer *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	deliver(c);
	event_free(c->wake);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->lines);
	free(c);
}
