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
 * Topology (libnuma).  channel_init runs in normal thread context and asks
 * libnuma for the topology: numa_available() (below 0: no NUMA, every node
 * reported as -1), numa_max_node() and numa_nodes_ptr for the nodes that
 * exist, numa_node_size64() for those with memory, numa_num_possible_cpus()
 * for the size of the CPU-to-node table, and numa_node_to_cpus() for each
 * existing node to fill it (the lookup numa_node_of_cpu() does, once per
 * node rather than once per CPU and node).  The result is kept read-only
 * in the channel's private state.
 *
 * libnuma reports some failures by printing to stderr through its weak
 * numa_warn()/numa_error(), which rbf must never do.  This file does not
 * override those symbols (they belong to the application); instead it only
 * makes calls that cannot fail that way: nothing is called but
 * numa_available() when it reports no NUMA; numa_node_to_cpus() and
 * numa_node_size64() are only given nodes that exist (in numa_nodes_ptr,
 * up to numa_max_node()), with a CPU mask from numa_allocate_cpumask() (the
 * size libnuma's cache expects); and no call that issues a memory-policy
 * system call (numa_get_mems_allowed(), numa_tonode_memory(), ...) is
 * made, since those print when the system call fails.  What remains is
 * outside our control: libnuma's own constructor, a sysfs that does not
 * parse, and numa_bitmask_alloc(), which prints and exits when malloc
 * fails.  libnuma's CPU-mask cache is not thread-safe, so the probe is
 * serialized by a mutex.
 *
 * Signal safety.  For per-thread channels buffer_alloc runs on the writing
 * thread's first write, possibly inside a signal handler.  It therefore uses
 * only system calls (mmap, madvise, mbind, get_mempolicy, getcpu, munmap), no
 * malloc, no stdio and no libnuma, and it preserves errno.  mbind(2) and
 * get_mempolicy(2) are issued directly with syscall(2) rather than through
 * libnuma's numa_tonode_memory() and friends: those allocate a node mask
 * with malloc and call numa_error() (perror) when the system call fails.
 * Everything that needs libnuma, sysfs or the heap (the CPU-to-node table,
 * the set of nodes with memory, the huge page size) is computed once in
 * channel_init.
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
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mempolicy.h>
#include <numa.h>

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
/* Enough for /proc/meminfo (about 1.5 KiB). */
#define PAGE_MEMINFO_BUF 16384
#define PAGE_DEFAULT_HUGE_SIZE (2UL << 20)

/* What a known configuration holds: every field up to numa_node. */
#define PAGE_CONFIG_MIN_SIZE \
	(offsetof(struct rbf_page_config, numa_node) + sizeof(int))
#define PAGE_KNOWN_FLAGS (RBF_PAGE_F_HUGETLB | RBF_PAGE_F_THP)

/**
 * struct page_priv - per-channel state of the page backend.
 * @cfg:       the configuration, defaults filled in.
 * @numa:      1 when NUMA is available (numa_available() >= 0).
 * @page_size: base page size.
 * @huge_size: default hugetlb page size (used with RBF_PAGE_F_HUGETLB, and
 *             as the THP alignment).
 * @mem_nodes: bitmap of nodes that have memory.
 * @nr_cpus:   entries in @cpu_node (0 without NUMA).
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

/* Serializes our libnuma calls: its node-to-CPU cache takes no lock. */
static pthread_mutex_t page_numa_lock = PTHREAD_MUTEX_INITIALIZER;

void rbf_page_config_init(struct rbf_page_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->flags = 0;
	cfg->numa_node = -1;
}

/* mbind(2) and get_mempolicy(2), raw: async-signal-safe, never print. */
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

static void page_set_node_memory(struct page_priv *priv, int node)
{
	priv->mem_nodes[node / PAGE_ULONG_BITS] |= 1UL
						   << (node % PAGE_ULONG_BITS);
}

/*
 * Read a small text file into @buf, NUL-terminated.
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
 * Read the default huge page size from /proc/meminfo (libnuma has no
 * interface for it); 0 if unknown.
 */
static size_t page_huge_size(void)
{
	const char *p;
	unsigned long kb;
	size_t ret = 0;
	char *buf;

	buf = malloc(PAGE_MEMINFO_BUF);
	if (!buf)
		return 0;
	if (page_read_file("/proc/meminfo", buf, PAGE_MEMINFO_BUF))
		goto out;
	p = strstr(buf, "Hugepagesize:");
	if (!p)
		goto out;
	if (sscanf(p, "Hugepagesize: %lu kB", &kb) != 1 || !kb ||
	    kb > SIZE_MAX / 1024)
		goto out;
	ret = (size_t)kb * 1024;
out:
	free(buf);
	return ret;
}

/* Size of the CPU-to-node table: every CPU number the kernel can report. */
static int page_table_cpus(void)
{
	int n = numa_num_possible_cpus();

	if (n <= 0)
		n = numa_num_configured_cpus();
	if (n <= 0)
		n = 1;
	return n > PAGE_MAX_CPUS ? PAGE_MAX_CPUS : n;
}

/*
 * Fill the CPU-to-node table and the set of nodes with memory from libnuma.
 * Only nodes that exist are passed to libnuma (see the top of the file).
 * Called with page_numa_lock held, once numa_available() said yes.
 */
static void page_probe_topology(struct page_priv *priv)
{
	struct bitmask *cpus;
	int node, max_node, cpu;

	for (cpu = 0; cpu < priv->nr_cpus; cpu++)
		priv->cpu_node[cpu] = -1;
	max_node = numa_max_node();
	if (max_node >= PAGE_MAX_NODES)
		max_node = PAGE_MAX_NODES - 1;
	cpus = numa_allocate_cpumask();
	for (node = 0; node <= max_node; node++) {
		if (!numa_nodes_ptr ||
		    !numa_bitmask_isbitset(numa_nodes_ptr, (unsigned int)node))
			continue;
		if (numa_node_size64(node, NULL) > 0)
			page_set_node_memory(priv, node);
		if (numa_node_to_cpus(node, cpus) < 0)
			continue;
		/* Lowest node first, as numa_node_of_cpu() answers. */
		for (cpu = 0; cpu < priv->nr_cpus; cpu++)
			if (priv->cpu_node[cpu] < 0 &&
			    numa_bitmask_isbitset(cpus, (unsigned int)cpu))
				priv->cpu_node[cpu] = node;
	}
	numa_free_cpumask(cpus);

	/*
	 * No node information (no sysfs): the kernel still has node 0.
	 * CPUs stay unmapped, so their buffers get the kernel's default,
	 * local, placement.
	 */
	if (!page_node_has_memory(priv, 0)) {
		for (node = 1; node < PAGE_MAX_NODES; node++)
			if (page_node_has_memory(priv, node))
				break;
		if (node == PAGE_MAX_NODES)
			page_set_node_memory(priv, 0);
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
 * Not async-signal-safe (libnuma, /proc, malloc).  Thread-safe.
 * Return: 0, -EINVAL (size too small, unknown flags, bad node or a node
 * without memory, nonzero fields unknown to this version), -ENOMEM.
 */
static int page_channel_init(const struct rbf_backend_chan *chan,
			     const void *config, void **privp)
{
	struct rbf_page_config cfg;
	struct page_priv *priv;
	int saved_errno = errno;
	int numa, nr_cpus, ret;
	long page_size;

	(void)chan;
	if (!privp)
		return -EINVAL;
	ret = page_parse_config(config, &cfg);
	if (ret)
		return ret;

	pthread_mutex_lock(&page_numa_lock);
	/* Without NUMA, libnuma's other functions are undefined: none used. */
	numa = numa_available() >= 0;
	nr_cpus = numa ? page_table_cpus() : 0;
	priv = calloc(1, sizeof(*priv) + (size_t)nr_cpus * sizeof(int));
	if (!priv) {
		pthread_mutex_unlock(&page_numa_lock);
		ret = -ENOMEM;
		goto out;
	}
	priv->cfg = cfg;
	priv->numa = numa;
	priv->nr_cpus = nr_cpus;
	if (numa)
		page_probe_topology(priv);
	pthread_mutex_unlock(&page_numa_lock);

	if (numa && cfg.numa_node >= 0 &&
	    !page_node_has_memory(priv, cfg.numa_node)) {
		free(priv);
		ret = -EINVAL;
		goto out;
	}

	page_size = sysconf(_SC_PAGESIZE);
	priv->page_size = page_size > 0 ? (size_t)page_size : 4096;
	priv->huge_size = page_huge_size();
	if (!priv->huge_size || (priv->huge_size & (priv->huge_size - 1)) ||
	    priv->huge_size < priv->page_size)
		priv->huge_size = PAGE_DEFAULT_HUGE_SIZE;

	*privp = priv;
	ret = 0;
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
