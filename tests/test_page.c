/* SPDX-License-Identifier: MIT */
/*
 * tests/test_page.c - the page backend (configuration, huge pages, NUMA
 * placement) and the check test backend's own checks.
 *
 * Placement is tested by calling the backend's operations directly, since
 * the public API does not hand out the data address of a buffer: the node
 * of every page is read back with get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR).
 * Those tests skip where the kernel has no NUMA support; on a single-node
 * machine they still run and check node 0.
 *
 * Needs tests/check_backend.c and -lnuma.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <numa.h>
#include <numaif.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <criterion/criterion.h>

#include <rbf/rbf.h>

#include "check_backend.h"

/*
 * Under AddressSanitizer, let a fault kill the process with SIGSEGV (what
 * the PROT_NONE test expects) instead of ASan reporting it and exiting 1.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0";
}

#define SUBBUF_SIZE 16384u
#define NUM_SUBBUF 4u
#define NR_EVENTS 500u

/* ------------------------------------------------------------------------
 * Helpers.
 */

struct payload {
	uint64_t seq;
	uint64_t check;
};

static uint64_t payload_check(uint64_t seq)
{
	return seq * 0x9e3779b97f4a7c15ull ^ 0x5a5a5a5a5a5a5a5aull;
}

static void attr_for(struct rbf_channel_attr *attr,
		     const struct rbf_backend *backend, const void *config,
		     enum rbf_alloc alloc)
{
	rbf_channel_attr_init(attr);
	attr->backend = backend;
	attr->backend_config = config;
	attr->subbuf_size = SUBBUF_SIZE;
	attr->num_subbuf = NUM_SUBBUF;
	attr->alloc = alloc;
}

static void write_events(struct rbf_channel *ch, uint64_t first, unsigned n)
{
	struct payload p;
	unsigned i;
	int ret;

	for (i = 0; i < n; i++) {
		p.seq = first + i;
		p.check = payload_check(p.seq);
		ret = rbf_write(ch, (uint16_t)(p.seq % 1000), &p, sizeof(p));
		cr_assert_eq(ret, 0, "rbf_write #%llu: %d",
			     (unsigned long long)p.seq, ret);
	}
}

/* Read everything back and check that events [0, n) each came once. */
static void read_all(struct rbf_channel *ch, unsigned n)
{
	unsigned char *seen = calloc(n, 1);
	struct payload p;
	struct rbf_event ev;
	unsigned count = 0;
	int ret;

	cr_assert_not_null(seen);
	cr_assert_eq(rbf_channel_flush(ch), 0);
	while ((ret = rbf_channel_consume(ch, &ev)) == 1) {
		cr_assert_eq(ev.len, sizeof(p));
		memcpy(&p, ev.data, sizeof(p));
		cr_assert_lt(p.seq, n);
		cr_assert_eq(p.check, payload_check(p.seq));
		cr_assert_eq(ev.id, p.seq % 1000);
		cr_assert_eq(seen[p.seq], 0, "event %llu read twice",
			     (unsigned long long)p.seq);
		seen[p.seq] = 1;
		count++;
	}
	cr_assert_eq(ret, 0, "rbf_channel_consume: %d", ret);
	cr_assert_eq(count, n, "read %u events of %u", count, n);
	free(seen);
}

struct writer_arg {
	struct rbf_channel *ch;
	uint64_t first;
	unsigned n;
};

static void *writer_thread(void *p)
{
	struct writer_arg *a = p;
	struct payload pl;
	unsigned i;

	for (i = 0; i < a->n; i++) {
		pl.seq = a->first + i;
		pl.check = payload_check(pl.seq);
		if (rbf_write(a->ch, (uint16_t)(pl.seq % 1000), &pl,
			      sizeof(pl)))
			return (void *)1;
	}
	return NULL;
}

/*
 * Create a channel, write NR_EVENTS events (per-thread channels: from this
 * thread and from a second one), read them back, destroy.
 */
static void roundtrip(const struct rbf_backend *backend, const void *config,
		      enum rbf_alloc alloc)
{
	struct rbf_channel_attr attr;
	struct rbf_channel_info info;
	struct rbf_channel *ch;
	int ret;

	attr_for(&attr, backend, config, alloc);
	ret = rbf_channel_create(&attr, &ch);
	cr_assert_eq(ret, 0, "rbf_channel_create: %d", ret);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	cr_assert_eq(rbf_channel_get_info(ch, &info), 0);
	cr_assert_str_eq(info.backend_name, backend->name);

	if (alloc == RBF_ALLOC_PER_THREAD) {
		struct writer_arg a = { ch, NR_EVENTS / 2, NR_EVENTS / 2 };
		pthread_t t;
		void *res;

		write_events(ch, 0, NR_EVENTS / 2);
		cr_assert_eq(pthread_create(&t, NULL, writer_thread, &a), 0);
		cr_assert_eq(pthread_join(t, &res), 0);
		cr_assert_null(res, "second writer failed");
	} else {
		write_events(ch, 0, NR_EVENTS);
	}
	read_all(ch, NR_EVENTS);
	rbf_channel_destroy(ch);
}

static int create_with_config(const struct rbf_page_config *cfg,
			      enum rbf_alloc alloc)
{
	struct rbf_channel_attr attr;
	struct rbf_channel *ch = NULL;
	int ret;

	attr_for(&attr, &rbf_backend_page, cfg, alloc);
	ret = rbf_channel_create(&attr, &ch);
	if (ret == 0)
		rbf_channel_destroy(ch);
	return ret;
}

/* Node of the page at @addr, or -1. */
static int page_node(void *addr)
{
	int node = -1;

	if (get_mempolicy(&node, NULL, 0, addr, MPOL_F_NODE | MPOL_F_ADDR))
		return -1;
	return node;
}

static int node_has_memory(int node)
{
	long long free_mem;

	return node >= 0 && numa_node_size64(node, &free_mem) > 0;
}

/* Expected node of memory allocated for @cpu: its node, if it has memory. */
static int expected_node(int cpu)
{
	int node = numa_node_of_cpu(cpu);

	return node_has_memory(node) ? node : -1;
}

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static void geom_for(struct rbf_backend_geom *g, int cpu)
{
	memset(g, 0, sizeof(*g));
	g->subbuf_size = SUBBUF_SIZE;
	g->nr_subbuf = NUM_SUBBUF;
	g->nr_data = NUM_SUBBUF + 1;
	g->cpu = cpu;
}

/* Check every page of @mem is on @node (if @node >= 0) and usable. */
static void check_mem(const struct rbf_backend_mem *mem, size_t size, int node)
{
	unsigned char *p = mem->data;
	size_t off, ps = page_size();

	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % 64, 0, "data not 64-byte aligned");
	for (off = 0; off < size; off += ps) {
		p[off] = (unsigned char)(off / ps);
		p[off + ps - 1] = 0xa5;
	}
	for (off = 0; off < size; off += ps) {
		cr_assert_eq(p[off], (unsigned char)(off / ps));
		cr_assert_eq(p[off + ps - 1], 0xa5);
		if (node >= 0)
			cr_assert_eq(page_node(p + off), node,
				     "page at +%zu on node %d, expected %d",
				     off, page_node(p + off), node);
	}
	if (node >= 0)
		cr_assert_eq(mem->numa_node, node);
}

/* ------------------------------------------------------------------------
 * The page backend: table and configuration.
 */

Test(page, table)
{
	cr_assert_eq(rbf_backend_page.size, sizeof(struct rbf_backend));
	cr_assert_eq(rbf_backend_page.abi, RBF_BACKEND_ABI);
	cr_assert_str_eq(rbf_backend_page.name, "page");
	cr_assert(rbf_backend_page.flags & RBF_BACKEND_F_CPU_DIRECT);
	cr_assert_not(rbf_backend_page.flags & RBF_BACKEND_F_CTL);
	cr_assert_not_null(rbf_backend_page.buffer_alloc);
	cr_assert_not_null(rbf_backend_page.buffer_free);
	cr_assert_not_null(rbf_backend_page.store);
	cr_assert_not_null(rbf_backend_page.load);
}

Test(page, config_init)
{
	struct rbf_page_config cfg;

	memset(&cfg, 0xff, sizeof(cfg));
	rbf_page_config_init(&cfg);
	cr_assert_eq(cfg.size, sizeof(cfg));
	cr_assert_eq(cfg.flags, 0);
	cr_assert_eq(cfg.numa_node, -1);
	rbf_page_config_init(NULL);
}

Test(page, channels_default_config)
{
	roundtrip(&rbf_backend_page, NULL, RBF_ALLOC_PER_CPU);
	roundtrip(&rbf_backend_page, NULL, RBF_ALLOC_GLOBAL);
	roundtrip(&rbf_backend_page, NULL, RBF_ALLOC_PER_THREAD);
}

Test(page, channels_explicit_default_config)
{
	struct rbf_page_config cfg;

	rbf_page_config_init(&cfg);
	roundtrip(&rbf_backend_page, &cfg, RBF_ALLOC_PER_CPU);
	roundtrip(&rbf_backend_page, &cfg, RBF_ALLOC_GLOBAL);
	roundtrip(&rbf_backend_page, &cfg, RBF_ALLOC_PER_THREAD);
}

Test(page, channels_thp)
{
	struct rbf_page_config cfg;

	rbf_page_config_init(&cfg);
	cfg.flags = RBF_PAGE_F_THP;
	roundtrip(&rbf_backend_page, &cfg, RBF_ALLOC_PER_CPU);
	roundtrip(&rbf_backend_page, &cfg, RBF_ALLOC_GLOBAL);
	roundtrip(&rbf_backend_page, &cfg, RBF_ALLOC_PER_THREAD);
}

Test(page, channels_node0)
{
	struct rbf_page_config cfg;

	/* Node 0 always exists (and without NUMA the node is ignored). */
	rbf_page_config_init(&cfg);
	cfg.numa_node = 0;
	roundtrip(&rbf_backend_page, &cfg, RBF_ALLOC_PER_CPU);
	roundtrip(&rbf_backend_page, &cfg, RBF_ALLOC_GLOBAL);
	roundtrip(&rbf_backend_page, &cfg, RBF_ALLOC_PER_THREAD);
}

Test(page, channels_hugetlb)
{
	static const enum rbf_alloc allocs[] = { RBF_ALLOC_GLOBAL,
						 RBF_ALLOC_PER_CPU };
	struct rbf_page_config cfg;
	size_t i;
	int ret;

	rbf_page_config_init(&cfg);
	cfg.flags = RBF_PAGE_F_HUGETLB;
	for (i = 0; i < sizeof(allocs) / sizeof(allocs[0]); i++) {
		ret = create_with_config(&cfg, allocs[i]);
		cr_assert(ret == 0 || ret == -ENOMEM,
			  "hugetlb channel: %d, expected 0 or -ENOMEM", ret);
		if (ret == 0)
			roundtrip(&rbf_backend_page, &cfg, allocs[i]);
		else
			cr_log_info(
				"no huge pages reserved: -ENOMEM as documented");
	}
}

Test(page, bad_configs)
{
	static const enum rbf_alloc allocs[] = { RBF_ALLOC_PER_CPU,
						 RBF_ALLOC_GLOBAL,
						 RBF_ALLOC_PER_THREAD };
	struct rbf_page_config cfg;
	size_t i;

	for (i = 0; i < sizeof(allocs) / sizeof(allocs[0]); i++) {
		rbf_page_config_init(&cfg);
		cfg.size = 0;
		cr_assert_eq(create_with_config(&cfg, allocs[i]), -EINVAL);

		rbf_page_config_init(&cfg);
		cfg.size = sizeof(size_t);
		cr_assert_eq(create_with_config(&cfg, allocs[i]), -EINVAL);

		rbf_page_config_init(&cfg);
		cfg.size = sizeof(cfg) - 1;
		cr_assert_eq(create_with_config(&cfg, allocs[i]), -EINVAL);

		rbf_page_config_init(&cfg);
		cfg.flags = 1u << 7;
		cr_assert_eq(create_with_config(&cfg, allocs[i]), -EINVAL);

		rbf_page_config_init(&cfg);
		cfg.flags = RBF_PAGE_F_THP | (1u << 31);
		cr_assert_eq(create_with_config(&cfg, allocs[i]), -EINVAL);

		rbf_page_config_init(&cfg);
		cfg.numa_node = -2;
		cr_assert_eq(create_with_config(&cfg, allocs[i]), -EINVAL);

		if (numa_available() >= 0) {
			rbf_page_config_init(&cfg);
			cfg.numa_node = numa_max_node() + 1;
			cr_assert_eq(create_with_config(&cfg, allocs[i]),
				     -EINVAL);
			cfg.numa_node = 1 << 20;
			cr_assert_eq(create_with_config(&cfg, allocs[i]),
				     -EINVAL);
		}
	}
}

/* A caller compiled against a larger (future) struct. */
struct page_config_v2 {
	struct rbf_page_config base;
	uint64_t future;
};

Test(page, config_from_newer_caller)
{
	struct page_config_v2 cfg;

	memset(&cfg, 0, sizeof(cfg));
	rbf_page_config_init(&cfg.base);
	cfg.base.size = sizeof(cfg);
	cr_assert_eq(create_with_config(&cfg.base, RBF_ALLOC_GLOBAL), 0);
	cfg.future = 1;
	cr_assert_eq(create_with_config(&cfg.base, RBF_ALLOC_GLOBAL), -EINVAL);
}

/* ------------------------------------------------------------------------
 * The page backend's operations, called directly.
 */

Test(page, direct_alloc_cpu_minus_one)
{
	const struct rbf_backend *be = &rbf_backend_page;
	struct rbf_backend_geom g;
	struct rbf_backend_mem mem;
	size_t size = (size_t)SUBBUF_SIZE * (NUM_SUBBUF + 1);
	void *priv = NULL;

	cr_assert_eq(be->channel_init(NULL, NULL, &priv), 0);
	geom_for(&g, -1);
	memset(&mem, 0, sizeof(mem));
	errno = 4242;
	cr_assert_eq(be->buffer_alloc(priv, &g, &mem), 0);
	cr_assert_eq(errno, 4242, "buffer_alloc changed errno");
	check_mem(&mem, size, -1);
	if (numa_available() < 0)
		cr_assert_eq(mem.numa_node, -1);
	else
		cr_assert_geq(mem.numa_node, 0);
	be->buffer_free(priv, &mem);
	cr_assert_eq(errno, 4242, "buffer_free changed errno");
	be->channel_fini(priv);
}

Test(page, direct_store_load)
{
	const struct rbf_backend *be = &rbf_backend_page;
	struct rbf_backend_geom g;
	struct rbf_backend_mem mem;
	uint64_t in[32], out[32];
	void *priv = NULL;
	unsigned i;

	cr_assert_eq(be->channel_init(NULL, NULL, &priv), 0);
	geom_for(&g, -1);
	memset(&mem, 0, sizeof(mem));
	cr_assert_eq(be->buffer_alloc(priv, &g, &mem), 0);
	for (i = 0; i < 32; i++)
		in[i] = payload_check(i);
	cr_assert_eq(be->store(priv, &mem, SUBBUF_SIZE - 64, in, sizeof(in)),
		     0);
	cr_assert_eq(
		memcmp((char *)mem.data + SUBBUF_SIZE - 64, in, sizeof(in)), 0);
	memset(out, 0, sizeof(out));
	cr_assert_eq(be->load(priv, &mem, SUBBUF_SIZE - 64, out, sizeof(out)),
		     0);
	cr_assert_eq(memcmp(in, out, sizeof(in)), 0);
	be->buffer_free(priv, &mem);
	be->channel_fini(priv);
}

Test(page, direct_bad_geometry)
{
	const struct rbf_backend *be = &rbf_backend_page;
	struct rbf_backend_geom g;
	struct rbf_backend_mem mem;
	void *priv = NULL;

	cr_assert_eq(be->channel_init(NULL, NULL, &priv), 0);
	geom_for(&g, -1);
	g.nr_data = 0;
	cr_assert_eq(be->buffer_alloc(priv, &g, &mem), -EINVAL);
	geom_for(&g, -1);
	g.subbuf_size = 0;
	cr_assert_eq(be->buffer_alloc(priv, &g, &mem), -EINVAL);
	be->channel_fini(priv);
}

Test(page, direct_thp)
{
	const struct rbf_backend *be = &rbf_backend_page;
	struct rbf_page_config cfg;
	struct rbf_backend_geom g;
	struct rbf_backend_mem mem;
	void *priv = NULL;

	rbf_page_config_init(&cfg);
	cfg.flags = RBF_PAGE_F_THP;
	cr_assert_eq(be->channel_init(NULL, &cfg, &priv), 0);
	/* 4 MiB + 4 MiB spare: large enough to be aligned for THP. */
	geom_for(&g, -1);
	g.subbuf_size = 4u << 20;
	g.nr_subbuf = 2;
	g.nr_data = 3;
	memset(&mem, 0, sizeof(mem));
	cr_assert_eq(be->buffer_alloc(priv, &g, &mem), 0);
	check_mem(&mem, (size_t)g.subbuf_size * g.nr_data, -1);
	be->buffer_free(priv, &mem);
	be->channel_fini(priv);
}

Test(page, direct_hugetlb)
{
	const struct rbf_backend *be = &rbf_backend_page;
	struct rbf_page_config cfg;
	struct rbf_backend_geom g;
	struct rbf_backend_mem mem;
	void *priv = NULL;
	int ret;

	rbf_page_config_init(&cfg);
	cfg.flags = RBF_PAGE_F_HUGETLB;
	cr_assert_eq(be->channel_init(NULL, &cfg, &priv), 0);
	geom_for(&g, 0);
	memset(&mem, 0, sizeof(mem));
	ret = be->buffer_alloc(priv, &g, &mem);
	cr_assert(ret == 0 || ret == -ENOMEM, "hugetlb alloc: %d", ret);
	if (ret == 0) {
		check_mem(&mem, (size_t)SUBBUF_SIZE * (NUM_SUBBUF + 1), -1);
		be->buffer_free(priv, &mem);
	}
	be->channel_fini(priv);
}

/* Every possible CPU's buffer lands on that CPU's node. */
Test(page, direct_placement_per_cpu)
{
	const struct rbf_backend *be = &rbf_backend_page;
	struct rbf_backend_geom g;
	struct rbf_backend_mem mem;
	size_t size = (size_t)SUBBUF_SIZE * (NUM_SUBBUF + 1);
	void *priv = NULL;
	int cpu, ncpus;

	if (numa_available() < 0)
		cr_skip_test("NUMA is not available");
	cr_assert_eq(be->channel_init(NULL, NULL, &priv), 0);
	ncpus = numa_num_configured_cpus();
	for (cpu = 0; cpu < ncpus; cpu++) {
		geom_for(&g, cpu);
		memset(&mem, 0, sizeof(mem));
		cr_assert_eq(be->buffer_alloc(priv, &g, &mem), 0);
		check_mem(&mem, size, expected_node(cpu));
		be->buffer_free(priv, &mem);
	}
	be->channel_fini(priv);
}

/* rbf_page_config.numa_node overrides the CPU's node. */
Test(page, direct_placement_explicit_node)
{
	const struct rbf_backend *be = &rbf_backend_page;
	struct rbf_page_config cfg;
	struct rbf_backend_geom g;
	struct rbf_backend_mem mem;
	size_t size = (size_t)SUBBUF_SIZE * (NUM_SUBBUF + 1);
	void *priv;
	int node, tested = 0;

	if (numa_available() < 0)
		cr_skip_test("NUMA is not available");
	for (node = 0; node <= numa_max_node(); node++) {
		if (!node_has_memory(node))
			continue;
		rbf_page_config_init(&cfg);
		cfg.numa_node = node;
		priv = NULL;
		cr_assert_eq(be->channel_init(NULL, &cfg, &priv), 0);
		/* CPU 0's buffer, but the configured node wins. */
		geom_for(&g, 0);
		memset(&mem, 0, sizeof(mem));
		cr_assert_eq(be->buffer_alloc(priv, &g, &mem), 0);
		check_mem(&mem, size, node);
		be->buffer_free(priv, &mem);
		be->channel_fini(priv);
		tested++;
	}
	cr_assert_gt(tested, 0);
}

/* cpu = -1: the node of the CPU the allocating thread runs on. */
Test(page, direct_placement_thread_local)
{
	const struct rbf_backend *be = &rbf_backend_page;
	struct rbf_backend_geom g;
	struct rbf_backend_mem mem;
	size_t size = (size_t)SUBBUF_SIZE * (NUM_SUBBUF + 1);
	void *priv = NULL;
	cpu_set_t set;
	int cpu;

	if (numa_available() < 0)
		cr_skip_test("NUMA is not available");
	cr_assert_eq(be->channel_init(NULL, NULL, &priv), 0);
	for (cpu = 0; cpu < numa_num_configured_cpus(); cpu++) {
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			continue; /* offline or outside our cpuset */
		geom_for(&g, -1);
		memset(&mem, 0, sizeof(mem));
		cr_assert_eq(be->buffer_alloc(priv, &g, &mem), 0);
		check_mem(&mem, size, expected_node(cpu));
		be->buffer_free(priv, &mem);
	}
	be->channel_fini(priv);
}

/*
 * Make get_mempolicy(2) and mbind(2) fail with ENOSYS in this (forked) test
 * process, as on a kernel without CONFIG_NUMA.  Return: 0 or -1.
 */
static int disable_numa_syscalls(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_get_mempolicy, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mbind, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	};
	struct sock_fprog prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) ? -1 : 0;
}

/* Without kernel NUMA support: no binding, node -1, nodes not checked. */
Test(page, direct_without_numa)
{
	const struct rbf_backend *be = &rbf_backend_page;
	struct rbf_page_config cfg;
	struct rbf_backend_geom g;
	struct rbf_backend_mem mem;
	size_t size = (size_t)SUBBUF_SIZE * (NUM_SUBBUF + 1);
	void *priv = NULL;
	int cpu;

	if (disable_numa_syscalls())
		cr_skip_test("seccomp filters are not available");
	cr_assert_eq(get_mempolicy(NULL, NULL, 0, NULL, 0), -1);

	rbf_page_config_init(&cfg);
	cfg.numa_node = 1 << 20; /* ignored where NUMA is unavailable */
	cr_assert_eq(be->channel_init(NULL, &cfg, &priv), 0);
	be->channel_fini(priv);
	cfg.numa_node = -2;
	cr_assert_eq(be->channel_init(NULL, &cfg, &priv), -EINVAL);

	cr_assert_eq(be->channel_init(NULL, NULL, &priv), 0);
	for (cpu = -1; cpu < 2; cpu++) {
		geom_for(&g, cpu);
		memset(&mem, 0, sizeof(mem));
		cr_assert_eq(be->buffer_alloc(priv, &g, &mem), 0);
		check_mem(&mem, size, -1);
		cr_assert_eq(mem.numa_node, -1);
		be->buffer_free(priv, &mem);
	}
	be->channel_fini(priv);
}

/* Through the public API: rbf_buffer_get_info() reports each CPU's node. */
Test(page, channel_buffer_nodes)
{
	struct rbf_channel_attr attr;
	struct rbf_buffer_info info;
	struct rbf_buffer **bufs;
	struct rbf_channel *ch;
	int i, n, expect;

	attr_for(&attr, &rbf_backend_page, NULL, RBF_ALLOC_PER_CPU);
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	write_events(ch, 0, 100);

	n = rbf_channel_buffers(ch, NULL, 0);
	cr_assert_gt(n, 0);
	bufs = calloc((size_t)n, sizeof(*bufs));
	cr_assert_not_null(bufs);
	cr_assert_eq(rbf_channel_buffers(ch, bufs, (size_t)n), n);
	for (i = 0; i < n; i++) {
		memset(&info, 0, sizeof(info));
		info.size = sizeof(info);
		cr_assert_eq(rbf_buffer_get_info(bufs[i], &info), 0);
		cr_assert_geq(info.cpu, 0);
		if (numa_available() < 0) {
			cr_assert_eq(info.numa_node, -1);
			continue;
		}
		expect = expected_node(info.cpu);
		if (expect >= 0)
			cr_assert_eq(info.numa_node, expect,
				     "cpu %d: node %d, expected %d", info.cpu,
				     info.numa_node, expect);
	}
	free(bufs);
	read_all(ch, 100);
	rbf_channel_destroy(ch);
}

/* ------------------------------------------------------------------------
 * The check backend's own checks.
 */

static void *check_priv;
static struct rbf_backend_mem check_mem_;
static size_t check_size;

static void check_setup(void)
{
	struct rbf_backend_geom g;

	check_backend_reset();
	geom_for(&g, -1);
	cr_assert_eq(rbf_check_backend.channel_init(NULL, NULL, &check_priv), 0);
	memset(&check_mem_, 0, sizeof(check_mem_));
	cr_assert_eq(
		rbf_check_backend.buffer_alloc(check_priv, &g, &check_mem_), 0);
	check_size = check_backend_data_size(&check_mem_);
	cr_assert_eq(check_size, (size_t)SUBBUF_SIZE * (NUM_SUBBUF + 1));
}

static void check_teardown(void)
{
	if (check_mem_.handle)
		rbf_check_backend.buffer_free(check_priv, &check_mem_);
	rbf_check_backend.channel_fini(check_priv);
}

Test(check, table)
{
	cr_assert_str_eq(rbf_check_backend.name, "check");
	cr_assert_eq(rbf_check_backend.flags, 0);
	cr_assert_eq(rbf_check_backend.abi, RBF_BACKEND_ABI);
}

Test(check, store_load, .init = check_setup, .fini = check_teardown)
{
	unsigned char in[8 * 33 + 1], out[8 * 33 + 1];
	const unsigned char *rw = check_backend_rw_view(&check_mem_);
	unsigned i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 1);
	/* Unaligned host source and destination are fine. */
	cr_assert_eq(rbf_check_backend.store(check_priv, &check_mem_, 64,
					     in + 1, 8 * 33),
		     0);
	cr_assert_eq(memcmp(rw + 64, in + 1, 8 * 33), 0);
	memset(out, 0, sizeof(out));
	cr_assert_eq(rbf_check_backend.load(check_priv, &check_mem_, 64,
					    out + 1, 8 * 33),
		     0);
	cr_assert_eq(memcmp(out + 1, in + 1, 8 * 33), 0);
	/* The very end of the data area. */
	cr_assert_eq(rbf_check_backend.store(check_priv, &check_mem_,
					     check_size - 8, in, 8),
		     0);
	cr_assert_eq(rbf_check_backend.sync(check_priv, &check_mem_, 0,
					    SUBBUF_SIZE),
		     0);
	cr_assert_eq(check_backend_stores(), 2);
	cr_assert_eq(check_backend_loads(), 1);
	cr_assert_eq(check_backend_syncs(), 1);
	cr_assert_eq(check_backend_bytes_stored(), 8 * 34);
	cr_assert_eq(check_backend_bytes_loaded(), 8 * 33);
	cr_assert_eq(check_backend_violations(), 0);
	cr_assert_eq(check_backend_allocs(), 1);
	cr_assert_eq(check_backend_live_buffers(), 1);
}

Test(check, misaligned_offset_aborts, .init = check_setup,
     .fini = check_teardown, .signal = SIGABRT)
{
	uint64_t v = 1;

	rbf_check_backend.store(check_priv, &check_mem_, 4, &v, 8);
}

Test(check, misaligned_length_aborts, .init = check_setup,
     .fini = check_teardown, .signal = SIGABRT)
{
	uint64_t v[2] = { 1, 2 };

	rbf_check_backend.load(check_priv, &check_mem_, 8, v, 12);
}

Test(check, out_of_range_aborts, .init = check_setup, .fini = check_teardown,
     .signal = SIGABRT)
{
	uint64_t v[2] = { 1, 2 };

	rbf_check_backend.store(check_priv, &check_mem_, check_size - 8, v, 16);
}

Test(check, direct_access_faults, .init = check_setup, .fini = check_teardown,
     .signal = SIGSEGV)
{
	volatile const unsigned char *p = check_mem_.data;

	(void)p[0];
}

Test(check, violations_counted_without_abort, .init = check_setup,
     .fini = check_teardown)
{
	uint64_t v[4] = { 0 };

	cr_assert_eq(check_backend_set_abort(0), 1);
	cr_assert_eq(rbf_check_backend.store(check_priv, &check_mem_, 4, v, 8),
		     -EINVAL);
	cr_assert_eq(rbf_check_backend.load(check_priv, &check_mem_, 0, v, 4),
		     -EINVAL);
	cr_assert_eq(rbf_check_backend.store(check_priv, &check_mem_,
					     (uint64_t)check_size, v, 8),
		     -EINVAL);
	cr_assert_eq(rbf_check_backend.load(check_priv, &check_mem_,
					    UINT64_MAX - 7, v, 16),
		     -EINVAL);
	cr_assert_eq(check_backend_violations(), 4);
	cr_assert_eq(check_backend_stores(), 0);
	cr_assert_eq(check_backend_loads(), 0);
	check_backend_set_abort(1);
}

struct store_arg {
	unsigned idx;
	unsigned nr;
};

#define STORE_THREADS 4
#define STORE_CHUNK 256

static void *store_thread(void *p)
{
	const struct store_arg *a = p;
	uint64_t words[STORE_CHUNK / 8];
	unsigned round, i;
	uint64_t off;

	for (round = 0; round < 200; round++) {
		for (off = (uint64_t)a->idx * STORE_CHUNK;
		     off + STORE_CHUNK <= check_size;
		     off += (uint64_t)a->nr * STORE_CHUNK) {
			for (i = 0; i < STORE_CHUNK / 8; i++)
				words[i] = off + 8 * i + round;
			if (rbf_check_backend.store(check_priv, &check_mem_,
						    off, words, sizeof(words)))
				return (void *)1;
		}
	}
	return NULL;
}

Test(check, concurrent_disjoint_stores, .init = check_setup,
     .fini = check_teardown)
{
	struct store_arg args[STORE_THREADS];
	pthread_t t[STORE_THREADS];
	uint64_t w;
	size_t off;
	void *res;
	unsigned i;

	for (i = 0; i < STORE_THREADS; i++) {
		args[i].idx = i;
		args[i].nr = STORE_THREADS;
		cr_assert_eq(
			pthread_create(&t[i], NULL, store_thread, &args[i]), 0);
	}
	for (i = 0; i < STORE_THREADS; i++) {
		cr_assert_eq(pthread_join(t[i], &res), 0);
		cr_assert_null(res);
	}
	for (off = 0; off < check_size; off += 8) {
		cr_assert_eq(rbf_check_backend.load(check_priv, &check_mem_,
						    off, &w, 8),
			     0);
		cr_assert_eq(w, off + 199, "word at %zu", off);
	}
	cr_assert_eq(check_backend_violations(), 0);
}

/* The frontend drives the check backend only through store and load. */
Test(check, channels)
{
	roundtrip(&rbf_check_backend, NULL, RBF_ALLOC_GLOBAL);
	roundtrip(&rbf_check_backend, NULL, RBF_ALLOC_PER_CPU);
	roundtrip(&rbf_check_backend, NULL, RBF_ALLOC_PER_THREAD);
	cr_assert_gt(check_backend_stores(), 0);
	cr_assert_gt(check_backend_loads(), 0);
	cr_assert_eq(check_backend_violations(), 0);
	cr_assert_eq(check_backend_live_buffers(), 0, "buffers leaked");
}

Test(check, alloc_failure)
{
	struct check_backend_config cfg;
	struct rbf_channel_attr attr;
	struct rbf_channel *ch;
	struct rbf_stats st;
	uint64_t v = 0;

	check_backend_config_init(&cfg);
	cfg.fail_alloc_after = 0;
	attr_for(&attr, &rbf_check_backend, &cfg, RBF_ALLOC_GLOBAL);
	cr_assert_eq(rbf_channel_create(&attr, &ch), -ENOMEM);
	cr_assert_eq(check_backend_live_buffers(), 0);

	attr_for(&attr, &rbf_check_backend, &cfg, RBF_ALLOC_PER_THREAD);
	cr_assert_eq(rbf_channel_create(&attr, &ch), 0);
	cr_assert_eq(rbf_write(ch, 1, &v, sizeof(v)), -ENOMEM);
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	cr_assert_eq(rbf_channel_stats(ch, &st), 0);
	cr_assert_eq(st.lost[RBF_LOST_NOMEM], 1);
	rbf_channel_destroy(ch);
}
