/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/rbf_split.c - where the time of one rbf write goes
 * (program cmp-rbf-split, x86 only).
 *
 *   --alloc=per-thread|per-cpu|global  --clock=monotonic|tsc|none
 *   --payload=8|64
 *
 * plus the common options of harness.h (one thread).  Each event is written
 * with rbf_reserve(), a memcpy() of the payload into ctx.data and
 * rbf_commit(), with the time-stamp counter read (between LFENCEs) before
 * and after each of the three steps.  The cost of an empty pair of reads is
 * measured the same way and taken off each step.  The instrumentation
 * changes what it measures (the fences stop the steps from overlapping), so
 * the three parts are an attribution, not an exact sum: compare their total
 * with the uninstrumented rbf_write() figure.  Channels: overwrite mode, no
 * reader, 4 x 1 MiB.  Exit status 77 without a time-stamp counter.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rbf/rbf.h>

#include "harness.h"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
static inline uint64_t tsc(void)
{
	uint64_t t;

	_mm_lfence();
	t = __rdtsc();
	_mm_lfence();
	return t;
}
#else
static inline uint64_t tsc(void)
{
	return 0;
}
#endif

static struct rbf_channel *ch;
static size_t opt_payload = 8;
static const unsigned char blob[64] = { 1, 2, 3, 4, 5, 6, 7, 8 };

struct split {
	uint64_t v;
	uint64_t reserve, copy, commit, empty, n;
};

static int split_init(struct h_thread *t)
{
	t->priv = calloc(1, sizeof(struct split));
	return t->priv ? rbf_thread_prepare(ch) : 1;
}

static uint64_t split_batch(struct h_thread *t, unsigned int n)
{
	struct split *s = t->priv;
	const void *src = opt_payload == 8 ? (const void *)&s->v : blob;
	struct rbf_wctx ctx;
	uint64_t a, b, c, d, fails = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		a = tsc();
		if (rbf_reserve(ch, &ctx, 1, opt_payload) < 0) {
			fails++;
			continue;
		}
		b = tsc();
		memcpy(ctx.data, src, opt_payload);
		c = tsc();
		rbf_commit(&ctx);
		d = tsc();
		s->reserve += b - a;
		s->copy += c - b;
		s->commit += d - c;
		a = tsc();
		b = tsc();
		s->empty += b - a;
		s->n++;
		s->v++;
	}
	return fails;
}

int main(int argc, char **argv)
{
	static const char *const alloc_names[] = { "per-cpu", "per-thread",
						   "global" };
	static const char *const clock_names[] = { "monotonic", "tsc", "none" };
	struct rbf_channel_attr attr;
	struct h_thread th[1];
	struct split *s;
	struct h_opts o;
	const char *v;
	uint64_t t0, c0, t1, c1;
	double ns_per_cycle, e;
	int i, k, ret;

	h_opts_init(&o);
	rbf_channel_attr_init(&attr);
	attr.subbuf_size = 1u << 20;
	attr.num_subbuf = 4;
	attr.mode = RBF_MODE_OVERWRITE;
	for (i = 1; i < argc; i++) {
		if (h_common_arg(&o, argv[i]))
			continue;
		if ((v = h_arg(argv[i], "alloc"))) {
			for (k = 0; k < 3 && strcmp(v, alloc_names[k]); k++)
				;
			if (k == 3)
				h_bad_arg("cmp-rbf-split", argv[i]);
			attr.alloc = (enum rbf_alloc)k;
		} else if ((v = h_arg(argv[i], "clock"))) {
			for (k = 0; k < 3 && strcmp(v, clock_names[k]); k++)
				;
			if (k == 3)
				h_bad_arg("cmp-rbf-split", argv[i]);
			attr.clock = (enum rbf_clock)k;
		} else if ((v = h_arg(argv[i], "payload"))) {
			opt_payload = strtoul(v, NULL, 10);
			if (opt_payload != 8 && opt_payload != 64)
				h_bad_arg("cmp-rbf-split", argv[i]);
		} else {
			h_bad_arg("cmp-rbf-split", argv[i]);
		}
	}
#ifndef HAVE_TSC
	fprintf(stderr, "cmp-rbf-split: no time-stamp counter here\n");
	return 77;
#endif
	o.threads = 1;
	h_resolve_cpus(&o, "cmp-rbf-split");
	ret = rbf_channel_create(&attr, &ch);
	if (ret < 0) {
		fprintf(stderr, "cmp-rbf-split: rbf_channel_create: %s\n",
			strerror(-ret));
		return ret == -ENOTSUP ? 77 : 1;
	}
	t0 = h_now_ns();
	c0 = tsc();
	if (h_run(&o, th, split_init, split_batch, NULL) < 0) {
		fprintf(stderr, "cmp-rbf-split: thread setup failed\n");
		return 1;
	}
	t1 = h_now_ns();
	c1 = tsc();
	ns_per_cycle = (double)(t1 - t0) / (double)(c1 - c0);
	s = th[0].priv;
	e = (double)s->empty / (double)s->n; /* cycles of an empty pair */

	h_json_begin();
	h_json_str("alloc", alloc_names[attr.alloc]);
	h_json_str("clock", clock_names[attr.clock]);
	h_json_u64("payload", opt_payload);
	h_json_common(&o, th);
	h_json_num("reserve_ns",
		   ((double)s->reserve / (double)s->n - e) * ns_per_cycle);
	h_json_num("copy_ns",
		   ((double)s->copy / (double)s->n - e) * ns_per_cycle);
	h_json_num("commit_ns",
		   ((double)s->commit / (double)s->n - e) * ns_per_cycle);
	h_json_num("empty_ns", e * ns_per_cycle);
	h_json_end();
	rbf_channel_destroy(ch);
	return 0;
}
