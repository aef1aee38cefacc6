/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/backend.c - the mmap-file backend, writer side.
 *
 * channel_init creates (or reopens) the file, reserves all of it with
 * posix_fallocate() (a full file system fails here with -ENOSPC, never
 * later with SIGBUS), maps it shared once and fills in the header (layout
 * in layout.h and doc/file-format.md).  Buffers are carved out of that one
 * mapping: buffer_alloc only claims a slot of the table, with atomics, so
 * it is async-signal-safe and can run from a per-thread writer's first
 * write inside a signal handler.
 *
 * The frontend keeps every buffer's control block in the file
 * (RBF_BACKEND_F_CTL) and, because the file outlives the process
 * (RBF_BACKEND_F_PERSISTENT), writes records so that a reader can recover
 * them after a crash.  The file header's state says whether a writer has
 * the file open (or died with it open) or closed it cleanly.
 *
 * Durability: RBF_DURABLE_NONE leaves everything to the page cache;
 * RBF_DURABLE_SUBBUF runs a thread (syncer.c) that msync()s each
 * completed sub-buffer; RBF_DURABLE_FLUSH msync()s in the flush path
 * (->sync with the whole data area).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <urcu/uatomic.h>

#include "ctl.h"
#include "mmf.h"
#include "mmf_writer.h"

RBF_API void rbf_mmap_file_config_init(struct rbf_mmap_file_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->durability = RBF_DURABLE_NONE;
}

static int config_check(const struct rbf_mmap_file_config *cfg)
{
	if (!cfg || cfg->size < sizeof(*cfg) || !cfg->path || !cfg->path[0])
		return -EINVAL;
	if (cfg->flags & ~(RBF_MMAP_FILE_REOPEN | RBF_MMAP_FILE_TRUNCATE))
		return -EINVAL;
	if ((cfg->flags & RBF_MMAP_FILE_REOPEN) &&
	    (cfg->flags & RBF_MMAP_FILE_TRUNCATE))
		return -EINVAL;
	if ((unsigned int)cfg->durability > RBF_DURABLE_FLUSH)
		return -EINVAL;
	if (cfg->max_buffers > 65536)
		return -EINVAL;
	return 0;
}

/* Sizes and offsets of a file for @chan; -EFBIG if they overflow. */
static int layout_compute(struct mmf_chan *m,
			  const struct rbf_backend_chan *chan,
			  uint32_t max_buffers)
{
	uint64_t data, table;

	m->max_buffers = max_buffers;
	m->ctl_size = RBF_ALIGN(chan->ctl_size, (uint64_t)RBF_FILE_PAGE);
	data = (uint64_t)(chan->num_subbuf + 1) * chan->subbuf_size;
	m->region_size = RBF_ALIGN(m->ctl_size + data, (uint64_t)RBF_FILE_PAGE);
	table = RBF_ALIGN((uint64_t)max_buffers * sizeof(struct rbf_file_slot),
			  (uint64_t)RBF_FILE_PAGE);
	m->table_off = RBF_FILE_HEADER_SIZE;
	m->region_off = m->table_off + table;
	if (max_buffers &&
	    m->region_size > (UINT64_MAX / 2 - m->region_off) / max_buffers)
		return -EFBIG;
	m->file_size = m->region_off + (uint64_t)max_buffers * m->region_size;
	if (m->file_size > (uint64_t)SIZE_MAX / 2 ||
	    m->file_size > (uint64_t)INT64_MAX)
		return -EFBIG;
	return 0;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void header_fill(struct mmf_chan *m, const struct rbf_backend_chan *chan)
{
	struct rbf_file_header *h = m->hdr;
	uint16_t one = 1;
	uint32_t i;

	memcpy(h->magic, RBF_FILE_MAGIC, sizeof(h->magic));
	h->version = RBF_FILE_VERSION;
	h->word_size = (uint8_t)sizeof(void *);
	h->byte_order = *(uint8_t *)&one ? 1 : 2;
	h->header_size = RBF_FILE_HEADER_SIZE;
	h->file_size = m->file_size;
	h->subbuf_size = chan->subbuf_size;
	h->num_subbuf = chan->num_subbuf;
	h->mode = chan->mode;
	h->alloc = chan->alloc;
	h->clock = chan->clock;
	h->durability = m->durability;
	h->max_buffers = m->max_buffers;
	h->nr_cpus = chan->alloc == RBF_ALLOC_PER_CPU ? chan->nr_buffers : 0;
	h->table_off = m->table_off;
	h->region_off = m->region_off;
	h->region_size = m->region_size;
	h->ctl_size = m->ctl_size;
	h->clock_freq = chan->clock_freq;
	h->clock_offset_ns = chan->clock_offset_ns;
	h->create_time_ns = realtime_ns();
	if (getrandom(h->uuid, sizeof(h->uuid), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(h->uuid)) {
		uint64_t a = h->create_time_ns ^ ((uint64_t)getpid() << 32);
		uint64_t b = (uint64_t)(uintptr_t)m ^ a * 0x9e3779b97f4a7c15ull;

		memcpy(h->uuid, &a, 8);
		memcpy(h->uuid + 8, &b, 8);
	}
	h->uuid[6] = (uint8_t)((h->uuid[6] & 0x0f) | 0x40); /* version 4 */
	h->uuid[8] = (uint8_t)((h->uuid[8] & 0x3f) | 0x80); /* variant */
	h->slot_size = sizeof(struct rbf_file_slot);
	h->hdr_crc = rbf_crc32c(h, RBF_FILE_HDR_CRC_LEN);
	for (i = 0; i < m->max_buffers; i++) {
		m->slots[i].ctl_off =
			m->region_off + (uint64_t)i * m->region_size;
		m->slots[i].data_off = m->slots[i].ctl_off + m->ctl_size;
		m->slots[i].cpu = -1;
	}
	/* Per-CPU and global buffers exist from the start. */
	h->nr_buffers = chan->alloc == RBF_ALLOC_PER_THREAD ? 0 :
							      chan->nr_buffers;
}

/* Reopen: the header must describe this very channel, closed cleanly. */
static int header_match(struct mmf_chan *m, const struct rbf_backend_chan *chan,
			uint64_t st_size)
{
	const struct rbf_file_header *h = m->hdr;
	uint16_t one = 1;

	if (memcmp(h->magic, RBF_FILE_MAGIC, sizeof(h->magic)) ||
	    h->header_size != RBF_FILE_HEADER_SIZE ||
	    h->hdr_crc != rbf_crc32c(h, RBF_FILE_HDR_CRC_LEN))
		return -EINVAL;
	if (h->version != RBF_FILE_VERSION || h->word_size != sizeof(void *) ||
	    h->byte_order != (*(uint8_t *)&one ? 1 : 2))
		return -EPROTONOSUPPORT;
	if (h->file_size != st_size || h->file_size != m->file_size ||
	    h->subbuf_size != chan->subbuf_size ||
	    h->num_subbuf != chan->num_subbuf || h->mode != chan->mode ||
	    h->alloc != chan->alloc || h->clock != chan->clock ||
	    h->max_buffers != m->max_buffers || h->table_off != m->table_off ||
	    h->region_off != m->region_off ||
	    h->region_size != m->region_size || h->ctl_size != m->ctl_size ||
	    h->slot_size != sizeof(struct rbf_file_slot) ||
	    h->nr_buffers > h->max_buffers)
		return -EINVAL;
	if (chan->alloc == RBF_ALLOC_PER_CPU && h->nr_cpus != chan->nr_buffers)
		return -EINVAL;
	if (h->state != RBF_FILE_STATE_CLEAN)
		return -EUCLEAN;
	return 0;
}

static int file_open(struct mmf_chan *m, const struct rbf_mmap_file_config *cfg,
		     const struct rbf_backend_chan *chan)
{
	bool reopen = (cfg->flags & RBF_MMAP_FILE_REOPEN) != 0;
	int oflags = O_RDWR | O_CLOEXEC;
	struct stat st;
	void *p;
	int ret;

	if (!reopen)
		oflags |= O_CREAT |
			  ((cfg->flags & RBF_MMAP_FILE_TRUNCATE) ? O_TRUNC :
								   O_EXCL);
	m->fd = open(cfg->path, oflags, cfg->file_mode ? cfg->file_mode : 0644);
	if (m->fd < 0)
		return -errno;
	m->created = !reopen;
	if (fstat(m->fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (reopen) {
		if ((uint64_t)st.st_size < RBF_FILE_HEADER_SIZE)
			return -EINVAL;
		if ((uint64_t)st.st_size != m->file_size)
			return -EINVAL;
	} else {
		/* posix_fallocate returns the error number itself. */
		ret = posix_fallocate(m->fd, 0, (off_t)m->file_size);
		if (ret)
			return -ret;
	}
	p = mmap(NULL, (size_t)m->file_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 m->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	m->map = p;
	m->hdr = p;
	m->slots = (struct rbf_file_slot *)((char *)p + m->table_off);
	if (reopen) {
		ret = header_match(m, chan, (uint64_t)st.st_size);
		if (ret)
			return ret;
	} else {
		header_fill(m, chan);
	}
	m->hdr->writer_pid = (int32_t)getpid();
	m->hdr->open_count++;
	/* Release: the header and table are complete before a reader that
	 * sees state OPEN trusts them. */
	uatomic_set(&m->hdr->state, RBF_FILE_STATE_OPEN);
	cmm_smp_mb();
	if (m->durability != RBF_DURABLE_NONE &&
	    (msync(m->map, (size_t)m->region_off, MS_SYNC) || fsync(m->fd)))
		return -errno;
	return 0;
}

static void mmf_release(struct mmf_chan *m, bool failed,
			const char *unlink_path)
{
	if (m->map)
		munmap(m->map, (size_t)m->file_size);
	if (m->fd >= 0)
		close(m->fd);
	if (failed && m->created && unlink_path)
		unlink(unlink_path);
	free(m->synced);
	rbf_mmf_drain_free(m->drain);
	free(m);
}

static int mmf_channel_init(const struct rbf_backend_chan *chan,
			    const void *config, void **privp)
{
	const struct rbf_mmap_file_config *cfg = config;
	struct mmf_chan *m;
	uint32_t max_buffers;
	int ret;

	if (!chan || !privp)
		return -EINVAL;
	ret = config_check(cfg);
	if (ret)
		return ret;
	if (chan->alloc == RBF_ALLOC_PER_THREAD)
		max_buffers = cfg->max_buffers ?
				      cfg->max_buffers :
				      RBF_MMAP_FILE_MAX_BUFFERS_DEFAULT;
	else
		max_buffers = chan->nr_buffers;
	if (!max_buffers)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->fd = -1;
	m->durability = cfg->durability;
	m->chan = *chan;
	ret = layout_compute(m, chan, max_buffers);
	if (ret) {
		mmf_release(m, false, NULL);
		return ret;
	}
	m->synced = calloc(max_buffers, sizeof(*m->synced));
	if (!m->synced) {
		mmf_release(m, false, NULL);
		return -ENOMEM;
	}
	ret = file_open(m, cfg, chan);
	if (!ret && m->durability == RBF_DURABLE_SUBBUF)
		ret = rbf_mmf_syncer_start(m);
	if (ret) {
		mmf_release(m, true, cfg->path);
		return ret;
	}
	*privp = m;
	return 0;
}

static void mmf_channel_fini(void *priv)
{
	struct mmf_chan *m = priv;

	if (!m)
		return;
	rbf_mmf_syncer_stop(m);
	/* Every writer is done (rbf_channel_destroy waited a grace period):
	 * the file is consistent as it stands. */
	if (m->durability != RBF_DURABLE_NONE)
		msync(m->map, (size_t)m->file_size, MS_SYNC);
	uatomic_set(&m->hdr->state, RBF_FILE_STATE_CLEAN);
	msync(m->map, RBF_FILE_HEADER_SIZE, MS_SYNC);
	mmf_release(m, false, NULL);
}

static long my_tid(void)
{
	return syscall(SYS_gettid);
}

/* Claim a slot for a new per-thread buffer: atomics only. */
static int slot_claim(struct mmf_chan *m, uint32_t *slot)
{
	uint32_t n = uatomic_read(&m->hdr->nr_buffers);

	for (;;) {
		uint32_t prev;

		if (n >= m->max_buffers)
			return -ENOMEM;
		prev = uatomic_cmpxchg(&m->hdr->nr_buffers, n, n + 1);
		if (prev == n) {
			*slot = n;
			return 0;
		}
		n = prev;
	}
}

static int mmf_buffer_alloc(void *priv, const struct rbf_backend_geom *geom,
			    struct rbf_backend_mem *mem)
{
	struct mmf_chan *m = priv;
	struct rbf_file_slot *s;
	uint32_t slot;
	int ret;

	if (geom->subbuf_size != m->chan.subbuf_size ||
	    geom->nr_subbuf != m->chan.num_subbuf ||
	    geom->ctl_size > m->ctl_size)
		return -EINVAL;
	if (m->chan.alloc == RBF_ALLOC_PER_THREAD) {
		ret = slot_claim(m, &slot);
		if (ret)
			return ret;
	} else {
		slot = geom->buffer_id;
		if (slot >= m->max_buffers)
			return -EINVAL;
	}
	s = &m->slots[slot];
	mem->ctl = m->map + s->ctl_off;
	mem->data = m->map + s->data_off;
	mem->handle = (void *)(uintptr_t)slot;
	mem->numa_node = -1;
	if (uatomic_read(&s->state) != RBF_SLOT_FREE) {
		/* Reopened file: the buffer continues. */
		mem->flags |= RBF_BACKEND_MEM_CTL_VALID;
		uatomic_set(&s->state, RBF_SLOT_LIVE);
		return 0;
	}
	s->buffer_id = geom->buffer_id;
	s->cpu = geom->cpu;
	s->tid = m->chan.alloc == RBF_ALLOC_PER_THREAD ? (int32_t)my_tid() : 0;
	/* Release: a reader that sees LIVE sees the slot's fields.  The
	 * control block is written by the frontend after this; readers check
	 * its magic before using it. */
	cmm_smp_wmb();
	uatomic_set(&s->state, RBF_SLOT_LIVE);
	return 0;
}

static void mmf_buffer_free(void *priv, struct rbf_backend_mem *mem)
{
	struct mmf_chan *m = priv;
	uint32_t slot = (uint32_t)(uintptr_t)mem->handle;

	/* The memory stays in the file; a thread's slot is marked dead. */
	if (m->chan.alloc == RBF_ALLOC_PER_THREAD && slot < m->max_buffers)
		uatomic_set(&m->slots[slot].state, RBF_SLOT_DEAD);
}

/* msync() needs page-aligned starts. */
int rbf_mmf_msync(struct mmf_chan *m, uint64_t off, uint64_t len)
{
	uint64_t start = off & ~(uint64_t)(RBF_FILE_PAGE - 1);

	if (msync(m->map + start, (size_t)(off + len - start), MS_SYNC))
		return -errno;
	return 0;
}

static int mmf_sync(void *priv, const struct rbf_backend_mem *mem, uint64_t off,
		    size_t len)
{
	struct mmf_chan *m = priv;
	uint32_t slot = (uint32_t)(uintptr_t)mem->handle;
	uint64_t data_len =
		(uint64_t)(m->chan.num_subbuf + 1) * m->chan.subbuf_size;
	const struct rbf_file_slot *s;
	int ret;

	/* Only the flush (the whole data area) syncs, under FLUSH. */
	if (m->durability != RBF_DURABLE_FLUSH || off != 0 || len != data_len ||
	    slot >= m->max_buffers)
		return 0;
	s = &m->slots[slot];
	ret = rbf_mmf_msync(m, s->data_off, data_len);
	if (!ret)
		ret = rbf_mmf_msync(m, s->ctl_off, m->ctl_size);
	return ret;
}

const struct rbf_backend rbf_backend_mmap_file = {
	.size = sizeof(struct rbf_backend),
	.abi = RBF_BACKEND_ABI,
	.name = "mmap-file",
	.flags = RBF_BACKEND_F_CPU_DIRECT | RBF_BACKEND_F_CTL |
		 RBF_BACKEND_F_PERSISTENT,
	.channel_init = mmf_channel_init,
	.channel_fini = mmf_channel_fini,
	.buffer_alloc = mmf_buffer_alloc,
	.buffer_free = mmf_buffer_free,
	.sync = mmf_sync,
};
