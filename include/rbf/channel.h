/* SPDX-License-Identifier: MIT */
/*
 * rbf/channel.h - creating, controlling and measuring channels.
 *
 * A channel is a set of ring buffers (one per CPU, one per writing thread,
 * or one global) sharing a geometry, a mode, a clock and a backend.
 *
 * Concurrency summary:
 *
 *	function                    may run concurrently with
 *	rbf_channel_create          anything (on other channels)
 *	rbf_channel_destroy         nothing on the same channel
 *	rbf_channel_enable/disable  writers, readers
 *	rbf_channel_stats           writers, readers
 *	writers (rbf/write.h)       writers, readers, enable/disable, stats
 *	readers (rbf/reader.h)      writers; readers serialize among themselves
 */
#ifndef RBF_CHANNEL_H
#define RBF_CHANNEL_H

#include <rbf/common.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RBF_SUBBUF_SIZE_MIN 256u
#define RBF_SUBBUF_SIZE_MAX (64u << 20)
#define RBF_NUM_SUBBUF_MIN 2u
#define RBF_NUM_SUBBUF_MAX 16384u
#define RBF_NESTING_MAX 32u
#define RBF_NESTING_DEFAULT 8u

/**
 * struct rbf_channel_attr - how to build a channel.
 * @size:           sizeof(struct rbf_channel_attr); set by
 *                  rbf_channel_attr_init().  Lets the struct grow.
 * @backend:        memory backend, NULL for the page backend.
 * @backend_config: backend-specific configuration, or NULL for defaults.
 * @subbuf_size:    bytes per sub-buffer: a power of two in
 *                  [RBF_SUBBUF_SIZE_MIN, RBF_SUBBUF_SIZE_MAX].
 * @num_subbuf:     sub-buffers per buffer: a power of two in
 *                  [RBF_NUM_SUBBUF_MIN, RBF_NUM_SUBBUF_MAX].  Each buffer
 *                  also has one spare sub-buffer owned by its reader.
 * @mode:           RBF_MODE_DISCARD or RBF_MODE_OVERWRITE.
 * @alloc:          RBF_ALLOC_PER_CPU, RBF_ALLOC_PER_THREAD or
 *                  RBF_ALLOC_GLOBAL.
 * @clock:          RBF_CLOCK_MONOTONIC, RBF_CLOCK_TSC or RBF_CLOCK_NONE.
 * @max_nesting:    deepest nesting of writes on one thread (signal handlers
 *                  writing while the thread is between reserve and commit);
 *                  1 .. RBF_NESTING_MAX, 0 for RBF_NESTING_DEFAULT.
 * @flags:          reserved, must be 0.
 */
struct rbf_channel_attr {
	size_t size;
	const struct rbf_backend *backend;
	const void *backend_config;
	uint32_t subbuf_size;
	uint32_t num_subbuf;
	enum rbf_mode mode;
	enum rbf_alloc alloc;
	enum rbf_clock clock;
	uint32_t max_nesting;
	uint32_t flags;
};

/**
 * rbf_channel_attr_init() - fill @attr with defaults.
 *
 * Defaults: page backend, 4 sub-buffers of 64 KiB, discard mode, per-CPU
 * buffers, CLOCK_MONOTONIC, nesting 8.
 */
RBF_API void rbf_channel_attr_init(struct rbf_channel_attr *attr);

/**
 * rbf_channel_create() - create a channel and its buffers.
 * @attr: the attributes; read only during the call.
 * @out:  receives the channel.
 *
 * Per-CPU and global buffers are allocated now; per-thread buffers on each
 * thread's first write.  Blocking; not async-signal-safe.
 *
 * Return: 0, or
 *   -EINVAL    NULL argument, unknown @attr->size, a size or count that is not
 *              a power of two or out of range, unknown mode/alloc/clock,
 *              nonzero flags, @max_nesting out of range, backend table with a
 *              wrong abi or missing a required operation;
 *   -ENOTSUP   RBF_CLOCK_TSC on a machine whose TSC is not invariant (or not
 *              x86);
 *   -ENOMEM    out of memory;
 *   any error returned by the backend's channel_init or buffer_alloc.
 */
RBF_API int rbf_channel_create(const struct rbf_channel_attr *attr,
			       struct rbf_channel **out);

/**
 * rbf_channel_destroy() - disable recording, wait for writers, free.
 *
 * Writers still calling into the channel must have stopped *starting* new
 * writes (the caller owns that); writers inside a write are waited for with
 * an RCU grace period.  Events not yet read are freed with the buffers.
 * Blocking; not async-signal-safe.  NULL is accepted and ignored.
 */
RBF_API void rbf_channel_destroy(struct rbf_channel *ch);

/**
 * rbf_channel_enable() - (re)start recording (a new channel records).
 * Thread-safe, lock-free, async-signal-safe.  Return: 0 or -EINVAL.
 */
RBF_API int rbf_channel_enable(struct rbf_channel *ch);

/**
 * rbf_channel_disable() - stop recording and wait until no writer is
 * inside the channel.
 *
 * Later writes fail with -EPERM (counted as RBF_LOST_DISABLED).  Waits for
 * an RCU grace period, so when it returns every write already started has
 * committed: a following rbf_channel_flush() then closes every buffer,
 * per-thread ones included.  Blocking; must not be called from a writer
 * (between reserve and commit) nor from a signal handler.
 * Return: 0 or -EINVAL.
 */
RBF_API int rbf_channel_disable(struct rbf_channel *ch);

/**
 * struct rbf_stats - event counts of a buffer or a channel.
 * @size:        sizeof(struct rbf_stats), set by the caller.
 * @written:     write attempts that reached a buffer: committed + lost.
 * @committed:   events committed.
 * @read:        events handed to a consumer (in sub-buffers taken by the
 *               reader).
 * @overwritten: events discarded by a writer pushing the head (overwrite
 *               mode).
 * @lost:        failed writes, by cause (enum rbf_lost_cause).
 * @lost_total:  sum of @lost.
 * @buffered:    committed events neither read nor overwritten yet.
 * @subbufs_read, @subbufs_overwritten: whole sub-buffers read / overwritten.
 *
 * written == read + overwritten + lost_total + buffered holds exactly when
 * no write is between reserve and commit (a reserved, uncommitted event is
 * counted nowhere until it commits).
 */
struct rbf_stats {
	size_t size;
	uint64_t written;
	uint64_t committed;
	uint64_t read;
	uint64_t overwritten;
	uint64_t lost[RBF_LOST_NR];
	uint64_t lost_total;
	uint64_t buffered;
	uint64_t subbufs_read;
	uint64_t subbufs_overwritten;
};

/**
 * rbf_channel_stats() - sum of the statistics of every buffer of @ch,
 * including buffers of exited threads already freed.
 *
 * Thread-safe with writers and readers (takes the channel's reader lock).
 * Return: 0, or -EINVAL (NULL argument, @st->size too small).
 */
RBF_API int rbf_channel_stats(struct rbf_channel *ch, struct rbf_stats *st);

/**
 * struct rbf_channel_info - what a channel is.
 * @size:          sizeof(struct rbf_channel_info), set by the caller.
 * @subbuf_size, @num_subbuf, @mode, @alloc, @clock, @max_nesting: as created.
 * @nr_buffers:    buffers currently allocated.
 * @nr_cpus:       per-CPU channels: possible CPUs (buffers), else 0.
 * @clock_freq:    clock ticks per second (1e9 for MONOTONIC, the measured
 *                 TSC frequency, 0 for NONE).
 * @backend_name:  the backend's name.
 */
struct rbf_channel_info {
	size_t size;
	uint32_t subbuf_size;
	uint32_t num_subbuf;
	enum rbf_mode mode;
	enum rbf_alloc alloc;
	enum rbf_clock clock;
	uint32_t max_nesting;
	uint32_t nr_buffers;
	uint32_t nr_cpus;
	uint64_t clock_freq;
	const char *backend_name;
};

/**
 * rbf_channel_get_info() - describe @ch.  Thread-safe.
 * Return: 0 or -EINVAL.
 */
RBF_API int rbf_channel_get_info(struct rbf_channel *ch,
				 struct rbf_channel_info *info);

/**
 * rbf_channel_ts_to_ns() - convert a timestamp of @ch to nanoseconds
 * (identity for MONOTONIC and NONE).  Thread-safe, signal-safe.
 */
RBF_API uint64_t rbf_channel_ts_to_ns(const struct rbf_channel *ch,
				      uint64_t ts);

/**
 * rbf_channel_read_clock() - read @ch's clock as a writer would (0 for
 * RBF_CLOCK_NONE).  Thread-safe, signal-safe, wait-free.
 */
RBF_API uint64_t rbf_channel_read_clock(const struct rbf_channel *ch);

#ifdef __cplusplus
}
#endif

#endif /* RBF_CHANNEL_H */
