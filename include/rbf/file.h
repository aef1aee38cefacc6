/* SPDX-License-Identifier: MIT */
/*
 * rbf/file.h - reading an mmap-file ring file without its writer:
 * validation, crash recovery, events.
 *
 * rbf_file_open() maps a file read-only (nothing is ever written to it) and
 * validates every field a reader relies on: magic, version, word size and
 * byte order, geometry, every offset and index in range, the ring's
 * sub-buffer table (no sub-buffer twice), commit counts within sizes.  The
 * events are then read buffer by buffer, oldest first, with a cursor.
 *
 * A file whose writer died (state "unclean") may hold records that were
 * reserved but never committed.  They are never returned as events: every
 * record carries a commit mark (RBF_REC_COMMITTED), and the walk of a
 * sub-buffer stops at the first record that is malformed.  What is dropped
 * is counted per reason (struct rbf_file_report).
 *
 * All functions are thread-compatible: one struct rbf_file may be used by
 * one thread at a time.  None prints; errors are -errno, with details in
 * struct rbf_file_error where offered.
 */
#ifndef RBF_FILE_H
#define RBF_FILE_H

#include <rbf/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rbf_file;

/**
 * struct rbf_file_error - why a file was refused.
 * @offset:  byte offset in the file of the offending field (or -1).
 * @msg:     what is wrong, one line without the file name ("wrong magic",
 *           "truncated: 4096 bytes, header says 1052672", "unsupported
 *           version 7", "corrupt sub-buffer table at offset 8256: index 9
 *           twice").
 */
struct rbf_file_error {
	int64_t offset;
	char msg[160];
};

/**
 * rbf_file_open() - open and validate a ring file, read-only.
 * @path:  the file.
 * @out:   the opened file.
 * @err:   filled on failure (may be NULL).
 *
 * A file whose writer (or attached reader) still runs is read as a
 * best-effort snapshot: its positions, links and commit words are copied
 * once and checked loosely (they move), and events written meanwhile may
 * be missing or cut short; everything returned is still well formed.
 *
 * Return: 0, or -errno: -ENOENT, -EACCES, ... (open/mmap), -EISDIR, -EINVAL
 * (not a regular file, not an rbf file, truncated, or corrupt: see @err),
 * -EPROTONOSUPPORT (another format version, word size or byte order),
 * -EFBIG (too large to map), -ENOMEM.
 */
RBF_API int rbf_file_open(const char *path, struct rbf_file **out,
			  struct rbf_file_error *err);

/**
 * rbf_file_open_mem() - validate a file image in memory (fuzzing, tests).
 * @mem:  @len bytes; must stay valid and unchanged until rbf_file_close()
 *        (an image that is not 8-byte aligned is copied).
 *
 * The image is a snapshot: it is validated strictly, whatever the writer
 * pid it names.  Return and @err as for rbf_file_open().
 */
RBF_API int rbf_file_open_mem(const void *mem, size_t len,
			      struct rbf_file **out,
			      struct rbf_file_error *err);

/** rbf_file_close() - unmap and free (NULL accepted). */
RBF_API void rbf_file_close(struct rbf_file *f);

/* Writer state recorded in the file. */
enum rbf_file_state {
	RBF_FILE_STATE_OPEN = 1, /* a writer has it open (or died) */
	RBF_FILE_STATE_CLEAN = 2, /* closed by rbf_channel_destroy() */
};

/**
 * struct rbf_file_info - what the file header says.
 * @size:             sizeof(struct rbf_file_info), set by the caller.
 * @version:          file format version.
 * @word_size:        writer's pointer size in bytes.
 * @big_endian:       writer's byte order.
 * @subbuf_size, @num_subbuf, @mode, @alloc, @clock: the channel's.
 * @durability:       enum rbf_durability.
 * @nr_buffers:       buffers in the file (used slots).
 * @max_buffers:      buffer slots in the file.
 * @nr_cpus:          per-CPU channels: CPUs; else 0.
 * @state:            enum rbf_file_state.
 * @writer_alive:     the writer's process still runs (state OPEN only).
 * @writer_pid:       pid of the writing process.
 * @uuid:             the channel's uuid (random, at creation).
 * @create_time_ns:   CLOCK_REALTIME at creation, ns since the epoch.
 * @clock_freq:       clock ticks per second (0 for RBF_CLOCK_NONE).
 * @clock_offset_ns:  realtime ns = rbf_file_ts_to_ns(ts) + clock_offset_ns.
 * @file_size:        bytes.
 */
struct rbf_file_info {
	size_t size;
	uint32_t version;
	uint32_t word_size;
	int big_endian;
	uint32_t subbuf_size;
	uint32_t num_subbuf;
	enum rbf_mode mode;
	enum rbf_alloc alloc;
	enum rbf_clock clock;
	uint32_t durability;
	uint32_t nr_buffers;
	uint32_t max_buffers;
	uint32_t nr_cpus;
	enum rbf_file_state state;
	int writer_alive;
	int writer_pid;
	uint8_t uuid[16];
	uint64_t create_time_ns;
	uint64_t clock_freq;
	int64_t clock_offset_ns;
	uint64_t file_size;
};

/** rbf_file_get_info() - Return: 0 or -EINVAL. */
RBF_API int rbf_file_get_info(const struct rbf_file *f,
			      struct rbf_file_info *info);

/** rbf_file_ts_to_ns() - a stamp in ns of the channel's clock. */
RBF_API uint64_t rbf_file_ts_to_ns(const struct rbf_file *f, uint64_t ts);

/**
 * struct rbf_file_report - events found and dropped by a walk.
 * @size:               sizeof(struct rbf_file_report), set by the caller.
 * @events:             committed events that can be read.
 * @subbufs:            sub-buffers holding them.
 * @dropped_uncommitted: records reserved but not committed (the writer
 *                      died between rbf_reserve() and rbf_commit()).
 * @dropped_malformed:  walks stopped at a malformed record (one per
 *                      sub-buffer); the bytes after it are in
 *                      @dropped_bytes.
 * @dropped_bytes:      bytes of sub-buffers not returned as events:
 *                      uncommitted records and malformed tails.
 * @bad_subbufs:        sub-buffers skipped whole (bad header, or committed
 *                      counts that cannot be true).
 * @written, @lost, @overwritten, @read: the writer's own counters, summed
 *                      (events): reserved, lost per rbf_stats (all causes),
 *                      overwritten, already consumed by a reader.
 */
struct rbf_file_report {
	size_t size;
	uint64_t events;
	uint64_t subbufs;
	uint64_t dropped_uncommitted;
	uint64_t dropped_malformed;
	uint64_t dropped_bytes;
	uint64_t bad_subbufs;
	uint64_t written;
	uint64_t lost;
	uint64_t overwritten;
	uint64_t read;
};

/**
 * struct rbf_file_buffer_info - one buffer of the file.
 * @size:        sizeof(struct rbf_file_buffer_info), set by the caller.
 * @id:          buffer id.
 * @cpu:         per-CPU: the CPU; else -1.
 * @tid:         per-thread: the thread id; else 0.
 * @dead:        per-thread: the thread exited.
 * @write_pos:   bytes ever reserved in the buffer.
 * @read_seq:    next sub-buffer sequence the reader would take.
 * @lost:        events lost per cause (enum rbf_lost_cause).
 * @overwritten: events overwritten (overwrite mode).
 * @read:        events consumed by readers.
 * @report:      the walk of this buffer (rbf_file_check()).
 */
struct rbf_file_buffer_info {
	size_t size;
	uint32_t id;
	int cpu;
	int tid;
	int dead;
	uint64_t write_pos;
	uint64_t read_seq;
	uint64_t lost[RBF_LOST_NR];
	uint64_t overwritten;
	uint64_t read;
	struct rbf_file_report report;
};

/** rbf_file_buffer_get_info() - describe buffer @idx (0 .. nr_buffers-1).
 * Return: 0, or -EINVAL (bad index or size). */
RBF_API int rbf_file_buffer_get_info(struct rbf_file *f, uint32_t idx,
				     struct rbf_file_buffer_info *info);

/**
 * rbf_file_check() - walk every buffer, count what is readable and dropped.
 * @rep:  totals over all buffers.
 * Return: 0, or -EINVAL.
 */
RBF_API int rbf_file_check(struct rbf_file *f, struct rbf_file_report *rep);

/**
 * struct rbf_file_event - one committed event.
 * @buffer:     buffer index.
 * @ts:         full timestamp in clock units.
 * @id:         event id.
 * @len:        payload bytes.
 * @data:       payload (inside the mapping; valid until rbf_file_close()).
 * @subbuf_seq: sequence number of its sub-buffer.
 * @offset:     byte offset of its record in the file.
 */
struct rbf_file_event {
	uint32_t buffer;
	uint64_t ts;
	uint16_t id;
	uint32_t len;
	const void *data;
	uint64_t subbuf_seq;
	uint64_t offset;
};

/**
 * struct rbf_file_cursor - position of a walk in one buffer.  Opaque
 * fields; initialize with rbf_file_cursor_init().  A cursor holds no
 * memory: copy it to remember a position, drop it when done.
 */
struct rbf_file_cursor {
	uint32_t priv_buffer;
	uint32_t priv_state;
	uint64_t priv_seq;
	uint64_t priv_end_seq;
	uint64_t priv_pos;
	uint64_t priv_end;
	uint64_t priv_prev_ts;
	uint64_t priv_sb_off;
	uint64_t priv_run_ts;
	uint64_t priv_ts_hi;
	uint64_t priv_skip;
};

/**
 * rbf_file_cursor_init() - start at the oldest unread sub-buffer of
 * buffer @idx.  Return: 0 or -EINVAL.
 */
RBF_API int rbf_file_cursor_init(struct rbf_file *f, uint32_t idx,
				 struct rbf_file_cursor *cur);

/**
 * rbf_file_cursor_next() - the next committed event of the cursor's buffer.
 * Return: 1 with @ev filled, 0 at the end, or -EINVAL.
 */
RBF_API int rbf_file_cursor_next(struct rbf_file *f,
				 struct rbf_file_cursor *cur,
				 struct rbf_file_event *ev);

/**
 * rbf_file_recover() - write a clean, consistent copy of @f to @out_path.
 * @f:         the damaged (or any) file.
 * @out_path:  created (never an existing file: -EEXIST).
 * @rep:       what the copy holds and what was dropped (may be NULL).
 *
 * The copy is an rbf file in state CLEAN that holds exactly the events the
 * cursors return: uncommitted records and malformed tails are replaced by
 * padding records (event id RBF_EVENT_ID_PAD, which readers skip), open
 * sub-buffers are closed, and the counters are made consistent.  It can be
 * attached, drained, or reopened for writing like any closed file.
 *
 * A sub-buffer the reader held (taken, never given back) is put back into
 * the copy's ring as its oldest readable sub-buffer when its slot is free,
 * else kept held (doc/file-format.md, "The recovered copy").  A file whose
 * writer still runs is copied from a private snapshot of the whole file
 * whose control blocks are consistent.  The copy is fsync()ed.
 *
 * Return: 0, or -errno: -EINVAL, -EEXIST, -ENOSPC, -EACCES, -EROFS, -EIO,
 * -ENOMEM, -EAGAIN (a live file whose control blocks never settled) ...;
 * a partial output file is removed.
 */
RBF_API int rbf_file_recover(struct rbf_file *f, const char *out_path,
			     struct rbf_file_report *rep);

#ifdef __cplusplus
}
#endif

#endif /* RBF_FILE_H */
