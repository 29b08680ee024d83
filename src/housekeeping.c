/* housekeeping.c: WAL checkpoints and the daily retention purge. */
#include "config-sys.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "housekeeping.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define TICK_SECONDS	1		/* how often to checkpoint */
#define FIRST_PURGE	2		/* seconds after start */
#define PURGE_PERIOD	(24 * 60 * 60)

struct housekeeping {
	char			*database;
	char			*password_file;
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

static void *
runner(void *arg)
{
	struct housekeeping	*h = arg;
	struct store		*st = NULL;
	struct retention	 ages;
	struct timespec		 at;
	time_t			 next_purge = time(NULL) + FIRST_PURGE;
	char			*err = NULL;
	int			 warned = 0;

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

		if (st == NULL && (st = store_open_auth(h->database,
		    h->password_file, 0, &err))
		    == NULL) {
			if (!warned++)
				log_warnx("housekeeping: %s", err);
			free(err);
			err = NULL;
		}
		if (st != NULL) {
			warned = 0;
			if (store_checkpoint(st, NULL) == -1)
				log_warnx("housekeeping: %s", store_errmsg(st));
			if (time(NULL) >= next_purge) {
				purge(st, ages);
				next_purge = time(NULL) + PURGE_PERIOD;
			}
		}
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	/* A last checkpoint keeps the WAL short for the next start. */
	if (st != NULL) {
		(void)store_checkpoint(st, NULL);
		store_close(st);
	}
	return NULL;
}

struct housekeeping *
housekeeping_start(const char *database, const char *password_file,
    const struct retention *ages)
{
	struct housekeeping	*h;
	int			 error;

	h = xcalloc(1, sizeof *h);
	h->database = xstrdup(database);
	h->password_file = password_file != NULL ? xstrdup(password_file) :
	    NULL;
	h->ages = *ages;
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
