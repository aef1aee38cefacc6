/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/mkseed.c - write one seed ring file for the fuzz corpus with
 * the real mmap-file backend, in tiny geometry.  Not built by make; the
 * corpus in tests/fuzz/corpus/ was made with it:
 *
 *	cc -Iinclude tests/fuzz/mkseed.c -o mkseed build/.libs/librbf.so
 *	./mkseed PATH ALLOC MODE CLOCK NUM EVENTS [u][h][t]
 *
 * ALLOC 0 per-CPU, 1 per-thread, 2 global; MODE 0 discard, 1 overwrite;
 * CLOCK 0 monotonic, 2 none; NUM sub-buffers of 256 bytes.  Flags: u:
 * reserve one more event, never commit it and exit without closing
 * (unclean); h: take one sub-buffer as reader and keep it; t: a second
 * writer thread (per-thread channels get two buffers).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rbf/rbf.h>

static struct rbf_channel *ch;
static int nevents, clock_none;

static void *writer(void *arg)
{
	int base = (int)(long)arg, i;
	unsigned char p[48];

	for (i = 0; i < nevents; i++) {
		int len = 1 + (i * 5) % 40;

		memset(p, base + i, sizeof(p));
		if (clock_none)
			rbf_write_ts(ch, (uint16_t)(1 + i % 5), p, (size_t)len,
				     100 + 3ull * (unsigned)i);
		else
			rbf_write(ch, (uint16_t)(1 + i % 5), p, (size_t)len);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct rbf_mmap_file_config cfg;
	struct rbf_channel_attr attr;
	const char *fl = argc > 7 ? argv[7] : "";
	pthread_t t;
	int ret;

	if (argc < 7) {
		fprintf(stderr, "usage: mkseed PATH ALLOC MODE CLOCK NUM "
				"EVENTS [u][h][t]\n");
		return 2;
	}
	rbf_mmap_file_config_init(&cfg);
	cfg.path = argv[1];
	cfg.max_buffers = 2;
	rbf_channel_attr_init(&attr);
	attr.backend = &rbf_backend_mmap_file;
	attr.backend_config = &cfg;
	attr.alloc = (enum rbf_alloc)atoi(argv[2]);
	attr.mode = (enum rbf_mode)atoi(argv[3]);
	attr.clock = (enum rbf_clock)atoi(argv[4]);
	attr.subbuf_size = 256;
	attr.num_subbuf = (uint32_t)atoi(argv[5]);
	nevents = atoi(argv[6]);
	clock_none = attr.clock == RBF_CLOCK_NONE;
	ret = rbf_channel_create(&attr, &ch);
	if (ret) {
		fprintf(stderr, "mkseed: create: %d\n", ret);
		return 1;
	}
	writer((void *)0L);
	if (strchr(fl, 't')) {
		pthread_create(&t, NULL, writer, (void *)100L);
		pthread_join(t, NULL);
	}
	if (strchr(fl, 'h')) {
		struct rbf_buffer *b;
		struct rbf_subbuf sb;

		if (rbf_channel_buffers(ch, &b, 1) >= 1)
			rbf_subbuf_get(b, &sb);
	}
	if (strchr(fl, 'u')) {
		struct rbf_wctx ctx;

		if (clock_none)
			ret = rbf_reserve_ts(ch, &ctx, 7, 20, 1000000);
		else
			ret = rbf_reserve(ch, &ctx, 7, 20);
		if (!ret)
			memset(ctx.data, 0x5a, 20);
		_exit(0);
	}
	rbf_channel_flush(ch);
	rbf_channel_destroy(ch);
	return 0;
}
