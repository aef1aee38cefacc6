/* SPDX-License-Identifier: MIT */
/*
 * tests/test_write.c - the write path: reserve/commit, rbf_write*,
 * rbf_wctx_write, errors and their loss accounting, nesting, timestamps and
 * the record format.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "helpers.h"

/* Global NONE-clock channel: every record uses the extended header. */
static struct rbf_channel *none_global(enum rbf_mode mode, uint32_t subbuf,
				       uint32_t num)
{
	return th_channel(mode, RBF_ALLOC_GLOBAL, RBF_CLOCK_NONE, NULL, subbuf,
			  num);
}

/* Flush the global buffer and consume everything into @r. */
static size_t flush_drain(struct rbf_channel *ch, struct th_recs *r)
{
	struct rbf_buffer *buf = th_global_buffer(ch);

	cr_assert_eq(rbf_buffer_flush(buf), 0);
	return th_drain_buffer(buf, r);
}

Test(write, null_args)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD, 4096, 4);
	struct rbf_wctx ctx;
	struct rbf_stats st;
	char b[8] = "abcdefg";

	cr_assert_eq(rbf_reserve(NULL, &ctx, 1, 8), -EINVAL);
	cr_assert_eq(rbf_reserve(ch, NULL, 1, 8), -EINVAL);
	cr_assert_eq(rbf_reserve_ts(NULL, &ctx, 1, 8, 5), -EINVAL);
	cr_assert_eq(rbf_reserve_ts(ch, NULL, 1, 8, 5), -EINVAL);
	cr_assert_eq(rbf_write(NULL, 1, b, 8), -EINVAL);
	cr_assert_eq(rbf_write_ts(NULL, 1, b, 8, 5), -EINVAL);
	cr_assert_eq(rbf_commit(NULL), -EINVAL);
	cr_assert_eq(rbf_wctx_write(NULL, 0, b, 8), -EINVAL);
	st = th_stats(ch);
	cr_assert_eq(st.written, 0u, "-EINVAL must not be counted");
	cr_assert_eq(st.lost_total, 0u);
	rbf_channel_destroy(ch);
}

Test(write, bad_id)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD, 4096, 4);
	struct rbf_wctx ctx;
	struct th_recs r = { 0 };
	struct rbf_stats st;
	char b[8] = "abcdefg";

	cr_assert_eq(RBF_EVENT_ID_MAX, 65534u);
	cr_assert_eq(rbf_reserve(ch, &ctx, 65535, 8), -EINVAL);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx, 65535, 8, 1), -EINVAL);
	cr_assert_eq(rbf_write(ch, 65535, b, 8), -EINVAL);
	cr_assert_eq(rbf_write_ts(ch, 65535, b, 8, 1), -EINVAL);
	st = th_stats(ch);
	cr_assert_eq(st.written, 0u, "-EINVAL must not be counted");
	cr_assert_eq(st.lost_total, 0u);

	cr_assert_eq(rbf_write_ts(ch, 65534, b, 8, 7), 0);
	cr_assert_eq(rbf_write_ts(ch, 0, b, 8, 8), 0);
	cr_assert_eq(flush_drain(ch, &r), 2u);
	cr_assert_eq(r.v[0].id, 65534);
	cr_assert_eq(r.v[1].id, 0);
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}

Test(write, reserve_commit_fields)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD, 4096, 4);
	struct rbf_wctx ctx;
	struct th_recs r = { 0 };
	uint8_t p[37];

	th_fill_pattern(p, sizeof(p), 37);
	memset(&ctx, 0, sizeof(ctx));
	cr_assert_eq(rbf_reserve_ts(ch, &ctx, 42, sizeof(p), 123456), 0);
	cr_assert_not_null(ctx.data, "page backend gives CPU memory");
	cr_assert_eq((uintptr_t)ctx.data % 8, 0u, "payload not 8-byte aligned");
	cr_assert_eq(ctx.len, sizeof(p));
	cr_assert_eq(ctx.ts, 123456u);
	memcpy(ctx.data, p, sizeof(p));
	cr_assert_eq(rbf_commit(&ctx), 0);

	/* rbf_reserve on a NONE channel stamps 0. */
	cr_assert_eq(rbf_reserve(ch, &ctx, 43, 8), 0);
	cr_assert_eq(ctx.ts, 0u);
	cr_assert_eq(ctx.len, 8u);
	memcpy(ctx.data, "12345678", 8);
	cr_assert_eq(rbf_commit(&ctx), 0);

	cr_assert_eq(flush_drain(ch, &r), 2u);
	cr_assert_eq(r.v[0].id, 42);
	cr_assert_eq(r.v[0].ts, 123456u);
	cr_assert_eq(r.v[0].len, sizeof(p));
	cr_assert_arr_eq(r.v[0].data, p, sizeof(p));
	cr_assert_eq(r.v[1].id, 43);
	cr_assert_eq(r.v[1].ts, 0u);
	cr_assert_arr_eq(r.v[1].data, "12345678", 8);
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}

Test(write, double_commit)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD, 4096, 4);
	struct rbf_wctx ctx;
	struct rbf_stats st;

	cr_assert_eq(rbf_reserve_ts(ch, &ctx, 1, 8, 1), 0);
	memcpy(ctx.data, "abcdefgh", 8);
	cr_assert_eq(rbf_commit(&ctx), 0);
	cr_assert_eq(rbf_commit(&ctx), -EINVAL);
	cr_assert_eq(rbf_commit(&ctx), -EINVAL);
	st = th_stats(ch);
	cr_assert_eq(st.committed, 1u);
	cr_assert_eq(st.written, 1u);
	th_assert_identity(&st, "after double commit");
	/* The channel still works. */
	cr_assert_eq(rbf_write_ts(ch, 2, "ijklmnop", 8, 2), 0);
	cr_assert_eq(flush_drain(ch, NULL), 2u);
	rbf_channel_destroy(ch);
}

Test(write, wctx_write_ranges)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD, 4096, 4);
	struct rbf_wctx ctx;
	struct th_recs r = { 0 };
	uint8_t p[16];
	int i;

	th_fill_pattern(p, sizeof(p), 16);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx, 9, 16, 99), 0);
	cr_assert_eq(rbf_wctx_write(&ctx, 0, p, 17), -EINVAL);
	cr_assert_eq(rbf_wctx_write(&ctx, 9, p, 8), -EINVAL);
	cr_assert_eq(rbf_wctx_write(&ctx, 16, p, 1), -EINVAL);
	cr_assert_eq(rbf_wctx_write(&ctx, SIZE_MAX, p, 2), -EINVAL);
	cr_assert_eq(rbf_wctx_write(&ctx, 8, p, SIZE_MAX), -EINVAL);
	cr_assert_eq(rbf_wctx_write(&ctx, SIZE_MAX - 3, p, 8), -EINVAL);
	/* In-range writes at odd offsets and lengths. */
	for (i = 15; i >= 0; i -= 3) {
		size_t n = 16 - (size_t)i < 3 ? 16 - (size_t)i : 3;

		cr_assert_eq(rbf_wctx_write(&ctx, (size_t)i, p + i, n), 0,
			     "offset %d", i);
	}
	cr_assert_eq(rbf_wctx_write(&ctx, 0, p, 1), 0);
	cr_assert_eq(rbf_commit(&ctx), 0);
	cr_assert_eq(flush_drain(ch, &r), 1u);
	cr_assert_eq(r.v[0].len, 16u);
	cr_assert_arr_eq(r.v[0].data, p, 16);
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}

Test(write, zero_length)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD, 4096, 4);
	struct th_recs r = { 0 };
	struct rbf_wctx ctx;
	char b[1] = { 0 };

	cr_assert_eq(rbf_write_ts(ch, 5, b, 0, 10), 0);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx, 6, 0, 11), 0);
	cr_assert_eq(ctx.len, 0u);
	cr_assert_eq(rbf_commit(&ctx), 0);
	cr_assert_eq(rbf_write_ts(ch, 7, "xyz", 3, 12), 0);
	cr_assert_eq(flush_drain(ch, &r), 3u);
	cr_assert_eq(r.v[0].id, 5);
	cr_assert_eq(r.v[0].len, 0u);
	cr_assert_eq(r.v[0].ts, 10u);
	cr_assert_eq(r.v[1].id, 6);
	cr_assert_eq(r.v[1].len, 0u);
	cr_assert_eq(r.v[1].ts, 11u);
	cr_assert_eq(r.v[2].len, 3u);
	cr_assert_arr_eq(r.v[2].data, "xyz", 3);
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}

Test(write, too_big)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD, 4096, 4);
	uint32_t fits = 4096 - TH_HDR_SIZE - TH_REC_EXT_SIZE;
	struct th_recs r = { 0 };
	struct rbf_wctx ctx;
	struct rbf_stats st;
	uint8_t *p = (uint8_t *)malloc(8192);

	cr_assert_not_null(p);
	cr_assert_eq(fits, 4016u);
	th_fill_pattern(p, 8192, 4016);
	cr_assert_eq(rbf_write_ts(ch, 1, p, fits + 1, 1), -EMSGSIZE);
	cr_assert_eq(rbf_write_ts(ch, 1, p, 4096, 2), -EMSGSIZE);
	cr_assert_eq(rbf_write_ts(ch, 1, p, 8192, 3), -EMSGSIZE);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx, 1, SIZE_MAX, 4), -EMSGSIZE);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx, 1, (size_t)UINT32_MAX + 1, 5),
		     -EMSGSIZE);
	st = th_stats(ch);
	cr_assert_eq(st.lost[RBF_LOST_TOO_BIG], 5u);
	cr_assert_eq(st.lost_total, 5u);
	cr_assert_eq(st.written, 5u);
	cr_assert_eq(st.committed, 0u);

	/* Exactly one sub-buffer's worth: fits, twice (two sub-buffers). */
	cr_assert_eq(rbf_write_ts(ch, 2, p, fits, 6), 0);
	cr_assert_eq(rbf_write_ts(ch, 3, p + 1, fits, 7), 0);
	cr_assert_eq(flush_drain(ch, &r), 2u);
	cr_assert_eq(r.v[0].len, fits);
	cr_assert_arr_eq(r.v[0].data, p, fits);
	cr_assert_eq(r.v[1].len, fits);
	cr_assert_arr_eq(r.v[1].data, p + 1, fits);
	cr_assert_eq(r.v[0].subbuf_seq + 1, r.v[1].subbuf_seq);
	st = th_stats(ch);
	th_assert_identity(&st, "too_big");
	cr_assert_eq(st.committed, 2u);
	cr_assert_eq(st.read, 2u);
	th_recs_free(&r);
	free(p);
	rbf_channel_destroy(ch);
}

Test(write, too_big_monotonic)
{
	struct rbf_channel *ch = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL,
					    RBF_CLOCK_MONOTONIC, NULL, 4096, 4);
	uint32_t fits = 4096 - TH_HDR_SIZE - TH_REC_EXT_SIZE;
	uint8_t *p = (uint8_t *)malloc(4096);
	struct th_recs r = { 0 };
	struct rbf_stats st;

	cr_assert_not_null(p);
	th_fill_pattern(p, 4096, 1);
	/* Beyond even a compact header. */
	cr_assert_eq(rbf_write(ch, 1, p, 4096 - TH_HDR_SIZE - TH_REC_SIZE + 1),
		     -EMSGSIZE);
	cr_assert_eq(rbf_write(ch, 1, p, 4096), -EMSGSIZE);
	cr_assert_eq(rbf_write(ch, 1, p, fits), 0);
	st = th_stats(ch);
	cr_assert_eq(st.lost[RBF_LOST_TOO_BIG], 2u);
	cr_assert_eq(st.committed, 1u);
	cr_assert_eq(flush_drain(ch, &r), 1u);
	cr_assert_eq(r.v[0].len, fits);
	cr_assert_arr_eq(r.v[0].data, p, fits);
	th_recs_free(&r);
	free(p);
	rbf_channel_destroy(ch);
}

/*
 * Discard mode: with the extended header a 100-byte event occupies
 * RBF_ALIGN(16 + 100, 8) = 120 bytes; a 4096-byte sub-buffer holds
 * (4096 - 64) / 120 = 33 of them; the ring's 4 sub-buffers (the reader's
 * spare is not writable) hold 132.
 */
Test(write, discard_full_exact)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD, 4096, 4);
	const uint32_t per = (4096 - TH_HDR_SIZE) / th_ext_slot(100);
	const uint32_t tail = 4096 - TH_HDR_SIZE - per * th_ext_slot(100);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct th_recs r = { 0 };
	struct rbf_subbuf sb;
	struct rbf_stats st;
	uint8_t p[100];
	uint64_t seq = 0, i;
	int ret = 0, k;

	cr_assert_eq(per, 33u);
	cr_assert_eq(tail, 72u);
	for (i = 0; i < 1000; i++) {
		th_fill_pattern(p, sizeof(p), seq);
		ret = rbf_write_ts(ch, 1, p, sizeof(p), seq);
		if (ret)
			break;
		seq++;
	}
	cr_assert_eq(ret, -ENOBUFS);
	cr_assert_eq(seq, 4u * per, "%" PRIu64 " events fit, expected %u",
		     seq, 4 * per);
	for (k = 0; k < 10; k++)
		cr_assert_eq(rbf_write_ts(ch, 1, p, sizeof(p), seq), -ENOBUFS);
	/* The last sub-buffer's 72-byte tail takes three 24-byte records. */
	for (k = 0; k < 3; k++) {
		th_fill_pattern(p, 8, seq);
		cr_assert_eq(rbf_write_ts(ch, 2, p, 8, seq), 0,
			     "small event %d does not fit the tail", k);
		seq++;
	}
	cr_assert_eq(rbf_write_ts(ch, 2, p, 8, seq), -ENOBUFS);
	cr_assert_eq(rbf_write_ts(ch, 2, p, 0, seq), -ENOBUFS);
	st = th_stats(ch);
	cr_assert_eq(st.committed, 4u * per + 3);
	cr_assert_eq(st.lost[RBF_LOST_FULL], 13u);
	cr_assert_eq(st.lost_total, 13u);
	cr_assert_eq(st.written, 4u * per + 3 + 13);
	cr_assert_eq(st.buffered, 4u * per + 3);
	cr_assert_eq(st.read, 0u);
	cr_assert_eq(st.overwritten, 0u);
	th_assert_identity(&st, "full");

	/* Reading one sub-buffer frees exactly one sub-buffer of space. */
	cr_assert_eq(rbf_subbuf_get(buf, &sb), 0);
	cr_assert_eq(sb.seq, 0u);
	cr_assert_eq(sb.records, per);
	cr_assert_eq(rbf_subbuf_put(buf, &sb), 0);
	for (i = 0; i < 1000; i++) {
		th_fill_pattern(p, sizeof(p), seq);
		ret = rbf_write_ts(ch, 1, p, sizeof(p), seq);
		if (ret)
			break;
		seq++;
	}
	cr_assert_eq(ret, -ENOBUFS);
	cr_assert_eq(i, per, "%" PRIu64 " more fit after reading one "
		     "sub-buffer, expected %u", i, per);
	st = th_stats(ch);
	cr_assert_eq(st.read, per);
	cr_assert_eq(st.lost[RBF_LOST_FULL], 14u);
	cr_assert_eq(st.committed, 5u * per + 3);
	th_assert_identity(&st, "refilled");

	/* Everything left reads back in order. */
	cr_assert_eq(flush_drain(ch, &r), 4u * per + 3);
	for (i = 0; i < r.n; i++) {
		uint64_t s = per + i;
		uint32_t len = s >= 4 * per && s < 4 * per + 3 ? 8 : 100;

		cr_assert_eq(r.v[i].ts, s);
		cr_assert_eq(r.v[i].len, len);
		cr_assert_eq(th_check_pattern(r.v[i].data, len, s), -1);
		cr_assert_eq(r.v[i].subbuf_seq, s < 4 * per ? s / per :
			     s < 4 * per + 3 ? 3u : 4u);
	}
	st = th_stats(ch);
	cr_assert_eq(st.read, 5u * per + 3);
	cr_assert_eq(st.buffered, 0u);
	th_assert_identity(&st, "drained");
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}

/*
 * The same with the channel clock: records may be compact (112 bytes, 36 a
 * sub-buffer) or, for the first of a sub-buffer, extended (35 a sub-buffer).
 */
Test(write, discard_full_monotonic)
{
	struct rbf_channel *ch = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL,
					    RBF_CLOCK_MONOTONIC, NULL, 4096, 4);
	uint8_t p[100];
	uint64_t n = 0;
	struct rbf_stats st;
	int ret = 0;

	memset(p, 0x5a, sizeof(p));
	cr_assert_eq((4096 - TH_HDR_SIZE) / th_compact_slot(100), 36u);
	while (n < 1000) {
		ret = rbf_write(ch, 1, p, sizeof(p));
		if (ret)
			break;
		n++;
	}
	cr_assert_eq(ret, -ENOBUFS);
	cr_assert(n >= 4 * 35 && n <= 4 * 36, "%" PRIu64 " events fit", n);
	st = th_stats(ch);
	cr_assert_eq(st.committed, n);
	cr_assert_eq(st.lost[RBF_LOST_FULL], 1u);
	cr_assert_eq(flush_drain(ch, NULL), n);
	rbf_channel_destroy(ch);
}

Test(write, disabled)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD, 4096, 4);
	struct th_recs r = { 0 };
	struct rbf_wctx ctx;
	struct rbf_stats st;

	cr_assert_eq(rbf_write_ts(ch, 1, "a", 1, 1), 0);
	cr_assert_eq(rbf_channel_disable(ch), 0);
	cr_assert_eq(rbf_channel_disable(ch), 0);
	cr_assert_eq(rbf_write_ts(ch, 2, "b", 1, 2), -EPERM);
	cr_assert_eq(rbf_write(ch, 2, "b", 1), -EPERM);
	cr_assert_eq(rbf_reserve(ch, &ctx, 2, 1), -EPERM);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx, 2, 1, 3), -EPERM);
	st = th_stats(ch);
	cr_assert_eq(st.lost[RBF_LOST_DISABLED], 4u);
	cr_assert_eq(st.lost_total, 4u);
	cr_assert_eq(st.committed, 1u);
	cr_assert_eq(st.written, 5u);
	th_assert_identity(&st, "disabled");

	cr_assert_eq(rbf_channel_enable(ch), 0);
	cr_assert_eq(rbf_channel_enable(ch), 0);
	cr_assert_eq(rbf_write_ts(ch, 3, "c", 1, 4), 0);
	cr_assert_eq(flush_drain(ch, &r), 2u);
	cr_assert_eq(r.v[0].id, 1);
	cr_assert_eq(r.v[1].id, 3);
	cr_assert_eq(r.v[1].ts, 4u);
	st = th_stats(ch);
	cr_assert_eq(st.lost[RBF_LOST_DISABLED], 4u);
	cr_assert_eq(st.committed, 2u);
	th_assert_identity(&st, "re-enabled");
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}

/* Nested reservations on one thread, without signals. */
Test(write, nesting_manual)
{
	struct rbf_channel_attr attr;
	struct rbf_channel *ch = NULL;
	struct rbf_wctx ctx[RBF_NESTING_MAX + 1];
	struct th_recs r = { 0 };
	struct rbf_stats st;
	uint64_t v;
	int i;

	th_attr(&attr, RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL, RBF_CLOCK_NONE, NULL,
		4096, 4);
	attr.max_nesting = 2;
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx[0], 1, 8, 1), 0);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx[1], 2, 8, 2), 0);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx[2], 3, 8, 3), -ELOOP);
	cr_assert_eq(rbf_write_ts(ch, 3, "zzzzzzzz", 8, 3), -ELOOP);
	memcpy(ctx[1].data, "BBBBBBBB", 8);
	cr_assert_eq(rbf_commit(&ctx[1]), 0);
	/* Depth back to 1: one more nested write fits. */
	cr_assert_eq(rbf_write_ts(ch, 4, "CCCCCCCC", 8, 4), 0);
	memcpy(ctx[0].data, "AAAAAAAA", 8);
	cr_assert_eq(rbf_commit(&ctx[0]), 0);
	st = th_stats(ch);
	cr_assert_eq(st.lost[RBF_LOST_NESTING], 2u);
	cr_assert_eq(st.committed, 3u);
	th_assert_identity(&st, "nesting");
	/* Buffer order is reservation order. */
	cr_assert_eq(flush_drain(ch, &r), 3u);
	cr_assert_eq(r.v[0].id, 1);
	cr_assert_arr_eq(r.v[0].data, "AAAAAAAA", 8);
	cr_assert_eq(r.v[1].id, 2);
	cr_assert_arr_eq(r.v[1].data, "BBBBBBBB", 8);
	cr_assert_eq(r.v[2].id, 4);
	cr_assert_arr_eq(r.v[2].data, "CCCCCCCC", 8);
	th_recs_free(&r);
	rbf_channel_destroy(ch);

	/* The deepest allowed nesting. */
	attr.max_nesting = RBF_NESTING_MAX;
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	for (i = 0; i < (int)RBF_NESTING_MAX; i++)
		cr_assert_eq(rbf_reserve_ts(ch, &ctx[i], (uint16_t)i, 8,
					    (uint64_t)i), 0, "depth %d", i + 1);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx[i], 99, 8, 99), -ELOOP);
	for (i = (int)RBF_NESTING_MAX - 1; i >= 0; i--) {
		v = (uint64_t)i * 1000;
		memcpy(ctx[i].data, &v, 8);
		cr_assert_eq(rbf_commit(&ctx[i]), 0);
	}
	cr_assert_eq(flush_drain(ch, &r), RBF_NESTING_MAX);
	for (i = 0; i < (int)RBF_NESTING_MAX; i++) {
		memcpy(&v, r.v[i].data, 8);
		cr_assert_eq(r.v[i].id, i);
		cr_assert_eq(v, (uint64_t)i * 1000);
	}
	st = th_stats(ch);
	cr_assert_eq(st.lost[RBF_LOST_NESTING], 1u);
	th_recs_free(&r);
	rbf_channel_destroy(ch);

	/* max_nesting 1: no nesting at all. */
	attr.max_nesting = 1;
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx[0], 1, 8, 1), 0);
	cr_assert_eq(rbf_write_ts(ch, 2, "xxxxxxxx", 8, 2), -ELOOP);
	memcpy(ctx[0].data, "AAAAAAAA", 8);
	cr_assert_eq(rbf_commit(&ctx[0]), 0);
	cr_assert_eq(rbf_write_ts(ch, 3, "yyyyyyyy", 8, 3), 0);
	st = th_stats(ch);
	cr_assert_eq(st.lost[RBF_LOST_NESTING], 1u);
	cr_assert_eq(st.committed, 2u);
	rbf_channel_destroy(ch);
}

/* Nesting from signal handlers raised between reserve and commit. */
static struct rbf_channel *sig_ch;
static volatile sig_atomic_t usr1_write = 1, usr1_reserve = 1;
static volatile sig_atomic_t usr1_commit = 1, usr2_write = 1;

static void on_usr2(int sig)
{
	(void)sig;
	usr2_write = rbf_write_ts(sig_ch, 4, "level3!!", 8, 4);
}

static void on_usr1(int sig)
{
	struct rbf_wctx c;

	(void)sig;
	usr1_write = rbf_write_ts(sig_ch, 2, "level2a!", 8, 2);
	usr1_reserve = rbf_reserve_ts(sig_ch, &c, 3, 8, 3);
	if (usr1_reserve == 0) {
		memcpy(c.data, "level2b!", 8);
		raise(SIGUSR2);
		usr1_commit = rbf_commit(&c);
	}
}

Test(write, nesting_signals)
{
	struct rbf_channel_attr attr;
	struct th_recs r = { 0 };
	struct sigaction sa;
	struct rbf_wctx ctx;
	struct rbf_stats st;

	th_attr(&attr, RBF_MODE_DISCARD, RBF_ALLOC_PER_THREAD, RBF_CLOCK_NONE,
		NULL, 4096, 4);
	attr.max_nesting = 2;
	cr_assert_eq(rbf_channel_create(&attr, &sig_ch), 0);
	cr_assert_eq(rbf_thread_prepare(sig_ch), 0);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_usr1;
	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	sa.sa_handler = on_usr2;
	cr_assert_eq(sigaction(SIGUSR2, &sa, NULL), 0);

	cr_assert_eq(rbf_reserve_ts(sig_ch, &ctx, 1, 8, 1), 0);
	memcpy(ctx.data, "level1!!", 8);
	raise(SIGUSR1);
	cr_assert_eq(rbf_commit(&ctx), 0);

	cr_assert_eq(usr1_write, 0, "depth 2 write from a handler: %d",
		     (int)usr1_write);
	cr_assert_eq(usr1_reserve, 0, "depth 2 reserve from a handler: %d",
		     (int)usr1_reserve);
	cr_assert_eq(usr2_write, -ELOOP, "depth 3 write: %d", (int)usr2_write);
	cr_assert_eq(usr1_commit, 0);
	st = th_stats(sig_ch);
	cr_assert_eq(st.committed, 3u);
	cr_assert_eq(st.lost[RBF_LOST_NESTING], 1u);
	cr_assert_eq(st.lost_total, 1u);

	/* Outside any write again: a handler's nested write fits. */
	usr1_write = usr1_reserve = usr1_commit = usr2_write = 1;
	raise(SIGUSR1);
	cr_assert_eq(usr1_write, 0);
	cr_assert_eq(usr1_reserve, 0);
	cr_assert_eq(usr2_write, 0, "depth 2 write: %d", (int)usr2_write);
	cr_assert_eq(usr1_commit, 0);

	cr_assert_eq(rbf_channel_flush(sig_ch), 0);
	cr_assert_eq(th_drain_channel(sig_ch, &r), 6u);
	cr_assert_eq(r.v[0].id, 1);
	cr_assert_arr_eq(r.v[0].data, "level1!!", 8);
	cr_assert_eq(r.v[1].id, 2);
	cr_assert_arr_eq(r.v[1].data, "level2a!", 8);
	cr_assert_eq(r.v[2].id, 3);
	cr_assert_arr_eq(r.v[2].data, "level2b!", 8);
	st = th_stats(sig_ch);
	th_assert_identity(&st, "nesting_signals");
	cr_assert_eq(st.committed, 6u);
	cr_assert_eq(st.read, 6u);
	th_recs_free(&r);
	rbf_channel_destroy(sig_ch);
}

/* Stamps given with rbf_write_ts read back exactly. */
static void stamps_roundtrip(enum rbf_clock clock)
{
	static const uint64_t ts[] = {
		1, 2, (1ull << 32) + 5, 1ull << 40, 7, (1ull << 40) + 0xffffffffull,
		(1ull << 40) + (1ull << 32), 0xfffffff0ull, 0x100000010ull,
		0x1fffffff0ull, 0x200000001ull, 1ull << 63, 5, 0,
		0x7fffffffffffffffull, 3,
	};
	const size_t n = sizeof(ts) / sizeof(ts[0]);
	struct rbf_channel *ch = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL,
					    clock, NULL, 4096, 4);
	struct th_recs r = { 0 };
	uint8_t p[24];
	size_t i;

	for (i = 0; i < n; i++) {
		th_fill_pattern(p, sizeof(p), i);
		cr_assert_eq(rbf_write_ts(ch, (uint16_t)i, p, i, ts[i]), 0);
	}
	cr_assert_eq(flush_drain(ch, &r), n);
	for (i = 0; i < n; i++) {
		cr_assert_eq(r.v[i].ts, ts[i], "event %zu: ts %#" PRIx64
			     ", written %#" PRIx64, i, r.v[i].ts, ts[i]);
		cr_assert_eq(r.v[i].id, i);
		cr_assert_eq(r.v[i].len, i);
		cr_assert_eq(th_check_pattern(r.v[i].data, i, i), -1);
	}
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}

Test(write, stamps_none)
{
	stamps_roundtrip(RBF_CLOCK_NONE);
}

/* Caller stamps are for RBF_CLOCK_NONE channels only (not counted). */
Test(write, stamps_refused_with_clock)
{
	struct rbf_channel *ch = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL,
					    RBF_CLOCK_MONOTONIC, NULL, 4096, 4);
	struct rbf_wctx ctx;
	struct rbf_stats st;

	cr_assert_eq(rbf_write_ts(ch, 1, "abcd", 4, 5), -EINVAL);
	cr_assert_eq(rbf_reserve_ts(ch, &ctx, 1, 4, 5), -EINVAL);
	st = th_stats(ch);
	cr_assert_eq(st.written, 0u);
	cr_assert_eq(rbf_write(ch, 1, "abcd", 4), 0);
	rbf_channel_destroy(ch);
}

/* Decode a held sub-buffer ourselves and compare with the library. */
static int parse_held(struct rbf_subbuf *sb, struct th_raw_rec *out,
		      int cap, struct rbf_subbuf_header *hdr)
{
	uint8_t *img = th_subbuf_image(sb);
	struct rbf_event ev;
	size_t pos = 0;
	int n, i;

	n = th_parse_subbuf(img, sb->size, hdr, out, cap);
	cr_assert_geq(n, 0, "our decoder rejects the sub-buffer: %d", n);
	cr_assert_eq((uint32_t)n, sb->records);
	for (i = 0; i < n; i++) {
		cr_assert_eq(rbf_subbuf_next_event(sb, &pos, &ev), 1);
		cr_assert_eq(ev.ts, out[i].ts, "record %d: library ts %" PRIu64
			     ", format says %" PRIu64, i, ev.ts, out[i].ts);
		cr_assert_eq(ev.id, out[i].id);
		cr_assert_eq(ev.len, out[i].len);
		if (ev.len)
			cr_assert_arr_eq(ev.data, img + out[i].off, ev.len);
	}
	cr_assert_eq(rbf_subbuf_next_event(sb, &pos, &ev), 0);
	free(img);
	return n;
}

Test(write, format_none_all_extended)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD, 4096, 4);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct rbf_subbuf_header hdr;
	struct th_raw_rec rec[64];
	struct rbf_subbuf sb;
	uint8_t p[64];
	int n, i;

	for (i = 0; i < 20; i++) {
		th_fill_pattern(p, sizeof(p), (uint64_t)i);
		cr_assert_eq(rbf_write_ts(ch, (uint16_t)i, p, (size_t)i * 3,
					  1000 + (uint64_t)i), 0);
	}
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(rbf_subbuf_get(buf, &sb), 0);
	n = parse_held(&sb, rec, 64, &hdr);
	cr_assert_eq(n, 20);
	for (i = 0; i < n; i++) {
		cr_assert(rec[i].ext, "record %d of a NONE channel is compact",
			  i);
		cr_assert_eq(rec[i].ts, 1000 + (uint64_t)i);
		cr_assert_eq(rec[i].len, (uint32_t)i * 3);
		cr_assert_eq(rec[i].slot, th_ext_slot((uint32_t)i * 3));
	}
	cr_assert_eq(hdr.ts_begin, 1000u);
	cr_assert_eq(rbf_subbuf_put(buf, &sb), 0);
	rbf_channel_destroy(ch);
}

Test(write, format_monotonic_compact)
{
	struct rbf_channel *ch = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL,
					    RBF_CLOCK_MONOTONIC, NULL, 4096, 4);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct rbf_subbuf_header hdr;
	struct th_raw_rec rec[256];
	struct rbf_subbuf sb;
	uint64_t before, after;
	int n, i, compact = 0;

	before = th_now_ns();
	for (i = 0; i < 50; i++)
		cr_assert_eq(rbf_write(ch, 7, &i, sizeof(i)), 0);
	after = th_now_ns();
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(rbf_subbuf_get(buf, &sb), 0);
	n = parse_held(&sb, rec, 256, &hdr);
	cr_assert_eq(n, 50);
	for (i = 0; i < n; i++) {
		cr_assert(rec[i].ts >= before && rec[i].ts <= after,
			  "record %d: ts %" PRIu64 " outside [%" PRIu64 ", %"
			  PRIu64 "]", i, rec[i].ts, before, after);
		if (i)
			cr_assert_geq(rec[i].ts, rec[i - 1].ts);
		compact += !rec[i].ext;
		cr_assert_eq(rec[i].slot, rec[i].ext ? th_ext_slot(4) :
						       th_compact_slot(4));
	}
	cr_assert_geq(compact, 1, "50 quick small events, none compact");
	cr_assert_eq(hdr.ts_begin, rec[0].ts);
	cr_assert_geq(hdr.ts_end, rec[n - 1].ts);
	cr_assert_eq(rbf_subbuf_put(buf, &sb), 0);
	rbf_channel_destroy(ch);
}

Test(write, large_payload_extended)
{
	/* Default geometry: 64 KiB sub-buffers. */
	struct rbf_channel *ch = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL,
					    RBF_CLOCK_MONOTONIC, NULL, 65536, 4);
	static const uint32_t lens[] = { 16383, 16384, 40000, 65536 - 80 };
	struct rbf_buffer *buf = th_global_buffer(ch);
	uint8_t *p = (uint8_t *)malloc(65536);
	struct rbf_subbuf_header hdr;
	struct th_raw_rec rec[4];
	struct rbf_subbuf sb;
	size_t i;
	int n;

	cr_assert_not_null(p);
	for (i = 0; i < 4; i++) {
		th_fill_pattern(p, lens[i], lens[i]);
		cr_assert_eq(rbf_write(ch, (uint16_t)i, p, lens[i]), 0,
			     "len %u", lens[i]);
		cr_assert_eq(rbf_buffer_flush(buf), 0);
		cr_assert_eq(rbf_subbuf_get(buf, &sb), 0);
		n = parse_held(&sb, rec, 4, &hdr);
		cr_assert_eq(n, 1);
		cr_assert_eq(rec[0].len, lens[i]);
		if (lens[i] > RBF_REC_COMPACT_MAX_LEN)
			cr_assert(rec[0].ext, "len %u in a compact header",
				  lens[i]);
		if (sb.data)
			cr_assert_eq(th_check_pattern((const uint8_t *)sb.data +
						      rec[0].off, lens[i],
						      lens[i]), -1);
		cr_assert_eq(rbf_subbuf_put(buf, &sb), 0);
	}
	free(p);
	rbf_channel_destroy(ch);
}

Test(write, each_alloc_mode)
{
	static const enum rbf_alloc allocs[] = {
		RBF_ALLOC_PER_CPU, RBF_ALLOC_PER_THREAD, RBF_ALLOC_GLOBAL,
	};
	size_t a;

	for (a = 0; a < 3; a++) {
		struct rbf_channel *ch = th_channel(RBF_MODE_DISCARD, allocs[a],
						    RBF_CLOCK_MONOTONIC, NULL,
						    4096, 4);
		struct th_recs r = { 0 };
		uint8_t p[TH_EVENT_SIZE + 8];
		struct th_event e;
		uint64_t i;

		for (i = 0; i < 50; i++) {
			th_event_make(p, sizeof(p), 0, 0, i);
			cr_assert_eq(rbf_write(ch, 1, p, sizeof(p)), 0);
		}
		cr_assert_eq(rbf_channel_flush(ch), 0);
		cr_assert_eq(th_drain_channel(ch, &r), 50u);
		for (i = 0; i < 50; i++) {
			cr_assert_eq(th_event_verify(r.v[i].data, r.v[i].len,
						     &e), 0);
			cr_assert_eq(e.seq, i, "alloc %d: event %" PRIu64
				     " has seq %" PRIu64, allocs[a], i, e.seq);
		}
		th_recs_free(&r);
		rbf_channel_destroy(ch);
	}
}
