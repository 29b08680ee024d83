/* log.h: logging to stderr, with journald priority prefixes under systemd. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

/* The longest line written, with its prefix and newline. */
#define LOG_LINE_MAX	4400

#define ATTR_PRINTF	__attribute__((format(printf, 1, 2)))

/* Set the program name and verbosity; detects JOURNAL_STREAM. */
void	log_init(const char *progname, int verbose);
void	log_warn(const char *, ...) ATTR_PRINTF;	/* appends strerror(errno) */
void	log_warnx(const char *, ...) ATTR_PRINTF;
void	log_info(const char *, ...) ATTR_PRINTF;
void	log_debug(const char *, ...) ATTR_PRINTF;
/*
 * Lines formatted on one thread and written together later: a whole
 * info line with its prefix and newline into buf (len > 1, at most
 * LOG_LINE_MAX is ever needed), its length; then any number of such lines
 * in one write(2).
 */
size_t	log_format_info(char *, size_t, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	log_write_lines(const char *, size_t);
void	fatal(const char *, ...) ATTR_PRINTF __attribute__((noreturn));
void	fatalx(const char *, ...) ATTR_PRINTF __attribute__((noreturn));

#endif
