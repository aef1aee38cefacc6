/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/floor.c - the hardware floor and the clock reads alone
 * (program cmp-floor).
 *
 *   --what=floor --record=BYTES   store a record of BYTES bytes (an 8-byte
 *                                 header word, then BYTES - 8 bytes copied
 *                                 from the caller's payload) at the next
 *                                 position of a thread-local array, through
 *                                 a function the compiler may not inline;
 *                                 --array=BYTES sizes the array (default
 *                                 4 MiB, the size of a 4 x 1 MiB buffer)
 *   --what=clock_gettime          clock_gettime(CLOCK_MONOTONIC) alone
 *   --what=rdtsc | rdtscp         the time-stamp counter alone (x86)
 *
 * plus the common options of harness.h.  This is what any tracer must at
 * least do per event: every tracer figure reads as floor + clock + its own
 * overhead.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

#include "harness.h"

enum what { W_FLOOR, W_CLOCK, W_RDTSC, W_RDTSCP };

static enum what opt_what = W_FLOOR;
static size_t opt_record = 16;
static size_t opt_array = 4u << 20;
static volatile size_t len_v; /* hides the payload length from the compiler */
static volatile uint64_t sink;

struct floor_state {
	unsigned char *array;
	size_t pos;
	uint64_t acc;
};

static _Thread_local struct floor_state fs;

static H_NOINLINE void floor_store(const void *src, size_t len)
{
	size_t rec = (8 + len + 7) & ~(size_t)7;
	uint64_t hdr = ((uint64_t)len << 48) | (1ull << 32) | (uint32_t)fs.pos;
	unsigned char *p;

	if (fs.pos + rec > opt_array)
		fs.pos = 0;
	p = fs.array + fs.pos;
	memcpy(p, &hdr, sizeof(hdr));
	memcpy(p + 8, src, len);
	fs.pos += rec;
}

static int floor_init(struct h_thread *t)
{
	if (opt_what != W_FLOOR)
		return 0;
	fs.array = aligned_alloc(4096, opt_array);
	if (!fs.array)
		return 1;
	memset(fs.array, 0, opt_array); /* fault it in */
	return 0;
}

static uint64_t floor_batch(struct h_thread *t, unsigned int n)
{
	static const unsigned char payload[256] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct timespec ts;
	size_t len = len_v;
	unsigned int i;
	uint64_t acc = 0;

	switch (opt_what) {
	case W_FLOOR:
		for (i = 0; i < n; i++)
			floor_store(payload, len);
		break;
	case W_CLOCK:
		for (i = 0; i < n; i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			acc += (uint64_t)ts.tv_nsec;
		}
		break;
	case W_RDTSC:
#ifdef HAVE_TSC
		for (i = 0; i < n; i++)
			acc += __rdtsc();
#endif
		break;
	case W_RDTSCP:
#ifdef HAVE_TSC
		for (i = 0; i < n; i++) {
			unsigned int aux;

			acc += __rdtscp(&aux);
		}
#endif
		break;
	}
	sink = acc;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "floor", "clock_gettime", "rdtsc",
					     "rdtscp" };
	struct h_thread *th;
	struct h_opts o;
	const char *v;
	int i;

	h_opts_init(&o);
	for (i = 1; i < argc; i++) {
		if (h_common_arg(&o, argv[i]))
			continue;
		if ((v = h_arg(argv[i], "what"))) {
			for (opt_what = W_FLOOR; opt_what <= W_RDTSCP;
			     opt_what++)
				if (!strcmp(v, names[opt_what]))
					break;
			if (opt_what > W_RDTSCP)
				h_bad_arg("cmp-floor", argv[i]);
		} else if ((v = h_arg(argv[i], "record"))) {
			opt_record = strtoul(v, NULL, 10);
			if (opt_record < 8 || opt_record > 8 + 256)
				h_bad_arg("cmp-floor", argv[i]);
		} else if ((v = h_arg(argv[i], "array"))) {
			opt_array = strtoul(v, NULL, 10);
			if (opt_array < 4096 || opt_array % 4096)
				h_bad_arg("cmp-floor", argv[i]);
		} else {
			h_bad_arg("cmp-floor", argv[i]);
		}
	}
#ifndef HAVE_TSC
	if (opt_what == W_RDTSC || opt_what == W_RDTSCP) {
		fprintf(stderr, "cmp-floor: no time-stamp counter here\n");
		return 77;
	}
#endif
	h_resolve_cpus(&o, "cmp-floor");
	len_v = opt_record - 8;
	th = calloc((size_t)o.threads, sizeof(*th));
	if (!th || h_run(&o, th, floor_init, floor_batch, NULL) < 0) {
		fprintf(stderr, "cmp-floor: out of memory\n");
		return 1;
	}
	h_json_begin();
	h_json_str("what", names[opt_what]);
	if (opt_what == W_FLOOR) {
		h_json_u64("record", opt_record);
		h_json_u64("array", opt_array);
	}
	h_json_common(&o, th);
	h_json_end();
	return 0;
}
