/* ratelimit.h: token buckets for log lines (and what they speak for). */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

/* rate a second on average, up to burst at once; thread-safe. */
struct ratelimit {
	pthread_mutex_t	 lock;
	double		 rate;
	double		 burst;
	double		 tokens;
	double		 last;		/* monotonic seconds; 0: full bucket */
	uint64_t	 suppressed;	/* refused since ratelimit_drain */
};

#define RATELIMIT_INITIALIZER(rate, burst)				\
	{ PTHREAD_MUTEX_INITIALIZER, (rate), (burst), (burst), 0, 0 }

/* 1: go ahead; 0: over the rate, counted as suppressed. */
int		 ratelimit_allow(struct ratelimit *);
/* How many were suppressed since the last call; resets the count. */
uint64_t	 ratelimit_drain(struct ratelimit *);

/*
 * Refused requests: at most REFUSALS_RATE a second (bursts of
 * REFUSALS_BURST) are logged and kept in the rejected table; housekeeping
 * logs one line a second counting the others (metrics count them all).
 */
#define REFUSALS_RATE	20
#define REFUSALS_BURST	100
extern struct ratelimit	refusals;

#endif
