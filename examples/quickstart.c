/* SPDX-License-Identifier: MIT */
/*
 * examples/quickstart.c - the smallest complete rbf program.
 *
 * Four writer threads record events into one channel while a reader thread
 * drains it.  At the end the program prints what was written, read and lost,
 * the first few events, and checks that every event is accounted for:
 *
 *	written == read + overwritten + lost + still buffered
 *
 * Build: make (it is built as examples/quickstart).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rbf/rbf.h>

#define NR_WRITERS 4
#define EVENTS_PER_WRITER 200000
#define EV_HELLO 1 /* our only event id (0 .. RBF_EVENT_ID_MAX) */
#define NR_SHOW 5

/* The payload of an EV_HELLO event: rbf stores it as opaque bytes. */
struct hello {
	uint32_t thread;
	uint64_t seq;
	char msg[16];
};

static struct rbf_channel *ch;
static atomic_bool writers_done;

/* What each writer counts on its side: successes and failures. */
static struct {
	uint64_t ok;
	uint64_t failed;
} wcount[NR_WRITERS];

/* What the reader counts. */
static uint64_t nr_read;
static struct hello first[NR_SHOW];
static uint64_t first_ts[NR_SHOW];

static void *writer(void *arg)
{
	uint32_t self = (uint32_t)(uintptr_t)arg;
	struct hello ev = { .thread = self };
	uint64_t seq;

	snprintf(ev.msg, sizeof(ev.msg), "hello from %u", self);
	for (seq = 0; seq < EVENTS_PER_WRITER; seq++) {
		ev.seq = seq;
		/*
		 * One call: reserve space, copy, commit.  Lock-free; when the
		 * buffer is full (discard mode) it fails with -ENOBUFS and
		 * the loss is counted by the library.
		 */
		if (rbf_write(ch, EV_HELLO, &ev, sizeof(ev)) == 0)
			wcount[self].ok++;
		else
			wcount[self].failed++;
		/*
		 * Pause now and then so that the reader keeps up.  Without
		 * the pause, writers outrun the reader and discard mode
		 * drops events: they show up as lost "full" below.
		 */
		if (seq % 1000 == 999)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 },
				  NULL);
	}
	return NULL;
}

/* Take one event if there is one; returns 1, 0 (none now) or -errno. */
static int read_one(void)
{
	struct rbf_event ev;
	int ret;

	/* The oldest available event of any buffer (merged by timestamp). */
	ret = rbf_channel_consume(ch, &ev);
	if (ret <= 0)
		return ret;
	if (nr_read < NR_SHOW && ev.id == EV_HELLO &&
	    ev.len == sizeof(struct hello)) {
		/* ev.data is valid until the next read call: copy it out. */
		memcpy(&first[nr_read], ev.data, sizeof(struct hello));
		first_ts[nr_read] = rbf_channel_ts_to_ns(ch, ev.ts);
	}
	nr_read++;
	return 1;
}

static void *reader(void *arg)
{
	int ret;

	(void)arg;
	while (!atomic_load(&writers_done)) {
		ret = read_one();
		if (ret < 0)
			return (void *)(intptr_t)ret;
		if (ret == 0) {
			/*
			 * Nothing complete to read: let the writers fill
			 * sub-buffers for 1 ms, then close the partly filled
			 * ones so that a slow writer's events show up too.
			 */
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 },
				  NULL);
			rbf_channel_flush(ch);
		}
	}
	return NULL;
}

int main(void)
{
	struct rbf_channel_attr attr;
	struct rbf_stats st = { .size = sizeof(st) };
	pthread_t wt[NR_WRITERS], rt;
	uint64_t written = 0;
	void *rret;
	bool exact;
	int i, ret;

	/* Defaults: page backend, per-CPU buffers, discard mode, monotonic
	 * clock.  We only ask for 8 sub-buffers of 64 KiB per buffer. */
	rbf_channel_attr_init(&attr);
	attr.num_subbuf = 8;
	attr.subbuf_size = 64 * 1024;
	ret = rbf_channel_create(&attr, &ch);
	if (ret < 0) {
		fprintf(stderr, "rbf_channel_create: %s\n", strerror(-ret));
		return 1;
	}

	pthread_create(&rt, NULL, reader, NULL);
	for (i = 0; i < NR_WRITERS; i++)
		pthread_create(&wt[i], NULL, writer, (void *)(uintptr_t)i);
	for (i = 0; i < NR_WRITERS; i++)
		pthread_join(wt[i], NULL);

	/*
	 * Shut down in order: stop recording (waits until no write is in
	 * progress), stop the reader thread, close the last partly filled
	 * sub-buffers, then drain what is left.
	 */
	rbf_channel_disable(ch);
	atomic_store(&writers_done, true);
	pthread_join(rt, &rret);
	if (rret) {
		fprintf(stderr, "reader: %s\n", strerror(-(int)(intptr_t)rret));
		return 1;
	}
	rbf_channel_flush(ch);
	while ((ret = read_one()) > 0)
		;
	if (ret < 0) {
		fprintf(stderr, "rbf_channel_consume: %s\n", strerror(-ret));
		return 1;
	}

	/* What happened, from the writers' side and the library's side. */
	for (i = 0; i < NR_WRITERS; i++) {
		printf("writer %d: %" PRIu64 " written, %" PRIu64
		       " recorded, %" PRIu64 " lost\n",
		       i, wcount[i].ok + wcount[i].failed, wcount[i].ok,
		       wcount[i].failed);
		written += wcount[i].ok + wcount[i].failed;
	}
	ret = rbf_channel_stats(ch, &st);
	if (ret < 0) {
		fprintf(stderr, "rbf_channel_stats: %s\n", strerror(-ret));
		return 1;
	}
	printf("total: %" PRIu64 " written, %" PRIu64 " read, %" PRIu64
	       " overwritten, %" PRIu64 " lost, %" PRIu64 " buffered\n",
	       st.written, st.read, st.overwritten, st.lost_total, st.buffered);
	printf("lost by cause:");
	for (i = 0; i < RBF_LOST_NR; i++)
		printf(" %s %" PRIu64 "%s",
		       rbf_lost_cause_name((enum rbf_lost_cause)i), st.lost[i],
		       i + 1 < RBF_LOST_NR ? "," : "\n");

	printf("first events:\n");
	for (i = 0; i < NR_SHOW && (uint64_t)i < nr_read; i++)
		printf("  +%8" PRIu64 " ns  thread %u  seq %6" PRIu64 "  %s\n",
		       first_ts[i] - first_ts[0], first[i].thread, first[i].seq,
		       first[i].msg);

	/* Every write attempt is either read, overwritten, lost or still in
	 * the buffer: no event disappears uncounted. */
	exact = st.written == written && st.read == nr_read &&
		st.written ==
			st.read + st.overwritten + st.lost_total + st.buffered;
	if (exact)
		printf("accounting: exact\n");
	else
		printf("accounting: MISMATCH (writers attempted %" PRIu64
		       ", reader read %" PRIu64 ")\n",
		       written, nr_read);
	rbf_channel_destroy(ch);
	return exact ? 0 : 1;
}
