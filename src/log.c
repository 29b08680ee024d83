/* log.c: logging to stderr, with journald priority prefixes under systemd. */
#include "config-sys.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <syslog.h>
#include <time.h>
#include <unistd.h>

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

/* JOURNAL_STREAM is "dev:inode" of the journal's stream: is it our stderr? */
static int
stderr_is_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 sb;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &sb) == -1)
		return 0;
	return (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

void
log_init(const char *progname, int verbose)
{
	log_name = progname;
	log_verbose = verbose;
	/* Inherited by a program we started with stderr elsewhere: not ours. */
	log_journal = stderr_is_journal();
	event_set_log_callback(log_event_cb);
}

/* The timestamp prefix, formatted once per second (one line per request). */
static const char *
stamp(char *buf, size_t len)
{
	static time_t	 cached_sec = -1;
	static char	 cached[32];
	struct timespec	 ts;
	struct tm	 tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != cached_sec) {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = ts.tv_sec;
	}
	snprintf(buf, len, "%s.%03ldZ", cached, ts.tv_nsec / 1000000);
	return buf;
}

/*
 * One whole line, its prefix and the newline, into line (at most len
 * bytes, len > 1); its length. The caller holds log_lock (stamp()).
 */
static size_t __attribute__((format(printf, 4, 0)))
log_vformat(char *line, size_t len, int pri, const char *fmt, va_list ap,
    const char *suffix)
{
	char	 msg[4096], when[48];
	int	 n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_journal)
		n = snprintf(line, len - 1, "<%d>%s%s%s", pri, msg,
		    suffix ? ": " : "", suffix ? suffix : "");
	else
		n = snprintf(line, len - 1, "%s %s: %s%s%s",
		    stamp(when, sizeof when), log_name, msg,
		    suffix ? ": " : "", suffix ? suffix : "");
	if (n < 0)
		n = 0;
	if ((size_t)n > len - 2)
		n = len - 2;
	line[n++] = '\n';
	return n;
}

/* All of buf to stderr; a log that cannot be written has nowhere to say so. */
static void
log_out(const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(STDERR_FILENO, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= n;
	}
}

/* One line to stderr in one write(2), so threads and readers see it whole. */
static void __attribute__((format(printf, 2, 0)))
log_vline(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char	line[LOG_LINE_MAX];
	size_t	n;

	pthread_mutex_lock(&log_lock);
	n = log_vformat(line, sizeof line, pri, fmt, ap, suffix);
	log_out(line, n);
	pthread_mutex_unlock(&log_lock);
}

size_t
log_format_info(char *line, size_t len, const char *fmt, ...)
{
	va_list	ap;
	size_t	n;

	va_start(ap, fmt);
	pthread_mutex_lock(&log_lock);
	n = log_vformat(line, len, LOG_INFO, fmt, ap, NULL);
	pthread_mutex_unlock(&log_lock);
	va_end(ap);
	return n;
}

void
log_write_lines(const char *buf, size_t len)
{
	if (len == 0)
		return;
	pthread_mutex_lock(&log_lock);
	log_out(buf, len);
	pthread_mutex_unlock(&log_lock);
}

void
log_warn(const char *fmt, ...)
{
	va_list		 ap;
	char		 buf[256];
	const char	*err;
	int		 saved = errno;

	/* GNU strerror_r: the message is its return value, not always buf. */
	err = strerror_r(saved, buf, sizeof buf);
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
	va_list		 ap;
	char		 buf[256];
	const char	*err;

	err = strerror_r(errno, buf, sizeof buf);
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
