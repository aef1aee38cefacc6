/* SPDX-License-Identifier: MIT */
/*
 * backends/mmap-file/attach.c - another process attaches to a ring file as
 * its reader.
 *
 * The control blocks are position independent, so the reader process maps
 * the file shared and wraps each buffer's control block and data in a
 * frontend buffer (rbf_buffer_wrap): the frontend's own reader code then
 * runs unchanged, and its compare-and-swap on the ring's links works
 * across processes because the mapping is shared.  The channel gets a
 * private backend table whose buffer_alloc refuses (writes fail with
 * -EPERM) and whose channel_fini releases the reader role and unmaps.
 *
 * Buffers the writer creates later (per-thread channels) are picked up by
 * the channel's refresh hook, which the frontend calls under its reader
 * lock before walking the buffer list.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <urcu/uatomic.h>

#include "internal.h"
#include "mmf.h"
#include "mmf_writer.h"

struct mmf_reader {
	int fd;
	char *map;
	size_t len;
	struct rbf_file_header *hdr;
	struct rbf_file_slot *slots;
	uint32_t max_buffers;
	uint32_t known; /* slots wrapped so far */
	int32_t pid;
	struct mmf_drain *drain;
	struct rbf_buffer **bufs; /* by slot */
};

int rbf_mmf_pid_alive(int pid)
{
	if (pid <= 0)
		return 0;
	return kill(pid, 0) == 0 || errno == EPERM;
}

static int att_buffer_alloc(void *priv, const struct rbf_backend_geom *geom,
			    struct rbf_backend_mem *mem)
{
	(void)priv;
	(void)geom;
	(void)mem;
	return -EPERM; /* a reader never creates buffers */
}

static void att_buffer_free(void *priv, struct rbf_backend_mem *mem)
{
	(void)priv;
	(void)mem; /* the memory is the file's */
}

static void reader_free(struct mmf_reader *r)
{
	if (r->map) {
		/* Give the reader role back (if it is still ours). */
		uatomic_cmpxchg(&r->hdr->reader_pid, r->pid, 0);
		munmap(r->map, r->len);
	}
	if (r->fd >= 0)
		close(r->fd);
	rbf_mmf_drain_free(r->drain);
	free(r->bufs);
	free(r);
}

static void att_channel_fini(void *priv)
{
	if (priv)
		reader_free(priv);
}

static const struct rbf_backend attached_backend = {
	.size = sizeof(struct rbf_backend),
	.abi = RBF_BACKEND_ABI,
	.name = "mmap-file",
	.flags = RBF_BACKEND_F_CPU_DIRECT | RBF_BACKEND_F_CTL |
		 RBF_BACKEND_F_PERSISTENT,
	.channel_fini = att_channel_fini,
	.buffer_alloc = att_buffer_alloc,
	.buffer_free = att_buffer_free,
};

/* Is the writer gone (closed cleanly, or its process died)? */
static int writer_gone(const struct mmf_reader *r)
{
	if (uatomic_read(&r->hdr->state) == RBF_FILE_STATE_CLEAN)
		return 1;
	return !rbf_mmf_pid_alive(uatomic_read(&r->hdr->writer_pid));
}

/*
 * Wrap the buffers of slots claimed since the last call.  A slot whose
 * control block the writer is still initializing (claimed, not yet LIVE,
 * or failing the check) stops the scan; the next call retries it.
 */
static void attach_refresh(struct rbf_channel *ch)
{
	struct mmf_reader *r = ch->be_priv;
	uint32_t nr = uatomic_read(&r->hdr->nr_buffers);
	int gone = writer_gone(r);
	uint32_t i;

	if (nr > r->max_buffers)
		nr = r->max_buffers;
	for (i = r->known; i < nr; i++) {
		struct rbf_file_slot *s = &r->slots[i];
		struct rbf_backend_mem mem;
		struct rbf_buffer *buf;

		if (uatomic_read(&s->state) == RBF_SLOT_FREE)
			break;
		cmm_smp_rmb(); /* pairs with the writer's wmb before LIVE */
		memset(&mem, 0, sizeof(mem));
		mem.ctl = r->map + s->ctl_off;
		mem.data = r->map + s->data_off;
		mem.handle = (void *)(uintptr_t)i;
		mem.numa_node = -1;
		if (rbf_buffer_wrap(ch, s->buffer_id, s->cpu, s->tid, &mem,
				    &buf)) {
			/* A dead reader's half-done exchange?  We hold the
			 * reader role now: repair it and retry once. */
			if (rbf_ctl_repair_reader(
				    ch, mem.ctl,
				    rbf_ctl_size(ch->num_subbuf)) ||
			    rbf_buffer_wrap(ch, s->buffer_id, s->cpu, s->tid,
					    &mem, &buf))
				break;
		}
		/* We are the only reader now: what an earlier one held is
		 * read. */
		rbf_ctl_reclaim_held(buf->ctl);
		if (ch->percpu && s->buffer_id < ch->nr_cpus)
			ch->percpu[s->buffer_id] = buf;
		r->bufs[i] = buf;
		rbf_channel_list_push(ch, buf);
		r->known = i + 1;
	}
	/* Dead threads (and a dead writer) can be flushed safely. */
	for (i = 0; i < r->known; i++) {
		if (r->bufs[i] &&
		    (gone || uatomic_read(&r->slots[i].state) == RBF_SLOT_DEAD))
			uatomic_set(&r->bufs[i]->dead, 1);
	}
}

/* Take the reader role recorded in the file. */
static int role_take(struct mmf_reader *r, uint32_t flags)
{
	int32_t cur = uatomic_read(&r->hdr->reader_pid);
	int tries;

	for (tries = 0; tries < 100; tries++) {
		int32_t prev;

		/* One reader at a time, this process's included. */
		if (cur != 0 && (rbf_mmf_pid_alive(cur) ||
				 (flags & RBF_MMAP_FILE_ATTACH_ONLY_IF_FREE)))
			return -EBUSY;
		prev = uatomic_cmpxchg(&r->hdr->reader_pid, cur, r->pid);
		if (prev == cur)
			return 0;
		cur = prev;
	}
	return -EBUSY;
}

static int reader_open(const char *path, uint32_t flags, struct mmf_reader *r)
{
	struct rbf_file_error err;
	struct stat st;
	void *p;
	int ret;

	r->fd = open(path, O_RDWR | O_CLOEXEC);
	if (r->fd < 0)
		return -errno;
	if (fstat(r->fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((uint64_t)st.st_size < RBF_FILE_HEADER_SIZE ||
	    (uint64_t)st.st_size > (uint64_t)SIZE_MAX / 2)
		return -EINVAL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 r->fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r->map = p;
	r->len = (size_t)st.st_size;
	r->hdr = p;
	ret = rbf_mmf_validate(p, r->len, 1, &err);
	if (ret) {
		/* Not ours to release: do not touch reader_pid. */
		munmap(r->map, r->len);
		r->map = NULL;
		return ret;
	}
	r->slots = (struct rbf_file_slot *)(r->map + r->hdr->table_off);
	r->max_buffers = r->hdr->max_buffers;
	r->pid = (int32_t)getpid();
	r->bufs = calloc(r->max_buffers, sizeof(*r->bufs));
	if (!r->bufs) {
		munmap(r->map, r->len);
		r->map = NULL;
		return -ENOMEM;
	}
	ret = role_take(r, flags);
	if (ret) {
		munmap(r->map, r->len);
		r->map = NULL;
	}
	return ret;
}

RBF_API int rbf_mmap_file_attach(const char *path, uint32_t flags,
				 struct rbf_channel **out)
{
	struct mmf_reader *r;
	struct rbf_channel *ch;
	const struct rbf_file_header *h;
	int saved = errno, ret;

	if (!path || !out || (flags & ~RBF_MMAP_FILE_ATTACH_ONLY_IF_FREE))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	ret = reader_open(path, flags, r);
	if (ret)
		goto err_reader;
	h = r->hdr;
	ch = rbf_channel_alloc();
	if (!ch) {
		ret = -ENOMEM;
		goto err_reader;
	}
	rbf_channel_setup(ch, h->subbuf_size, h->num_subbuf,
			  (enum rbf_mode)h->mode, (enum rbf_alloc)h->alloc,
			  (enum rbf_clock)h->clock, h->clock_freq);
	ch->be = &attached_backend;
	ch->be_priv = r;
	ch->cpu_direct = true;
	ch->persistent = true;
	ch->attached = true;
	ch->refresh = attach_refresh;
	ch->enabled = 0;
	if (h->alloc != RBF_ALLOC_PER_THREAD) {
		ch->nr_cpus = h->alloc == RBF_ALLOC_PER_CPU ? h->nr_cpus : 1;
		ch->percpu = calloc(ch->nr_cpus, sizeof(*ch->percpu));
		if (!ch->percpu) {
			free(ch);
			ret = -ENOMEM;
			goto err_reader;
		}
	}
	pthread_mutex_lock(&ch->rlock);
	attach_refresh(ch);
	pthread_mutex_unlock(&ch->rlock);
	*out = ch;
	errno = saved;
	return 0;

err_reader:
	reader_free(r);
	errno = saved;
	return ret;
}

RBF_API int rbf_mmap_file_writer_state(struct rbf_channel *ch)
{
	struct mmf_reader *r;

	if (!ch)
		return -EINVAL;
	if (ch->be == &rbf_backend_mmap_file)
		return 1; /* this process is the writer */
	if (ch->be != &attached_backend)
		return -EINVAL;
	r = ch->be_priv;
	if (uatomic_read(&r->hdr->state) == RBF_FILE_STATE_CLEAN)
		return 0;
	return rbf_mmf_pid_alive(uatomic_read(&r->hdr->writer_pid)) ? 1 :
								      -ESRCH;
}

int rbf_mmf_source(struct rbf_channel *ch, struct mmf_source *src)
{
	if (ch->be == &rbf_backend_mmap_file) {
		struct mmf_chan *m = ch->be_priv;

		src->fd = m->fd;
		src->map = m->map;
		src->hdr = m->hdr;
		src->slots = m->slots;
		src->max_buffers = m->max_buffers;
		src->drain = &m->drain;
		return 0;
	}
	if (ch->be == &attached_backend) {
		struct mmf_reader *r = ch->be_priv;

		src->fd = r->fd;
		src->map = r->map;
		src->hdr = r->hdr;
		src->slots = r->slots;
		src->max_buffers = r->max_buffers;
		src->drain = &r->drain;
		return 0;
	}
	return -EINVAL;
}
