/* SPDX-License-Identifier: MIT */
/*
 * tests/tool/mkring.c - write a ring file with known events, for the
 * tests of the `rbf` command (tests/tool/run.sh).
 *
 *	mkring [OPTION]... PATH
 *
 * Each writer thread T (0-based) writes events i = 0 .. N-1 with event id
 * 1 + i % 7 and the payload "tT-eI" (no NUL), e.g. "t0-e42".  With clock
 * none the stamps are 1000 + 10 * i.  Then, unless told otherwise, the
 * channel is flushed and destroyed (a clean file).
 *
 * Options:
 *	-n N        events per thread (default 100)
 *	-t T        writer threads (default 1)
 *	-a ALLOC    global (default), cpu, thread
 *	-m MODE     discard (default), overwrite
 *	-c CLOCK    monotonic (default), tsc, none
 *	-s BYTES    sub-buffer size (default 4096)
 *	-k COUNT    sub-buffers per buffer (default 4)
 *	-p EVERY    sleep 1 ms after every EVERY events (default: never)
 *	-u          end unclean: reserve one more event, never commit it,
 *	            and _exit() without destroying the channel
 *	-H          after writing, hold the channel open until SIGTERM or
 *	            SIGINT (then destroy it)
 *
 * Exit status: 0, 1 on any error (printed), 2 usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rbf/rbf.h>
#include <rbf/mmap_file.h>

struct writer {
	pthread_t thread;
	struct rbf_channel *ch;
	unsigned int index;
	unsigned long n;
	unsigned long pause_every;
	int clock_none;
	int failed;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: mkring [-n N] [-t T] [-a global|cpu|thread] "
			"[-m discard|overwrite] [-c monotonic|tsc|none] "
			"[-s BYTES] [-k COUNT] [-p EVERY] [-u] [-H] PATH\n");
	exit(2);
}

static void *write_events(void *arg)
{
	struct writer *w = arg;
	struct timespec ms = { 0, 1000000 };
	char buf[64];
	unsigned long i;
	int len, rc;

	for (i = 0; i < w->n; i++) {
		len = snprintf(buf, sizeof(buf), "t%u-e%lu", w->index, i);
		if (w->clock_none)
			rc = rbf_write_ts(w->ch, (uint16_t)(1 + i % 7), buf,
					  (size_t)len, 1000 + 10 * i);
		else
			rc = rbf_write(w->ch, (uint16_t)(1 + i % 7), buf,
				       (size_t)len);
		/* Losses are the library's to count; only bugs fail. */
		if (rc < 0 && rc != -ENOBUFS && rc != -EBUSY) {
			fprintf(stderr, "mkring: write: %s\n", strerror(-rc));
			w->failed = 1;
			return NULL;
		}
		if (w->pause_every && (i + 1) % w->pause_every == 0)
			nanosleep(&ms, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct rbf_mmap_file_config cfg;
	struct rbf_channel_attr attr;
	struct rbf_channel *ch;
	struct writer *w;
	unsigned long n = 100, threads = 1, pause_every = 0, i;
	int unclean = 0, hold = 0, c, rc, failed = 0;

	rbf_channel_attr_init(&attr);
	attr.alloc = RBF_ALLOC_GLOBAL;
	attr.subbuf_size = 4096;
	attr.num_subbuf = 4;
	while ((c = getopt(argc, argv, "n:t:a:m:c:s:k:p:uH")) != -1) {
		switch (c) {
		case 'n':
			n = strtoul(optarg, NULL, 0);
			break;
		case 't':
			threads = strtoul(optarg, NULL, 0);
			break;
		case 'a':
			if (!strcmp(optarg, "global"))
				attr.alloc = RBF_ALLOC_GLOBAL;
			else if (!strcmp(optarg, "cpu"))
				attr.alloc = RBF_ALLOC_PER_CPU;
			else if (!strcmp(optarg, "thread"))
				attr.alloc = RBF_ALLOC_PER_THREAD;
			else
				usage();
			break;
		case 'm':
			if (!strcmp(optarg, "discard"))
				attr.mode = RBF_MODE_DISCARD;
			else if (!strcmp(optarg, "overwrite"))
				attr.mode = RBF_MODE_OVERWRITE;
			else
				usage();
			break;
		case 'c':
			if (!strcmp(optarg, "monotonic"))
				attr.clock = RBF_CLOCK_MONOTONIC;
			else if (!strcmp(optarg, "tsc"))
				attr.clock = RBF_CLOCK_TSC;
			else if (!strcmp(optarg, "none"))
				attr.clock = RBF_CLOCK_NONE;
			else
				usage();
			break;
		case 's':
			attr.subbuf_size = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'k':
			attr.num_subbuf = (uint32_t)strtoul(optarg, NULL, 0);
			break;
		case 'p':
			pause_every = strtoul(optarg, NULL, 0);
			break;
		case 'u':
			unclean = 1;
			break;
		case 'H':
			hold = 1;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || threads == 0 || threads > 256)
		usage();

	rbf_mmap_file_config_init(&cfg);
	cfg.path = argv[optind];
	cfg.flags = RBF_MMAP_FILE_TRUNCATE;
	attr.backend = &rbf_backend_mmap_file;
	attr.backend_config = &cfg;
	rc = rbf_channel_create(&attr, &ch);
	if (rc < 0) {
		fprintf(stderr, "mkring: %s: %s\n", cfg.path, strerror(-rc));
		return 1;
	}

	w = calloc(threads, sizeof(*w));
	if (!w) {
		fprintf(stderr, "mkring: out of memory\n");
		return 1;
	}
	for (i = 0; i < threads; i++) {
		w[i].ch = ch;
		w[i].index = (unsigned int)i;
		w[i].n = n;
		w[i].pause_every = pause_every;
		w[i].clock_none = attr.clock == RBF_CLOCK_NONE;
		if (pthread_create(&w[i].thread, NULL, write_events, &w[i])) {
			fprintf(stderr, "mkring: pthread_create failed\n");
			return 1;
		}
	}
	for (i = 0; i < threads; i++) {
		pthread_join(w[i].thread, NULL);
		failed |= w[i].failed;
	}
	free(w);

	if (unclean) {
		struct rbf_wctx ctx;

		/* Committed events stay; this one never commits. */
		if (attr.clock == RBF_CLOCK_NONE)
			rc = rbf_reserve_ts(ch, &ctx, 9, 16, 1000 + 10 * n);
		else
			rc = rbf_reserve(ch, &ctx, 9, 16);
		if (rc == 0 && ctx.data)
			memcpy(ctx.data, "uncommitted!!!!!", 16);
		fflush(NULL);
		_exit(failed ? 1 : 0);
	}
	if (hold) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		while (!stop) {
			struct timespec t = { 0, 10000000 };

			nanosleep(&t, NULL);
		}
	}
	rbf_channel_flush(ch);
	rbf_channel_destroy(ch);
	return failed ? 1 : 0;
}
