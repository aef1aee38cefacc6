/* SPDX-License-Identifier: MIT */
/*
 * tests/test_stats.c - statistics: exact counts and the identity
 * written == read + overwritten + lost_total + buffered after each phase of
 * a channel's life, in every mode and allocation.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "helpers.h"

struct tally {
	uint64_t ok;
	uint64_t lost[RBF_LOST_NR];
	uint64_t read;
};

static void tally_write(struct rbf_channel *ch, struct tally *t, uint64_t n,
			size_t len)
{
	uint8_t p[256];
	uint64_t i;
	int ret, cause;

	cr_assert_leq(len, sizeof(p));
	th_fill_pattern(p, len, len);
	for (i = 0; i < n; i++) {
		ret = rbf_write(ch, 3, p, len);
		if (!ret) {
			t->ok++;
			continue;
		}
		cause = th_cause_of(ret);
		cr_assert_geq(cause, 0, "unexpected write result %d", ret);
		t->lost[cause]++;
	}
}

static uint64_t tally_lost(const struct tally *t)
{
	uint64_t s = 0;
	int c;

	for (c = 0; c < RBF_LOST_NR; c++)
		s += t->lost[c];
	return s;
}

/* Channel statistics against our tally and against the buffers' sum. */
static struct rbf_stats check(struct rbf_channel *ch, const struct tally *t,
			      const char *phase)
{
	struct rbf_stats st = th_stats(ch), sum;
	struct rbf_buffer *bufs[256];
	int n, i, c;

	th_assert_identity(&st, phase);
	cr_assert_eq(st.committed, t->ok, "%s: committed %" PRIu64
		     ", writers saw %" PRIu64, phase, st.committed, t->ok);
	for (c = 0; c < RBF_LOST_NR; c++)
		cr_assert_eq(st.lost[c], t->lost[c], "%s: lost[%s] %" PRIu64
			     ", writers saw %" PRIu64, phase,
			     rbf_lost_cause_name((enum rbf_lost_cause)c),
			     st.lost[c], t->lost[c]);
	cr_assert_eq(st.lost_total, tally_lost(t));
	cr_assert_eq(st.written, t->ok + tally_lost(t));
	cr_assert_eq(st.read, t->read, "%s: read %" PRIu64 ", consumed %"
		     PRIu64, phase, st.read, t->read);

	/* Channel statistics are the sum of the live buffers' (no reap). */
	memset(&sum, 0, sizeof(sum));
	n = th_buffers(ch, bufs, 256);
	for (i = 0; i < n; i++) {
		struct rbf_stats b = th_buffer_stats(bufs[i]);

		th_assert_identity(&b, phase);
		sum.written += b.written;
		sum.committed += b.committed;
		sum.read += b.read;
		sum.overwritten += b.overwritten;
		sum.lost_total += b.lost_total;
		sum.buffered += b.buffered;
		sum.subbufs_read += b.subbufs_read;
		sum.subbufs_overwritten += b.subbufs_overwritten;
		for (c = 0; c < RBF_LOST_NR; c++)
			sum.lost[c] += b.lost[c];
	}
	cr_assert_eq(sum.written, st.written, "%s: buffers' written", phase);
	cr_assert_eq(sum.committed, st.committed);
	cr_assert_eq(sum.read, st.read);
	cr_assert_eq(sum.overwritten, st.overwritten);
	cr_assert_eq(sum.lost_total, st.lost_total);
	cr_assert_eq(sum.buffered, st.buffered);
	cr_assert_eq(sum.subbufs_read, st.subbufs_read);
	cr_assert_eq(sum.subbufs_overwritten, st.subbufs_overwritten);
	for (c = 0; c < RBF_LOST_NR; c++)
		cr_assert_eq(sum.lost[c], st.lost[c]);
	return st;
}

static void lifecycle(enum rbf_mode mode, enum rbf_alloc alloc)
{
	struct rbf_channel *ch = th_channel(mode, alloc, RBF_CLOCK_MONOTONIC,
					    NULL, 1024, 4);
	struct rbf_buffer *bufs[256];
	struct tally t;
	struct rbf_stats st;
	uint64_t gets = 0, before;
	int n, i;

	memset(&t, 0, sizeof(t));
	st = check(ch, &t, "new");
	cr_assert_eq(st.written, 0u);

	/* Phase 1: a few events, nothing lost. */
	tally_write(ch, &t, 10, 40);
	st = check(ch, &t, "written");
	cr_assert_eq(t.ok, 10u);
	cr_assert_eq(st.buffered, 10u);

	/* Phase 2: flushed, still unread. */
	cr_assert_eq(rbf_channel_flush(ch), 0);
	st = check(ch, &t, "flushed");
	cr_assert_eq(st.buffered, 10u);

	/* Phase 3: whole sub-buffers taken by exchange. */
	n = th_buffers(ch, bufs, 256);
	for (i = 0; i < n; i++) {
		struct rbf_subbuf sb;
		int ret = rbf_subbuf_get(bufs[i], &sb);

		if (ret == -EAGAIN)
			continue;
		cr_assert_eq(ret, 0);
		t.read += sb.records;
		gets++;
		cr_assert_eq(rbf_subbuf_put(bufs[i], &sb), 0);
	}
	st = check(ch, &t, "sub-buffers read");
	cr_assert_eq(t.read, 10u);
	cr_assert_eq(st.subbufs_read, gets);
	cr_assert_eq(st.buffered, 0u);

	/* Phase 4: far more than the ring holds. */
	tally_write(ch, &t, 2000, 40);
	st = check(ch, &t, "overflowed");
	if (mode == RBF_MODE_DISCARD) {
		cr_assert_gt(t.lost[RBF_LOST_FULL], 0u);
		cr_assert_eq(st.overwritten, 0u);
		cr_assert_eq(st.subbufs_overwritten, 0u);
	} else {
		cr_assert_eq(tally_lost(&t), 0u);
		cr_assert_gt(st.overwritten, 0u);
		cr_assert_gt(st.subbufs_overwritten, 0u);
	}

	/* Phase 5: drained. */
	cr_assert_eq(rbf_channel_flush(ch), 0);
	t.read += th_drain_channel(ch, NULL);
	st = check(ch, &t, "drained");
	cr_assert_eq(st.buffered, 0u);
	cr_assert_eq(st.overwritten, st.committed - st.read);

	/* Phase 6: too big, id out of range (not counted). */
	tally_write(ch, &t, 1, 200);
	before = t.lost[RBF_LOST_TOO_BIG];
	{
		uint8_t *big = (uint8_t *)calloc(1, 2048);

		cr_assert_not_null(big);
		cr_assert_eq(rbf_write(ch, 1, big, 2048), -EMSGSIZE);
		t.lost[RBF_LOST_TOO_BIG]++;
		cr_assert_eq(rbf_write(ch, 65535, big, 8), -EINVAL);
		free(big);
	}
	st = check(ch, &t, "too big");
	cr_assert_eq(st.lost[RBF_LOST_TOO_BIG], before + 1);

	/* Phase 7: disabled. */
	cr_assert_eq(rbf_channel_disable(ch), 0);
	tally_write(ch, &t, 5, 16);
	cr_assert_eq(t.lost[RBF_LOST_DISABLED], 5u);
	check(ch, &t, "disabled");
	cr_assert_eq(rbf_channel_enable(ch), 0);
	tally_write(ch, &t, 5, 16);
	cr_assert_eq(rbf_channel_flush(ch), 0);
	t.read += th_drain_channel(ch, NULL);
	st = check(ch, &t, "end");
	cr_assert_eq(st.buffered, 0u);
	rbf_channel_destroy(ch);
}

Test(stats, discard_per_cpu)
{
	lifecycle(RBF_MODE_DISCARD, RBF_ALLOC_PER_CPU);
}

Test(stats, discard_per_thread)
{
	lifecycle(RBF_MODE_DISCARD, RBF_ALLOC_PER_THREAD);
}

Test(stats, discard_global)
{
	lifecycle(RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL);
}

Test(stats, overwrite_per_cpu)
{
	lifecycle(RBF_MODE_OVERWRITE, RBF_ALLOC_PER_CPU);
}

Test(stats, overwrite_per_thread)
{
	lifecycle(RBF_MODE_OVERWRITE, RBF_ALLOC_PER_THREAD);
}

Test(stats, overwrite_global)
{
	lifecycle(RBF_MODE_OVERWRITE, RBF_ALLOC_GLOBAL);
}

/* Exited threads' statistics survive their buffers being reaped. */
struct ex_arg {
	struct rbf_channel *ch;
	struct tally t;
};

static void *ex_writer(void *p)
{
	struct ex_arg *a = (struct ex_arg *)p;
	uint8_t b[64];
	int i, ret;

	memset(b, 0x33, sizeof(b));
	for (i = 0; i < 500; i++) {
		ret = rbf_write(a->ch, 1, b, sizeof(b));
		if (!ret)
			a->t.ok++;
		else if (th_cause_of(ret) >= 0)
			a->t.lost[th_cause_of(ret)]++;
	}
	return NULL;
}

Test(stats, per_thread_reaped)
{
	struct rbf_channel *ch = th_channel(RBF_MODE_DISCARD,
					    RBF_ALLOC_PER_THREAD,
					    RBF_CLOCK_MONOTONIC, NULL, 1024, 4);
	struct ex_arg a[3];
	struct tally t;
	struct rbf_stats before, after;
	pthread_t th[3];
	int i, c;

	memset(a, 0, sizeof(a));
	memset(&t, 0, sizeof(t));
	for (i = 0; i < 3; i++) {
		a[i].ch = ch;
		cr_assert_eq(pthread_create(&th[i], NULL, ex_writer, &a[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		t.ok += a[i].t.ok;
		for (c = 0; c < RBF_LOST_NR; c++)
			t.lost[c] += a[i].t.lost[c];
	}
	cr_assert_eq(t.ok + tally_lost(&t), 1500u);
	cr_assert_gt(t.lost[RBF_LOST_FULL], 0u, "1500 x 80 bytes fit in 3 x 4 "
		     "x 1 KiB?");
	before = check(ch, &t, "threads exited");
	cr_assert_eq(rbf_channel_flush(ch), 0);
	t.read += th_drain_channel(ch, NULL);
	check(ch, &t, "drained");
	cr_assert_eq(rbf_channel_reap(ch), 3);
	cr_assert_eq(rbf_channel_buffers(ch, NULL, 0), 0);
	after = th_stats(ch);
	th_assert_identity(&after, "reaped");
	cr_assert_eq(after.written, before.written);
	cr_assert_eq(after.committed, before.committed);
	cr_assert_eq(after.lost_total, before.lost_total);
	cr_assert_eq(after.read, t.read);
	cr_assert_eq(after.read, t.ok);
	cr_assert_eq(after.buffered, 0u);
	rbf_channel_destroy(ch);
}

Test(stats, bad_args)
{
	struct rbf_channel *ch = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL,
					    RBF_CLOCK_NONE, NULL, 4096, 4);
	struct rbf_buffer *buf = th_global_buffer(ch);
	struct rbf_stats st;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	cr_assert_eq(rbf_channel_stats(NULL, &st), -EINVAL);
	cr_assert_eq(rbf_channel_stats(ch, NULL), -EINVAL);
	cr_assert_eq(rbf_buffer_stats(NULL, &st), -EINVAL);
	cr_assert_eq(rbf_buffer_stats(buf, NULL), -EINVAL);
	st.size = 0;
	cr_assert_eq(rbf_channel_stats(ch, &st), -EINVAL);
	cr_assert_eq(rbf_buffer_stats(buf, &st), -EINVAL);
	st.size = offsetof(struct rbf_stats, lost);
	cr_assert_eq(rbf_channel_stats(ch, &st), -EINVAL);
	st.size = sizeof(st);
	cr_assert_eq(rbf_channel_stats(ch, &st), 0);
	cr_assert_eq(rbf_buffer_stats(buf, &st), 0);
	rbf_channel_destroy(ch);
}
