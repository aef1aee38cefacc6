/* SPDX-License-Identifier: MIT */
/*
 * backends/page/page.c - the "page" backend: anonymous memory placed on a
 * NUMA node.
 *
 * Each buffer is one private anonymous mapping of nr_data * subbuf_size
 * bytes (rounded up to the page size, or to the huge page size with
 * RBF_PAGE_F_HUGETLB).  The memory is plain CPU memory
 * (RBF_BACKEND_F_CPU_DIRECT): the frontend writes records into it directly
 * and allocates the control block itself.
 *
 * Placement.  A buffer is placed on a target node, in this order: the
 * node named by rbf_page_config.numa_node; for a per-CPU buffer, the node
 * of the CPU it serves; otherwise the node of the CPU the allocating thread
 * runs on.  The mapping is created without MAP_POPULATE, given an
 * MPOL_PREFERRED policy for the target node with mbind(2), and only then
 * faulted in (madvise(MADV_POPULATE_WRITE), or one store per page on
 * kernels older than 5.14), so every page is allocated under the policy and
 * no page fault is left for the write fast path.  MPOL_PREFERRED rather
 * than MPOL_BIND: when the node is out of memory the kernel falls back to
 * another node instead of invoking the OOM killer.  The node reported in
 * rbf_backend_mem.numa_node is the node the first page actually landed on
 * (get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR)).
 *
 * Placement is best effort.  Where the kernel has no NUMA policy support
 * (get_mempolicy(2) fails: no CONFIG_NUMA, or a seccomp filter), or mbind
 * fails, the buffer is simply not bound and its node is reported as -1
 * (NUMA unavailable) or as observed.
 *
 * Signal safety.  For per-thread channels buffer_alloc runs on the writing
 * thread's first write, possibly inside a signal handler.  It therefore uses
 * only system calls (mmap, madvise, mbind, get_mempolicy, getcpu, munmap), no
 * malloc and no stdio, and it preserves errno.  Everything that needs
 * sysfs or the heap (the CPU-to-node table, the set of nodes with memory, the
 * huge page size) is computed once in channel_init.
 *
 * The library does not link with libnuma: libnuma reports some failures by
 * printing to stderr (numa_warn()/numa_error()), which rbf must never do,
 * and its CPU-to-node lookup allocates.  The few system calls needed are
 * issued directly.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mempolicy.h>

#include <rbf/backend.h>
#include <rbf/page.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Highest NUMA node count a Linux kernel can be built with (NODES_SHIFT 10). */
#define PAGE_MAX_NODES 1024
#define PAGE_ULONG_BITS (CHAR_BIT * sizeof(unsigned long))
/* Upper bound on the CPUs we map to nodes; larger CPU numbers map to -1. */
#define PAGE_MAX_CPUS 65536
/* Largest sysfs list file we read (a CPU list of 64k CPUs fits easily). */
#define PAGE_SYSFS_BUF 65536
#define PAGE_DEFAULT_HUGE_SIZE (2UL << 20)
#define PAGE_SYSFS_NODE "/sys/devices/system/node/"

/* What a known configuration holds: every field up to numa_node. */
#define PAGE_CONFIG_MIN_SIZE \
	(offsetof(struct rbf_page_config, numa_node) + sizeof(int))
#define PAGE_KNOWN_FLAGS (RBF_PAGE_F_HUGETLB | RBF_PAGE_F_THP)

/**
 * struct page_priv - per-channel state of the page backend.
 * @cfg:       the configuration, defaults filled in.
 * @numa:      1 when the kernel supports memory policies.
 * @page_size: base page size.
 * @huge_size: default hugetlb page size (used with RBF_PAGE_F_HUGETLB, and
 *             as the THP alignment).
 * @mem_nodes: bitmap of nodes that have memory.
 * @nr_cpus:   entries in @cpu_node.
 * @cpu_node:  node of each possible CPU, -1 when unknown.
 *
 * Written only by channel_init; read-only afterwards, so buffer_alloc may
 * read it from any thread or signal handler.
 */
struct page_priv {
	struct rbf_page_config cfg;
	int numa;
	size_t page_size;
	size_t huge_size;
	unsigned long mem_nodes[PAGE_MAX_NODES / PAGE_ULONG_BITS];
	int nr_cpus;
	int cpu_node[];
};

void rbf_page_config_init(struct rbf_page_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->flags = 0;
	cfg->numa_node = -1;
}

static long page_mbind(void *addr, size_t len, int mode,
		       const unsigned long *mask, unsigned long maxnode)
{
	return syscall(SYS_mbind, addr, len, mode, mask, maxnode, 0);
}

static long page_get_mempolicy(int *mode, unsigned long *mask,
			       unsigned long maxnode, void *addr,
			       unsigned long flags)
{
	return syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
}

static int page_node_has_memory(const struct page_priv *priv, long node)
{
	if (node < 0 || node >= PAGE_MAX_NODES)
		return 0;
	return !!(priv->mem_nodes[node / PAGE_ULONG_BITS] &
		  (1UL << (node % PAGE_ULONG_BITS)));
}

/*
 * Read a small text file (a sysfs list) into @buf, NUL-terminated.
 * Return: 0 or -1.
 */
static int page_read_file(const char *path, char *buf, size_t size)
{
	size_t used = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (used < size - 1) {
		n = read(fd, buf + used, size - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	buf[used] = '\0';
	return used ? 0 : -1;
}

/*
 * Parse the next range of a kernel list ("0-3,8,10-11\n").
 * Return: 1 with [*lo, *hi] filled, 0 at the end, -1 on malformed input.
 */
static int page_list_next(const char **s, unsigned long *lo, unsigned long *hi)
{
	const char *p = *s;
	char *end;

	while (*p == ',' || *p == ' ' || *p == '\n')
		p++;
	if (!*p)
		return 0;
	if (*p < '0' || *p > '9')
		return -1;
	*lo = strtoul(p, &end, 10);
	*hi = *lo;
	if (*end == '-') {
		p = end + 1;
		if (*p < '0' || *p > '9')
			return -1;
		*hi = strtoul(p, &end, 10);
	}
	if (*hi < *lo)
		return -1;
	*s = end;
	return 1;
}

/* Highest number in a list file, or -1. */
static long page_list_max(const char *path, char *buf, size_t size)
{
	unsigned long lo, hi;
	const char *p = buf;
	long max = -1;

	if (page_read_file(path, buf, size))
		return -1;
	while (page_list_next(&p, &lo, &hi) == 1)
		if (hi <= LONG_MAX && (long)hi > max)
			max = (long)hi;
	return max;
}

/* Set the bits of a list file in a node bitmap.  Return: 0 or -1. */
static int page_list_to_nodes(const char *path, char *buf, size_t size,
			      unsigned long *nodes)
{
	unsigned long lo, hi, n;
	const char *p = buf;
	int any = 0;

	if (page_read_file(path, buf, size))
		return -1;
	while (page_list_next(&p, &lo, &hi) == 1) {
		for (n = lo; n <= hi && n < PAGE_MAX_NODES; n++) {
			nodes[n / PAGE_ULONG_BITS] |= 1UL
						      << (n % PAGE_ULONG_BITS);
			any = 1;
		}
	}
	return any ? 0 : -1;
}

/* Read the default huge page size from /proc/meminfo; 0 if unknown. */
static size_t page_huge_size(char *buf, size_t size)
{
	const char *p;
	unsigned long kb;

	if (page_read_file("/proc/meminfo", buf, size))
		return 0;
	p = strstr(buf, "Hugepagesize:");
	if (!p)
		return 0;
	if (sscanf(p, "Hugepagesize: %lu kB", &kb) != 1 || !kb ||
	    kb > SIZE_MAX / 1024)
		return 0;
	return (size_t)kb * 1024;
}

/*
 * Fill the CPU-to-node table and the set of nodes with memory from sysfs.
 * A system without /sys/devices/system/node is treated as one node, 0.
 */
static void page_probe_topology(struct page_priv *priv, char *buf, size_t size)
{
	unsigned long lo, hi, cpu;
	char path[64];
	const char *p;
	long node, max_node;
	int i;

	for (i = 0; i < priv->nr_cpus; i++)
		priv->cpu_node[i] = -1;
	if (page_list_to_nodes(PAGE_SYSFS_NODE "has_memory", buf, size,
			       priv->mem_nodes) &&
	    page_list_to_nodes(PAGE_SYSFS_NODE "online", buf, size,
			       priv->mem_nodes)) {
		/* No sysfs node information: one node, every CPU on it. */
		priv->mem_nodes[0] |= 1UL;
		for (i = 0; i < priv->nr_cpus; i++)
			priv->cpu_node[i] = 0;
		return;
	}

	max_node = page_list_max(PAGE_SYSFS_NODE "possible", buf, size);
	if (max_node < 0)
		max_node = page_list_max(PAGE_SYSFS_NODE "online", buf, size);
	if (max_node >= PAGE_MAX_NODES)
		max_node = PAGE_MAX_NODES - 1;
	for (node = 0; node <= max_node; node++) {
		snprintf(path, sizeof(path), PAGE_SYSFS_NODE "node%ld/cpulist",
			 node);
		if (page_read_file(path, buf, size))
			continue;
		p = buf;
		while (page_list_next(&p, &lo, &hi) == 1)
			for (cpu = lo;
			     cpu <= hi && cpu < (unsigned long)priv->nr_cpus;
			     cpu++)
				priv->cpu_node[cpu] = (int)node;
	}
}

/*
 * Check the caller's configuration and copy what we know of it into @cfg
 * (defaults for anything the caller's older struct lacks).
 */
static int page_parse_config(const struct rbf_page_config *user,
			     struct rbf_page_config *cfg)
{
	const unsigned char *extra;
	size_t i;

	rbf_page_config_init(cfg);
	if (!user)
		return 0;
	if (user->size < PAGE_CONFIG_MIN_SIZE)
		return -EINVAL;
	/* A newer caller's struct: its extra fields must be unused (zero). */
	if (user->size > sizeof(*cfg)) {
		if (user->size > 4096)
			return -EINVAL;
		extra = (const unsigned char *)user;
		for (i = sizeof(*cfg); i < user->size; i++)
			if (extra[i])
				return -EINVAL;
	}
	memcpy(cfg, user, PAGE_CONFIG_MIN_SIZE);
	cfg->size = sizeof(*cfg);
	if (cfg->flags & ~PAGE_KNOWN_FLAGS)
		return -EINVAL;
	if (cfg->numa_node < -1)
		return -EINVAL;
	return 0;
}

/**
 * page_channel_init() - check the configuration, probe NUMA support and
 * the topology.
 * @config: a struct rbf_page_config, or NULL for defaults.
 * @privp:  receives the channel's private state.
 *
 * Not async-signal-safe (reads sysfs, allocates).
 * Return: 0, -EINVAL (size too small, unknown flags, bad node, nonzero
 * fields unknown to this version), -ENOMEM.
 */
static int page_channel_init(const void *config, void **privp)
{
	struct rbf_page_config cfg;
	struct page_priv *priv;
	long page_size, max_cpu;
	int saved_errno = errno;
	int nr_cpus, ret, i;
	char *buf;

	if (!privp)
		return -EINVAL;
	ret = page_parse_config(config, &cfg);
	if (ret)
		return ret;

	buf = malloc(PAGE_SYSFS_BUF);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	max_cpu = page_list_max("/sys/devices/system/cpu/possible", buf,
				PAGE_SYSFS_BUF);
	if (max_cpu < 0)
		max_cpu = sysconf(_SC_NPROCESSORS_CONF) - 1;
	if (max_cpu < 0)
		max_cpu = 0;
	nr_cpus = max_cpu >= PAGE_MAX_CPUS ? PAGE_MAX_CPUS : (int)max_cpu + 1;

	priv = calloc(1, sizeof(*priv) + (size_t)nr_cpus * sizeof(int));
	if (!priv) {
		ret = -ENOMEM;
		goto out_buf;
	}
	priv->cfg = cfg;
	priv->nr_cpus = nr_cpus;
	page_size = sysconf(_SC_PAGESIZE);
	priv->page_size = page_size > 0 ? (size_t)page_size : 4096;
	priv->huge_size = page_huge_size(buf, PAGE_SYSFS_BUF);
	if (!priv->huge_size || (priv->huge_size & (priv->huge_size - 1)) ||
	    priv->huge_size < priv->page_size)
		priv->huge_size = PAGE_DEFAULT_HUGE_SIZE;

	/* The probe libnuma's numa_available() makes. */
	priv->numa = page_get_mempolicy(NULL, NULL, 0, NULL, 0) == 0;
	if (priv->numa) {
		page_probe_topology(priv, buf, PAGE_SYSFS_BUF);
		if (cfg.numa_node >= 0 &&
		    !page_node_has_memory(priv, cfg.numa_node)) {
			free(priv);
			ret = -EINVAL;
			goto out_buf;
		}
	} else {
		for (i = 0; i < nr_cpus; i++)
			priv->cpu_node[i] = -1;
	}
	*privp = priv;
	ret = 0;
out_buf:
	free(buf);
out:
	errno = saved_errno;
	return ret;
}

static void page_channel_fini(void *priv)
{
	free(priv);
}

/* Node to place a new buffer on, or -1 for no binding. */
static int page_target_node(const struct page_priv *priv,
			    const struct rbf_backend_geom *geom)
{
	unsigned int cpu, node;
	int target = -1;

	if (!priv->numa)
		return -1;
	if (priv->cfg.numa_node >= 0)
		return priv->cfg.numa_node;
	if (geom->cpu >= 0) {
		if (geom->cpu < priv->nr_cpus)
			target = priv->cpu_node[geom->cpu];
	} else if (syscall(SYS_getcpu, &cpu, &node, NULL) == 0 &&
		   node < PAGE_MAX_NODES) {
		target = (int)node;
	}
	/* A memoryless node cannot be preferred; let the kernel choose. */
	return page_node_has_memory(priv, target) ? target : -1;
}

/* Prefer @node for [addr, addr + len).  Failure is not fatal. */
static void page_bind(void *addr, size_t len, int node)
{
	unsigned long mask[PAGE_MAX_NODES / PAGE_ULONG_BITS] = { 0 };

	mask[node / PAGE_ULONG_BITS] = 1UL << (node % PAGE_ULONG_BITS);
	/* maxnode counts one past the highest bit the kernel should read. */
	(void)page_mbind(addr, len, MPOL_PREFERRED, mask,
			 (unsigned long)node + 2);
}

/* Fault every page of the mapping in, writable.  Return: 0 or -ENOMEM. */
static int page_populate(char *addr, size_t len, size_t page_size)
{
	size_t off;

	if (!madvise(addr, len, MADV_POPULATE_WRITE))
		return 0;
	if (errno != EINVAL)
		return -ENOMEM; /* ENOMEM, EFAULT (hugetlb pool empty), ... */
	/* Kernel older than 5.14: touch each page (the memory is zero). */
	for (off = 0; off < len; off += page_size)
		((volatile char *)addr)[off] = 0;
	return 0;
}

/*
 * Map @len bytes aligned to @align (a power of two, for THP) by mapping
 * more and trimming both ends.
 */
static void *page_map_aligned(size_t len, size_t align, int flags)
{
	size_t head, tail, span = len + align;
	char *p;

	p = mmap(NULL, span, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		return MAP_FAILED;
	head = (align - ((uintptr_t)p & (align - 1))) & (align - 1);
	tail = span - head - len;
	if (head)
		munmap(p, head);
	if (tail)
		munmap(p + head + len, tail);
	return p + head;
}

/**
 * page_buffer_alloc() - map, place and fault in one buffer's data memory.
 * @priv_: the channel's state from page_channel_init().
 * @geom:  the buffer's geometry.
 * @mem:   receives the mapping; mem->handle holds its length.
 *
 * Thread-safe and async-signal-safe (system calls only; errno preserved).
 * Return: 0, -EINVAL (empty geometry), -ENOMEM (no memory, no huge pages, or
 * a size that does not fit the address space), or another negative errno
 * from mmap.
 */
static int page_buffer_alloc(void *priv_, const struct rbf_backend_geom *geom,
			     struct rbf_backend_mem *mem)
{
	const struct page_priv *priv = priv_;
	int saved_errno = errno;
	int hugetlb, flags, node, got, ret;
	uint64_t bytes;
	size_t unit, len;
	char *p;

	if (!priv || !geom || !mem || !geom->subbuf_size || !geom->nr_data)
		return -EINVAL;
	hugetlb = !!(priv->cfg.flags & RBF_PAGE_F_HUGETLB);
	unit = hugetlb ? priv->huge_size : priv->page_size;
	bytes = (uint64_t)geom->nr_data * geom->subbuf_size;
	if (bytes > SIZE_MAX / 2 - unit)
		return -ENOMEM;
	len = ((size_t)bytes + unit - 1) & ~(unit - 1);

	flags = MAP_PRIVATE | MAP_ANONYMOUS;
	if (hugetlb) {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_HUGETLB,
			 -1, 0);
	} else if ((priv->cfg.flags & RBF_PAGE_F_THP) &&
		   len >= priv->huge_size) {
		p = page_map_aligned(len, priv->huge_size, flags);
	} else {
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	}
	if (p == MAP_FAILED) {
		ret = hugetlb ? -ENOMEM : -errno;
		goto out;
	}
	if (!hugetlb && (priv->cfg.flags & RBF_PAGE_F_THP))
		(void)madvise(p, len, MADV_HUGEPAGE); /* best effort */

	/* The policy must be in place before the first fault. */
	node = page_target_node(priv, geom);
	if (node >= 0)
		page_bind(p, len, node);
	ret = page_populate(p, len, unit);
	if (ret) {
		munmap(p, len);
		goto out;
	}

	node = -1;
	if (priv->numa && page_get_mempolicy(&got, NULL, 0, p,
					     MPOL_F_NODE | MPOL_F_ADDR) == 0)
		node = got;

	mem->data = p;
	mem->handle = (void *)(uintptr_t)len;
	mem->numa_node = node;
	ret = 0;
out:
	errno = saved_errno;
	return ret;
}

/**
 * page_buffer_free() - unmap a buffer.  Async-signal-safe.
 */
static void page_buffer_free(void *priv, struct rbf_backend_mem *mem)
{
	int saved_errno = errno;

	(void)priv;
	if (!mem || !mem->data)
		return;
	munmap(mem->data, (size_t)(uintptr_t)mem->handle);
	mem->data = NULL;
	mem->handle = NULL;
	mem->numa_node = -1;
	errno = saved_errno;
}

/*
 * store/load: the frontend accesses this memory directly
 * (RBF_BACKEND_F_CPU_DIRECT) and need not call these; they exist so that
 * generic code and the backend conformance tests may.
 */
static int page_store(void *priv, const struct rbf_backend_mem *mem,
		      uint64_t off, const void *src, size_t len)
{
	(void)priv;
	memcpy((char *)mem->data + off, src, len);
	return 0;
}

static int page_load(void *priv, const struct rbf_backend_mem *mem,
		     uint64_t off, void *dst, size_t len)
{
	(void)priv;
	memcpy(dst, (const char *)mem->data + off, len);
	return 0;
}

const struct rbf_backend rbf_backend_page = {
	.size = sizeof(struct rbf_backend),
	.abi = RBF_BACKEND_ABI,
	.name = "page",
	.flags = RBF_BACKEND_F_CPU_DIRECT,
	.channel_init = page_channel_init,
	.channel_fini = page_channel_fini,
	.buffer_alloc = page_buffer_alloc,
	.buffer_free = page_buffer_free,
	.store = page_store,
	.load = page_load,
	.sync = NULL,
};
