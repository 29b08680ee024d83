/* firing.h: one firing of a UsageTrigger: when, which interval, its keys. */
#ifndef FIRING_H
#define FIRING_H

#include <stddef.h>
#include <stdint.h>

/* "UT" + 32 hex + "/" + "T2026-11-24T10:15:01Z" and a NUL, with room. */
#define FIRING_KEY_MAX	64

/*
 * An RFC 2822 date as Twilio writes it, "Tue, 24 Nov 2026 10:15:01 +0000"
 * (day name optional, zone +hhmm/-hhmm, GMT, UT or UTC), into seconds since
 * the epoch. -1 when s is anything else: never a guess.
 */
int		 firing_parse_date(const char *s, int64_t *t);

/*
 * The recurring interval holding t, as text: "D2026-11-24" (daily),
 * "M2026-11" (monthly), "Y2026" (yearly); a trigger that does not recur
 * ("", NULL, "alltime") fires once: its interval is the instant,
 * "T2026-11-24T10:15:01Z". -1 for any other recurring.
 */
int		 firing_period(const char *recurring, int64_t t, char *buf,
		    size_t len);

/*
 * The firing key: UsageTriggerSid "/" period. Two callbacks with one key
 * are one firing (Twilio fires a trigger once per interval at most). The
 * time fired goes to *fired_at (ms) when not NULL. -1 when the sid is not
 * a UsageTriggerSid or the date or recurring do not parse.
 */
int		 firing_key(const char *trigger_sid, const char *recurring,
		    const char *date_fired, char *buf, size_t len,
		    int64_t *fired_at);

/*
 * The IdempotencyToken Twilio documents for a firing: AccountSid
 * "-FIRES-" UsageTriggerSid "-" and the interval: "2012-10-04" (daily, as
 * Twilio's example), "2012-10" (monthly), "2012" (yearly), or the instant
 * "2012-10-04T10:15:01Z" for a trigger that does not recur. -1 as above.
 */
int		 firing_token(const char *account_sid, const char *trigger_sid,
		    const char *recurring, int64_t t, char *buf, size_t len);

/* t (seconds) as RFC 2822 in GMT, "Tue, 24 Nov 2026 10:15:01 +0000". */
void		 firing_format_date(int64_t t, char *buf, size_t len);

#endif
