/* SPDX-License-Identifier: MIT */
/*
 * tools/util.c - helpers shared by the subcommands of `rbf`: messages,
 * enum names, time formatting and parsing, progress, JSON output.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbf_tool.h"

static void vmsg(const char *what, const char *kind, const char *fmt,
		 va_list ap) __attribute__((format(printf, 3, 0)));

static void vmsg(const char *what, const char *kind, const char *fmt,
		 va_list ap)
{
	tool_progress_end();
	fflush(stdout);
	fputs(TOOL_NAME ": ", stderr);
	if (what)
		fprintf(stderr, "%s: ", what);
	if (kind)
		fprintf(stderr, "%s: ", kind);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void tool_err(const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(what, NULL, fmt, ap);
	va_end(ap);
}

void tool_warn(const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(what, "warning", fmt, ap);
	va_end(ap);
}

int tool_usage_err(const char *cmd, const char *fmt, ...)
{
	char what[64];
	va_list ap;

	snprintf(what, sizeof(what), "%s", cmd ? cmd : "usage");
	va_start(ap, fmt);
	vmsg(what, NULL, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "Try '" TOOL_NAME " %s --help'.\n", cmd);
	else
		fprintf(stderr, "Try '" TOOL_NAME " --help'.\n");
	return TOOL_EXIT_USAGE;
}

void tool_file_err(const char *path, int rc, const struct rbf_file_error *err)
{
	char msg[sizeof(err->msg) + 1];

	if (err && err->msg[0]) {
		memcpy(msg, err->msg, sizeof(err->msg));
		msg[sizeof(err->msg)] = '\0';
		/* "bad mode 7 (at offset 40)"; not for "truncated: ...". */
		if (err->offset > 0 && !strstr(msg, "offset") &&
		    strncmp(msg, "truncated", 9) != 0)
			tool_err(path, "%s (at offset %" PRId64 ")", msg,
				 err->offset);
		else
			tool_err(path, "%s", msg);
		return;
	}
	if (rc == -EINVAL)
		tool_err(path, "not a valid rbf ring file");
	else if (rc == -EPROTONOSUPPORT)
		tool_err(path, "unsupported file format version or byte order");
	else
		tool_err(path, "%s", strerror(rc < 0 ? -rc : rc));
}

int tool_not_a_dir(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		tool_err(path, "is a directory, not a ring file (a trace "
			       "directory is read with 'rbf dump')");
		return -1;
	}
	return 0;
}

struct rbf_file *tool_file_open(const char *path)
{
	struct rbf_file_error err;
	struct rbf_file *f = NULL;
	int rc;

	if (tool_not_a_dir(path) < 0)
		return NULL;
	memset(&err, 0, sizeof(err));
	err.offset = -1;
	rc = rbf_file_open(path, &f, &err);
	if (rc < 0) {
		tool_file_err(path, rc, &err);
		return NULL;
	}
	return f;
}

const char *tool_mode_name(uint32_t mode)
{
	switch (mode) {
	case RBF_MODE_DISCARD:
		return "discard";
	case RBF_MODE_OVERWRITE:
		return "overwrite";
	}
	return "?";
}

const char *tool_alloc_name(uint32_t alloc)
{
	switch (alloc) {
	case RBF_ALLOC_PER_CPU:
		return "per-cpu";
	case RBF_ALLOC_PER_THREAD:
		return "per-thread";
	case RBF_ALLOC_GLOBAL:
		return "global";
	}
	return "?";
}

const char *tool_clock_name(uint32_t clock)
{
	switch (clock) {
	case RBF_CLOCK_MONOTONIC:
		return "monotonic";
	case RBF_CLOCK_TSC:
		return "tsc";
	case RBF_CLOCK_NONE:
		return "none";
	}
	return "?";
}

const char *tool_durability_name(uint32_t durability)
{
	switch (durability) {
	case RBF_DURABLE_NONE:
		return "none";
	case RBF_DURABLE_SUBBUF:
		return "subbuf";
	case RBF_DURABLE_FLUSH:
		return "flush";
	}
	return "?";
}

void tool_uuid_str(const uint8_t uuid[16], char buf[37])
{
	static const char hex[] = "0123456789abcdef";
	int i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[o++] = '-';
		buf[o++] = hex[uuid[i] >> 4];
		buf[o++] = hex[uuid[i] & 15];
	}
	buf[o] = '\0';
}

#define NS_PER_SEC 1000000000LL

void tool_format_wall(int64_t ns, char buf[TOOL_TIME_LEN])
{
	int64_t sec = ns / NS_PER_SEC, rem = ns % NS_PER_SEC;
	time_t t;
	struct tm tm;
	size_t n;

	if (rem < 0) {
		rem += NS_PER_SEC;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm)) {
		snprintf(buf, TOOL_TIME_LEN, "@%" PRId64 "ns", ns);
		return;
	}
	n = strftime(buf, TOOL_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0) {
		snprintf(buf, TOOL_TIME_LEN, "@%" PRId64 "ns", ns);
		return;
	}
	snprintf(buf + n, TOOL_TIME_LEN - n, ".%09dZ", (int)rem);
}

int tool_parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return 0;
}

/* Exactly @n digits at *@p; advance. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;

	while (n--) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

int tool_parse_time(const char *s, int64_t *ns, int *is_wall)
{
	int year, mon, day, hour = 0, min = 0, sec = 0, zh = 0, zm = 0;
	int64_t frac = 0, scale = NS_PER_SEC, zone = 0;
	const char *p = s;
	uint64_t v;
	struct tm tm;
	time_t t;

	if (tool_parse_u64(s, &v) == 0) {
		if (v > INT64_MAX)
			return -1;
		*ns = (int64_t)v;
		*is_wall = 0;
		return 0;
	}
	if (digits(&p, 4, &year) || *p++ != '-' || digits(&p, 2, &mon) ||
	    *p++ != '-' || digits(&p, 2, &day))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &hour) || *p++ != ':' || digits(&p, 2, &min))
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec))
				return -1;
			if (*p == '.' || *p == ',') {
				p++;
				if (!isdigit((unsigned char)*p))
					return -1;
				while (isdigit((unsigned char)*p)) {
					if (scale > 1) {
						scale /= 10;
						frac += (*p - '0') * scale;
					}
					p++;
				}
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;

		if (digits(&p, 2, &zh))
			return -1;
		if (*p == ':')
			p++;
		if (*p && digits(&p, 2, &zm))
			return -1;
		if (zh > 23 || zm > 59)
			return -1;
		zone = sign * (zh * 3600 + zm * 60);
	}
	if (*p)
		return -1;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 ||
	    min > 59 || sec > 60)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 && !(year == 1969 && mon == 12 && day == 31))
		return -1;
	/* Nanoseconds since the epoch fit in 64 bits from 1678 to 2262. */
	if ((int64_t)t - zone > INT64_MAX / NS_PER_SEC - 1 ||
	    (int64_t)t - zone < INT64_MIN / NS_PER_SEC + 1)
		return -1;
	*ns = ((int64_t)t - zone) * NS_PER_SEC + frac;
	*is_wall = 1;
	return 0;
}

double tool_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int progress_state = -1; /* -1: unknown, 0: off, 1: on */
static int progress_shown;
static double progress_last;

int tool_progress_enabled(void)
{
	if (progress_state < 0)
		progress_state = isatty(STDERR_FILENO) ? 1 : 0;
	return progress_state;
}

void tool_progress(int force, const char *fmt, ...)
{
	double now;
	va_list ap;

	if (!tool_progress_enabled())
		return;
	now = tool_now();
	if (!force && progress_shown && now - progress_last < 0.25)
		return;
	progress_last = now;
	fputs("\r\033[K" TOOL_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
	progress_shown = 1;
}

void tool_progress_end(void)
{
	if (!progress_shown)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	progress_shown = 0;
}

int tool_close_stdout(int status)
{
	int bad = ferror(stdout);

	if (fflush(stdout) != 0 || bad) {
		tool_err("standard output", "write error: %s",
			 strerror(errno ? errno : EIO));
		return TOOL_EXIT_ERROR;
	}
	return status;
}

/* JSON output. */

void tool_json_init(struct tool_json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->first = 1;
}

void tool_json_quote(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	for (; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void json_member(struct tool_json *j, const char *key)
{
	if (j->depth > 0) {
		fputs(j->first ? "\n" : ",\n", j->out);
		fprintf(j->out, "%*s", 2 * j->depth, "");
	}
	j->first = 0;
	if (key) {
		tool_json_quote(j->out, key);
		fputs(": ", j->out);
	}
}

void tool_json_begin(struct tool_json *j, const char *key, char open)
{
	json_member(j, key);
	fputc(open, j->out);
	j->depth++;
	j->first = 1;
}

void tool_json_end(struct tool_json *j, char close)
{
	j->depth--;
	if (!j->first)
		fprintf(j->out, "\n%*s", 2 * j->depth, "");
	fputc(close, j->out);
	j->first = 0;
	if (j->depth == 0)
		fputc('\n', j->out);
}

void tool_json_str(struct tool_json *j, const char *key, const char *v)
{
	json_member(j, key);
	tool_json_quote(j->out, v);
}

void tool_json_u64(struct tool_json *j, const char *key, uint64_t v)
{
	json_member(j, key);
	fprintf(j->out, "%" PRIu64, v);
}

void tool_json_i64(struct tool_json *j, const char *key, int64_t v)
{
	json_member(j, key);
	fprintf(j->out, "%" PRId64, v);
}

void tool_json_bool(struct tool_json *j, const char *key, int v)
{
	json_member(j, key);
	fputs(v ? "true" : "false", j->out);
}
