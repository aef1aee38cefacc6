/* SPDX-License-Identifier: MIT */
/*
 * tests/test_attr.c - channel attributes, creation errors, information and
 * the small helpers (version, loss cause names).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "helpers.h"

/* ---------------------------------------------------------------------- */
/* A counting backend on malloc'ed memory.                                 */

#define TB_MAX_ALLOCS 64

struct tb_state {
	int init_ret;		/* what channel_init returns */
	int fail_at;		/* buffer_alloc call number (1-based) to fail */
	int inits, finis, allocs, frees, live;
	struct rbf_backend_geom geom[TB_MAX_ALLOCS];
};

static int tb_channel_init(const struct rbf_backend_chan *chan,
			   const void *config, void **priv)
{
	struct tb_state *s = (struct tb_state *)config;

	(void)chan;

	s->inits++;
	if (s->init_ret)
		return s->init_ret;
	*priv = s;
	return 0;
}

static void tb_channel_fini(void *priv)
{
	struct tb_state *s = (struct tb_state *)priv;

	s->finis++;
}

static int tb_buffer_alloc(void *priv, const struct rbf_backend_geom *geom,
			   struct rbf_backend_mem *mem)
{
	struct tb_state *s = (struct tb_state *)priv;
	size_t bytes = (size_t)geom->nr_data * geom->subbuf_size;
	int n = s->allocs++;

	if (n < TB_MAX_ALLOCS)
		s->geom[n] = *geom;
	if (s->fail_at && s->allocs == s->fail_at)
		return -ENOSPC;
	mem->data = aligned_alloc(64, bytes);
	if (!mem->data)
		return -ENOMEM;
	memset(mem->data, 0, bytes);
	mem->ctl = NULL;
	mem->handle = s;
	mem->numa_node = -1;
	s->live++;
	return 0;
}

static void tb_buffer_free(void *priv, struct rbf_backend_mem *mem)
{
	struct tb_state *s = (struct tb_state *)priv;

	free(mem->data);
	mem->data = NULL;
	s->frees++;
	s->live--;
}

static int tb_store(void *priv, const struct rbf_backend_mem *mem,
		    uint64_t off, const void *src, size_t len)
{
	(void)priv;
	memcpy((uint8_t *)mem->data + off, src, len);
	return 0;
}

static int tb_load(void *priv, const struct rbf_backend_mem *mem, uint64_t off,
		   void *dst, size_t len)
{
	(void)priv;
	memcpy(dst, (const uint8_t *)mem->data + off, len);
	return 0;
}

static const struct rbf_backend tb_backend = {
	.size = sizeof(struct rbf_backend),
	.abi = RBF_BACKEND_ABI,
	.name = "counting",
	.flags = RBF_BACKEND_F_CPU_DIRECT,
	.channel_init = tb_channel_init,
	.channel_fini = tb_channel_fini,
	.buffer_alloc = tb_buffer_alloc,
	.buffer_free = tb_buffer_free,
};

/* Global channel, small geometry, on backend @be with config @cfg. */
static int tb_create(const struct rbf_backend *be, struct tb_state *cfg,
		     enum rbf_alloc alloc, struct rbf_channel **ch)
{
	struct rbf_channel_attr attr;

	th_attr(&attr, RBF_MODE_DISCARD, alloc, RBF_CLOCK_MONOTONIC, be, 4096,
		4);
	attr.backend_config = cfg;
	return rbf_channel_create(&attr, ch);
}

/* ---------------------------------------------------------------------- */

Test(attr, defaults)
{
	struct rbf_channel_attr attr;

	memset(&attr, 0xa5, sizeof(attr));
	rbf_channel_attr_init(&attr);
	cr_assert_eq(attr.size, sizeof(attr));
	cr_assert_null(attr.backend);
	cr_assert_null(attr.backend_config);
	cr_assert_eq(attr.subbuf_size, 65536u);
	cr_assert_eq(attr.num_subbuf, 4u);
	cr_assert_eq(attr.mode, RBF_MODE_DISCARD);
	cr_assert_eq(attr.alloc, RBF_ALLOC_PER_CPU);
	cr_assert_eq(attr.clock, RBF_CLOCK_MONOTONIC);
	cr_assert(attr.max_nesting == 0 ||
		  attr.max_nesting == RBF_NESTING_DEFAULT,
		  "max_nesting %u", attr.max_nesting);
	cr_assert_eq(attr.flags, 0u);
}

Test(attr, defaults_create)
{
	struct rbf_channel_attr attr;
	struct rbf_channel_info info;
	struct rbf_channel *ch = NULL;
	int ncpu = th_possible_cpus();

	rbf_channel_attr_init(&attr);
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	cr_assert_eq(rbf_channel_get_info(ch, &info), 0);
	cr_assert_eq(info.subbuf_size, 65536u);
	cr_assert_eq(info.num_subbuf, 4u);
	cr_assert_eq(info.mode, RBF_MODE_DISCARD);
	cr_assert_eq(info.alloc, RBF_ALLOC_PER_CPU);
	cr_assert_eq(info.clock, RBF_CLOCK_MONOTONIC);
	cr_assert_eq(info.max_nesting, RBF_NESTING_DEFAULT);
	cr_assert_eq(info.nr_cpus, (uint32_t)ncpu, "nr_cpus %u, possible %d",
		     info.nr_cpus, ncpu);
	cr_assert_eq(info.nr_buffers, (uint32_t)ncpu);
	cr_assert_eq(info.clock_freq, 1000000000ull);
	cr_assert_not_null(info.backend_name);
	cr_assert_str_eq(info.backend_name, "page");
	rbf_channel_destroy(ch);
}

Test(attr, null_args)
{
	struct rbf_channel_attr attr;
	struct rbf_channel *ch = NULL;

	rbf_channel_attr_init(&attr);
	cr_assert_eq(rbf_channel_create(NULL, &ch), -EINVAL);
	cr_assert_eq(rbf_channel_create(&attr, NULL), -EINVAL);
	cr_assert_eq(rbf_channel_create(NULL, NULL), -EINVAL);
}

static void expect_create(const struct rbf_channel_attr *attr, int expected,
			  const char *what)
{
	struct rbf_channel *ch = NULL;
	int ret = rbf_channel_create(attr, &ch);

	cr_assert_eq(ret, expected, "%s: rbf_channel_create returned %d, "
		     "expected %d", what, ret, expected);
	if (!ret) {
		cr_assert_not_null(ch, "%s", what);
		rbf_channel_destroy(ch);
	}
}

/* Small geometry so that valid variants are cheap. */
static void small_attr(struct rbf_channel_attr *attr)
{
	th_attr(attr, RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL, RBF_CLOCK_MONOTONIC,
		NULL, 4096, 4);
}

Test(attr, bad_size)
{
	struct rbf_channel_attr attr;

	small_attr(&attr);
	attr.size = 0;
	expect_create(&attr, -EINVAL, "size 0");
	attr.size = 1;
	expect_create(&attr, -EINVAL, "size 1");
	attr.size = offsetof(struct rbf_channel_attr, subbuf_size);
	expect_create(&attr, -EINVAL, "size cutting subbuf_size");
	attr.size = sizeof(attr);
	expect_create(&attr, 0, "size ok");
}

Test(attr, bad_subbuf_size)
{
	static const uint32_t bad[] = {
		0, 1, 3, 255, 257, 3000, 4095, 4097, 65535,
		RBF_SUBBUF_SIZE_MIN / 2, RBF_SUBBUF_SIZE_MIN - 1,
		RBF_SUBBUF_SIZE_MAX + 1, RBF_SUBBUF_SIZE_MAX * 2u,
		0x80000000u, 0xffffffffu,
	};
	struct rbf_channel_attr attr;
	char what[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		small_attr(&attr);
		attr.subbuf_size = bad[i];
		snprintf(what, sizeof(what), "subbuf_size %u", bad[i]);
		expect_create(&attr, -EINVAL, what);
	}
	small_attr(&attr);
	attr.subbuf_size = RBF_SUBBUF_SIZE_MIN;
	expect_create(&attr, 0, "subbuf_size MIN");
	attr.subbuf_size = RBF_SUBBUF_SIZE_MAX;
	attr.num_subbuf = 2;
	expect_create(&attr, 0, "subbuf_size MAX");
}

Test(attr, bad_num_subbuf)
{
	static const uint32_t bad[] = {
		0, 1, 3, 5, 6, 7, 12, 100, RBF_NUM_SUBBUF_MAX - 1,
		RBF_NUM_SUBBUF_MAX + 1, RBF_NUM_SUBBUF_MAX * 2u, 0x80000000u,
		0xffffffffu,
	};
	struct rbf_channel_attr attr;
	char what[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		small_attr(&attr);
		attr.num_subbuf = bad[i];
		snprintf(what, sizeof(what), "num_subbuf %u", bad[i]);
		expect_create(&attr, -EINVAL, what);
	}
	small_attr(&attr);
	attr.num_subbuf = RBF_NUM_SUBBUF_MIN;
	expect_create(&attr, 0, "num_subbuf MIN");
	attr.num_subbuf = RBF_NUM_SUBBUF_MAX;
	attr.subbuf_size = RBF_SUBBUF_SIZE_MIN;
	expect_create(&attr, 0, "num_subbuf MAX");
}

Test(attr, bad_enums_and_flags)
{
	struct rbf_channel_attr attr;

	small_attr(&attr);
	attr.mode = (enum rbf_mode)99;
	expect_create(&attr, -EINVAL, "mode 99");
	small_attr(&attr);
	attr.mode = (enum rbf_mode)-1;
	expect_create(&attr, -EINVAL, "mode -1");
	small_attr(&attr);
	attr.mode = (enum rbf_mode)2;
	expect_create(&attr, -EINVAL, "mode 2");
	small_attr(&attr);
	attr.alloc = (enum rbf_alloc)99;
	expect_create(&attr, -EINVAL, "alloc 99");
	small_attr(&attr);
	attr.alloc = (enum rbf_alloc)3;
	expect_create(&attr, -EINVAL, "alloc 3");
	small_attr(&attr);
	attr.alloc = (enum rbf_alloc)-1;
	expect_create(&attr, -EINVAL, "alloc -1");
	small_attr(&attr);
	attr.clock = (enum rbf_clock)99;
	expect_create(&attr, -EINVAL, "clock 99");
	small_attr(&attr);
	attr.clock = (enum rbf_clock)3;
	expect_create(&attr, -EINVAL, "clock 3");
	small_attr(&attr);
	attr.flags = 1;
	expect_create(&attr, -EINVAL, "flags 1");
	small_attr(&attr);
	attr.flags = 0x80000000u;
	expect_create(&attr, -EINVAL, "flags 1<<31");
}

Test(attr, max_nesting)
{
	struct rbf_channel_attr attr;
	struct rbf_channel_info info;
	struct rbf_channel *ch = NULL;

	small_attr(&attr);
	attr.max_nesting = RBF_NESTING_MAX + 1;
	expect_create(&attr, -EINVAL, "max_nesting MAX + 1");
	attr.max_nesting = 1000;
	expect_create(&attr, -EINVAL, "max_nesting 1000");
	attr.max_nesting = 0xffffffffu;
	expect_create(&attr, -EINVAL, "max_nesting ~0");

	attr.max_nesting = RBF_NESTING_MAX;
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	cr_assert_eq(rbf_channel_get_info(ch, &info), 0);
	cr_assert_eq(info.max_nesting, RBF_NESTING_MAX);
	rbf_channel_destroy(ch);

	attr.max_nesting = 1;
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	cr_assert_eq(rbf_channel_get_info(ch, &info), 0);
	cr_assert_eq(info.max_nesting, 1u);
	rbf_channel_destroy(ch);

	attr.max_nesting = 0;
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	cr_assert_eq(rbf_channel_get_info(ch, &info), 0);
	cr_assert_eq(info.max_nesting, RBF_NESTING_DEFAULT);
	rbf_channel_destroy(ch);
}

Test(attr, bad_backend_tables)
{
	struct rbf_channel_attr attr;
	struct rbf_backend be;
	struct tb_state s;

	memset(&s, 0, sizeof(s));
	small_attr(&attr);
	attr.backend = &be;
	attr.backend_config = &s;

	be = tb_backend;
	expect_create(&attr, 0, "valid counting backend");
	cr_assert_eq(s.inits, 1);
	cr_assert_eq(s.finis, 1);
	cr_assert_eq(s.allocs, 1);
	cr_assert_eq(s.live, 0, "buffer_free not called for every buffer");

	memset(&s, 0, sizeof(s));
	be = tb_backend;
	be.abi = RBF_BACKEND_ABI + 1;
	expect_create(&attr, -EINVAL, "abi + 1");
	be.abi = 0;
	expect_create(&attr, -EINVAL, "abi 0");

	be = tb_backend;
	be.size = 0;
	expect_create(&attr, -EINVAL, "table size 0");
	be.size = 4;
	expect_create(&attr, -EINVAL, "table size 4");

	be = tb_backend;
	be.buffer_alloc = NULL;
	expect_create(&attr, -EINVAL, "no buffer_alloc");

	be = tb_backend;
	be.buffer_free = NULL;
	expect_create(&attr, -EINVAL, "no buffer_free");

	be = tb_backend;
	be.flags = 0;
	expect_create(&attr, -EINVAL, "not CPU_DIRECT, no store/load");
	be.store = tb_store;
	expect_create(&attr, -EINVAL, "not CPU_DIRECT, no load");
	be.store = NULL;
	be.load = tb_load;
	expect_create(&attr, -EINVAL, "not CPU_DIRECT, no store");
	cr_assert_eq(s.live, 0, "a refused table allocated buffers");
	cr_assert_eq(s.inits, s.finis, "channel_init %d, channel_fini %d",
		     s.inits, s.finis);

	/* Valid without CPU_DIRECT when both store and load exist. */
	be.store = tb_store;
	expect_create(&attr, 0, "not CPU_DIRECT with store and load");
	cr_assert_eq(s.live, 0);
	cr_assert_eq(s.inits, s.finis);
}

Test(attr, backend_init_error)
{
	struct rbf_channel *ch = NULL;
	struct tb_state s;

	memset(&s, 0, sizeof(s));
	s.init_ret = -ENXIO;
	cr_assert_eq(tb_create(&tb_backend, &s, RBF_ALLOC_GLOBAL, &ch), -ENXIO);
	cr_assert_eq(s.inits, 1);
	cr_assert_eq(s.finis, 0, "channel_fini called after a failed init");
	cr_assert_eq(s.allocs, 0);
	cr_assert_eq(s.live, 0);

	memset(&s, 0, sizeof(s));
	s.init_ret = -EACCES;
	cr_assert_eq(tb_create(&tb_backend, &s, RBF_ALLOC_PER_CPU, &ch),
		     -EACCES);
	cr_assert_eq(s.allocs, 0);
}

Test(attr, backend_alloc_error_unwinds)
{
	struct rbf_channel *ch = NULL;
	struct tb_state s;

	/* The only buffer of a global channel fails. */
	memset(&s, 0, sizeof(s));
	s.fail_at = 1;
	cr_assert_eq(tb_create(&tb_backend, &s, RBF_ALLOC_GLOBAL, &ch),
		     -ENOSPC);
	cr_assert_eq(s.inits, 1);
	cr_assert_eq(s.finis, 1, "channel_fini not called on the error path");
	cr_assert_eq(s.live, 0);

	/* The last buffer of a per-CPU channel fails: earlier ones freed. */
	memset(&s, 0, sizeof(s));
	s.fail_at = th_possible_cpus();
	cr_assert_eq(tb_create(&tb_backend, &s, RBF_ALLOC_PER_CPU, &ch),
		     -ENOSPC);
	cr_assert_eq(s.allocs, s.fail_at);
	cr_assert_eq(s.frees, s.fail_at - 1, "%d buffers allocated, %d freed",
		     s.fail_at - 1, s.frees);
	cr_assert_eq(s.live, 0);
	cr_assert_eq(s.finis, 1);
}

Test(attr, backend_geometry)
{
	struct rbf_channel_info info;
	struct rbf_channel *ch = NULL;
	struct tb_state s;
	int ncpu = th_possible_cpus(), i;

	memset(&s, 0, sizeof(s));
	cr_assert_eq(tb_create(&tb_backend, &s, RBF_ALLOC_PER_CPU, &ch), 0);
	cr_assert_eq(s.allocs, ncpu);
	for (i = 0; i < ncpu && i < TB_MAX_ALLOCS; i++) {
		cr_assert_eq(s.geom[i].subbuf_size, 4096u);
		cr_assert_eq(s.geom[i].nr_subbuf, 4u);
		cr_assert_eq(s.geom[i].nr_data, 5u, "nr_data %u",
			     s.geom[i].nr_data);
		cr_assert_eq((int)s.geom[i].buffer_id, s.geom[i].cpu,
			     "per-CPU buffer %u serves cpu %d",
			     s.geom[i].buffer_id, s.geom[i].cpu);
	}
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	cr_assert_eq(rbf_channel_get_info(ch, &info), 0);
	cr_assert_str_eq(info.backend_name, "counting");
	cr_assert_eq(rbf_write(ch, 1, "abcdefgh", 8), 0);
	rbf_channel_destroy(ch);
	cr_assert_eq(s.live, 0);
	cr_assert_eq(s.frees, ncpu);
	cr_assert_eq(s.finis, 1);

	memset(&s, 0, sizeof(s));
	cr_assert_eq(tb_create(&tb_backend, &s, RBF_ALLOC_GLOBAL, &ch), 0);
	cr_assert_eq(s.allocs, 1);
	cr_assert_eq(s.geom[0].cpu, -1);
	cr_assert_eq(s.geom[0].buffer_id, 0u);
	rbf_channel_destroy(ch);
	cr_assert_eq(s.live, 0);

	/* Per-thread: nothing until a thread writes. */
	memset(&s, 0, sizeof(s));
	cr_assert_eq(tb_create(&tb_backend, &s, RBF_ALLOC_PER_THREAD, &ch), 0);
	cr_assert_eq(s.allocs, 0);
	cr_assert_eq(rbf_write(ch, 1, "abcdefgh", 8), 0);
	cr_assert_eq(s.allocs, 1);
	cr_assert_eq(s.geom[0].cpu, -1);
	cr_assert_eq(rbf_write(ch, 1, "abcdefgh", 8), 0);
	cr_assert_eq(s.allocs, 1);
	rbf_channel_destroy(ch);
	cr_assert_eq(s.live, 0);
	cr_assert_eq(s.finis, 1);
}

Test(attr, clock_tsc)
{
	struct rbf_channel_attr attr;
	struct rbf_channel_info info;
	struct rbf_channel *ch = NULL;
	int ret;

	small_attr(&attr);
	attr.clock = RBF_CLOCK_TSC;
	ret = rbf_channel_create(&attr, &ch);
	if (!th_tsc_invariant()) {
		cr_assert_eq(ret, -ENOTSUP, "no invariant TSC: %d", ret);
		return;
	}
	cr_assert_eq(ret, 0, "invariant TSC (constant_tsc nonstop_tsc) but "
		     "RBF_CLOCK_TSC refused: %d", ret);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	cr_assert_eq(rbf_channel_get_info(ch, &info), 0);
	cr_assert_eq(info.clock, RBF_CLOCK_TSC);
	cr_assert(info.clock_freq >= 100000000ull &&
		  info.clock_freq <= 10000000000ull,
		  "implausible TSC frequency %" PRIu64, info.clock_freq);
	{
		uint64_t a = rbf_channel_read_clock(ch);
		uint64_t na, nb, d;

		th_sleep_us(20000);
		nb = rbf_channel_ts_to_ns(ch, rbf_channel_read_clock(ch));
		na = rbf_channel_ts_to_ns(ch, a);
		cr_assert_gt(nb, na);
		d = nb - na;
		cr_assert(d >= 15000000ull && d < 2000000000ull,
			  "20 ms sleep measured as %" PRIu64 " ns", d);
	}
	rbf_channel_destroy(ch);
}

Test(attr, clocks)
{
	struct rbf_channel_info info;
	struct rbf_channel *ch;
	uint64_t before, now, after;

	ch = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL, RBF_CLOCK_NONE, NULL,
			4096, 4);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	cr_assert_eq(rbf_channel_get_info(ch, &info), 0);
	cr_assert_eq(info.clock, RBF_CLOCK_NONE);
	cr_assert_eq(info.clock_freq, 0u);
	cr_assert_eq(rbf_channel_read_clock(ch), 0u);
	cr_assert_eq(rbf_channel_ts_to_ns(ch, 123456789ull), 123456789ull);
	rbf_channel_destroy(ch);

	ch = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL, RBF_CLOCK_MONOTONIC,
			NULL, 4096, 4);
	before = th_now_ns();
	now = rbf_channel_read_clock(ch);
	after = th_now_ns();
	cr_assert(now >= before && now <= after, "monotonic clock %" PRIu64
		  " outside [%" PRIu64 ", %" PRIu64 "]", now, before, after);
	cr_assert_eq(rbf_channel_ts_to_ns(ch, 987654321ull), 987654321ull);
	rbf_channel_destroy(ch);
}

Test(attr, destroy_null)
{
	rbf_channel_destroy(NULL);
	cr_assert_eq(rbf_channel_enable(NULL), -EINVAL);
	cr_assert_eq(rbf_channel_disable(NULL), -EINVAL);
	cr_assert_eq(rbf_thread_prepare(NULL), -EINVAL);
}

Test(attr, info)
{
	static const enum rbf_alloc allocs[] = {
		RBF_ALLOC_PER_CPU, RBF_ALLOC_PER_THREAD, RBF_ALLOC_GLOBAL,
	};
	int ncpu = th_possible_cpus();
	size_t i;

	for (i = 0; i < 3; i++) {
		struct rbf_channel_attr attr;
		struct rbf_channel_info info;
		struct rbf_channel *ch = NULL;
		uint32_t nb;

		th_attr(&attr, RBF_MODE_OVERWRITE, allocs[i], RBF_CLOCK_NONE,
			NULL, 1024, 8);
		attr.max_nesting = 3;
		cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
		memset(&info, 0xa5, sizeof(info));
		info.size = sizeof(info);
		cr_assert_eq(rbf_channel_get_info(ch, &info), 0);
		cr_assert_eq(info.subbuf_size, 1024u);
		cr_assert_eq(info.num_subbuf, 8u);
		cr_assert_eq(info.mode, RBF_MODE_OVERWRITE);
		cr_assert_eq(info.alloc, allocs[i]);
		cr_assert_eq(info.clock, RBF_CLOCK_NONE);
		cr_assert_eq(info.max_nesting, 3u);
		cr_assert_eq(info.clock_freq, 0u);
		cr_assert_str_eq(info.backend_name, "page");
		switch (allocs[i]) {
		case RBF_ALLOC_PER_CPU:
			cr_assert_eq(info.nr_cpus, (uint32_t)ncpu);
			cr_assert_eq(info.nr_buffers, (uint32_t)ncpu);
			break;
		case RBF_ALLOC_PER_THREAD:
			cr_assert_eq(info.nr_cpus, 0u);
			cr_assert_eq(info.nr_buffers, 0u);
			cr_assert_eq(rbf_thread_prepare(ch), 0);
			cr_assert_eq(rbf_channel_get_info(ch, &info), 0);
			cr_assert_eq(info.nr_buffers, 1u);
			break;
		case RBF_ALLOC_GLOBAL:
			cr_assert_eq(info.nr_cpus, 0u);
			cr_assert_eq(info.nr_buffers, 1u);
			break;
		}
		nb = info.nr_buffers;
		cr_assert_eq(rbf_channel_buffers(ch, NULL, 0), (int)nb);
		cr_assert_eq(rbf_channel_get_info(ch, NULL), -EINVAL);
		cr_assert_eq(rbf_channel_get_info(NULL, &info), -EINVAL);
		rbf_channel_destroy(ch);
	}
}

Test(attr, version)
{
	unsigned int v = rbf_version();

	cr_assert_eq(v, (unsigned int)(RBF_VERSION_MAJOR << 16 |
				       RBF_VERSION_MINOR << 8 |
				       RBF_VERSION_PATCH));
	cr_assert_eq(v >> 16, (unsigned int)RBF_VERSION_MAJOR);
	cr_assert_eq(v >> 8 & 0xff, (unsigned int)RBF_VERSION_MINOR);
	cr_assert_eq(v & 0xff, (unsigned int)RBF_VERSION_PATCH);
}

Test(attr, lost_cause_name)
{
	const char *names[RBF_LOST_NR];
	int i, j;

	cr_assert_str_eq(rbf_lost_cause_name(RBF_LOST_FULL), "full");
	cr_assert_str_eq(rbf_lost_cause_name(RBF_LOST_BUSY), "busy");
	for (i = 0; i < RBF_LOST_NR; i++) {
		names[i] = rbf_lost_cause_name((enum rbf_lost_cause)i);
		cr_assert_not_null(names[i]);
		cr_assert_gt(strlen(names[i]), 0u);
		cr_assert_str_neq(names[i], "unknown", "cause %d unnamed", i);
		for (j = 0; j < i; j++)
			cr_assert_str_neq(names[i], names[j],
					  "causes %d and %d share a name", i, j);
	}
	cr_assert_str_eq(rbf_lost_cause_name(RBF_LOST_NR), "unknown");
	cr_assert_str_eq(rbf_lost_cause_name((enum rbf_lost_cause)99),
			 "unknown");
	cr_assert_str_eq(rbf_lost_cause_name((enum rbf_lost_cause)-1),
			 "unknown");
}

Test(attr, stats_bad_args)
{
	struct rbf_channel *ch;
	struct rbf_stats st;

	ch = th_channel(RBF_MODE_DISCARD, RBF_ALLOC_GLOBAL, RBF_CLOCK_NONE, NULL,
			4096, 4);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	cr_assert_eq(rbf_channel_stats(NULL, &st), -EINVAL);
	cr_assert_eq(rbf_channel_stats(ch, NULL), -EINVAL);
	st.size = 0;
	cr_assert_eq(rbf_channel_stats(ch, &st), -EINVAL);
	st.size = sizeof(size_t);
	cr_assert_eq(rbf_channel_stats(ch, &st), -EINVAL);
	st.size = sizeof(st);
	cr_assert_eq(rbf_channel_stats(ch, &st), 0);
	cr_assert_eq(st.written, 0u);
	rbf_channel_destroy(ch);
}
