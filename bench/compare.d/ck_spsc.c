/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/ck_spsc.c - producer cost of Concurrency Kit's ck_ring in
 * its single-producer single-consumer form, across two CPUs (program
 * cmp-ck).
 *
 *   --record=16|72      entry size: an 8-byte stamp and an 8-byte value, or
 *                       an 8-byte stamp and a 64-byte blob; entries are
 *                       stored in the ring itself (CK_RING_PROTOTYPE)
 *   --clock=none|monotonic
 *                       whether the producer stamps each entry with
 *                       clock_gettime(CLOCK_MONOTONIC)
 *   --ring=BYTES        ring size (default 4 MiB, rounded down to a power
 *                       of two entries)
 *
 * plus the common options of harness.h (one producer thread).  The
 * producer runs on the first CPU, a consumer thread spins dequeuing on the
 * second, so every entry crosses between the two CPUs.  The producer calls
 * a non-inlined function per entry, like the floor.  A full ring makes the
 * enqueue fail; those are counted as failures.  Exit status 77 with fewer
 * than 2 CPUs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ck_ring.h>

#include "harness.h"

struct rec16 {
	uint64_t ts;
	uint64_t v;
};

struct rec72 {
	uint64_t ts;
	uint8_t blob[64];
};

CK_RING_PROTOTYPE(rec16, rec16)
CK_RING_PROTOTYPE(rec72, rec72)

static struct ck_ring ring;
static void *ring_buf;
static int opt_record = 16;
static bool opt_clock;
static size_t opt_ring = 4u << 20;
static atomic_bool stop;
static uint64_t consumed;
static const uint8_t blob[64] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static inline uint64_t stamp(void)
{
	struct timespec ts;

	if (!opt_clock)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static H_NOINLINE bool put16(uint64_t v)
{
	struct rec16 r = { stamp(), v };

	return ck_ring_enqueue_spsc_rec16(&ring, ring_buf, &r);
}

static H_NOINLINE bool put72(const uint8_t *p)
{
	struct rec72 r;

	r.ts = stamp();
	memcpy(r.blob, p, sizeof(r.blob));
	return ck_ring_enqueue_spsc_rec72(&ring, ring_buf, &r);
}

static uint64_t ck_batch(struct h_thread *t, unsigned int n)
{
	uint64_t v = (uint64_t)(uintptr_t)t->priv, fails = 0;
	unsigned int i;

	if (opt_record == 16) {
		for (i = 0; i < n; i++)
			fails += !put16(v++);
	} else {
		for (i = 0; i < n; i++)
			fails += !put72(blob);
	}
	t->priv = (void *)(uintptr_t)v;
	return fails;
}

static void *consumer(void *arg)
{
	struct rec16 r16;
	struct rec72 r72;
	uint64_t n = 0;
	bool got;

	h_pin(*(int *)arg);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (opt_record == 16)
			got = ck_ring_dequeue_spsc_rec16(&ring, ring_buf, &r16);
		else
			got = ck_ring_dequeue_spsc_rec72(&ring, ring_buf, &r72);
		n += got;
	}
	consumed = n;
	return NULL;
}

int main(int argc, char **argv)
{
	struct h_thread th[1];
	struct h_opts o;
	pthread_t ctid;
	const char *v;
	size_t entries;
	int i, ccpu;

	h_opts_init(&o);
	for (i = 1; i < argc; i++) {
		if (h_common_arg(&o, argv[i]))
			continue;
		if ((v = h_arg(argv[i], "record"))) {
			opt_record = atoi(v);
			if (opt_record != 16 && opt_record != 72)
				h_bad_arg("cmp-ck", argv[i]);
		} else if ((v = h_arg(argv[i], "clock"))) {
			if (strcmp(v, "none") && strcmp(v, "monotonic"))
				h_bad_arg("cmp-ck", argv[i]);
			opt_clock = !strcmp(v, "monotonic");
		} else if ((v = h_arg(argv[i], "ring"))) {
			opt_ring = strtoul(v, NULL, 10);
		} else {
			h_bad_arg("cmp-ck", argv[i]);
		}
	}
	o.threads = 1;
	h_resolve_cpus(&o, "cmp-ck");
	if (o.ncpus < 2) {
		fprintf(stderr, "cmp-ck: needs 2 CPUs\n");
		return 77;
	}
	ccpu = o.cpus[1];

	/* A power of two entries that fits in opt_ring bytes. */
	for (entries = 2; entries * 2 * (size_t)opt_record <= opt_ring;)
		entries *= 2;
	ring_buf = aligned_alloc(64, entries * (size_t)opt_record);
	if (!ring_buf) {
		fprintf(stderr, "cmp-ck: out of memory\n");
		return 1;
	}
	memset(ring_buf, 0, entries * (size_t)opt_record);
	ck_ring_init(&ring, (unsigned int)entries);
	atomic_init(&stop, false);
	if (pthread_create(&ctid, NULL, consumer, &ccpu)) {
		fprintf(stderr, "cmp-ck: pthread_create failed\n");
		return 1;
	}
	h_run(&o, th, NULL, ck_batch, NULL);
	atomic_store(&stop, true);
	pthread_join(ctid, NULL);

	h_json_begin();
	h_json_u64("record", (uint64_t)opt_record);
	h_json_str("clock", opt_clock ? "monotonic" : "none");
	h_json_u64("ring_entries", entries);
	h_json_common(&o, th);
	h_json_u64("consumed", consumed);
	h_json_end();
	return 0;
}
