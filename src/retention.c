/* retention.c: the daily purge of old callbacks and rejections. */
#include "config-sys.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "retention.h"
#include "store.h"
#include "xmalloc.h"

/* First run just after start-up settles, then daily. */
#define FIRST_DELAY	2
#define PERIOD		(24 * 60 * 60)

struct retention_runner {
	char			*database;
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

/* One purge on a connection of its own; batches keep the claims flowing. */
static void
purge_once(const char *database, struct retention ages)
{
	struct store	*st;
	char		*err = NULL;
	int64_t		 now = now_ms(), ncb = 0, nrej = 0;

	if ((st = store_open(database, 0, &err)) == NULL) {
		log_warnx("retention: %s", err);
		free(err);
		return;
	}
	if (store_purge(st, now - ages.callbacks * 1000,
	    now - ages.rejected * 1000, &ncb, &nrej) == -1)
		log_warnx("retention: purge failed: %s", store_errmsg(st));
	else if (ncb > 0 || nrej > 0)
		log_info("retention: purged %lld callback(s) older than %llds "
		    "and %lld rejection(s) older than %llds", (long long)ncb,
		    (long long)ages.callbacks, (long long)nrej,
		    (long long)ages.rejected);
	store_close(st);
}

static void *
runner(void *arg)
{
	struct retention_runner	*r = arg;
	struct retention	 ages;
	struct timespec		 at;
	int			 delay = FIRST_DELAY;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_sec += delay;
		while (!r->stopping && pthread_cond_timedwait(&r->cond,
		    &r->lock, &at) != ETIMEDOUT)
			;
		if (r->stopping)
			break;
		ages = r->ages;
		pthread_mutex_unlock(&r->lock);
		purge_once(r->database, ages);
		pthread_mutex_lock(&r->lock);
		delay = PERIOD;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct retention_runner *
retention_start(const char *database, const struct retention *ages)
{
	struct retention_runner	*r;
	int			 error;

	r = xcalloc(1, sizeof *r);
	r->database = xstrdup(database);
	r->ages = *ages;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if ((error = pthread_create(&r->thread, NULL, runner, r)) != 0)
		fatalx("cannot start the retention thread: error %d", error);
	return r;
}

void
retention_set(struct retention_runner *r, const struct retention *ages)
{
	pthread_mutex_lock(&r->lock);
	r->ages = *ages;
	pthread_mutex_unlock(&r->lock);
}

void
retention_stop(struct retention_runner *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->database);
	free(r);
}
