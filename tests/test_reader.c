/* SPDX-License-Identifier: MIT */
/*
 * tests/test_reader.c - the reader side: sub-buffer exchange, decoding,
 * consuming, merging, the iterator, overwrite mode as a reader sees it,
 * buffer information and reaping.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "helpers.h"

static struct rbf_channel *none_global(enum rbf_mode mode)
{
	return th_channel(mode, RBF_ALLOC_GLOBAL, RBF_CLOCK_NONE, NULL, 4096, 4);
}

/* Write events 0..n-1 (ts = seq + @ts0) of TH_EVENT_SIZE + @extra bytes. */
static void write_seq(struct rbf_channel *ch, uint64_t first, uint64_t n,
		      uint32_t extra, uint64_t ts0)
{
	uint8_t p[TH_EVENT_SIZE + 256];
	uint64_t i;

	for (i = first; i < first + n; i++) {
		th_event_make(p, TH_EVENT_SIZE + extra, 0, 0, i);
		cr_assert_eq(rbf_write_ts(ch, 1, p, TH_EVENT_SIZE + extra,
					  ts0 + i), 0, "event %" PRIu64, i);
	}
}

static uint64_t rec_seq(const struct th_rec *r)
{
	struct th_event e;

	cr_assert_eq(th_event_verify(r->data, r->len, &e), 0,
		     "corrupt event");
	return e.seq;
}

Test(reader, bad_args)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct rbf_buffer_info bi;
	struct rbf_subbuf sb;
	struct rbf_event ev;
	struct rbf_iter *it = NULL;
	size_t pos = 0;

	cr_assert_eq(rbf_channel_buffers(NULL, NULL, 0), -EINVAL);
	cr_assert_eq(rbf_subbuf_get(NULL, &sb), -EINVAL);
	cr_assert_eq(rbf_subbuf_get(buf, NULL), -EINVAL);
	cr_assert_eq(rbf_subbuf_put(NULL, &sb), -EINVAL);
	cr_assert_eq(rbf_subbuf_put(buf, NULL), -EINVAL);
	cr_assert_eq(rbf_subbuf_read(NULL, 0, &bi, 1), -EINVAL);
	cr_assert_eq(rbf_subbuf_next_event(NULL, &pos, &ev), -EINVAL);
	cr_assert_eq(rbf_buffer_flush(NULL), -EINVAL);
	cr_assert_eq(rbf_channel_flush(NULL), -EINVAL);
	cr_assert_eq(rbf_buffer_consume(NULL, &ev), -EINVAL);
	cr_assert_eq(rbf_buffer_consume(buf, NULL), -EINVAL);
	cr_assert_eq(rbf_channel_consume(NULL, &ev), -EINVAL);
	cr_assert_eq(rbf_channel_consume(ch, NULL), -EINVAL);
	cr_assert_eq(rbf_channel_reap(NULL), -EINVAL);
	cr_assert_eq(rbf_iter_create(NULL, NULL, &it), -EINVAL);
	cr_assert_eq(rbf_iter_create(ch, NULL, NULL), -EINVAL);
	rbf_iter_destroy(NULL);
	memset(&bi, 0, sizeof(bi));
	bi.size = sizeof(bi);
	cr_assert_eq(rbf_buffer_get_info(NULL, &bi), -EINVAL);
	cr_assert_eq(rbf_buffer_get_info(buf, NULL), -EINVAL);
	cr_assert_eq(rbf_buffer_stats(NULL, NULL), -EINVAL);
	/* Putting what was never got. */
	memset(&sb, 0, sizeof(sb));
	cr_assert_eq(rbf_subbuf_put(buf, &sb), -EINVAL);
	rbf_channel_destroy(ch);
}

Test(reader, empty)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct rbf_subbuf sb;
	struct rbf_event ev;

	cr_assert_eq(rbf_subbuf_get(buf, &sb), -EAGAIN);
	cr_assert_eq(rbf_buffer_consume(buf, &ev), 0);
	cr_assert_eq(rbf_channel_consume(ch, &ev), 0);
	/* Flushing an empty buffer closes nothing. */
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(rbf_subbuf_get(buf, &sb), -EAGAIN);
	cr_assert_eq(rbf_channel_flush(ch), 0);
	cr_assert_eq(rbf_subbuf_get(buf, &sb), -EAGAIN);
	cr_assert_eq(th_iterate(ch, NULL, NULL), 0u);
	rbf_channel_destroy(ch);
}

Test(reader, unflushed_is_invisible)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct rbf_subbuf sb;
	struct rbf_event ev;

	write_seq(ch, 0, 5, 0, 0);
	cr_assert_eq(rbf_subbuf_get(buf, &sb), -EAGAIN);
	cr_assert_eq(rbf_buffer_consume(buf, &ev), 0);
	cr_assert_eq(th_iterate(ch, buf, NULL), 0u);
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(rbf_buffer_consume(buf, &ev), 1);
	rbf_channel_destroy(ch);
}

Test(reader, subbuf_get_put)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD);
	struct rbf_buffer *buf = th_global_buffer(ch);
	const uint32_t extra = 13, len = TH_EVENT_SIZE + extra;
	struct rbf_subbuf_header hdr;
	struct rbf_buffer_info bi;
	struct rbf_subbuf sb, sb2;
	struct rbf_event ev;
	struct th_event e;
	struct rbf_stats st;
	size_t pos = 0;
	uint8_t tmp[16];
	uint64_t i;

	memset(&bi, 0, sizeof(bi));
	bi.size = sizeof(bi);
	cr_assert_eq(rbf_buffer_get_info(buf, &bi), 0);
	write_seq(ch, 0, 10, extra, 100);
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	memset(&sb, 0, sizeof(sb));
	cr_assert_eq(rbf_subbuf_get(buf, &sb), 0);
	cr_assert_not_null(sb.data, "page backend: sb.data is CPU memory");
	cr_assert_eq(sb.records, 10u);
	cr_assert_eq(sb.seq, 0u);
	cr_assert_eq(sb.ts_begin, 100u);
	cr_assert_geq(sb.ts_end, 109u);
	cr_assert_eq(sb.size, TH_HDR_SIZE + 10 * th_ext_slot(len));

	memcpy(&hdr, sb.data, sizeof(hdr));
	cr_assert_eq(hdr.magic, RBF_SUBBUF_MAGIC);
	cr_assert_eq(hdr.header_size, 64);
	cr_assert_eq(hdr.flags, 0);
	cr_assert_eq(hdr.content_size, sb.size);
	cr_assert_eq(hdr.subbuf_size, 4096u);
	cr_assert_eq(hdr.seq, 0u);
	cr_assert_eq(hdr.ts_begin, sb.ts_begin);
	cr_assert_eq(hdr.ts_end, sb.ts_end);
	cr_assert_eq(hdr.lost, 0u);
	cr_assert_eq(hdr.overwritten, 0u);
	cr_assert_eq(hdr.buffer_id, bi.id);
	cr_assert_eq(hdr.reserved, 0u);

	for (i = 0; i < 10; i++) {
		cr_assert_eq(rbf_subbuf_next_event(&sb, &pos, &ev), 1);
		cr_assert_eq(ev.ts, 100 + i);
		cr_assert_eq(ev.id, 1);
		cr_assert_eq(ev.len, len);
		cr_assert_eq(ev.subbuf_seq, 0u);
		cr_assert_eq(ev.buffer, buf);
		cr_assert_eq(th_event_verify(ev.data, ev.len, &e), 0);
		cr_assert_eq(e.seq, i);
	}
	cr_assert_eq(rbf_subbuf_next_event(&sb, &pos, &ev), 0);
	cr_assert_eq(rbf_subbuf_next_event(&sb, &pos, &ev), 0);
	cr_assert_eq(rbf_subbuf_next_event(&sb, NULL, &ev), -EINVAL);
	cr_assert_eq(rbf_subbuf_next_event(&sb, &pos, NULL), -EINVAL);

	/* rbf_subbuf_read: the same bytes, and range errors. */
	free(th_subbuf_image(&sb));
	cr_assert_eq(rbf_subbuf_read(&sb, 8, tmp, 8), 0);
	cr_assert_arr_eq(tmp, (const uint8_t *)sb.data + 8, 8);
	cr_assert_eq(rbf_subbuf_read(&sb, 4096, tmp, 1), -EINVAL);
	cr_assert_eq(rbf_subbuf_read(&sb, 0, tmp, 4097), -EINVAL);
	cr_assert_eq(rbf_subbuf_read(&sb, 4090, tmp, 16), -EINVAL);
	cr_assert_eq(rbf_subbuf_read(&sb, SIZE_MAX, tmp, 2), -EINVAL);
	cr_assert_eq(rbf_subbuf_read(&sb, 8, tmp, SIZE_MAX), -EINVAL);
	cr_assert_eq(rbf_subbuf_read(&sb, 0, NULL, 8), -EINVAL);

	/* One held sub-buffer per buffer. */
	cr_assert_eq(rbf_subbuf_get(buf, &sb2), -EBUSY);
	cr_assert_eq(rbf_subbuf_put(buf, &sb), 0);
	cr_assert_eq(rbf_subbuf_put(buf, &sb), -EINVAL);
	cr_assert_eq(rbf_subbuf_read(&sb, 0, tmp, 8), -EINVAL,
		     "reading a sub-buffer after put");
	cr_assert_eq(rbf_subbuf_get(buf, &sb), -EAGAIN);

	st = th_buffer_stats(buf);
	cr_assert_eq(st.read, 10u);
	cr_assert_eq(st.subbufs_read, 1u);
	cr_assert_eq(st.buffered, 0u);
	th_assert_identity(&st, "after put");

	/* The next sub-buffer has the next sequence number. */
	write_seq(ch, 10, 5, extra, 100);
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(rbf_subbuf_get(buf, &sb), 0);
	cr_assert_eq(sb.seq, 1u);
	cr_assert_eq(sb.records, 5u);
	cr_assert_eq(sb.ts_begin, 110u);
	pos = 0;
	cr_assert_eq(rbf_subbuf_next_event(&sb, &pos, &ev), 1);
	cr_assert_eq(ev.subbuf_seq, 1u);
	cr_assert_eq(rbf_subbuf_put(buf, &sb), 0);
	rbf_channel_destroy(ch);
}

Test(reader, full_subbufs_without_flush)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD);
	struct rbf_buffer *buf = th_global_buffer(ch);
	const uint32_t per = (4096 - TH_HDR_SIZE) / th_ext_slot(TH_EVENT_SIZE);
	struct rbf_subbuf sb;
	uint64_t s;

	/* Two full sub-buffers and one more event: two readable. */
	write_seq(ch, 0, 2 * per + 1, 0, 0);
	for (s = 0; s < 2; s++) {
		cr_assert_eq(rbf_subbuf_get(buf, &sb), 0);
		cr_assert_eq(sb.seq, s);
		cr_assert_eq(sb.records, per);
		cr_assert_eq(sb.ts_begin, s * per);
		cr_assert_eq(rbf_subbuf_put(buf, &sb), 0);
	}
	cr_assert_eq(rbf_subbuf_get(buf, &sb), -EAGAIN);
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(rbf_subbuf_get(buf, &sb), 0);
	cr_assert_eq(sb.seq, 2u);
	cr_assert_eq(sb.records, 1u);
	cr_assert_eq(rbf_subbuf_put(buf, &sb), 0);
	rbf_channel_destroy(ch);
}

Test(reader, buffer_consume_order)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct th_recs r = { 0 };
	struct rbf_stats st;
	uint64_t i;

	write_seq(ch, 0, 100, 40, 0);
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(th_drain_buffer(buf, &r), 100u);
	for (i = 0; i < 100; i++) {
		cr_assert_eq(rec_seq(&r.v[i]), i);
		cr_assert_eq(r.v[i].ts, i);
		if (i)
			cr_assert_geq(r.v[i].subbuf_seq, r.v[i - 1].subbuf_seq);
	}
	cr_assert_gt(r.v[99].subbuf_seq, 0u, "100 events in one sub-buffer?");
	th_recs_free(&r);
	st = th_buffer_stats(buf);
	cr_assert_eq(st.read, 100u);
	cr_assert_eq(st.buffered, 0u);

	/* More after draining, in two rounds. */
	write_seq(ch, 100, 30, 40, 0);
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	write_seq(ch, 130, 30, 40, 0);
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(th_drain_buffer(buf, &r), 60u);
	for (i = 0; i < 60; i++)
		cr_assert_eq(rec_seq(&r.v[i]), 100 + i);
	th_recs_free(&r);
	st = th_buffer_stats(buf);
	cr_assert_eq(st.read, 160u);
	th_assert_identity(&st, "consume");
	rbf_channel_destroy(ch);
}

/* Per-thread channel; thread k writes ts = 3 * i + k. */
#define MERGE_THREADS 3
#define MERGE_EVENTS 300

struct merge_arg {
	struct rbf_channel *ch;
	uint32_t k;
	int ret;
	pid_t tid;
};

static void *merge_writer(void *p)
{
	struct merge_arg *a = (struct merge_arg *)p;
	uint8_t b[TH_EVENT_SIZE];
	uint64_t i;

	a->tid = th_gettid();
	for (i = 0; i < MERGE_EVENTS; i++) {
		th_event_make(b, sizeof(b), a->k, 0, i);
		a->ret = rbf_write_ts(a->ch, (uint16_t)a->k, b, sizeof(b),
				      MERGE_THREADS * i + a->k);
		if (a->ret)
			break;
	}
	return NULL;
}

static void merge_setup(struct rbf_channel **chp, struct merge_arg *args)
{
	pthread_t t[MERGE_THREADS];
	uint32_t k;

	/* 4 sub-buffers of 100 40-byte records: 300 fit in discard mode. */
	*chp = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_PER_THREAD,
			  RBF_CLOCK_NONE, NULL, 4096, 4);
	for (k = 0; k < MERGE_THREADS; k++) {
		args[k].ch = *chp;
		args[k].k = k;
		args[k].ret = 1;
		cr_assert_eq(pthread_create(&t[k], NULL, merge_writer,
					    &args[k]), 0);
	}
	for (k = 0; k < MERGE_THREADS; k++) {
		pthread_join(t[k], NULL);
		cr_assert_eq(args[k].ret, 0, "writer %u: %d", k, args[k].ret);
	}
	cr_assert_eq(rbf_channel_flush(*chp), 0);
}

static void check_merged(const struct th_recs *r)
{
	struct th_event e;
	size_t i;

	cr_assert_eq(r->n, (size_t)MERGE_THREADS * MERGE_EVENTS);
	for (i = 0; i < r->n; i++) {
		cr_assert_eq(r->v[i].ts, i, "merged event %zu has ts %" PRIu64,
			     i, r->v[i].ts);
		cr_assert_eq(th_event_verify(r->v[i].data, r->v[i].len, &e), 0);
		cr_assert_eq(e.writer, i % MERGE_THREADS);
		cr_assert_eq(e.seq, i / MERGE_THREADS);
		cr_assert_eq(r->v[i].id, e.writer);
	}
}

Test(reader, channel_consume_merges)
{
	struct merge_arg args[MERGE_THREADS];
	struct rbf_channel *ch;
	struct th_recs r = { 0 };
	struct rbf_event ev;
	struct rbf_stats st;

	merge_setup(&ch, args);
	cr_assert_eq(th_drain_channel(ch, &r), (size_t)MERGE_THREADS *
		     MERGE_EVENTS);
	check_merged(&r);
	cr_assert_eq(rbf_channel_consume(ch, &ev), 0);
	st = th_stats(ch);
	cr_assert_eq(st.read, (uint64_t)MERGE_THREADS * MERGE_EVENTS);
	cr_assert_eq(st.buffered, 0u);
	th_assert_identity(&st, "merged");
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}

Test(reader, iterator_does_not_consume)
{
	struct merge_arg args[MERGE_THREADS];
	struct rbf_buffer *bufs[8];
	struct rbf_channel *ch;
	struct th_recs it = { 0 }, it2 = { 0 }, one = { 0 }, r = { 0 };
	struct rbf_stats st;
	size_t i;
	int n;

	merge_setup(&ch, args);
	cr_assert_eq(th_iterate(ch, NULL, &it), (size_t)MERGE_THREADS *
		     MERGE_EVENTS);
	check_merged(&it);
	st = th_stats(ch);
	cr_assert_eq(st.read, 0u, "the iterator consumed");
	cr_assert_eq(st.buffered, (uint64_t)MERGE_THREADS * MERGE_EVENTS);

	/* Again: the same events. */
	cr_assert_eq(th_iterate(ch, NULL, &it2), it.n);
	for (i = 0; i < it.n; i++) {
		cr_assert_eq(it2.v[i].ts, it.v[i].ts);
		cr_assert_arr_eq(it2.v[i].data, it.v[i].data, it.v[i].len);
	}

	/* A one-buffer iterator sees one writer's events in order. */
	n = th_buffers(ch, bufs, 8);
	cr_assert_eq(n, MERGE_THREADS);
	cr_assert_eq(th_iterate(ch, bufs[0], &one), (size_t)MERGE_EVENTS);
	for (i = 0; i < one.n; i++) {
		struct th_event e;

		cr_assert_eq(th_event_verify(one.v[i].data, one.v[i].len, &e),
			     0);
		cr_assert_eq(e.seq, i);
		cr_assert_eq(one.v[i].buffer, bufs[0]);
	}

	/* Consuming then returns the very same events. */
	cr_assert_eq(th_drain_channel(ch, &r), it.n);
	for (i = 0; i < it.n; i++) {
		cr_assert_eq(r.v[i].ts, it.v[i].ts);
		cr_assert_eq(r.v[i].id, it.v[i].id);
		cr_assert_eq(r.v[i].len, it.v[i].len);
		cr_assert_eq(r.v[i].subbuf_seq, it.v[i].subbuf_seq);
		cr_assert_eq(r.v[i].buffer, it.v[i].buffer);
		cr_assert_arr_eq(r.v[i].data, it.v[i].data, it.v[i].len);
	}
	/* Nothing left unread: a new iterator is empty. */
	cr_assert_eq(th_iterate(ch, NULL, NULL), 0u);
	th_recs_free(&it);
	th_recs_free(&it2);
	th_recs_free(&one);
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}

/*
 * Overwrite mode: 1005 records of 24 + 16 (extended header) = 40 bytes,
 * (4096 - 64) / 40 = 100 per sub-buffer.  Sub-buffers 0..10 are written
 * (10 holds 5 records); the ring keeps the newest 4: 7, 8, 9 and 10 (10
 * closed by the flush); 0..6 were overwritten.
 */
Test(reader, overwrite_keeps_newest)
{
	struct rbf_channel *ch = none_global(RBF_MODE_OVERWRITE);
	struct rbf_buffer *buf = th_global_buffer(ch);
	const uint32_t per = (4096 - TH_HDR_SIZE) / th_ext_slot(TH_EVENT_SIZE);
	const uint64_t total = 1005;
	const uint64_t last_sb = (total - 1) / per;
	const uint64_t first_kept = (last_sb - 3) * per;
	struct th_recs r = { 0 };
	struct rbf_stats st;
	uint64_t i;

	cr_assert_eq(per, 100u);
	write_seq(ch, 0, total, 0, 0);
	st = th_stats(ch);
	cr_assert_eq(st.committed, total);
	cr_assert_eq(st.lost_total, 0u);
	th_assert_identity(&st, "overwritten, before flush");
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	cr_assert_eq(th_drain_buffer(buf, &r), total - first_kept,
		     "received %zu, expected the newest %" PRIu64, r.n,
		     total - first_kept);
	for (i = 0; i < r.n; i++) {
		uint64_t seq = rec_seq(&r.v[i]);

		cr_assert_eq(seq, first_kept + i);
		cr_assert_eq(r.v[i].ts, seq);
		cr_assert_eq(r.v[i].subbuf_seq, seq / per,
			     "event %" PRIu64 " in sub-buffer %" PRIu64, seq,
			     r.v[i].subbuf_seq);
	}
	st = th_stats(ch);
	cr_assert_eq(st.read, total - first_kept);
	cr_assert_eq(st.overwritten, first_kept);
	cr_assert_eq(st.overwritten, st.committed - st.read);
	cr_assert_eq(st.subbufs_overwritten, last_sb - 3);
	cr_assert_eq(st.subbufs_read, 4u);
	cr_assert_eq(st.buffered, 0u);
	th_assert_identity(&st, "overwrite drained");
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}

/* Overwrite mode with reads in between: seq gaps only between sub-buffers. */
Test(reader, overwrite_with_reader)
{
	struct rbf_channel *ch = none_global(RBF_MODE_OVERWRITE);
	struct rbf_buffer *buf = th_global_buffer(ch);
	const uint32_t per = (4096 - TH_HDR_SIZE) / th_ext_slot(TH_EVENT_SIZE);
	struct th_recs r = { 0 };
	struct rbf_subbuf sb;
	struct rbf_stats st;
	uint64_t written = 0, last_seq = 0, prev_sb = 0;
	int have = 0, round;
	size_t i;

	for (round = 0; round < 20; round++) {
		uint64_t n = 37 + (uint64_t)round * 61;

		write_seq(ch, written, n, 0, 0);
		written += n;
		if (round % 3 == 0) {
			/* Take one sub-buffer now and then. */
			if (rbf_subbuf_get(buf, &sb) == 0) {
				size_t pos = 0;
				struct rbf_event ev;

				if (have)
					cr_assert_gt(sb.seq, prev_sb);
				prev_sb = sb.seq;
				have = 1;
				while (rbf_subbuf_next_event(&sb, &pos, &ev) == 1)
					th_recs_push(&r, &ev);
				cr_assert_eq(rbf_subbuf_put(buf, &sb), 0);
			}
		}
		st = th_stats(ch);
		th_assert_identity(&st, "overwrite round");
	}
	cr_assert_eq(rbf_buffer_flush(buf), 0);
	th_drain_buffer(buf, &r);
	cr_assert_gt(r.n, 0u);
	for (i = 0; i < r.n; i++) {
		uint64_t seq = rec_seq(&r.v[i]);

		cr_assert_eq(r.v[i].subbuf_seq, seq / per);
		if (i) {
			cr_assert_gt(seq, last_seq);
			cr_assert_geq(r.v[i].subbuf_seq, r.v[i - 1].subbuf_seq);
			/* A gap only where a new sub-buffer starts. */
			if (seq != last_seq + 1)
				cr_assert(r.v[i].subbuf_seq >
					  r.v[i - 1].subbuf_seq &&
					  seq % per == 0,
					  "gap %" PRIu64 " -> %" PRIu64
					  " inside a sub-buffer", last_seq, seq);
		}
		last_seq = seq;
	}
	cr_assert_eq(last_seq, written - 1, "the newest event was lost");
	st = th_stats(ch);
	cr_assert_eq(st.read, r.n);
	cr_assert_eq(st.committed, written);
	cr_assert_eq(st.overwritten, st.committed - st.read);
	cr_assert_eq(st.buffered, 0u);
	th_assert_identity(&st, "overwrite with reader");
	th_recs_free(&r);
	rbf_channel_destroy(ch);
}

Test(reader, buffer_info_per_cpu)
{
	struct rbf_channel *ch = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_PER_CPU,
					    RBF_CLOCK_MONOTONIC, NULL, 4096, 4);
	struct rbf_buffer *bufs[1024];
	int ncpu = th_possible_cpus(), n, i, seen[1024];

	n = th_buffers(ch, bufs, 1024);
	cr_assert_eq(n, ncpu);
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < n; i++) {
		struct rbf_buffer_info bi;

		memset(&bi, 0x5a, sizeof(bi));
		bi.size = sizeof(bi);
		cr_assert_eq(rbf_buffer_get_info(bufs[i], &bi), 0);
		cr_assert_eq((int)bi.id, bi.cpu, "per-CPU buffer id %u cpu %d",
			     bi.id, bi.cpu);
		cr_assert(bi.cpu >= 0 && bi.cpu < ncpu);
		cr_assert_eq(seen[bi.cpu], 0, "two buffers for cpu %d",
			     bi.cpu);
		seen[bi.cpu] = 1;
		cr_assert_eq(bi.tid, 0);
		cr_assert_eq(bi.dead, 0);
		cr_assert_geq(bi.numa_node, -1);
	}
	/* A write pinned to a CPU lands in that CPU's buffer. */
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < ncpu && i < 1024; i++) {
		struct rbf_buffer_info bi;
		int k;

		if (th_pin_cpu(i))
			continue;
		cr_assert_eq(rbf_write(ch, (uint16_t)i, &i, sizeof(i)), 0);
		seen[i] = 1;
		for (k = 0; k < n; k++) {
			struct rbf_stats st = th_buffer_stats(bufs[k]);

			bi.size = sizeof(bi);
			cr_assert_eq(rbf_buffer_get_info(bufs[k], &bi), 0);
			cr_assert_eq(st.committed, (uint64_t)seen[bi.cpu],
				     "pinned to cpu %d: buffer of cpu %d has %"
				     PRIu64, i, bi.cpu, st.committed);
		}
	}
	cr_assert_eq(rbf_channel_flush(ch), 0);
	for (i = 0; i < n; i++) {
		struct rbf_buffer_info bi;
		struct rbf_event ev;

		bi.size = sizeof(bi);
		cr_assert_eq(rbf_buffer_get_info(bufs[i], &bi), 0);
		if (!seen[bi.cpu])
			continue;
		cr_assert_eq(rbf_buffer_consume(bufs[i], &ev), 1);
		cr_assert_eq(ev.id, bi.cpu);
		cr_assert_eq(ev.buffer, bufs[i]);
		cr_assert_eq(rbf_buffer_consume(bufs[i], &ev), 0);
	}
	rbf_channel_destroy(ch);
}

Test(reader, buffer_info_global)
{
	struct rbf_channel *ch = none_global(RBF_MODE_DISCARD);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct rbf_buffer_info bi;

	memset(&bi, 0x5a, sizeof(bi));
	bi.size = sizeof(bi);
	cr_assert_eq(rbf_buffer_get_info(buf, &bi), 0);
	cr_assert_eq(bi.id, 0u);
	cr_assert_eq(bi.cpu, -1);
	cr_assert_eq(bi.tid, 0);
	cr_assert_eq(bi.dead, 0);
	rbf_channel_destroy(ch);
}

struct reap_arg {
	struct rbf_channel *ch;
	pid_t tid;
	int ret;
};

static void *reap_writer(void *p)
{
	struct reap_arg *a = (struct reap_arg *)p;
	int i;

	a->tid = th_gettid();
	for (i = 0; i < 10; i++) {
		a->ret = rbf_write_ts(a->ch, 2, &i, sizeof(i), (uint64_t)i);
		if (a->ret)
			break;
	}
	return NULL;
}

Test(reader, per_thread_info_and_reap)
{
	struct rbf_channel *ch = th_channel(RBF_MODE_DISCARD,
					    RBF_ALLOC_PER_THREAD,
					    RBF_CLOCK_NONE, NULL, 4096, 4);
	struct rbf_buffer *bufs[4], *mine = NULL, *theirs = NULL;
	struct rbf_buffer_info bi;
	struct reap_arg a = { ch, 0, 1 };
	struct rbf_stats st;
	pthread_t t;
	int n, i;

	cr_assert_eq(rbf_channel_buffers(ch, NULL, 0), 0);
	cr_assert_eq(rbf_write_ts(ch, 1, "main", 4, 100), 0);
	cr_assert_eq(pthread_create(&t, NULL, reap_writer, &a), 0);
	pthread_join(t, NULL);
	cr_assert_eq(a.ret, 0);

	n = th_buffers(ch, bufs, 4);
	cr_assert_eq(n, 2);
	for (i = 0; i < n; i++) {
		memset(&bi, 0x5a, sizeof(bi));
		bi.size = sizeof(bi);
		cr_assert_eq(rbf_buffer_get_info(bufs[i], &bi), 0);
		cr_assert_eq(bi.cpu, -1);
		if (bi.tid == th_gettid()) {
			mine = bufs[i];
			cr_assert_eq(bi.dead, 0);
		} else {
			theirs = bufs[i];
			cr_assert_eq(bi.tid, a.tid, "tid %d, writer was %d",
				     bi.tid, a.tid);
			cr_assert_eq(bi.dead, 1, "exited thread not dead");
		}
	}
	cr_assert_not_null(mine);
	cr_assert_not_null(theirs);

	/* Not drained yet: nothing reaped. */
	cr_assert_eq(rbf_channel_reap(ch), 0);
	cr_assert_eq(rbf_channel_buffers(ch, NULL, 0), 2);
	cr_assert_eq(rbf_buffer_flush(theirs), 0);
	cr_assert_eq(th_drain_buffer(theirs, NULL), 10u);
	/* Drained: the dead thread's buffer goes, ours stays. */
	cr_assert_eq(rbf_channel_reap(ch), 1);
	cr_assert_eq(rbf_channel_reap(ch), 0);
	n = th_buffers(ch, bufs, 4);
	cr_assert_eq(n, 1);
	cr_assert_eq(bufs[0], mine);
	/* The freed buffer still counts in the channel statistics. */
	st = th_stats(ch);
	cr_assert_eq(st.committed, 11u);
	cr_assert_eq(st.read, 10u);
	cr_assert_eq(st.buffered, 1u);
	th_assert_identity(&st, "after reap");
	/* Our own drained buffer is never reaped while we live. */
	cr_assert_eq(rbf_buffer_flush(mine), 0);
	cr_assert_eq(th_drain_buffer(mine, NULL), 1u);
	cr_assert_eq(rbf_channel_reap(ch), 0);
	cr_assert_eq(rbf_channel_buffers(ch, NULL, 0), 1);
	rbf_channel_destroy(ch);
}

Test(reader, reap_empty_dead_buffer)
{
	struct rbf_channel *ch = th_channel(RBF_MODE_OVERWRITE,
					    RBF_ALLOC_PER_THREAD,
					    RBF_CLOCK_NONE, NULL, 4096, 4);
	struct reap_arg a = { ch, 0, 1 };
	pthread_t t;

	cr_assert_eq(pthread_create(&t, NULL, reap_writer, &a), 0);
	pthread_join(t, NULL);
	cr_assert_eq(rbf_channel_buffers(ch, NULL, 0), 1);
	cr_assert_eq(rbf_channel_reap(ch), 0, "reaped with 10 unread events");
	cr_assert_eq(rbf_channel_flush(ch), 0);
	cr_assert_eq(th_drain_channel(ch, NULL), 10u);
	cr_assert_eq(rbf_channel_reap(ch), 1);
	cr_assert_eq(rbf_channel_buffers(ch, NULL, 0), 0);
	cr_assert_eq(th_drain_channel(ch, NULL), 0u);
	rbf_channel_destroy(ch);
}
