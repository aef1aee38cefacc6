/* SPDX-License-Identifier: MIT */
/*
 * frontend/buffer.c - creating a buffer: memory from the backend, control
 * block initialization, data access through the backend.
 *
 * Buffer bookkeeping (struct rbf_buffer and, for backends that do not supply
 * one, the control block) is mmap'ed, not malloc'ed: a per-thread buffer is
 * created by its thread's first write, which may run in a signal handler.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

void *rbf_host_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void rbf_host_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

int rbf_data_store(struct rbf_buffer *buf, uint64_t off, const void *src,
		   size_t len)
{
	if (buf->data) {
		memcpy(buf->data + off, src, len);
		return 0;
	}
	return buf->ch->be->store(buf->ch->be_priv, &buf->mem, off, src, len);
}

int rbf_data_load(struct rbf_buffer *buf, uint64_t off, void *dst, size_t len)
{
	if (buf->data) {
		memcpy(dst, buf->data + off, len);
		return 0;
	}
	return buf->ch->be->load(buf->ch->be_priv, &buf->mem, off, dst, len);
}

static void ctl_init(struct rbf_channel *ch, struct rbf_ctl *ctl, uint32_t id)
{
	uint64_t *links;
	uint32_t i;
	uint16_t one = 1;

	ctl->magic = RBF_CTL_MAGIC;
	ctl->layout_version = RBF_CTL_LAYOUT_VERSION;
	ctl->word_size = (uint8_t)sizeof(void *);
	ctl->byte_order = *(uint8_t *)&one ? RBF_BYTE_ORDER_LE :
					     RBF_BYTE_ORDER_BE;
	ctl->ctl_size = (uint32_t)rbf_ctl_size(ch->num_subbuf);
	ctl->subbuf_size = ch->subbuf_size;
	ctl->num_subbuf = ch->num_subbuf;
	ctl->nr_data = ch->num_subbuf + 1;
	ctl->mode = ch->mode;
	ctl->clock = ch->clock;
	ctl->buffer_id = id;
	ctl->link_off = sizeof(struct rbf_ctl);
	ctl->commit_off =
		sizeof(struct rbf_ctl) + RBF_ALIGN((uint64_t)ch->num_subbuf * 8,
						   (uint64_t)RBF_CACHELINE);
	links = rbf_ctl_links(ctl);
	for (i = 0; i < ch->num_subbuf; i++)
		links[i] = rbf_link_make(i, i == 0 ? RBF_LINK_HEAD : 0, i, 0);
	ctl->spare = ch->num_subbuf;
	ctl->held = 0;
}

/*
 * Is @ctl (@ctl_size bytes available) a valid control block of a buffer of
 * @ch?  Checks everything the frontend indexes with: geometry, array
 * offsets, phys indices (each sub-buffer exactly once), reader state.
 */
int rbf_ctl_check(const struct rbf_channel *ch, const struct rbf_ctl *ctl,
		  uint64_t ctl_size)
{
	uint64_t need = rbf_ctl_size(ch->num_subbuf);
	uint64_t seen[(RBF_NUM_SUBBUF_MAX + 1 + 63) / 64];
	const uint64_t *links;
	uint32_t i, nr_data = ch->num_subbuf + 1;
	uint16_t one = 1;

	if (ctl_size < need || ctl->magic != RBF_CTL_MAGIC ||
	    ctl->layout_version != RBF_CTL_LAYOUT_VERSION ||
	    ctl->word_size != sizeof(void *) ||
	    ctl->byte_order != (*(uint8_t *)&one ? RBF_BYTE_ORDER_LE :
						   RBF_BYTE_ORDER_BE) ||
	    ctl->ctl_size != need || ctl->subbuf_size != ch->subbuf_size ||
	    ctl->num_subbuf != ch->num_subbuf || ctl->nr_data != nr_data ||
	    ctl->mode != (uint32_t)ch->mode ||
	    ctl->clock != (uint32_t)ch->clock ||
	    ctl->link_off != sizeof(struct rbf_ctl) ||
	    ctl->commit_off != sizeof(struct rbf_ctl) +
				       RBF_ALIGN((uint64_t)ch->num_subbuf * 8,
						 (uint64_t)RBF_CACHELINE))
		return -EINVAL;
	memset(seen, 0, sizeof(seen));
	links = (const uint64_t *)((const char *)ctl + ctl->link_off);
	for (i = 0; i <= ch->num_subbuf + 1; i++) {
		uint64_t phys;

		if (i < ch->num_subbuf)
			phys = rbf_link_phys(RBF_LOAD(links[i]));
		else if (i == ch->num_subbuf)
			phys = RBF_LOAD(ctl->spare);
		else if (RBF_LOAD(ctl->held))
			phys = RBF_LOAD(ctl->held) - 1ull;
		else
			continue;
		if (phys == UINT32_MAX && i == ch->num_subbuf)
			continue; /* spare lent out: held names it */
		if (phys >= nr_data || (seen[phys / 64] >> (phys % 64)) & 1)
			return -EINVAL;
		seen[phys / 64] |= 1ull << (phys % 64);
	}
	return 0;
}

/*
 * A reader that died inside rbf_subbuf_get() or rbf_subbuf_put() can leave
 * one sub-buffer named twice and another not at all:
 *   - killed after the exchange CAS, before recording what it took: the
 *     spare is in the ring and still named spare, and the sub-buffer it
 *     took is nowhere;
 *   - killed in put after naming the held sub-buffer spare, before
 *     clearing held.
 * Called only by a new reader that took over from a dead one: make the
 * missing sub-buffer the spare (the first case loses that sub-buffer's
 * events, which the dead reader had already taken out of the ring) and
 * clear held.  Returns 0 if the block then checks, else -EINVAL.
 */
int rbf_ctl_repair_reader(const struct rbf_channel *ch, struct rbf_ctl *ctl,
			  uint64_t ctl_size)
{
	uint64_t seen[(RBF_NUM_SUBBUF_MAX + 1 + 63) / 64];
	uint32_t i, missing = UINT32_MAX, nr_data = ch->num_subbuf + 1;
	const uint64_t *links;

	if (ctl_size < rbf_ctl_size(ch->num_subbuf) ||
	    ctl->magic != RBF_CTL_MAGIC || ctl->num_subbuf != ch->num_subbuf ||
	    ctl->link_off != sizeof(struct rbf_ctl))
		return -EINVAL;
	memset(seen, 0, sizeof(seen));
	links = (const uint64_t *)((const char *)ctl + ctl->link_off);
	for (i = 0; i < ch->num_subbuf; i++) {
		uint32_t phys = rbf_link_phys(RBF_LOAD(links[i]));

		if (phys >= nr_data || (seen[phys / 64] >> (phys % 64)) & 1)
			return -EINVAL; /* the ring itself is damaged */
		seen[phys / 64] |= 1ull << (phys % 64);
	}
	for (i = 0; i < nr_data; i++)
		if (!((seen[i / 64] >> (i % 64)) & 1))
			missing = i;
	if (missing == UINT32_MAX)
		return -EINVAL;
	ctl->spare = missing;
	ctl->held = 0;
	return rbf_ctl_check(ch, ctl, ctl_size);
}

/* The host part of a buffer (its struct, then @extra bytes: a control
 * block kept in host memory), mmap'ed and zero-filled. */
static struct rbf_buffer *buffer_new(struct rbf_channel *ch, uint32_t id,
				     int cpu, int tid, size_t extra)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t host = RBF_ALIGN(RBF_ALIGN(sizeof(struct rbf_buffer),
					  (size_t)RBF_CACHELINE) +
					extra,
				page);
	struct rbf_buffer *buf = rbf_host_alloc(host);

	if (!buf)
		return NULL;
	buf->host_size = host;
	buf->ch = ch;
	buf->id = id;
	buf->cpu = cpu;
	buf->tid = tid;
	return buf;
}

/*
 * A sub-buffer a reader that is gone held and never gave back counts as
 * read (its events were counted when it was taken); it becomes the spare
 * again.  Only the one reader of the buffer may call this.
 */
void rbf_ctl_reclaim_held(struct rbf_ctl *ctl)
{
	uint32_t held = RBF_LOAD(ctl->held);

	if (held) {
		ctl->spare = held - 1;
		RBF_STORE(ctl->held, 0);
	}
}

/* A control block from a previous writer that closed its channel cleanly:
 * no write is in flight, and its reader is gone. */
static void ctl_reopen(struct rbf_ctl *ctl)
{
	ctl->wr_nest = 0;
	ctl->flush_req = 0;
	rbf_ctl_reclaim_held(ctl);
}

int rbf_buffer_create(struct rbf_channel *ch, uint32_t id, int cpu, int tid,
		      struct rbf_buffer **out)
{
	struct rbf_backend_geom geom;
	struct rbf_buffer *buf;
	uint64_t ctl_size = rbf_ctl_size(ch->num_subbuf);
	size_t head = RBF_ALIGN(sizeof(*buf), (size_t)RBF_CACHELINE);
	bool be_ctl = (ch->be->flags & RBF_BACKEND_F_CTL) != 0;
	size_t host;
	int ret;

	buf = buffer_new(ch, id, cpu, tid, be_ctl ? 0 : (size_t)ctl_size);
	if (!buf)
		return -ENOMEM;
	host = buf->host_size;
	buf->ctl_from_backend = be_ctl;

	memset(&geom, 0, sizeof(geom));
	geom.subbuf_size = ch->subbuf_size;
	geom.nr_subbuf = ch->num_subbuf;
	geom.nr_data = ch->num_subbuf + 1;
	geom.buffer_id = id;
	geom.ctl_size = ctl_size;
	geom.cpu = cpu;
	buf->mem.numa_node = -1;
	ret = ch->be->buffer_alloc(ch->be_priv, &geom, &buf->mem);
	if (ret) {
		rbf_host_free(buf, host);
		return ret < 0 ? ret : -EIO;
	}
	if (be_ctl) {
		if (!buf->mem.ctl ||
		    ((uintptr_t)buf->mem.ctl & (RBF_CACHELINE - 1))) {
			ch->be->buffer_free(ch->be_priv, &buf->mem);
			rbf_host_free(buf, host);
			return -EINVAL;
		}
		buf->ctl = buf->mem.ctl;
	} else {
		buf->ctl = (struct rbf_ctl *)((char *)buf + head);
	}
	buf->data = ch->cpu_direct ? buf->mem.data : NULL;
	if (ch->cpu_direct && !buf->data) {
		ch->be->buffer_free(ch->be_priv, &buf->mem);
		rbf_host_free(buf, host);
		return -EINVAL;
	}
	buf->local = ch->alloc == RBF_ALLOC_PER_THREAD && ch->local_ok;
	if (buf->mem.flags & RBF_BACKEND_MEM_CTL_VALID) {
		/* A reopened file: continue where the last writer stopped. */
		ret = rbf_ctl_check(ch, buf->ctl, ctl_size);
		if (ret) {
			ch->be->buffer_free(ch->be_priv, &buf->mem);
			rbf_host_free(buf, host);
			return ret;
		}
		ctl_reopen(buf->ctl);
	} else {
		ctl_init(ch, buf->ctl, id);
	}
	buf->links = rbf_ctl_links(buf->ctl);
	buf->commits = rbf_ctl_commits(buf->ctl);
	*out = buf;
	return 0;
}

/*
 * A buffer around memory that already holds one (a file attached by a
 * reader process): nothing is allocated from the backend and the control
 * block is only checked.  rbf_buffer_destroy() hands @mem to the
 * channel's backend's buffer_free.
 */
int rbf_buffer_wrap(struct rbf_channel *ch, uint32_t id, int cpu, int tid,
		    const struct rbf_backend_mem *mem, struct rbf_buffer **out)
{
	struct rbf_buffer *buf;
	int ret;

	if (!mem->ctl || !mem->data)
		return -EINVAL;
	ret = rbf_ctl_check(ch, mem->ctl, rbf_ctl_size(ch->num_subbuf));
	if (ret)
		return ret;
	buf = buffer_new(ch, id, cpu, tid, 0);
	if (!buf)
		return -ENOMEM;
	buf->ctl_from_backend = true;
	buf->mem = *mem;
	buf->ctl = mem->ctl;
	buf->data = mem->data;
	buf->local = false;
	buf->links = rbf_ctl_links(buf->ctl);
	buf->commits = rbf_ctl_commits(buf->ctl);
	*out = buf;
	return 0;
}

void rbf_buffer_destroy(struct rbf_buffer *buf)
{
	struct rbf_channel *ch;

	if (!buf)
		return;
	ch = buf->ch;
	rbf_rstate_release(buf);
	ch->be->buffer_free(ch->be_priv, &buf->mem);
	rbf_host_free(buf, buf->host_size);
}
