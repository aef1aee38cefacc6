/* SPDX-License-Identifier: MIT */
/*
 * tests/check_backend.c - the "check" test backend: data memory the frontend
 * cannot touch directly.  See check_backend.h.
 *
 * Each buffer is a memfd mapped twice, MAP_SHARED: a PROT_NONE view whose
 * address is given to the frontend as rbf_backend_mem.data, and a read-write
 * view used only by store/load.  The per-buffer state lives in its own small
 * anonymous mapping (mem->handle), so that buffer_alloc needs no malloc.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check_backend.h"

#define CHECK_BUF_MAGIC 0x636865636b627566ull /* "checkbuf" */
#define CHECK_BUF_DEAD 0x6465616464656164ull /* "deaddead" */

struct check_priv {
	struct check_backend_config cfg;
	unsigned long allocs; /* atomic */
};

struct check_buf {
	uint64_t magic;
	char *rw; /* read-write view */
	void *none; /* PROT_NONE view (= mem->data) */
	size_t size; /* nr_data * subbuf_size: the valid range */
	size_t map_len; /* size rounded up to the page size */
};

static unsigned long nr_violations;
static unsigned long nr_stores;
static unsigned long nr_loads;
static unsigned long nr_syncs;
static unsigned long nr_bytes_stored;
static unsigned long nr_bytes_loaded;
static unsigned long nr_allocs;
static unsigned long nr_frees;
static long nr_live;
static int abort_on_violation = 1;

static unsigned long counter_get(unsigned long *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static void counter_add(unsigned long *c, unsigned long n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

unsigned long check_backend_violations(void)
{
	return counter_get(&nr_violations);
}

unsigned long check_backend_stores(void)
{
	return counter_get(&nr_stores);
}

unsigned long check_backend_loads(void)
{
	return counter_get(&nr_loads);
}

unsigned long check_backend_syncs(void)
{
	return counter_get(&nr_syncs);
}

unsigned long check_backend_bytes_stored(void)
{
	return counter_get(&nr_bytes_stored);
}

unsigned long check_backend_bytes_loaded(void)
{
	return counter_get(&nr_bytes_loaded);
}

unsigned long check_backend_allocs(void)
{
	return counter_get(&nr_allocs);
}

unsigned long check_backend_frees(void)
{
	return counter_get(&nr_frees);
}

long check_backend_live_buffers(void)
{
	return __atomic_load_n(&nr_live, __ATOMIC_RELAXED);
}

void check_backend_reset(void)
{
	unsigned long *all[] = { &nr_violations,   &nr_stores,
				 &nr_loads,	   &nr_syncs,
				 &nr_bytes_stored, &nr_bytes_loaded,
				 &nr_allocs,	   &nr_frees };
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		__atomic_store_n(all[i], 0, __ATOMIC_RELAXED);
}

int check_backend_set_abort(int on)
{
	return __atomic_exchange_n(&abort_on_violation, !!on, __ATOMIC_RELAXED);
}

void check_backend_config_init(struct check_backend_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->fail_alloc_after = -1;
}

/* Count a violation, say what it was (write(2), no stdio), abort. */
static int check_violation(const char *what, uint64_t off, size_t len)
{
	char msg[160];
	int n;

	counter_add(&nr_violations, 1);
	n = snprintf(msg, sizeof(msg),
		     "check backend: violation: %s (off %llu, len %zu)\n", what,
		     (unsigned long long)off, len);
	if (n > 0)
		(void)!write(STDERR_FILENO, msg,
			     (size_t)n < sizeof(msg) ? (size_t)n :
						       sizeof(msg) - 1);
	if (__atomic_load_n(&abort_on_violation, __ATOMIC_RELAXED))
		abort();
	return -EINVAL;
}

static struct check_buf *check_buf_of(const struct rbf_backend_mem *mem)
{
	struct check_buf *b;

	if (!mem || !mem->handle)
		return NULL;
	b = mem->handle;
	if (b->magic != CHECK_BUF_MAGIC || mem->data != b->none)
		return NULL;
	return b;
}

/* Common checks of store/load/sync.  Return: the buffer, or NULL. */
static struct check_buf *check_access(const struct rbf_backend_mem *mem,
				      uint64_t off, size_t len, const void *p,
				      int *err)
{
	struct check_buf *b = check_buf_of(mem);

	*err = 0;
	if (!b)
		*err = check_violation("unknown or freed buffer", off, len);
	else if (off % 8)
		*err = check_violation("offset not a multiple of 8", off, len);
	else if (len % 8)
		*err = check_violation("length not a multiple of 8", off, len);
	else if (off > b->size || len > b->size - off)
		*err = check_violation("range outside the data area", off, len);
	else if (len && !p)
		*err = check_violation("NULL pointer", off, len);
	return *err ? NULL : b;
}

void *check_backend_rw_view(const struct rbf_backend_mem *mem)
{
	struct check_buf *b = check_buf_of(mem);

	return b ? b->rw : NULL;
}

size_t check_backend_data_size(const struct rbf_backend_mem *mem)
{
	struct check_buf *b = check_buf_of(mem);

	return b ? b->size : 0;
}

static int check_channel_init(const struct rbf_backend_chan *chan,
			      const void *config, void **privp)
{
	const struct check_backend_config *user = config;
	struct check_priv *priv;

	(void)chan;
	if (!privp)
		return -EINVAL;
	if (user && user->size < sizeof(*user))
		return -EINVAL;
	priv = calloc(1, sizeof(*priv));
	if (!priv)
		return -ENOMEM;
	check_backend_config_init(&priv->cfg);
	if (user)
		priv->cfg.fail_alloc_after = user->fail_alloc_after;
	*privp = priv;
	return 0;
}

static void check_channel_fini(void *priv)
{
	free(priv);
}

static int check_buffer_alloc(void *priv_, const struct rbf_backend_geom *geom,
			      struct rbf_backend_mem *mem)
{
	struct check_priv *priv = priv_;
	size_t page = 4096, size, map_len;
	int saved_errno = errno;
	struct check_buf *b;
	unsigned long nth;
	long pagesz;
	void *none;
	char *rw;
	int fd, ret;

	if (!priv || !geom || !mem || !geom->subbuf_size || !geom->nr_data)
		return -EINVAL;
	nth = __atomic_fetch_add(&priv->allocs, 1, __ATOMIC_RELAXED);
	if (priv->cfg.fail_alloc_after >= 0 &&
	    nth >= (unsigned long)priv->cfg.fail_alloc_after)
		return -ENOMEM;

	pagesz = sysconf(_SC_PAGESIZE);
	if (pagesz > 0)
		page = (size_t)pagesz;
	size = (size_t)geom->nr_data * geom->subbuf_size;
	map_len = (size + page - 1) & ~(page - 1);

	fd = memfd_create("rbf-check", MFD_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (ftruncate(fd, (off_t)map_len)) {
		ret = -errno;
		goto out_fd;
	}
	rw = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (rw == MAP_FAILED) {
		ret = -errno;
		goto out_fd;
	}
	none = mmap(NULL, map_len, PROT_NONE, MAP_SHARED, fd, 0);
	if (none == MAP_FAILED) {
		ret = -errno;
		goto out_rw;
	}
	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED) {
		ret = -errno;
		goto out_none;
	}
	close(fd);
	b->magic = CHECK_BUF_MAGIC;
	b->rw = rw;
	b->none = none;
	b->size = size;
	b->map_len = map_len;

	mem->data = none;
	mem->handle = b;
	mem->numa_node = -1;
	counter_add(&nr_allocs, 1);
	__atomic_fetch_add(&nr_live, 1, __ATOMIC_RELAXED);
	errno = saved_errno;
	return 0;

out_none:
	munmap(none, map_len);
out_rw:
	munmap(rw, map_len);
out_fd:
	close(fd);
out:
	errno = saved_errno;
	return ret;
}

static void check_buffer_free(void *priv, struct rbf_backend_mem *mem)
{
	int saved_errno = errno;
	struct check_buf *b;

	(void)priv;
	b = check_buf_of(mem);
	if (!b) {
		check_violation("buffer_free of an unknown or freed buffer", 0,
				0);
		return;
	}
	b->magic = CHECK_BUF_DEAD;
	munmap(b->rw, b->map_len);
	munmap(b->none, b->map_len);
	munmap(b, sizeof(*b));
	mem->data = NULL;
	mem->handle = NULL;
	counter_add(&nr_frees, 1);
	__atomic_fetch_sub(&nr_live, 1, __ATOMIC_RELAXED);
	errno = saved_errno;
}

static int check_store(void *priv, const struct rbf_backend_mem *mem,
		       uint64_t off, const void *src, size_t len)
{
	const unsigned char *s = src;
	volatile uint64_t *d;
	struct check_buf *b;
	uint64_t w;
	size_t i;
	int err;

	(void)priv;
	b = check_access(mem, off, len, src, &err);
	if (!b)
		return err;
	d = (volatile uint64_t *)(void *)(b->rw + off);
	for (i = 0; i < len / 8; i++) {
		memcpy(&w, s + 8 * i, 8); /* host side: may be unaligned */
		d[i] = w;
	}
	counter_add(&nr_stores, 1);
	counter_add(&nr_bytes_stored, len);
	return 0;
}

static int check_load(void *priv, const struct rbf_backend_mem *mem,
		      uint64_t off, void *dst, size_t len)
{
	const volatile uint64_t *s;
	unsigned char *d = dst;
	struct check_buf *b;
	uint64_t w;
	size_t i;
	int err;

	(void)priv;
	b = check_access(mem, off, len, dst, &err);
	if (!b)
		return err;
	s = (const volatile uint64_t *)(const void *)(b->rw + off);
	for (i = 0; i < len / 8; i++) {
		w = s[i];
		memcpy(d + 8 * i, &w, 8);
	}
	counter_add(&nr_loads, 1);
	counter_add(&nr_bytes_loaded, len);
	return 0;
}

static int check_sync(void *priv, const struct rbf_backend_mem *mem,
		      uint64_t off, size_t len)
{
	struct check_buf *b;
	int err;

	(void)priv;
	b = check_access(mem, off, len, mem, &err);
	if (!b)
		return err;
	counter_add(&nr_syncs, 1);
	return 0;
}

const struct rbf_backend rbf_check_backend = {
	.size = sizeof(struct rbf_backend),
	.abi = RBF_BACKEND_ABI,
	.name = "check",
	.flags = 0,
	.channel_init = check_channel_init,
	.channel_fini = check_channel_fini,
	.buffer_alloc = check_buffer_alloc,
	.buffer_free = check_buffer_free,
	.store = check_store,
	.load = check_load,
	.sync = check_sync,
};
