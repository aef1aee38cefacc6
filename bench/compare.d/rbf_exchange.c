/* SPDX-License-Identifier: MIT */
/*
 * bench/compare.d/rbf_exchange.c - cost of rbf's sub-buffer exchange
 * (program cmp-rbf-exchange).
 *
 *   --subbuf=BYTES (4096)  --nsubbuf=N (256)  --rounds=N (20)
 *
 * Each round fills one buffer (global allocation, discard mode, no clock)
 * with 64-byte events until it refuses more, closes the last sub-buffer with
 * rbf_channel_flush(), then times rbf_subbuf_get() + rbf_subbuf_put() over
 * every full sub-buffer.  Only the exchanges are timed: this is what the
 * reader itself costs per sub-buffer, whatever the writers do.  The result
 * is the median round: ns per get+put pair, pairs per second, and the
 * bandwidth a reader could hand over at that rate.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rbf/rbf.h>

#include "harness.h"

#define MAX_ROUNDS 1000

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	static const unsigned char payload[64];
	static double ns[MAX_ROUNDS];
	struct rbf_channel_attr attr;
	struct rbf_channel *ch;
	struct rbf_buffer *buf;
	struct rbf_subbuf sb;
	uint64_t t0, pairs, total_pairs = 0;
	const char *v;
	int i, ret, round, rounds = 20;
	struct h_opts o;

	h_opts_init(&o);
	rbf_channel_attr_init(&attr);
	attr.subbuf_size = 4096;
	attr.num_subbuf = 256;
	attr.mode = RBF_MODE_DISCARD;
	attr.alloc = RBF_ALLOC_GLOBAL;
	attr.clock = RBF_CLOCK_NONE;
	for (i = 1; i < argc; i++) {
		if (h_common_arg(&o, argv[i]))
			continue;
		if ((v = h_arg(argv[i], "subbuf")))
			attr.subbuf_size = (uint32_t)strtoul(v, NULL, 10);
		else if ((v = h_arg(argv[i], "nsubbuf")))
			attr.num_subbuf = (uint32_t)strtoul(v, NULL, 10);
		else if ((v = h_arg(argv[i], "rounds")))
			rounds = atoi(v);
		else
			h_bad_arg("cmp-rbf-exchange", argv[i]);
	}
	if (rounds < 1 || rounds > MAX_ROUNDS)
		h_bad_arg("cmp-rbf-exchange", "--rounds");
	h_resolve_cpus(&o, "cmp-rbf-exchange");
	h_pin(o.cpus[0]);

	ret = rbf_channel_create(&attr, &ch);
	if (ret < 0) {
		fprintf(stderr, "cmp-rbf-exchange: rbf_channel_create: %s\n",
			strerror(-ret));
		return 1;
	}
	if (rbf_channel_buffers(ch, &buf, 1) < 1) {
		fprintf(stderr, "cmp-rbf-exchange: no buffer\n");
		return 1;
	}
	for (round = 0; round < rounds; round++) {
		while (rbf_write(ch, 1, payload, sizeof(payload)) == 0)
			;
		rbf_channel_flush(ch);
		pairs = 0;
		t0 = h_now_ns();
		while ((ret = rbf_subbuf_get(buf, &sb)) == 0) {
			rbf_subbuf_put(buf, &sb);
			pairs++;
		}
		ns[round] = pairs ? (double)(h_now_ns() - t0) / (double)pairs :
				    0;
		total_pairs += pairs;
		if (ret != -EAGAIN || !pairs) {
			fprintf(stderr,
				"cmp-rbf-exchange: rbf_subbuf_get: %s "
				"after %llu exchanges\n",
				strerror(-ret), (unsigned long long)pairs);
			return 1;
		}
	}
	rbf_channel_destroy(ch);
	qsort(ns, (size_t)rounds, sizeof(ns[0]), cmp_double);

	h_json_begin();
	h_json_u64("subbuf", attr.subbuf_size);
	h_json_u64("nsubbuf", attr.num_subbuf);
	h_json_num("ns", ns[rounds / 2]);
	h_json_num("min", ns[0]);
	h_json_num("max", ns[rounds - 1]);
	h_json_num("rate", 1e9 / ns[rounds / 2]);
	h_json_num("gb_per_s", (double)attr.subbuf_size / ns[rounds / 2]);
	h_json_u64("events", total_pairs);
	h_json_u64("threads", 1);
	h_json_end();
	return 0;
}
