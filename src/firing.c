/* firing.c: one firing of a UsageTrigger: when, which interval, its keys. */
#include "config-sys.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "callback.h"
#include "firing.h"

static const char *const day_names[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const month_names[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The date of a day since the epoch. */
static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t		era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int
days_in_month(int y, int m)
{
	static const int n[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
	    31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return n[m - 1];
}

/* Exactly ndigits digits (min..max of them) at *s into *v; advances *s. */
static int
digits(const char **s, int min, int max, int *v)
{
	int	n = 0;

	*v = 0;
	while (n < max && **s >= '0' && **s <= '9') {
		*v = *v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	return n >= min && !(**s >= '0' && **s <= '9') ? 0 : -1;
}

int
firing_parse_date(const char *s, int64_t *t)
{
	int	i, wday = -1, day, mon = -1, year, hh, mm, ss, zh, zm, sign;
	int64_t	days;

	if (s == NULL || strlen(s) > 40)
		return -1;
	for (i = 0; i < 7; i++)
		if (strncmp(s, day_names[i], 3) == 0 && s[3] == ',') {
			wday = i;
			s += 4;
			while (*s == ' ')
				s++;
			break;
		}
	if (digits(&s, 1, 2, &day) == -1 || *s++ != ' ')
		return -1;
	for (i = 0; i < 12; i++)
		if (strncmp(s, month_names[i], 3) == 0 && s[3] == ' ')
			mon = i + 1;
	if (mon == -1)
		return -1;
	s += 4;
	if (digits(&s, 4, 4, &year) == -1 || *s++ != ' ' ||
	    digits(&s, 2, 2, &hh) == -1 || *s++ != ':' ||
	    digits(&s, 2, 2, &mm) == -1 || *s++ != ':' ||
	    digits(&s, 2, 2, &ss) == -1 || *s++ != ' ')
		return -1;
	if (year < 1970 || day < 1 || day > days_in_month(year, mon) ||
	    hh > 23 || mm > 59 || ss > 59)
		return -1;
	if (strcmp(s, "GMT") == 0 || strcmp(s, "UT") == 0 ||
	    strcmp(s, "UTC") == 0)
		zh = zm = 0, sign = 1;
	else if ((s[0] == '+' || s[0] == '-') && strlen(s) == 5) {
		sign = s[0] == '-' ? -1 : 1;
		for (i = 1; i < 5; i++)
			if (s[i] < '0' || s[i] > '9')
				return -1;
		zh = (s[1] - '0') * 10 + (s[2] - '0');
		zm = (s[3] - '0') * 10 + (s[4] - '0');
		if (zh > 23 || zm > 59)
			return -1;
	} else
		return -1;
	days = days_from_civil(year, mon, day);
	/* A day name that is not the date's: garbled, not to be trusted. */
	if (wday != -1 && (int)(((days % 7) + 11) % 7) != wday)
		return -1;
	*t = days * 86400 + hh * 3600 + mm * 60 + ss -
	    sign * (zh * 3600 + zm * 60);
	return 0;
}

void
firing_format_date(int64_t t, char *buf, size_t len)
{
	int64_t	days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	int64_t	sec = t - days * 86400;
	int	y, m, d;

	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    day_names[(int)(((days % 7) + 11) % 7)], d, month_names[m - 1], y,
	    (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60));
}

/* The interval of t as Twilio's token shows it; the kind letter in *kind. */
static int
period_text(const char *recurring, int64_t t, char *kind, char *buf,
    size_t len)
{
	int64_t	days = t / 86400, sec = t % 86400;
	int	y, m, d, n;

	if (t < 0)
		return -1;
	civil_from_days(days, &y, &m, &d);
	if (recurring != NULL && strcmp(recurring, "daily") == 0) {
		*kind = 'D';
		n = snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
	} else if (recurring != NULL && strcmp(recurring, "monthly") == 0) {
		*kind = 'M';
		n = snprintf(buf, len, "%04d-%02d", y, m);
	} else if (recurring != NULL && strcmp(recurring, "yearly") == 0) {
		*kind = 'Y';
		n = snprintf(buf, len, "%04d", y);
	} else if (recurring == NULL || *recurring == '\0' ||
	    strcmp(recurring, "alltime") == 0) {
		*kind = 'T';
		n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m,
		    d, (int)(sec / 3600), (int)(sec / 60 % 60),
		    (int)(sec % 60));
	} else
		return -1;
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
firing_period(const char *recurring, int64_t t, char *buf, size_t len)
{
	char	kind, text[32];
	int	n;

	if (period_text(recurring, t, &kind, text, sizeof text) == -1)
		return -1;
	n = snprintf(buf, len, "%c%s", kind, text);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
firing_key(const char *trigger_sid, const char *recurring,
    const char *date_fired, char *buf, size_t len, int64_t *fired_at)
{
	char	period[40];
	int64_t	t;
	int	n;

	if (trigger_sid == NULL || !sid_valid(trigger_sid, "UT") ||
	    firing_parse_date(date_fired, &t) == -1 ||
	    firing_period(recurring, t, period, sizeof period) == -1)
		return -1;
	n = snprintf(buf, len, "%s/%s", trigger_sid, period);
	if (n < 0 || (size_t)n >= len)
		return -1;
	if (fired_at != NULL)
		*fired_at = t * 1000;
	return 0;
}

int
firing_token(const char *account_sid, const char *trigger_sid,
    const char *recurring, int64_t t, char *buf, size_t len)
{
	char	kind, text[32];
	int	n;

	if (!sid_valid(account_sid, "AC") || !sid_valid(trigger_sid, "UT") ||
	    period_text(recurring, t, &kind, text, sizeof text) == -1)
		return -1;
	n = snprintf(buf, len, "%s-FIRES-%s-%s", account_sid, trigger_sid,
	    text);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}
