/* SPDX-License-Identifier: MIT */
/*
 * tools/cmd_drain.c - `rbf drain FILE -o DIR`: attach to a ring file as
 * its reader (rbf_mmap_file_attach()) and append every completed
 * sub-buffer to the trace directory DIR (rbf_mmap_file_drain()) until the
 * writer closes the channel, its process dies, or SIGINT/SIGTERM arrives;
 * then flush the open sub-buffers, drain once more and print what was
 * moved and the channel's counters.
 *
 * The library appends with copy_file_range()/splice(); this file only
 * polls: when a pass moves nothing it sleeps a little (--interval) and
 * asks whether the writer is still there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rbf/reader.h>

#include "rbf_tool.h"
/* Where the uuid is in the header page (to refuse mixing two traces). */
#include "../backends/mmap-file/layout.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void drain_usage(FILE *out)
{
	fprintf(out,
		"Usage: " TOOL_NAME " drain [OPTION]... FILE -o DIR\n"
		"Attach to the rbf ring FILE (live or not) as its reader and "
		"append every\n"
		"completed sub-buffer to the trace directory DIR (created if "
		"needed):\n"
		"DIR/metadata is a copy of the file header, DIR/stream-ID holds "
		"the\n"
		"sub-buffers of buffer ID.  Runs until the writer closes the "
		"channel or dies,\n"
		"or until interrupted (SIGINT, SIGTERM); then flushes the open "
		"sub-buffers,\n"
		"drains them and prints statistics.  Read the trace with 'rbf "
		"dump DIR'.\n\n"
		"Options:\n"
		"  -o, --output=DIR    the trace directory\n"
		"  -i, --interval=MS   sleep MS milliseconds when nothing is "
		"ready (default 2)\n"
		"  -x, --exclusive     fail if another live reader is "
		"attached (default: take\n"
		"                      over the reader role of a dead one)\n"
		"  -q, --quiet         print no statistics\n"
		"  -h, --help          show this help and exit\n");
}

/* mkdir -p @path (mode 0777 & ~umask).  Return: 0 or -errno. */
static int make_dirs(const char *path)
{
	char *p, *s = strdup(path);
	struct stat sb;
	int rc = 0;

	if (!s)
		return -ENOMEM;
	for (p = s + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(s, 0777) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(s);
	if (rc == 0 && (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)))
		rc = stat(path, &sb) < 0 ? -errno : -ENOTDIR;
	return rc;
}

/* The uuid of a header page in @fd.  Return: 0, or -1 if unreadable. */
static int read_uuid(int fd, uint8_t uuid[16])
{
	struct rbf_file_header h;
	ssize_t n;

	do {
		n = pread(fd, &h, sizeof(h), 0);
	} while (n < 0 && errno == EINTR);
	if (n < (ssize_t)sizeof(h) ||
	    memcmp(h.magic, RBF_FILE_MAGIC, sizeof(h.magic)))
		return -1;
	memcpy(uuid, h.uuid, 16);
	return 0;
}

/*
 * If DIR already holds a trace, it must be one of the same channel (a
 * drain that is resumed).  Return: 0, or -1 with a message.
 */
static int check_existing(const char *path, const char *dir, int dfd)
{
	uint8_t a[16], b[16];
	char sa[37], sb[37];
	int fd, mfd, ok;

	mfd = openat(dfd, "metadata", O_RDONLY | O_CLOEXEC);
	if (mfd < 0)
		return 0; /* a new trace */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tool_err(path, "%s", strerror(errno));
		close(mfd);
		return -1;
	}
	ok = read_uuid(fd, a) == 0;
	close(fd);
	if (!ok) {
		close(mfd);
		return 0; /* attach validated it; let the library decide */
	}
	if (read_uuid(mfd, b) < 0) {
		close(mfd);
		tool_err(dir, "holds a 'metadata' file that is not an rbf "
			      "trace's; choose another directory");
		return -1;
	}
	close(mfd);
	if (memcmp(a, b, 16)) {
		tool_uuid_str(a, sa);
		tool_uuid_str(b, sb);
		tool_err(dir,
			 "holds the trace of another channel (uuid %s, not "
			 "%s); choose another directory",
			 sb, sa);
		return -1;
	}
	return 0;
}

static void print_stats(const char *path, const char *dir,
			const struct rbf_drain_stats *ds,
			const struct rbf_stats *cs, int have_cs, double secs,
			const char *why)
{
	double mb = (double)ds->bytes / 1e6;
	int c;

	printf("drained:     %s -> %s (%s)\n", path, dir, why);
	printf("sub-buffers: %" PRIu64 " (%" PRIu64 " zero-copy)\n",
	       ds->subbufs, ds->zero_copy);
	printf("bytes:       %" PRIu64 " (%.1f MB/s over %.3f s)\n", ds->bytes,
	       secs > 0 ? mb / secs : 0.0, secs);
	printf("events:      %" PRIu64 "\n", ds->events);
	if (!have_cs)
		return;
	printf("channel:     written %" PRIu64 ", committed %" PRIu64
	       ", read %" PRIu64 ", overwritten %" PRIu64 ", buffered %" PRIu64
	       "\n",
	       cs->written, cs->committed, cs->read, cs->overwritten,
	       cs->buffered);
	printf("lost:       ");
	for (c = 0; c < RBF_LOST_NR; c++)
		printf(" %s %" PRIu64 ",",
		       rbf_lost_cause_name((enum rbf_lost_cause)c),
		       cs->lost[c]);
	printf(" total %" PRIu64 "\n", cs->lost_total);
}

static void show_progress(const struct rbf_drain_stats *ds, double t0)
{
	double secs = tool_now() - t0;

	tool_progress(0,
		      "drain: %" PRIu64 " sub-buffers, %.1f MB, %" PRIu64
		      " events, %.1f MB/s",
		      ds->subbufs, (double)ds->bytes / 1e6, ds->events,
		      secs > 0 ? (double)ds->bytes / 1e6 / secs : 0.0);
}

int cmd_drain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "interval", required_argument, NULL, 'i' },
		{ "exclusive", no_argument, NULL, 'x' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path, *dir = NULL, *why = "the writer closed the channel";
	struct rbf_channel *ch = NULL;
	struct rbf_drain_stats ds;
	struct rbf_stats cs;
	struct sigaction sa, old_int, old_term;
	struct timespec nap;
	uint32_t flags = 0;
	uint64_t v, interval_ms = 2;
	int c, rc, ws, dfd = -1, quiet = 0, have_cs = 0;
	int status = TOOL_EXIT_ERROR;
	double t0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:i:xqh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			dir = optarg;
			break;
		case 'i':
			if (tool_parse_u64(optarg, &v) || v > 10000)
				return tool_usage_err("drain",
						      "bad interval '%s' (0 "
						      "to 10000 ms)",
						      optarg);
			interval_ms = v;
			break;
		case 'x':
			flags |= RBF_MMAP_FILE_ATTACH_ONLY_IF_FREE;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			drain_usage(stdout);
			return tool_close_stdout(TOOL_EXIT_OK);
		case ':':
			return tool_usage_err("drain",
					      "option '%s' needs an argument",
					      argv[optind - 1]);
		default:
			return tool_usage_err("drain", "unknown option '%s'",
					      argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return tool_usage_err("drain", "missing FILE");
	if (optind + 1 < argc)
		return tool_usage_err("drain", "too many arguments");
	if (!dir || !*dir)
		return tool_usage_err("drain", "missing -o DIR");
	path = argv[optind];

	if (tool_not_a_dir(path) < 0)
		return TOOL_EXIT_ERROR;
	rc = rbf_mmap_file_attach(path, flags, &ch);
	if (rc < 0) {
		if (rc == -EBUSY)
			tool_err(path, "another process is attached as its "
				       "reader");
		else if (rc == -EINVAL || rc == -EPROTONOSUPPORT) {
			/* rbf_file_open() says exactly what is wrong. */
			struct rbf_file *f = tool_file_open(path);

			if (f) {
				rbf_file_close(f);
				tool_err(path, "cannot attach: %s",
					 strerror(-rc));
			}
		} else {
			tool_file_err(path, rc, NULL);
		}
		return TOOL_EXIT_ERROR;
	}
	rc = make_dirs(dir);
	if (rc < 0) {
		tool_err(dir, "%s", strerror(-rc));
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		tool_err(dir, "%s", strerror(errno));
		goto out;
	}
	if (check_existing(path, dir, dfd) < 0)
		goto out;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND; /* a second signal kills */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);

	memset(&ds, 0, sizeof(ds));
	ds.size = sizeof(ds);
	nap.tv_sec = (time_t)(interval_ms / 1000);
	nap.tv_nsec = (long)(interval_ms % 1000) * 1000000L;
	t0 = tool_now();
	for (;;) {
		rc = rbf_mmap_file_drain(ch, dfd, &ds);
		if (rc < 0) {
			tool_err(dir, "drain failed: %s%s", strerror(-rc),
				 rc == -ENOSPC ? " (the sub-buffers not "
						 "drained stay in the ring)" :
						 "");
			goto restore;
		}
		show_progress(&ds, t0);
		if (stop_signal) {
			why = stop_signal == SIGINT ? "interrupted" :
						      "terminated";
			break;
		}
		if (rc > 0)
			continue;
		ws = rbf_mmap_file_writer_state(ch);
		if (ws == 0)
			break;
		if (ws == -ESRCH) {
			why = "the writer died";
			break;
		}
		if (ws < 0) {
			tool_err(path, "writer state: %s", strerror(-ws));
			goto restore;
		}
		if (interval_ms)
			nanosleep(&nap, NULL);
		else
			sched_yield();
	}

	/* Close the open sub-buffers and take them too. */
	rc = rbf_channel_flush(ch);
	if (rc == -EOPNOTSUPP)
		tool_warn(path, "per-thread buffers of a running writer cannot "
				"be flushed: their open sub-buffers stay in "
				"the file");
	else if (rc == -EAGAIN)
		tool_warn(path, "a writer thread stayed inside a write: its "
				"open sub-buffer stays in the file");
	else if (rc < 0)
		tool_warn(path, "flush: %s", strerror(-rc));
	do {
		rc = rbf_mmap_file_drain(ch, dfd, &ds);
		if (rc < 0) {
			tool_err(dir, "drain failed: %s%s", strerror(-rc),
				 rc == -ENOSPC ? " (the sub-buffers not "
						 "drained stay in the ring)" :
						 "");
			goto restore;
		}
	} while (rc > 0);
	tool_progress_end();
	if (fsync(dfd) < 0 && errno != EINVAL && errno != EROFS)
		tool_warn(dir, "fsync: %s", strerror(errno));

	memset(&cs, 0, sizeof(cs));
	cs.size = sizeof(cs);
	rc = rbf_channel_stats(ch, &cs);
	have_cs = rc == 0;
	if (rc < 0)
		tool_warn(path, "channel statistics: %s", strerror(-rc));
	if (!quiet)
		print_stats(path, dir, &ds, &cs, have_cs, tool_now() - t0, why);
	if (have_cs && cs.buffered)
		tool_warn(path,
			  "%" PRIu64 " events stay in the file, in "
			  "sub-buffers that could not be closed%s",
			  cs.buffered,
			  strcmp(why, "the writer died") == 0 ?
				  " ('rbf recover' keeps them)" :
				  "");
	status = tool_close_stdout(TOOL_EXIT_OK);
restore:
	tool_progress_end();
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
out:
	if (dfd >= 0)
		close(dfd);
	rbf_channel_destroy(ch);
	return status;
}
