/* retention.h: the daily purge of old callbacks and rejections. */
#ifndef RETENTION_H
#define RETENTION_H

#include "usagehook.h"

struct retention_runner;

/*
 * Purge rows older than the retention of conf once shortly after start and
 * then daily, on a thread with its own connection to the database.
 */
struct retention_runner *retention_start(const char *database,
		    const struct retention *);
/* Use these ages from the next run on (SIGHUP). */
void		 retention_set(struct retention_runner *, const struct retention *);
/* Stop the thread (a purge in progress finishes its batch) and free. */
void		 retention_stop(struct retention_runner *);

#endif
