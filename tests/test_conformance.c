/* SPDX-License-Identifier: MIT */
/*
 * tests/test_conformance.c - one conformance suite, run against every
 * backend: the page backend (CPU memory) and the check backend
 * (tests/check_backend.c: device-like memory reachable only through
 * ->store/->load, which counts every access and every violation).
 *
 * The mmap-file backend (backends/mmap-file: the ring in a file) runs it
 * too, each channel in its own file.
 *
 * Each conf_* function takes the backend under test; CONF_TEST() makes one
 * Criterion test of it per backend (suites conf_page, conf_mmap_file and
 * conf_check).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "helpers.h"
#include "check_backend.h"

static int is_direct(const struct rbf_backend *be)
{
	return (be->flags & RBF_BACKEND_F_CPU_DIRECT) != 0;
}

/* After every test: the check backend saw no violation, was used, and
 * every buffer it allocated was freed. */
static void conf_after(const struct rbf_backend *be, int reads)
{
	if (be != &rbf_check_backend)
		return;
	cr_assert_eq(check_backend_violations(), 0ul,
		     "the frontend broke the backend rules %lu times",
		     check_backend_violations());
	cr_assert_gt(check_backend_stores(), 0ul, "no ->store call");
	if (reads)
		cr_assert_gt(check_backend_loads(), 0ul, "no ->load call");
	cr_assert_eq(check_backend_live_buffers(), 0l, "%ld buffers not freed",
		     check_backend_live_buffers());
	cr_assert_eq(check_backend_allocs(), check_backend_frees());
}

/* mmap-file: every channel gets its own file in a temporary directory. */
static char mmf_dir[200];
static unsigned int mmf_count;
static struct rbf_mmap_file_config mmf_cfg[64];
static char mmf_path[64][240];

static const void *mmf_config(const struct rbf_backend *be)
{
	unsigned int i = mmf_count++ % 64;

	if (be != &rbf_backend_mmap_file)
		return NULL;
	rbf_mmap_file_config_init(&mmf_cfg[i]);
	snprintf(mmf_path[i], sizeof(mmf_path[i]), "%s/ch-%u.rbf", mmf_dir,
		 mmf_count);
	mmf_cfg[i].path = mmf_path[i];
	return &mmf_cfg[i];
}

static void mmf_setup(void)
{
	th_tmpdir(mmf_dir, sizeof(mmf_dir), "conf");
	th_backend_config = mmf_config;
}

static void mmf_teardown(void)
{
	th_backend_config = NULL;
	th_tmpdir_remove(mmf_dir);
}

#define CONF_TEST(name, reads)                                              \
	Test(conf_page, name)                                               \
	{                                                                   \
		conf_##name(&rbf_backend_page);                             \
		conf_after(&rbf_backend_page, reads);                       \
	}                                                                   \
	Test(conf_mmap_file, name, .init = mmf_setup, .fini = mmf_teardown) \
	{                                                                   \
		conf_##name(&rbf_backend_mmap_file);                        \
	}                                                                   \
	Test(conf_check, name)                                              \
	{                                                                   \
		conf_##name(&rbf_check_backend);                            \
		conf_after(&rbf_check_backend, reads);                      \
	}

static struct rbf_channel *conf_channel(const struct rbf_backend *be,
					enum rbf_mode mode,
					enum rbf_alloc alloc,
					enum rbf_clock clock, uint32_t subbuf,
					uint32_t num)
{
	struct rbf_channel *ch =
		th_channel(mode, alloc, clock, be, subbuf, num);
	struct rbf_channel_info info;

	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	cr_assert_eq(rbf_channel_get_info(ch, &info), 0);
	cr_assert_str_eq(info.backend_name, be->name);
	return ch;
}

static uint64_t rec_seq(const struct th_rec *r)
{
	struct th_event e;
	int ret = th_event_verify(r->data, r->len, &e);

	cr_assert_eq(ret, 0, "corrupt event (len %u): %d", r->len, ret);
	return e.seq;
}

/* Write events first..first+n-1 (TH_EVENT_SIZE + extra bytes, ts = seq). */
static void conf_write_seq(struct rbf_channel *ch, uint64_t first, uint64_t n,
			   uint32_t extra, size_t chunk)
{
	uint8_t p[TH_EVENT_SIZE + 128];
	uint64_t i;

	for (i = first; i < first + n; i++) {
		th_event_make(p, TH_EVENT_SIZE + extra, 0, 0, i);
		cr_assert_eq(th_write_ts(ch, 1, p, TH_EVENT_SIZE + extra, i,
					 chunk),
			     0, "event %" PRIu64, i);
	}
}

/* ---------------------------------------------------------------------- */

static void conf_roundtrip_reserve(const struct rbf_backend *be)
{
	struct rbf_channel *ch = conf_channel(be, RBF_MODE_DISCARD,
					      RBF_ALLOC_GLOBAL, RBF_CLOCK_NONE,
					      4096, 4);
	struct rbf_buffer *buf = th_global_buffer(ch);
	static const uint32_t lens[] = { 1, 7, 8, 9, 24, 100, 333, 1000 };
	struct th_recs r = { 0 };
	uint8_t p[1000];
	struct rbf_wctx ctx;
	size_t i;

	for (i = 0; i < 8; i++) {
		th_fill_pattern(p, lens[i], 500 + i);
		cr_assert_eq(rbf_reserve_ts(ch, &ctx, (uint16_t)i, lens[i],
					    10 * i),
			     0);
		if (is_direct(be))
			cr_assert_not_null(ctx.data);
		else
			cr_assert_null(ctx.data, "device memory handed to "
						 "the writer as a pointer");
		cr_assert_eq(ctx.len, lens[i]);
		cr_assert_eq(ctx.ts, 10 * i);
		/* Odd pieces, back to front, through rbf_wctx_write. */
		{
			size_t end = lens[i];

			while (end > 0) {
				size_t n = end >= 5 ? 5 : end;

				cr_assert_eq(rbf_wctx_write(&ctx, end - n,
							    p + end - n, n),
					     0);
				end -= n;
			}
		}
		cr_assert_eq(rbf_wctx_write(&ctx, 0, p, (size_t)lens[i] + 1),
			     -EINVAL);
		cr_assert_eq(rbf_commit(&ctx), 0);
	}
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(th_drain_buffer(buf, &r), 8u);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(r.v[i].id, i);
		cr_assert_eq(r.v[i].ts, 10 * i);
		cr_assert_eq(r.v[i].len, lens[i]);
		cr_assert_eq(th_check_pattern(r.v[i].data, lens[i], 500 + i),
			     -1, "event %zu corrupt", i);
	}
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}
CONF_TEST(roundtrip_reserve, 1)

static void conf_roundtrip_write(const struct rbf_backend *be)
{
	static const enum rbf_alloc allocs[] = {
		RBF_ALLOC_PER_CPU,
		RBF_ALLOC_PER_THREAD,
		RBF_ALLOC_GLOBAL,
	};
	size_t a;

	for (a = 0; a < 3; a++) {
		struct rbf_channel *ch =
			conf_channel(be, RBF_MODE_DISCARD, allocs[a],
				     RBF_CLOCK_MONOTONIC, 4096, 8);
		struct th_recs r = { 0 };
		uint8_t p[TH_EVENT_SIZE + 64];
		uint64_t i;

		for (i = 0; i < 200; i++) {
			size_t len = TH_EVENT_SIZE + i % 65;

			th_event_make(p, len, 0, 0, i);
			cr_assert_eq(rbf_write(ch, 9, p, len), 0);
		}
		cr_assert_eq(rbf_channel_flush(ch), 0);
		cr_assert_eq(th_drain_channel(ch, &r), 200u);
		for (i = 0; i < 200; i++) {
			cr_assert_eq(r.v[i].len, TH_EVENT_SIZE + i % 65);
			cr_assert_eq(rec_seq(&r.v[i]), i);
			cr_assert_eq(r.v[i].id, 9);
			if (i)
				cr_assert_geq(r.v[i].ts, r.v[i - 1].ts);
		}
		th_recs_free(&r);
		rbf_channel_destroy(ch);
	}
}
CONF_TEST(roundtrip_write, 1)

/* Every payload length 0..70, written both ways, checked byte by byte. */
static void conf_odd_lengths(const struct rbf_backend *be)
{
	struct rbf_channel *ch = conf_channel(be, RBF_MODE_DISCARD,
					      RBF_ALLOC_GLOBAL, RBF_CLOCK_NONE,
					      4096, 8);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct th_recs r = { 0 };
	uint8_t p[71];
	uint32_t len;
	size_t i;

	for (len = 0; len <= 70; len++) {
		th_fill_pattern(p, len, len);
		cr_assert_eq(rbf_write_ts(ch, (uint16_t)len, p, len, len), 0);
		th_fill_pattern(p, len, len + 1000);
		cr_assert_eq(th_write_ts(ch, (uint16_t)(len + 1000), p, len,
					 len, 3),
			     0);
	}
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(th_drain_buffer(buf, &r), 142u);
	for (i = 0; i < r.n; i++) {
		uint32_t want = (uint32_t)(i / 2);
		uint64_t seed = want + (i % 2 ? 1000 : 0);
		long bad;

		cr_assert_eq(r.v[i].len, want);
		cr_assert_eq(r.v[i].id, seed);
		cr_assert_eq(r.v[i].ts, want);
		bad = th_check_pattern(r.v[i].data, want, seed);
		cr_assert_eq(bad, -1, "length %u: byte %ld differs", want, bad);
	}
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}
CONF_TEST(odd_lengths, 1)

/* Sub-buffer exchange; the image is read only through rbf_subbuf_read. */
static void conf_subbuf(const struct rbf_backend *be)
{
	struct rbf_channel *ch = conf_channel(be, RBF_MODE_DISCARD,
					      RBF_ALLOC_GLOBAL, RBF_CLOCK_NONE,
					      4096, 4);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct rbf_subbuf_header hdr;
	struct th_raw_rec rec[64];
	struct rbf_subbuf sb, sb2;
	struct rbf_event ev;
	uint8_t *img;
	size_t pos = 0;
	int n, i;

	cr_assert_eq(rbf_subbuf_get(buf, &sb), -EAGAIN);
	conf_write_seq(ch, 0, 20, 11, 0);
	cr_assert_eq(rbf_subbuf_get(buf, &sb), -EAGAIN);
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(rbf_subbuf_get(buf, &sb), 0);
	if (is_direct(be))
		cr_assert_not_null(sb.data);
	else
		cr_assert_null(sb.data);
	cr_assert_eq(sb.records, 20u);
	cr_assert_eq(sb.seq, 0u);
	cr_assert_eq(sb.size,
		     TH_HDR_SIZE + 20 * th_ext_slot(TH_EVENT_SIZE + 11));
	cr_assert_eq(rbf_subbuf_get(buf, &sb2), -EBUSY);
	img = th_subbuf_image(&sb);
	n = th_parse_subbuf(img, sb.size, &hdr, rec, 64);
	cr_assert_eq(n, 20, "decoder: %d", n);
	cr_assert_eq(hdr.content_size, sb.size);
	cr_assert_eq(hdr.subbuf_size, 4096u);
	cr_assert_eq(hdr.seq, 0u);
	cr_assert_eq(hdr.ts_begin, 0u);
	cr_assert_eq(hdr.ts_end, sb.ts_end);
	for (i = 0; i < n; i++) {
		struct th_event e;

		cr_assert_eq(rec[i].ts, (uint64_t)i);
		cr_assert_eq(th_event_verify(img + rec[i].off, rec[i].len, &e),
			     0);
		cr_assert_eq(e.seq, (uint64_t)i);
		cr_assert_eq(rbf_subbuf_next_event(&sb, &pos, &ev), 1);
		cr_assert_eq(ev.ts, (uint64_t)i);
		cr_assert_eq(ev.len, rec[i].len);
		cr_assert_arr_eq(ev.data, img + rec[i].off, ev.len);
	}
	cr_assert_eq(rbf_subbuf_next_event(&sb, &pos, &ev), 0);
	cr_assert_eq(rbf_subbuf_read(&sb, 4096, img, 1), -EINVAL);
	cr_assert_eq(rbf_subbuf_read(&sb, 0, img, 4097), -EINVAL);
	free(img);
	cr_assert_eq(rbf_subbuf_put(buf, &sb), 0);
	cr_assert_eq(rbf_subbuf_put(buf, &sb), -EINVAL);
	cr_assert_eq(rbf_subbuf_get(buf, &sb), -EAGAIN);
	rbf_channel_destroy(ch);
}
CONF_TEST(subbuf, 1)

/* Discard mode: exactly 4 sub-buffers of 33 records, then -ENOBUFS. */
static void conf_discard_full(const struct rbf_backend *be)
{
	struct rbf_channel *ch = conf_channel(be, RBF_MODE_DISCARD,
					      RBF_ALLOC_GLOBAL, RBF_CLOCK_NONE,
					      4096, 4);
	const uint32_t per = (4096 - TH_HDR_SIZE) / th_ext_slot(100);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct th_recs r = { 0 };
	struct rbf_stats st;
	uint8_t p[100];
	uint64_t n = 0;
	size_t i;
	int ret = 0;

	while (n < 1000) {
		th_fill_pattern(p, sizeof(p), n);
		ret = th_write_ts(ch, 1, p, sizeof(p), n, 0);
		if (ret)
			break;
		n++;
	}
	cr_assert_eq(ret, -ENOBUFS);
	cr_assert_eq(n, 4u * per);
	st = th_stats(ch);
	cr_assert_eq(st.lost[RBF_LOST_FULL], 1u);
	th_assert_identity(&st, "full");
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(th_drain_buffer(buf, &r), n);
	for (i = 0; i < r.n; i++)
		cr_assert_eq(th_check_pattern(r.v[i].data, 100, i), -1);
	th_recs_free(&r);
	/* Room again. */
	cr_assert_eq(rbf_write_ts(ch, 1, p, sizeof(p), n), 0);
	rbf_channel_destroy(ch);
}
CONF_TEST(discard_full, 1)

/* Overwrite mode: the ring wraps thousands of times. */
static void conf_overwrite_wrap(const struct rbf_backend *be)
{
	struct rbf_channel *ch = conf_channel(be, RBF_MODE_OVERWRITE,
					      RBF_ALLOC_GLOBAL, RBF_CLOCK_NONE,
					      512, 4);
	const uint32_t per = (512 - TH_HDR_SIZE) / th_ext_slot(TH_EVENT_SIZE);
	struct rbf_buffer *buf = th_global_buffer(ch);
	const uint64_t total = 20003;
	const uint64_t last_sb = (total - 1) / per;
	const uint64_t first_kept = (last_sb - 3) * per;
	struct th_recs r = { 0 };
	struct rbf_stats st;
	uint64_t written, last = 0, i;
	int round;

	cr_assert_eq(per, 11u);
	conf_write_seq(ch, 0, total, 0, 8);
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(th_drain_buffer(buf, &r), total - first_kept);
	for (i = 0; i < r.n; i++) {
		cr_assert_eq(rec_seq(&r.v[i]), first_kept + i);
		cr_assert_eq(r.v[i].subbuf_seq, (first_kept + i) / per);
	}
	st = th_stats(ch);
	cr_assert_eq(st.overwritten, first_kept);
	cr_assert_eq(st.subbufs_overwritten, last_sb - 3);
	th_assert_identity(&st, "wrapped");
	th_recs_free(&r);

	/* With a reader taking sub-buffers now and then. */
	written = total;
	for (round = 0; round < 200; round++) {
		struct rbf_subbuf sb;
		uint64_t n = 1 + (uint64_t)(round * 7919) % 97;

		conf_write_seq(ch, written, n, 0, 0);
		written += n;
		if (rbf_subbuf_get(buf, &sb) == 0) {
			struct rbf_event ev;
			size_t pos = 0;

			while (rbf_subbuf_next_event(&sb, &pos, &ev) == 1)
				th_recs_push(&r, &ev);
			cr_assert_eq(rbf_subbuf_put(buf, &sb), 0);
		}
	}
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	th_drain_buffer(buf, &r);
	for (i = 0; i < r.n; i++) {
		uint64_t seq = rec_seq(&r.v[i]);

		if (i) {
			cr_assert_gt(seq, last);
			cr_assert_geq(r.v[i].subbuf_seq, r.v[i - 1].subbuf_seq);
			if (seq != last + 1)
				cr_assert_gt(r.v[i].subbuf_seq,
					     r.v[i - 1].subbuf_seq,
					     "gap inside a sub-buffer");
		}
		last = seq;
	}
	cr_assert_eq(last, written - 1);
	st = th_stats(ch);
	cr_assert_eq(st.committed, written);
	cr_assert_eq(st.buffered, 0u);
	cr_assert_eq(st.overwritten, st.committed - st.read);
	th_assert_identity(&st, "wrapped with reader");
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}
CONF_TEST(overwrite_wrap, 1)

/* Merging per-thread buffers by timestamp; iterator first, then consume. */
#define CONF_THREADS 3
#define CONF_EVENTS 200

struct conf_arg {
	struct rbf_channel *ch;
	uint32_t k;
	int ret;
};

static void *conf_writer(void *p)
{
	struct conf_arg *a = (struct conf_arg *)p;
	uint8_t b[TH_EVENT_SIZE + 5];
	uint64_t i;

	for (i = 0; i < CONF_EVENTS; i++) {
		th_event_make(b, sizeof(b), a->k, 0, i);
		a->ret = th_write_ts(a->ch, (uint16_t)a->k, b, sizeof(b),
				     CONF_THREADS * i + a->k, i % 2 ? 3 : 0);
		if (a->ret)
			break;
	}
	return NULL;
}

static void conf_check_merged(const struct th_recs *r)
{
	struct th_event e;
	size_t i;

	cr_assert_eq(r->n, (size_t)CONF_THREADS * CONF_EVENTS);
	for (i = 0; i < r->n; i++) {
		cr_assert_eq(r->v[i].ts, i);
		cr_assert_eq(th_event_verify(r->v[i].data, r->v[i].len, &e), 0);
		cr_assert_eq(e.writer, i % CONF_THREADS);
		cr_assert_eq(e.seq, i / CONF_THREADS);
	}
}

static void conf_merge_iter(const struct rbf_backend *be)
{
	struct rbf_channel *ch = conf_channel(be, RBF_MODE_DISCARD,
					      RBF_ALLOC_PER_THREAD,
					      RBF_CLOCK_NONE, 4096, 4);
	struct conf_arg a[CONF_THREADS];
	struct th_recs it = { 0 }, r = { 0 };
	pthread_t t[CONF_THREADS];
	struct rbf_stats st;
	uint32_t k;
	size_t i;

	for (k = 0; k < CONF_THREADS; k++) {
		a[k].ch = ch;
		a[k].k = k;
		a[k].ret = 1;
		cr_assert_eq(pthread_create(&t[k], NULL, conf_writer, &a[k]),
			     0);
	}
	for (k = 0; k < CONF_THREADS; k++) {
		pthread_join(t[k], NULL);
		cr_assert_eq(a[k].ret, 0);
	}
	cr_assert_eq(rbf_channel_flush(ch), 0);
	th_iterate(ch, NULL, &it);
	conf_check_merged(&it);
	st = th_stats(ch);
	cr_assert_eq(st.read, 0u);
	th_drain_channel(ch, &r);
	conf_check_merged(&r);
	for (i = 0; i < r.n; i++)
		cr_assert_arr_eq(r.v[i].data, it.v[i].data, r.v[i].len);
	st = th_stats(ch);
	cr_assert_eq(st.read, (uint64_t)CONF_THREADS * CONF_EVENTS);
	cr_assert_eq(st.buffered, 0u);
	th_assert_identity(&st, "merged");
	cr_assert_eq(rbf_channel_reap(ch), CONF_THREADS);
	th_recs_free(&it);
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}
CONF_TEST(merge_iter, 1)

/* The statistics identity through a channel's life. */
static void conf_stats_identity(const struct rbf_backend *be)
{
	static const enum rbf_mode modes[] = {
		RBF_MODE_DISCARD,
		RBF_MODE_OVERWRITE,
	};
	size_t m;

	for (m = 0; m < 2; m++) {
		struct rbf_channel *ch =
			conf_channel(be, modes[m], RBF_ALLOC_PER_CPU,
				     RBF_CLOCK_MONOTONIC, 1024, 4);
		uint64_t ok = 0, lost = 0, read = 0, i;
		uint8_t p[40];
		struct rbf_stats st;

		memset(p, 0x42, sizeof(p));
		for (i = 0; i < 3000; i++) {
			int ret = rbf_write(ch, 1, p, sizeof(p));

			if (ret == 0)
				ok++;
			else if (ret == -ENOBUFS)
				lost++;
			else
				cr_assert_fail("write: %d", ret);
			if (i % 500 == 0) {
				st = th_stats(ch);
				th_assert_identity(&st, "writing");
				cr_assert_eq(st.committed, ok);
				cr_assert_eq(st.lost_total, lost);
			}
			if (i % 700 == 0) {
				cr_assert_eq(rbf_channel_flush(ch), 0);
				read += th_drain_channel(ch, NULL);
			}
		}
		cr_assert_eq(rbf_channel_flush(ch), 0);
		read += th_drain_channel(ch, NULL);
		st = th_stats(ch);
		th_assert_identity(&st, "end");
		cr_assert_eq(st.committed, ok);
		cr_assert_eq(st.read, read);
		cr_assert_eq(st.buffered, 0u);
		if (modes[m] == RBF_MODE_DISCARD) {
			cr_assert_gt(lost, 0u);
			cr_assert_eq(st.read, ok);
		} else {
			cr_assert_eq(lost, 0u);
			cr_assert_gt(st.overwritten, 0u);
			cr_assert_eq(st.overwritten, ok - read);
		}
		rbf_channel_destroy(ch);
	}
}
CONF_TEST(stats_identity, 1)

/* A write with no reader at all still reaches the backend. */
static void conf_write_only(const struct rbf_backend *be)
{
	struct rbf_channel *ch = conf_channel(be, RBF_MODE_OVERWRITE,
					      RBF_ALLOC_GLOBAL,
					      RBF_CLOCK_MONOTONIC, 256, 2);
	int i;

	for (i = 0; i < 1000; i++)
		cr_assert_eq(rbf_write(ch, 1, &i, sizeof(i)), 0);
	rbf_channel_destroy(ch);
}
CONF_TEST(write_only, 0)
