/* SPDX-License-Identifier: MIT */
/*
 * frontend/consume.c - decoding records, consuming events one by one, and
 * merging the buffers of a channel by timestamp.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * Decode the record at *@pos of the sub-buffer bytes @sb (content size
 * @content).  *@prev_ts is the full stamp of the previous record (for the
 * first one, the header's ts_begin).  Returns 1, 0 at the end, -EIO for a
 * malformed record (the walk stops there).
 */
int rbf_decode_at(const struct rbf_channel *ch, const char *sb,
		  uint32_t content, size_t *pos, uint64_t *prev_ts,
		  struct rbf_event *ev)
{
	struct rbf_record_header h;
	size_t p = *pos < RBF_SB_HDR_SIZE ? RBF_SB_HDR_SIZE : *pos;
	uint64_t ts, rsz;
	uint32_t len, hsz;
	uint16_t lf;

	(void)ch;
next:
	if (p >= content)
		return 0;
	if ((p & (RBF_REC_ALIGN - 1)) || content - p < RBF_REC_HDR_SIZE)
		return -EIO;
	memcpy(&h, sb + p, sizeof(h));
	/* The commit mark is set on every record of a sub-buffer a reader
	 * receives; it only matters to crash recovery. */
	lf = (uint16_t)(h.len & ~RBF_REC_COMMITTED);
	if (lf & RBF_REC_EXT) {
		struct rbf_record_header_ext x;

		if (lf != RBF_REC_EXT || content - p < RBF_REC_EXT_SIZE)
			return -EIO;
		memcpy(&x, sb + p, sizeof(x));
		ts = ((uint64_t)x.ts_high << 32) | x.ts_low;
		len = x.length;
		hsz = RBF_REC_EXT_SIZE;
	} else {
		ts = *prev_ts + (uint32_t)(h.ts_low - (uint32_t)*prev_ts);
		len = lf;
		hsz = RBF_REC_HDR_SIZE;
	}
	rsz = RBF_ALIGN((uint64_t)hsz + len, (uint64_t)RBF_REC_ALIGN);
	if (rsz > content - p)
		return -EIO;
	*prev_ts = ts;
	if (h.id == RBF_EVENT_ID_PAD) {
		/* Padding left by crash recovery in place of a record that
		 * was never committed. */
		p += rsz;
		*pos = p;
		goto next;
	}
	ev->ts = ts;
	ev->id = h.id;
	ev->len = len;
	ev->data = sb + p + hsz;
	*pos = p + rsz;
	return 1;
}

RBF_API int rbf_subbuf_next_event(struct rbf_subbuf *sb, size_t *pos,
				  struct rbf_event *ev)
{
	const struct rbf_channel *ch;
	int ret;

	if (!sb || !pos || !ev || !sb->priv_held || !sb->priv_bytes)
		return -EINVAL;
	ch = sb->priv_buf->ch;
	if (*pos == 0 || *pos != sb->priv_pos) {
		/* Random access: replay the stamps up to *pos. */
		size_t p = 0, target = *pos;
		uint64_t ts = sb->ts_begin;
		struct rbf_event tmp;

		while (p < target && p < sb->size) {
			ret = rbf_decode_at(ch, sb->priv_bytes, sb->size, &p,
					    &ts, &tmp);
			if (ret <= 0)
				return ret < 0 ? ret : -EINVAL;
		}
		if (target && p != target)
			return -EINVAL;
		sb->priv_pos = p;
		sb->priv_ts = ts;
	}
	ret = rbf_decode_at(ch, sb->priv_bytes, sb->size, pos, &sb->priv_ts,
			    ev);
	if (ret == 1) {
		sb->priv_pos = *pos;
		ev->buffer = sb->priv_buf;
		ev->subbuf_seq = sb->seq;
	}
	return ret;
}

void rbf_rstate_release(struct rbf_buffer *buf)
{
	free(buf->rs.bounce);
	buf->rs.bounce = NULL;
}

/* Next event of @buf, consuming; 1, 0 (none now) or -errno. */
static int next_raw(struct rbf_buffer *buf, struct rbf_event *ev)
{
	struct rbf_rstate *rs = &buf->rs;
	int ret;

	for (;;) {
		if (!rs->cur_valid) {
			ret = rbf_subbuf_get_locked(buf, &rs->cur);
			if (ret == -EAGAIN)
				return 0;
			if (ret)
				return ret;
			rs->cur_valid = 1;
			rs->cur_pos = 0;
			rs->cur_prev_ts = rs->cur.ts_begin;
		}
		ret = rbf_decode_at(buf->ch, rs->cur.priv_bytes, rs->cur.size,
				    &rs->cur_pos, &rs->cur_prev_ts, ev);
		if (ret == 1) {
			ev->buffer = buf;
			ev->subbuf_seq = rs->cur.seq;
			return 1;
		}
		rs->cur_valid = 0;
		rbf_subbuf_put_locked(buf, &rs->cur);
		if (ret < 0)
			return ret;
	}
}

static int consume_locked(struct rbf_buffer *buf, struct rbf_event *ev)
{
	if (buf->rs.peek_valid) {
		*ev = buf->rs.peek;
		buf->rs.peek_valid = 0;
		return 1;
	}
	return next_raw(buf, ev);
}

RBF_API int rbf_buffer_consume(struct rbf_buffer *buf, struct rbf_event *ev)
{
	int ret, saved = errno;

	if (!buf || !ev)
		return -EINVAL;
	pthread_mutex_lock(&buf->ch->rlock);
	ret = consume_locked(buf, ev);
	pthread_mutex_unlock(&buf->ch->rlock);
	errno = saved;
	return ret;
}

RBF_API int rbf_channel_consume(struct rbf_channel *ch, struct rbf_event *ev)
{
	struct rbf_buffer *buf, *best = NULL;
	int ret = 0, saved = errno;

	if (!ch || !ev)
		return -EINVAL;
	pthread_mutex_lock(&ch->rlock);
	if (ch->refresh)
		ch->refresh(ch);
	for (buf = ch->list; buf; buf = buf->next) {
		if (!buf->rs.peek_valid) {
			int r = next_raw(buf, &buf->rs.peek);

			if (r < 0) {
				ret = r;
				break;
			}
			buf->rs.peek_valid = r;
		}
		if (buf->rs.peek_valid &&
		    (!best || buf->rs.peek.ts < best->rs.peek.ts ||
		     (buf->rs.peek.ts == best->rs.peek.ts &&
		      buf->id < best->id)))
			best = buf;
	}
	if (!ret && best) {
		*ev = best->rs.peek;
		best->rs.peek_valid = 0;
		ret = 1;
	}
	pthread_mutex_unlock(&ch->rlock);
	errno = saved;
	return ret;
}
