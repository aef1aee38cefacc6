/* SPDX-License-Identifier: MIT */
/*
 * frontend/iter.c - the non-consuming iterator.
 *
 * The iterator walks the sub-buffers the reader has not taken yet, in
 * sequence order, without taking them: it copies each closed, fully
 * committed sub-buffer into its own memory, then checks (seqlock style) that
 * the slot's link still says the sub-buffer is undecided.  A writer only
 * writes into a slot after its link moved on (tag advanced), so an unchanged
 * link after the copy proves the copy is not torn; a changed one means the
 * sub-buffer was overwritten meanwhile and is skipped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct rbf_iter_cur {
	struct rbf_buffer *buf;
	uint64_t seq;
	char *copy;
	uint32_t size;
	size_t pos;
	uint64_t prev_ts;
	uint64_t sb_seq;
	struct rbf_event peek;
	int peek_valid;
};

struct rbf_iter {
	struct rbf_channel *ch;
	size_t nr;
	struct rbf_iter_cur cur[];
};

/* Copy the next unread sub-buffer of @c; 1, 0 (none), -errno. */
static int load_next(struct rbf_iter_cur *c)
{
	struct rbf_buffer *buf = c->buf;
	struct rbf_channel *ch = buf->ch;
	uint64_t *links = buf->links;
	uint64_t n = ch->num_subbuf;

	for (;;) {
		uint64_t s, h = RBF_LOAD(buf->ctl->head_seq);
		uint32_t slot;
		uint64_t l, t;
		struct rbf_subbuf_header hd;
		int ret;

		if ((int64_t)(h - c->seq) > 0)
			c->seq = h; /* below the head: all decided */
		s = c->seq;
		slot = rbf_slot_of(ch, s);
		l = rbf_load_acquire(&links[slot]);
		t = rbf_tag_to_seq(rbf_link_tag(l), s + n);

		if (t != s || (l & RBF_LINK_UPDATE)) {
			if (t != s && (int64_t)(t - s) < 0)
				return 0; /* not written yet */
			c->seq++;
			continue;
		}
		if (!rbf_seq_complete(ch, rbf_read_cc(buf, slot), s))
			return 0;
		ret = rbf_data_load(buf, rbf_phys_off(ch, rbf_link_phys(l)),
				    c->copy, ch->subbuf_size);
		if (ret)
			return ret;
		/* Order the copy before the re-check of the link. */
		cmm_smp_rmb();
		if (rbf_load_acquire(&links[slot]) != l) {
			c->seq++;
			continue; /* overwritten while we copied */
		}
		memcpy(&hd, c->copy, sizeof(hd));
		c->seq++;
		if (hd.magic != RBF_SUBBUF_MAGIC || hd.seq != s ||
		    hd.content_size < RBF_SB_HDR_SIZE ||
		    hd.content_size > ch->subbuf_size)
			return -EIO;
		c->size = hd.content_size;
		c->pos = 0;
		c->prev_ts = hd.ts_begin;
		c->sb_seq = s;
		return 1;
	}
}

static int cur_next(struct rbf_iter_cur *c, struct rbf_event *ev)
{
	int ret;

	for (;;) {
		if (c->size) {
			ret = rbf_decode_at(c->buf->ch, c->copy, c->size,
					    &c->pos, &c->prev_ts, ev);
			if (ret == 1) {
				ev->buffer = c->buf;
				ev->subbuf_seq = c->sb_seq;
				return 1;
			}
			c->size = 0;
			if (ret < 0)
				return ret;
		}
		ret = load_next(c);
		if (ret <= 0)
			return ret;
	}
}

RBF_API int rbf_iter_create(struct rbf_channel *ch, struct rbf_buffer *buf,
			    struct rbf_iter **out)
{
	struct rbf_iter *it;
	struct rbf_buffer *b;
	size_t nr = 0, i = 0;
	int saved = errno;

	if (!ch || !out || (buf && buf->ch != ch))
		return -EINVAL;
	pthread_mutex_lock(&ch->rlock);
	for (b = ch->list; b; b = b->next)
		nr++;
	if (buf)
		nr = 1;
	it = calloc(1, sizeof(*it) + nr * sizeof(it->cur[0]));
	if (!it)
		goto nomem;
	it->ch = ch;
	it->nr = nr;
	for (b = buf ? buf : ch->list; b && i < nr; b = b->next, i++) {
		struct rbf_iter_cur *c = &it->cur[i];

		c->buf = b;
		c->seq = b->ctl->read_seq;
		c->copy = malloc(ch->subbuf_size);
		if (!c->copy)
			goto nomem;
	}
	pthread_mutex_unlock(&ch->rlock);
	*out = it;
	return 0;
nomem:
	pthread_mutex_unlock(&ch->rlock);
	rbf_iter_destroy(it);
	errno = saved;
	return -ENOMEM;
}

RBF_API int rbf_iter_next(struct rbf_iter *it, struct rbf_event *ev)
{
	struct rbf_iter_cur *best = NULL;
	size_t i;
	int ret = 0;

	if (!it || !ev)
		return -EINVAL;
	pthread_mutex_lock(&it->ch->rlock);
	for (i = 0; i < it->nr; i++) {
		struct rbf_iter_cur *c = &it->cur[i];

		if (!c->peek_valid) {
			int r = cur_next(c, &c->peek);

			if (r < 0) {
				ret = r;
				break;
			}
			c->peek_valid = r;
		}
		if (c->peek_valid && (!best || c->peek.ts < best->peek.ts ||
				      (c->peek.ts == best->peek.ts &&
				       c->buf->id < best->buf->id)))
			best = c;
	}
	if (!ret && best) {
		*ev = best->peek;
		best->peek_valid = 0;
		ret = 1;
	}
	pthread_mutex_unlock(&it->ch->rlock);
	return ret;
}

RBF_API void rbf_iter_destroy(struct rbf_iter *it)
{
	size_t i;

	if (!it)
		return;
	for (i = 0; i < it->nr; i++)
		free(it->cur[i].copy);
	free(it);
}
