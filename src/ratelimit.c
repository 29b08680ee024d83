/* ratelimit.c: token buckets for log lines (and what they speak for). */
#include "config-sys.h"

#include <time.h>

#include "ratelimit.h"

struct ratelimit refusals = RATELIMIT_INITIALIZER(REFUSALS_RATE,
    REFUSALS_BURST);

static double
now_seconds(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
ratelimit_allow(struct ratelimit *rl)
{
	double	now = now_seconds();
	int	ok;

	pthread_mutex_lock(&rl->lock);
	if (rl->last > 0) {
		rl->tokens += (now - rl->last) * rl->rate;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
	}
	rl->last = now;
	if ((ok = rl->tokens >= 1))
		rl->tokens -= 1;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&rl->lock);
	return ok;
}

uint64_t
ratelimit_drain(struct ratelimit *rl)
{
	uint64_t	n;

	pthread_mutex_lock(&rl->lock);
	n = rl->suppressed;
	rl->suppressed = 0;
	pthread_mutex_unlock(&rl->lock);
	return n;
}
