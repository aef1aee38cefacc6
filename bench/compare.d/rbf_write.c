/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/rbf_write.c - rbf write cost, and the loss run (program
 * cmp-rbf).
 *
 *   --alloc=per-thread|per-cpu|global   --clock=monotonic|tsc|none
 *   --mode=discard|overwrite            --payload=8|64
 *   --subbuf=BYTES (1048576)            --nsubbuf=N (4)
 *   --api=write        rbf_write()
 *        |reserve      rbf_reserve(), memcpy() to ctx.data, rbf_commit()
 *        |nocopy       rbf_reserve(), rbf_commit(): no payload store
 *   --reader=none      no consumer (overwrite mode: a flight recorder)
 *           |file      a reader thread drains sub-buffers to --file=PATH
 *                      (drain.h), seeking back to 0 past --file-cap=BYTES
 *                      (0: never); --reader-cpu=N pins it; --idle-us=N
 *   --check-file       after the run, count the records in the file and
 *                      compare with what the reader took
 *   --mmap-file=PATH   the channel lives in the ring file PATH (mmap-file
 *                      backend, created or replaced; room for --threads
 *                      per-thread buffers), for a reader in another process
 *   --wait-reader=S    with --mmap-file: once the channel exists, print
 *                      "ready PATH" on stdout and wait (at most S seconds,
 *                      else exit 3) until a process is attached as the
 *                      file's reader (its reader_pid, doc/file-format.md),
 *                      then write; that reader (`rbf drain`) takes every
 *                      sub-buffer, so only written and lost are final here
 *
 * plus the common options of harness.h.  After the run, the channel's
 * statistics must satisfy written == read + overwritten + lost + buffered
 * and written must equal the number of calls made (warm-up included); the
 * result line says whether they do, and the exit status is 4 when not.
 * Exit status 77: the clock is not supported here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rbf/mmap_file.h>
#include <rbf/rbf.h>

#include "drain.h"
#include "harness.h"

enum api { API_WRITE, API_RESERVE, API_NOCOPY };

static const char *const alloc_names[] = { "per-cpu", "per-thread", "global" };
static const char *const clock_names[] = { "monotonic", "tsc", "none" };
static const char *const mode_names[] = { "discard", "overwrite" };
static const char *const api_names[] = { "write", "reserve", "nocopy" };
static const char *const reader_names[] = { "none", "file" };

static struct rbf_channel *ch;
static size_t opt_payload = 8;
static enum api opt_api = API_WRITE;
static const unsigned char blob[64] = { 1, 2, 3, 4, 5, 6, 7, 8 };

/* Per-thread state (h_thread.priv). */
struct wstate {
	uint64_t v; /* the 64-bit payload: a counter */
	uint64_t calls; /* every call, warm-up included */
};

static int rbf_init(struct h_thread *t)
{
	struct wstate *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	t->priv = s;
	return rbf_thread_prepare(ch);
}

static uint64_t rbf_batch(struct h_thread *t, unsigned int n)
{
	struct wstate *s = t->priv;
	const void *src = opt_payload == 8 ? (const void *)&s->v : blob;
	size_t len = opt_payload;
	struct rbf_wctx ctx;
	uint64_t fails = 0;
	unsigned int i;

	switch (opt_api) {
	case API_WRITE:
		for (i = 0; i < n; i++) {
			fails += rbf_write(ch, 1, src, len) < 0;
			s->v++;
		}
		break;
	case API_RESERVE:
		for (i = 0; i < n; i++) {
			if (rbf_reserve(ch, &ctx, 1, len) < 0) {
				fails++;
				continue;
			}
			memcpy(ctx.data, src, len);
			rbf_commit(&ctx);
			s->v++;
		}
		break;
	case API_NOCOPY:
		for (i = 0; i < n; i++) {
			if (rbf_reserve(ch, &ctx, 1, len) < 0) {
				fails++;
				continue;
			}
			rbf_commit(&ctx);
		}
		break;
	}
	s->calls += n;
	return fails;
}

/* reader_pid in the ring file's header page (doc/file-format.md, 2.). */
#define HDR_READER_PID_OFF 148

/*
 * Tell whoever started us that the ring file exists, and wait until a
 * process has attached to it as its reader.  Return: 0, or -1 on timeout.
 */
static int wait_reader(const char *path, double max_s)
{
	uint64_t t0 = h_now_ns();
	int32_t pid = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		perror(path);
		return -1;
	}
	printf("ready %s\n", path);
	fflush(stdout);
	for (;;) {
		if (pread(fd, &pid, sizeof(pid), HDR_READER_PID_OFF) ==
			    (ssize_t)sizeof(pid) &&
		    __atomic_load_n(&pid, __ATOMIC_RELAXED) != 0)
			break;
		if ((double)(h_now_ns() - t0) / 1e9 > max_s) {
			close(fd);
			return -1;
		}
		usleep(1000);
	}
	close(fd);
	return 0;
}

static int pick(const char *v, const char *const *names, int n, const char *arg)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return i;
	h_bad_arg("cmp-rbf", arg);
	return -1;
}

int main(int argc, char **argv)
{
	struct rbf_channel_attr attr;
	struct drain d;
	struct rbf_stats st;
	struct h_thread *th;
	struct h_opts o;
	struct rbf_mmap_file_config mcfg;
	const char *v, *opt_file = NULL, *opt_mmap = NULL;
	double opt_wait = -1;
	bool opt_reader = false, opt_check = false, identity, calls_ok;
	uint64_t calls = 0;
	int64_t file_events = -1;
	int i, ret, status = 0;

	h_opts_init(&o);
	rbf_channel_attr_init(&attr);
	attr.subbuf_size = 1u << 20;
	attr.num_subbuf = 4;
	memset(&d, 0, sizeof(d));
	d.fd = -1;
	d.cpu = -1;
	d.idle_us = 100;
	for (i = 1; i < argc; i++) {
		if (h_common_arg(&o, argv[i]))
			continue;
		if ((v = h_arg(argv[i], "alloc")))
			attr.alloc = (enum rbf_alloc)pick(v, alloc_names, 3,
							  argv[i]);
		else if ((v = h_arg(argv[i], "clock")))
			attr.clock = (enum rbf_clock)pick(v, clock_names, 3,
							  argv[i]);
		else if ((v = h_arg(argv[i], "mode")))
			attr.mode =
				(enum rbf_mode)pick(v, mode_names, 2, argv[i]);
		else if ((v = h_arg(argv[i], "api")))
			opt_api = (enum api)pick(v, api_names, 3, argv[i]);
		else if ((v = h_arg(argv[i], "payload")))
			opt_payload = strtoul(v, NULL, 10);
		else if ((v = h_arg(argv[i], "subbuf")))
			attr.subbuf_size = (uint32_t)strtoul(v, NULL, 10);
		else if ((v = h_arg(argv[i], "nsubbuf")))
			attr.num_subbuf = (uint32_t)strtoul(v, NULL, 10);
		else if ((v = h_arg(argv[i], "reader")))
			opt_reader = pick(v, reader_names, 2, argv[i]) == 1;
		else if ((v = h_arg(argv[i], "file")))
			opt_file = v;
		else if ((v = h_arg(argv[i], "file-cap")))
			d.file_cap = strtoull(v, NULL, 10);
		else if ((v = h_arg(argv[i], "reader-cpu")))
			d.cpu = atoi(v);
		else if ((v = h_arg(argv[i], "idle-us")))
			d.idle_us = (unsigned int)strtoul(v, NULL, 10);
		else if ((v = h_arg(argv[i], "mmap-file")))
			opt_mmap = v;
		else if ((v = h_arg(argv[i], "wait-reader")))
			opt_wait = strtod(v, NULL);
		else if (!strcmp(argv[i], "--check-file"))
			opt_check = true;
		else
			h_bad_arg("cmp-rbf", argv[i]);
	}
	if (opt_payload != 8 && opt_payload != 64) {
		fprintf(stderr, "cmp-rbf: --payload must be 8 or 64\n");
		return 2;
	}
	if (opt_reader && !opt_file) {
		fprintf(stderr, "cmp-rbf: --reader=file needs --file=PATH\n");
		return 2;
	}
	if (opt_wait >= 0 && (!opt_mmap || opt_reader)) {
		fprintf(stderr, "cmp-rbf: --wait-reader needs --mmap-file and "
				"no --reader\n");
		return 2;
	}
	h_resolve_cpus(&o, "cmp-rbf");
	if (opt_mmap) {
		rbf_mmap_file_config_init(&mcfg);
		mcfg.path = opt_mmap;
		mcfg.flags = RBF_MMAP_FILE_TRUNCATE;
		mcfg.max_buffers = (uint32_t)o.threads;
		attr.backend = &rbf_backend_mmap_file;
		attr.backend_config = &mcfg;
	}

	ret = rbf_channel_create(&attr, &ch);
	if (ret == -ENOTSUP) {
		fprintf(stderr, "cmp-rbf: clock %s not supported here\n",
			clock_names[attr.clock]);
		return 77;
	}
	if (ret < 0) {
		fprintf(stderr, "cmp-rbf: rbf_channel_create: %s\n",
			strerror(-ret));
		return 1;
	}
	if (opt_reader) {
		d.ch = ch;
		d.fd = open(opt_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (d.fd < 0) {
			perror(opt_file);
			return 1;
		}
		ret = drain_start(&d);
		if (ret < 0) {
			fprintf(stderr, "cmp-rbf: reader: %s\n",
				strerror(-ret));
			return 1;
		}
	}

	if (opt_wait >= 0 && wait_reader(opt_mmap, opt_wait) < 0) {
		fprintf(stderr, "cmp-rbf: no reader attached to %s within "
				"%g s\n", opt_mmap, opt_wait);
		rbf_channel_destroy(ch);
		return 3;
	}

	th = calloc((size_t)o.threads, sizeof(*th));
	if (!th) {
		fprintf(stderr, "cmp-rbf: out of memory\n");
		return 1;
	}
	if (h_run(&o, th, rbf_init, rbf_batch, NULL) < 0) {
		fprintf(stderr, "cmp-rbf: rbf_thread_prepare failed\n");
		return 1;
	}
	/* Counted runs (the loss run) drain everything that was committed. */
	if (opt_reader) {
		ret = drain_stop(&d, o.events > 0);
		if (ret < 0)
			fprintf(stderr, "cmp-rbf: reader: %s\n",
				strerror(-ret));
		if (fsync(d.fd) < 0 || close(d.fd) < 0)
			perror(opt_file);
		if (ret < 0)
			status = 1;
	}
	if (opt_check && opt_reader)
		file_events = drain_count_file(opt_file);

	for (i = 0; i < o.threads; i++)
		calls += ((struct wstate *)th[i].priv)->calls;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	ret = rbf_channel_stats(ch, &st);
	identity = ret == 0 && st.written == st.read + st.overwritten +
						     st.lost_total +
						     st.buffered;
	calls_ok = ret == 0 && st.written == calls;

	h_json_begin();
	h_json_str("alloc", alloc_names[attr.alloc]);
	h_json_str("clock", clock_names[attr.clock]);
	h_json_str("mode", mode_names[attr.mode]);
	h_json_str("api", api_names[opt_api]);
	h_json_u64("payload", opt_payload);
	h_json_common(&o, th);
	h_json_u64("calls", calls);
	h_json_u64("written", st.written);
	h_json_u64("committed", st.committed);
	h_json_u64("read", st.read);
	h_json_u64("overwritten", st.overwritten);
	h_json_u64("lost", st.lost_total);
	for (i = 0; i < RBF_LOST_NR; i++) {
		char key[40];

		if (!st.lost[i])
			continue;
		snprintf(key, sizeof(key), "lost_%s",
			 rbf_lost_cause_name((enum rbf_lost_cause)i));
		h_json_u64(key, st.lost[i]);
	}
	h_json_u64("buffered", st.buffered);
	h_json_bool("identity_ok", identity);
	h_json_bool("calls_ok", calls_ok);
	h_json_bool("external_reader", opt_wait >= 0);
	if (opt_reader) {
		h_json_u64("reader_subbufs", d.subbufs);
		h_json_u64("reader_records", d.records);
		h_json_u64("reader_bytes", d.bytes);
		h_json_num("reader_io_s", (double)d.io_ns / 1e9);
		h_json_num("reader_cpu_s", (double)d.cpu_ns / 1e9);
		h_json_bool("reader_matches_read", d.records == st.read);
		if (opt_check) {
			h_json_num("file_events", (double)file_events);
			h_json_bool("file_ok",
				    file_events >= 0 &&
					    (uint64_t)file_events == d.records);
		}
	}
	h_json_end();
	rbf_channel_destroy(ch);
	/* With a reader in another process read and buffered still move:
	 * that reader checks the identity once the channel is closed. */
	if ((!identity && opt_wait < 0) || !calls_ok || (opt_reader && d.records != st.read) ||
	    (opt_check && opt_reader &&
	     (file_events < 0 || (uint64_t)file_events != d.records)))
		status = 4;
	return status;
}
