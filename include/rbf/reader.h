/* SPDX-License-Identifier: MIT */
/*
 * rbf/reader.h - getting the data back out.
 *
 * Three ways to read, from lowest to highest level:
 *  - whole sub-buffers by exchange (rbf_subbuf_get/put): the reader swaps its
 *    spare sub-buffer into the ring with one compare-and-swap and owns the
 *    sub-buffer it took out; no copy;
 *  - events one by one, consuming (rbf_buffer_consume, or
 *    rbf_channel_consume which merges all buffers by timestamp);
 *  - a non-consuming iterator (rbf_iter_*).
 *
 * All reader-side functions of one channel serialize on the channel's reader
 * lock (they may block briefly on it); they run concurrently with writers.
 * None is async-signal-safe.  Memory ordering: a reader only ever sees
 * sub-buffers that are closed and fully committed: its load of the
 * commit count is an acquire pairing with the writers' release in
 * rbf_commit().
 */
#ifndef RBF_READER_H
#define RBF_READER_H

#include <rbf/common.h>
#include <rbf/channel.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct rbf_event - one decoded event.
 * @ts:     full timestamp (channel clock units; rbf_channel_ts_to_ns()).
 * @id:     client event id.
 * @len:    payload length.
 * @data:   payload; valid until the next read call on the same buffer (or
 *          channel, for rbf_channel_consume / the iterator).
 * @buffer: the buffer it came from.
 * @subbuf_seq: sequence number of the sub-buffer it came from.
 */
struct rbf_event {
	uint64_t ts;
	uint16_t id;
	uint32_t len;
	const void *data;
	struct rbf_buffer *buffer;
	uint64_t subbuf_seq;
};

/**
 * rbf_channel_buffers() - list the channel's buffers.
 * @bufs: array receiving up to @cap handles (may be NULL if @cap is 0).
 *
 * Handles stay valid until rbf_channel_reap() or rbf_channel_destroy().
 * Return: the number of buffers (may exceed @cap), or -EINVAL.
 */
RBF_API int rbf_channel_buffers(struct rbf_channel *ch,
				struct rbf_buffer **bufs, size_t cap);

/**
 * struct rbf_buffer_info - what a buffer is.
 * @size:  sizeof(struct rbf_buffer_info), set by the caller.
 * @id:    index within the channel (the CPU number for per-CPU channels).
 * @cpu:   CPU served (per-CPU channels) or -1.
 * @tid:   owning thread (per-thread channels) or 0.
 * @dead:  1 when the owning thread has exited.
 * @numa_node: where its memory lives, -1 if unknown.
 */
struct rbf_buffer_info {
	size_t size;
	uint32_t id;
	int cpu;
	int tid;
	int dead;
	int numa_node;
};

/** rbf_buffer_get_info() - describe @buf.  Return: 0 or -EINVAL. */
RBF_API int rbf_buffer_get_info(struct rbf_buffer *buf,
				struct rbf_buffer_info *info);

/** rbf_buffer_stats() - statistics of one buffer.  Return: 0 or -EINVAL. */
RBF_API int rbf_buffer_stats(struct rbf_buffer *buf, struct rbf_stats *st);

/**
 * struct rbf_subbuf - a sub-buffer the reader owns (between get and put).
 * @data:        the whole sub-buffer (header first) when the backend is CPU
 *               memory, else NULL (use rbf_subbuf_read()).
 * @size:        content size (header + records).
 * @seq:         sequence number in its buffer.
 * @ts_begin, @ts_end: from its header.
 * @records:     number of events in it.
 *
 * The other fields are private.
 */
struct rbf_subbuf {
	const void *data;
	uint32_t size;
	uint32_t records;
	uint64_t seq;
	uint64_t ts_begin;
	uint64_t ts_end;
	struct rbf_buffer *priv_buf;
	const void *priv_bytes;
	uint32_t priv_phys;
	uint32_t priv_held;
	size_t priv_pos;
	uint64_t priv_ts;
};

/**
 * rbf_subbuf_get() - take the oldest complete sub-buffer by exchange.
 *
 * Sub-buffers are taken in order; ones overwritten meanwhile are skipped
 * (the gap shows in @sb->seq).  Only one sub-buffer per buffer can be held.
 * Return: 0, or
 *   -EAGAIN no closed, fully committed sub-buffer (try rbf_buffer_flush());
 *   -EBUSY  a sub-buffer of this buffer is already held;
 *   -EINVAL NULL argument;
 *   -EIO    the control block is inconsistent (a corrupted shared file).
 */
RBF_API int rbf_subbuf_get(struct rbf_buffer *buf, struct rbf_subbuf *sb);

/**
 * rbf_subbuf_put() - give back a sub-buffer; it becomes the reader's spare.
 * Return: 0 or -EINVAL (not held).
 */
RBF_API int rbf_subbuf_put(struct rbf_buffer *buf, struct rbf_subbuf *sb);

/**
 * rbf_subbuf_read() - copy bytes [@off, @off + @n) of a held sub-buffer.
 * Works for every backend.  Return: 0, -EINVAL (range), or a backend error.
 */
RBF_API int rbf_subbuf_read(const struct rbf_subbuf *sb, size_t off, void *dst,
			    size_t n);

/**
 * rbf_subbuf_next_event() - decode the event at *@pos of a held sub-buffer
 * and advance *@pos.  Start with *@pos = 0 (the header is skipped).  Walking
 * forward is O(1) per event (@sb remembers the last stamp); jumping to
 * another position re-decodes the stamps from the start.  Works for every
 * backend (for device memory the sub-buffer was copied once at get).
 * Return: 1 with @ev filled, 0 at the end, -EINVAL, or -EIO for a malformed
 * record (nothing past it is returned).
 */
RBF_API int rbf_subbuf_next_event(struct rbf_subbuf *sb, size_t *pos,
				  struct rbf_event *ev);

/**
 * rbf_buffer_flush() - close the partly filled current sub-buffer so that it
 * can be read.
 *
 * Per-CPU and global buffers: a compare-and-swap on the write position, like
 * a writer's.  Per-thread buffers: the owner's writes use no locked
 * instruction, so the flush first raises a request flag, issues
 * membarrier(2) and waits (yielding, up to about 10 ms) until the owner is
 * outside any write; the owner's writes switch to locked instructions while
 * the flag is raised.
 * Return: 0 (also when there was nothing to close), -EAGAIN (the owner
 * thread stayed inside a write), or -EINVAL.
 */
RBF_API int rbf_buffer_flush(struct rbf_buffer *buf);

/** rbf_channel_flush() - rbf_buffer_flush() on every buffer.
 * Return: 0, or the first error (every buffer is still tried). */
RBF_API int rbf_channel_flush(struct rbf_channel *ch);

/**
 * rbf_buffer_consume() - next event of @buf, consuming.
 * Return: 1 with @ev filled, 0 if none is available now, or a negative errno
 * (-EINVAL, -EIO).
 */
RBF_API int rbf_buffer_consume(struct rbf_buffer *buf, struct rbf_event *ev);

/**
 * rbf_channel_consume() - next event of the channel, merging all its buffers
 * by timestamp (the oldest available event first).
 * Return: as rbf_buffer_consume().
 */
RBF_API int rbf_channel_consume(struct rbf_channel *ch, struct rbf_event *ev);

/**
 * rbf_channel_reap() - free the buffers of exited threads that are fully
 * read (per-thread channels), after an RCU grace period.  Invalidates
 * handles of the freed buffers.  Return: number freed, or -EINVAL.
 */
RBF_API int rbf_channel_reap(struct rbf_channel *ch);

struct rbf_iter;

/**
 * rbf_iter_create() - non-consuming iterator over the events of @buf (or of
 * every buffer of @ch merged by timestamp, when @buf is NULL) that are in
 * closed, fully committed sub-buffers not yet read.
 *
 * Writers keep running; in overwrite mode an event overwritten while the
 * iterator reads it is detected and skipped, never returned torn.
 * Return: 0 or -EINVAL / -ENOMEM.
 */
RBF_API int rbf_iter_create(struct rbf_channel *ch, struct rbf_buffer *buf,
			    struct rbf_iter **out);

/** rbf_iter_next() - Return: 1 with @ev filled, 0 at the end, or -errno. */
RBF_API int rbf_iter_next(struct rbf_iter *it, struct rbf_event *ev);

/** rbf_iter_destroy() - free @it (NULL accepted). */
RBF_API void rbf_iter_destroy(struct rbf_iter *it);

#ifdef __cplusplus
}
#endif

#endif /* RBF_READER_H */
