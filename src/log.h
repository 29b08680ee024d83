/* log.h: logging to stderr, with journald priority prefixes under systemd. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

#define ATTR_PRINTF	__attribute__((format(printf, 1, 2)))

/* Set the program name and verbosity; detects JOURNAL_STREAM. */
void	log_init(const char *progname, int verbose);
void	log_warn(const char *, ...) ATTR_PRINTF;	/* appends strerror(errno) */
void	log_warnx(const char *, ...) ATTR_PRINTF;
void	log_info(const char *, ...) ATTR_PRINTF;
void	log_debug(const char *, ...) ATTR_PRINTF;
void	fatal(const char *, ...) ATTR_PRINTF __attribute__((noreturn));
void	fatalx(const char *, ...) ATTR_PRINTF __attribute__((noreturn));

#endif
