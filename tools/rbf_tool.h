/* SPDX-License-Identifier: MIT */
/*
 * tools/rbf_tool.h - declarations shared by the files of the `rbf` command.
 *
 * rbf.c dispatches to one function per subcommand (cmd_*.c); util.c holds
 * what several of them need: messages in the "rbf: FILE: problem" form,
 * names of the library's enums, time formatting and parsing, a JSON
 * writer and progress lines on a terminal.
 *
 * Exit status of every subcommand: TOOL_EXIT_OK, TOOL_EXIT_ERROR (the
 * input or the system failed), TOOL_EXIT_USAGE (bad command line).
 */
#ifndef RBF_TOOL_H
#define RBF_TOOL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <rbf/rbf.h>
#include <rbf/file.h>
#include <rbf/mmap_file.h>

#define TOOL_EXIT_OK 0
#define TOOL_EXIT_ERROR 1
#define TOOL_EXIT_USAGE 2

#define TOOL_NAME "rbf"

/* Subcommands: argv[0] is the subcommand's name. */
int cmd_info(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_drain(int argc, char **argv);

/* "rbf: WHAT: message\n" on stderr (@what may be NULL: "rbf: message"). */
void tool_err(const char *what, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "rbf: WHAT: warning: message\n" on stderr. */
void tool_warn(const char *what, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * A usage error of subcommand @cmd: the message, then "Try 'rbf CMD
 * --help'."  Returns TOOL_EXIT_USAGE.
 */
int tool_usage_err(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Report a failed rbf_file_open() (or attach) of @path: @err's message and
 * offset when the library filled it, else strerror(-@rc).
 */
void tool_file_err(const char *path, int rc, const struct rbf_file_error *err);

/* -1 with a message if @path is a directory, else 0. */
int tool_not_a_dir(const char *path);

/* Open and validate @path; print the error and return NULL on failure. */
struct rbf_file *tool_file_open(const char *path);

/* Names of the library's enums ("?" for an unknown value). */
const char *tool_mode_name(uint32_t mode);
const char *tool_alloc_name(uint32_t alloc);
const char *tool_clock_name(uint32_t clock);
const char *tool_durability_name(uint32_t durability);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" into @buf (37 bytes). */
void tool_uuid_str(const uint8_t uuid[16], char buf[37]);

#define TOOL_TIME_LEN 48

/*
 * Wall time @ns (nanoseconds since the epoch, may be negative) as UTC ISO
 * 8601 with nanoseconds: "2024-05-01T12:00:00.123456789Z".
 */
void tool_format_wall(int64_t ns, char buf[TOOL_TIME_LEN]);

/*
 * Parse a time given on the command line: a plain number of nanoseconds
 * (*@is_wall = 0), or a wall time "YYYY-MM-DD[THH:MM[:SS[.frac]]][Z|+HH:MM]"
 * (a space may replace the T; UTC when no zone is given), returned as ns
 * since the epoch (*@is_wall = 1).  Return: 0, or -1 if malformed.
 */
int tool_parse_time(const char *s, int64_t *ns, int *is_wall);

/* Parse an unsigned decimal number (all of @s).  Return: 0 or -1. */
int tool_parse_u64(const char *s, uint64_t *v);

/* Monotonic time in seconds. */
double tool_now(void);

/*
 * Progress on stderr, only when stderr is a terminal.  tool_progress()
 * rewrites the current line at most every quarter of a second (force: now);
 * tool_progress_end() clears it.
 */
int tool_progress_enabled(void);
void tool_progress(int force, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tool_progress_end(void);

/*
 * Check stdout after the output is written: a write error (full disk,
 * closed pipe) is reported and gives TOOL_EXIT_ERROR.
 */
int tool_close_stdout(int status);

/*
 * A minimal JSON writer on a FILE: objects, arrays, keys and scalar
 * values, with commas and indentation handled here.
 */
struct tool_json {
	FILE *out;
	int depth;
	int first; /* no member written yet at this depth */
};

void tool_json_init(struct tool_json *j, FILE *out);
void tool_json_begin(struct tool_json *j, const char *key, char open);
void tool_json_end(struct tool_json *j, char close);
void tool_json_str(struct tool_json *j, const char *key, const char *v);
void tool_json_u64(struct tool_json *j, const char *key, uint64_t v);
void tool_json_i64(struct tool_json *j, const char *key, int64_t v);
void tool_json_bool(struct tool_json *j, const char *key, int v);

/* Write @s as a JSON string literal (with quotes). */
void tool_json_quote(FILE *out, const char *s);

#endif /* RBF_TOOL_H */
