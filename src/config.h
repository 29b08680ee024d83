/* config.h: the YAML configuration file, parsed and validated. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdio.h>

#include "usagehook.h"

#define DEFAULT_CONFIG	SYSCONFDIR "/usagehookd/usagehookd.yaml"

/*
 * Parse and validate the file at path. Every problem is printed to errs as
 * "file:line:col: message" (all of them, not only the first) and NULL is
 * returned. On success returns an allocated config; free with config_free.
 */
struct config	*config_load(const char *path, FILE *errs);
void		 config_free(struct config *);
/* Key each account's HMAC once (signature_key); -1 when OpenSSL fails. */
int		 config_key_accounts(struct config *);
/* The account with this AccountSid, or NULL. */
const struct account *config_account(const struct config *, const char *sid);
/* "64KiB", "1MiB", "512" -> bytes; -1 if malformed. */
int		 config_parse_size(const char *, size_t *);
/* "10s", "5m", "2h", "400d" -> seconds; -1 if malformed. */
int		 config_parse_duration(const char *, int64_t *);
/* "100", "-2.5", "1e3" (the whole string) -> number; -1 if malformed. */
int		 config_parse_number(const char *, double *);
/* The closest of words[0..n) to s if close enough to be a typo, else NULL. */
const char	*config_suggest(const char *s, const char *const *words, size_t n);

/* 1 if s is a UsageTrigger value: "100", "12.5" or relative "+30". */
int		 config_trigger_value_ok(const char *s);

#endif
