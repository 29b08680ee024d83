/* log.c: logging to stderr, with journald priority prefixes under systemd. */
#include "config-sys.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"

static const char	*log_name = "usagehook";
static int		 log_verbose;
static int		 log_journal;	/* stderr is the journal: "<N>" prefixes */
static pthread_mutex_t	 log_lock = PTHREAD_MUTEX_INITIALIZER;

/* libevent's own messages go through our log at a matching level. */
static void
log_event_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

void
log_init(const char *progname, int verbose)
{
	log_name = progname;
	log_verbose = verbose;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
	event_set_log_callback(log_event_cb);
}

/* One line to stderr, written whole so threads do not interleave. */
static void __attribute__((format(printf, 2, 0)))
log_vline(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char		 msg[4096];
	char		 stamp[32];
	struct timespec	 ts;
	struct tm	 tm;

	vsnprintf(msg, sizeof msg, fmt, ap);
	pthread_mutex_lock(&log_lock);
	if (log_journal) {
		fprintf(stderr, "<%d>%s%s%s\n", pri, msg,
		    suffix ? ": " : "", suffix ? suffix : "");
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s: %s%s%s\n", stamp,
		    ts.tv_nsec / 1000000, log_name, msg,
		    suffix ? ": " : "", suffix ? suffix : "");
	}
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	char	 err[256];
	int	 saved = errno;

	strerror_r(saved, err, sizeof err);
	va_start(ap, fmt);
	log_vline(LOG_ERR, fmt, ap, err);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vline(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vline(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vline(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	char	 err[256];

	strerror_r(errno, err, sizeof err);
	va_start(ap, fmt);
	log_vline(LOG_CRIT, fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vline(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
