/* housekeeping.h: checkpoints, the database file watch, retention. */
#ifndef HOUSEKEEPING_H
#define HOUSEKEEPING_H

#include "usagehook.h"

struct committer;
struct housekeeping;

/*
 * A thread with its own connection to the database: every second
 * PASSIVE checkpoints until caught up (the writer does none of its own,
 * so no COMMIT waits on one); when the WAL grew past STORE_WAL_KEEP and
 * they caught up, a TRUNCATE checkpoint once the burst is over, or while
 * it lasts the writer (committer_checkpoint()) copies the last frames so
 * that the WAL starts over; a look at
 * whether the database file was moved away (logged once, and when it is
 * back); one line counting the refusals not logged. The purge of rows
 * older than retention shortly after start, then daily.
 */
struct housekeeping *housekeeping_start(const char *database,
		    const char *password_file, const struct retention *,
		    struct committer *writer);
/* Use these ages from the next purge on (SIGHUP). */
void		 housekeeping_set(struct housekeeping *, const struct retention *);
/* Stop the thread (a purge in progress finishes its batch) and free. */
void		 housekeeping_stop(struct housekeeping *);

#endif
