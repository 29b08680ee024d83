/* housekeeping.h: checkpoints, the database file watch, retention. */
#ifndef HOUSEKEEPING_H
#define HOUSEKEEPING_H

#include "usagehook.h"

struct housekeeping;

/*
 * A thread with its own connection to the database: every second a
 * PASSIVE checkpoint (the writer does none, so no COMMIT waits on one),
 * then a TRUNCATE one when it caught up, the WAL grew past
 * STORE_WAL_KEEP and the burst is over; a look at
 * whether the database file was moved away (logged once, and when it is
 * back); one line counting the refusals not logged. The purge of rows
 * older than retention shortly after start, then daily.
 */
struct housekeeping *housekeeping_start(const char *database,
		    const char *password_file, const struct retention *);
/* Use these ages from the next purge on (SIGHUP). */
void		 housekeeping_set(struct housekeeping *, const struct retention *);
/* Stop the thread (a purge in progress finishes its batch) and free. */
void		 housekeeping_stop(struct housekeeping *);

#endif
