/* housekeeping.c: checkpoints, the database file watch, retention, job counts. */
#include "config-sys.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "housekeeping.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "store.h"
#include "xmalloc.h"

#define TICK_SECONDS	1		/* how often to checkpoint */
#define CATCH_UP_PASSES	8		/* checkpoints a tick, at most */
#define FIRST_PURGE	2		/* seconds after start */
#define PURGE_PERIOD	(24 * 60 * 60)
#define COUNT_PERIOD	5		/* seconds between job counts */

struct housekeeping {
	char			*database;
	char			*password_file;
	struct store		*store;		/* the thread's once started */
	struct committer	*writer;
	struct retention	 ages;		/* under lock */
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	int			 stopping;
};

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Purge in batches of its own transactions, so claims keep flowing. */
static void
purge(struct store *st, struct retention ages)
{
	int64_t	now = now_ms(), ncb = 0, nrej = 0;

	if (store_purge(st, now - ages.callbacks * 1000,
	    now - ages.rejected * 1000, &ncb, &nrej) == -1)
		log_warnx("retention: purge failed: %s", store_errmsg(st));
	else if (ncb > 0 || nrej > 0)
		log_info("retention: purged %lld callback(s) older than %llds "
		    "and %lld rejection(s) older than %llds", (long long)ncb,
		    (long long)ages.callbacks, (long long)nrej,
		    (long long)ages.rejected);
}

/* Say once when the database file was moved away, and when it is back. */
static int
watch_file(struct store *st, int was_moved)
{
	char	why[512];
	int	moved = store_moved(st, why, sizeof why);

	if (moved && !was_moved)
		log_warnx("database error: %s; until then callbacks and "
		    "/healthz are answered 503", why);
	else if (!moved && was_moved)
		log_info("database %s is back in place: callbacks are stored "
		    "again", store_path(st));
	return moved;
}

/*
 * Checkpoint; a WAL that a burst left long is cut back to nothing once
 * the checkpoint has caught up and the burst is over (see STORE_WAL_KEEP;
 * journal_size_limit bounds it meanwhile).
 */
static void
checkpoint(struct store *st, struct committer *writer)
{
	static int64_t	last_used = -1;	/* the housekeeping thread's */
	int64_t		bytes, used = 0;
	int		left = -1, idle, pass;

	/* Until it caught up: each pass copies only what came since the last. */
	for (pass = 0; pass < CATCH_UP_PASSES && left != 0; pass++)
		if (store_checkpoint(st, &left, &used) == -1) {
			log_warnx("housekeeping: %s", store_errmsg(st));
			break;
		}
	/* Nothing written since the last tick, or little since it started over. */
	idle = used == last_used || used <= STORE_WAL_KEEP / 2;
	last_used = used;
	if (left != 0 || (bytes = store_wal_bytes(st)) <= STORE_WAL_KEEP)
		return;
	/*
	 * Under steady load the writer rarely finds the WAL caught up at the
	 * moment it begins, so the WAL would grow without end. The writer
	 * copies the few frames since the last pass itself, between two
	 * batches, and its next commit starts the WAL over. (A RESTART
	 * checkpoint from here did the same but held the writer while it
	 * copied and synced the database file: 64 callbacks at a time waited
	 * 50 to 670 ms under saturating load.) Once the load is gone,
	 * TRUNCATE gives the disk back (done under load, its ftruncate
	 * stalled callbacks for 20 to 50 ms every second).
	 */
	if (!idle) {
		committer_checkpoint(writer);
		log_debug("housekeeping: WAL of %lld bytes: the writer is to "
		    "start it over", (long long)bytes);
	} else if (store_checkpoint_truncate(st) == -1)
		log_warnx("housekeeping: %s", store_errmsg(st));
	else
		log_debug("housekeeping: WAL of %lld bytes truncated",
		    (long long)bytes);
}

/* The refusals not logged (nor kept) in the last tick, as one line. */
static void
count_refusals(void)
{
	uint64_t	n;

	if ((n = ratelimit_drain(&refusals)) > 0)
		log_warnx("refused %llu more request(s) in the last second "
		    "without a log line or a rejected row each (at most %d "
		    "a second are; usagehookd_rejected_total counts all)",
		    (unsigned long long)n, REFUSALS_RATE);
}

/* The jobs by state, from the database, for /metrics' gauges. */
static void
count_jobs(struct store *st)
{
	static const char *const states[METRICS_JOB_STATES] = { "queued",
	    "running", "done", "dead" };
	struct count_row	*rows = NULL;
	int64_t			 n[METRICS_JOB_STATES] = { 0 };
	size_t			 nrows = 0, i, k;

	if (store_stats(st, STAT_JOBS, 0, &rows, &nrows) == -1) {
		log_debug("housekeeping: counting jobs: %s", store_errmsg(st));
		return;
	}
	for (i = 0; i < nrows; i++)
		for (k = 0; k < METRICS_JOB_STATES; k++)
			if (rows[i].key != NULL &&
			    strcmp(rows[i].key, states[k]) == 0)
				n[k] = rows[i].n;
	store_count_rows_free(rows, nrows);
	metrics_set_jobs(n);
}

static void *
runner(void *arg)
{
	struct housekeeping	*h = arg;
	struct store		*st = h->store;
	struct retention	 ages;
	struct timespec		 at;
	time_t			 next_purge = time(NULL) + FIRST_PURGE;
	time_t			 next_count = 0;
	char			*err = NULL;
	int			 warned = 0, moved = 0;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += TICK_SECONDS;
		while (!h->stopping && pthread_cond_timedwait(&h->cond,
		    &h->lock, &at) != ETIMEDOUT)
			;
		if (h->stopping)
			break;
		ages = h->ages;
		pthread_mutex_unlock(&h->lock);

		/*
		 * Only an existing file: a new one where the database was
		 * moved from would pair with the WAL of the one that left.
		 */
		if (st == NULL && (store_is_remote(h->database) ||
		    access(h->database, F_OK) == 0) &&
		    (st = store_open_auth(h->database, h->password_file, 0,
		    &err)) == NULL) {
			if (!warned++)
				log_warnx("housekeeping: %s", err);
			free(err);
			err = NULL;
		}
		count_refusals();
		if (st != NULL) {
			warned = 0;
			/* Moved: leave the file that left alone. */
			if (!(moved = watch_file(st, moved))) {
				checkpoint(st, h->writer);
				if (time(NULL) >= next_count) {
					count_jobs(st);
					next_count = time(NULL) + COUNT_PERIOD;
				}
				if (time(NULL) >= next_purge) {
					purge(st, ages);
					next_purge = time(NULL) + PURGE_PERIOD;
				}
			}
		}
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	/* A last checkpoint keeps the WAL short for the next start. */
	if (st != NULL) {
		(void)store_checkpoint(st, NULL, NULL);
		store_close(st);
	}
	return NULL;
}

struct housekeeping *
housekeeping_start(const char *database, const char *password_file,
    const struct retention *ages, struct committer *writer)
{
	struct housekeeping	*h;
	char			*err = NULL;
	int			 error;

	h = xcalloc(1, sizeof *h);
	h->database = xstrdup(database);
	h->password_file = password_file != NULL ? xstrdup(password_file) :
	    NULL;
	/* Now, with the writer's: the file is surely the one it opened. */
	if ((h->store = store_open_auth(database, password_file, 0, &err))
	    == NULL) {
		log_warnx("housekeeping: %s", err);
		free(err);
	}
	h->ages = *ages;
	h->writer = writer;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	if ((error = pthread_create(&h->thread, NULL, runner, h)) != 0)
		fatalx("cannot start the housekeeping thread: error %d", error);
	return h;
}

void
housekeeping_set(struct housekeeping *h, const struct retention *ages)
{
	pthread_mutex_lock(&h->lock);
	h->ages = *ages;
	pthread_mutex_unlock(&h->lock);
}

void
housekeeping_stop(struct housekeeping *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = 1;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
	pthread_join(h->thread, NULL);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	free(h->database);
	free(h->password_file);
	free(h);
}
