/* SPDX-License-Identifier: MIT */
/*
 * rbf/write.h - the write path: reserve/commit (zero copy) and one-call
 * writes.
 *
 * Every function here is lock-free: it never blocks, never waits for another
 * thread, and either succeeds or fails at once with a negative errno, the
 * failure counted in the target buffer's statistics (enum rbf_lost_cause).
 * They may be called from any thread and from signal handlers, nested up to
 * the channel's max_nesting deep, with one exception: the first write of a
 * thread registers it with liburcu-bp (and, for per-thread channels,
 * allocates its buffer), which is not async-signal-safe; call
 * rbf_thread_prepare() first on threads whose first write may come from a
 * signal handler.
 *
 * Memory ordering: everything the writer stores into the reserved space
 * before rbf_commit() is visible to the reader that receives the event
 * (rbf_commit() is a release; the reader's check of the commit count is the
 * matching acquire).
 */
#ifndef RBF_WRITE_H
#define RBF_WRITE_H

#include <rbf/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * struct rbf_wctx - one reservation, between rbf_reserve() and rbf_commit().
 * @data: where to write the payload when the backend is CPU memory (NULL
 *        otherwise: use rbf_wctx_write()).  8-byte aligned.
 * @len:  payload length reserved.
 * @ts:   the event's timestamp.
 *
 * The other fields are private to the library.
 */
struct rbf_wctx {
	void *data;
	uint32_t len;
	uint32_t priv_flags;
	uint64_t ts;
	struct rbf_buffer *priv_buf;
	uint64_t priv_pos;
	uint64_t priv_slot_len;
	uint64_t priv_data_off;
};

/**
 * rbf_reserve() - reserve space for one event of @len payload bytes.
 * @ch:  the channel.
 * @ctx: receives the reservation; pass it to rbf_commit().
 * @id:  client event id, 0 .. RBF_EVENT_ID_MAX.
 * @len: payload length.
 *
 * The timestamp is read from the channel's clock, inside the reservation
 * loop, so that stamps never decrease in buffer order (for RBF_CLOCK_NONE it
 * is 0; use rbf_reserve_ts()).  Every successful reserve must be followed by
 * exactly one rbf_commit() on the same thread (a signal handler may reserve
 * and commit in between); until then the sub-buffer cannot be read.
 *
 * Return: 0, or
 *   -EINVAL   NULL @ch/@ctx, @id > RBF_EVENT_ID_MAX (not counted);
 *   -ENOBUFS  discard mode, buffer full;
 *   -EBUSY    the next sub-buffer still holds an uncommitted event;
 *   -EMSGSIZE @len does not fit in a sub-buffer;
 *   -EPERM    recording disabled;
 *   -ELOOP    nested deeper than max_nesting;
 *   -ENOMEM   per-thread buffer allocation failed.
 */
RBF_API int rbf_reserve(struct rbf_channel *ch, struct rbf_wctx *ctx,
			uint16_t id, size_t len);

/**
 * rbf_reserve_ts() - rbf_reserve() with a caller-supplied timestamp @ts, for
 * RBF_CLOCK_NONE channels.  The stamp is stored exactly (extended record
 * header); its ordering is the caller's business.
 *
 * Return: as rbf_reserve(), and -EINVAL on a channel with a clock.
 */
RBF_API int rbf_reserve_ts(struct rbf_channel *ch, struct rbf_wctx *ctx,
			   uint16_t id, size_t len, uint64_t ts);

/**
 * rbf_wctx_write() - copy @n bytes to payload offset @off of a reservation.
 *
 * Works for every backend (for CPU memory it is a memcpy to @ctx->data).
 * Return: 0, -EINVAL (range outside the reservation), or a backend error.
 */
RBF_API int rbf_wctx_write(struct rbf_wctx *ctx, size_t off, const void *src,
			   size_t n);

/**
 * rbf_commit() - publish the event reserved in @ctx.
 *
 * Release ordering: the payload is visible before the event is.
 * Return: 0, or -EINVAL for a NULL or already committed @ctx.
 */
RBF_API int rbf_commit(struct rbf_wctx *ctx);

/**
 * rbf_write() - reserve, copy @len bytes from @src, commit.
 * Return: as rbf_reserve().
 */
RBF_API int rbf_write(struct rbf_channel *ch, uint16_t id, const void *src,
		      size_t len);

/**
 * rbf_write_ts() - rbf_write() with a caller-supplied timestamp, for
 * RBF_CLOCK_NONE channels (-EINVAL on a channel with a clock).
 */
RBF_API int rbf_write_ts(struct rbf_channel *ch, uint16_t id, const void *src,
			 size_t len, uint64_t ts);

/**
 * rbf_thread_prepare() - do now what a thread's first write would do:
 * register the thread with liburcu-bp and, for a per-thread channel,
 * allocate the calling thread's buffer.  Not async-signal-safe.
 *
 * Return: 0, -EINVAL, or the backend's allocation error.
 */
RBF_API int rbf_thread_prepare(struct rbf_channel *ch);

#ifdef __cplusplus
}
#endif

#endif /* RBF_WRITE_H */
