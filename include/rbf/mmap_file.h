/* SPDX-License-Identifier: MIT */
/*
 * rbf/mmap_file.h - the mmap-file backend: the ring buffer lives in a file.
 *
 * A channel created on this backend keeps its buffers (control blocks and
 * sub-buffers) in one file mapped shared.  If the writing process dies,
 * every committed event is still in the file: read it back with
 * <rbf/file.h> or the `rbf` command.  Another process can attach to a live
 * file as its reader (rbf_mmap_file_attach) and drain completed
 * sub-buffers into a trace directory without copying them through user
 * space (rbf_mmap_file_drain).  The file format is in doc/file-format.md.
 */
#ifndef RBF_MMAP_FILE_H
#define RBF_MMAP_FILE_H

#include <sys/types.h>

#include <rbf/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The mmap-file backend (struct rbf_channel_attr.backend). */
RBF_API extern const struct rbf_backend rbf_backend_mmap_file;

/**
 * enum rbf_durability - when the backend forces data to stable storage.
 * @RBF_DURABLE_NONE:   never: the page cache holds the data.  Survives a
 *                      crash or kill of the writing process, not a power
 *                      loss or kernel crash.  No cost on the write path.
 * @RBF_DURABLE_SUBBUF: a background thread of the backend msync()s each
 *                      sub-buffer (and its control block) once it is
 *                      complete, within about a millisecond.  After a power
 *                      loss the completed sub-buffers older than that are
 *                      on disk; the open one and the newest may not be.
 * @RBF_DURABLE_FLUSH:  rbf_buffer_flush() and rbf_channel_flush() msync()
 *                      what they closed before returning: everything written
 *                      before the flush survives a power loss once it
 *                      returns.
 */
enum rbf_durability {
	RBF_DURABLE_NONE = 0,
	RBF_DURABLE_SUBBUF = 1,
	RBF_DURABLE_FLUSH = 2,
};

/* Reopen an existing file instead of creating one (see the config). */
#define RBF_MMAP_FILE_REOPEN (1u << 0)
/* Create: replace an existing file at @path (default: -EEXIST). */
#define RBF_MMAP_FILE_TRUNCATE (1u << 1)

#define RBF_MMAP_FILE_MAX_BUFFERS_DEFAULT 64u

/**
 * struct rbf_mmap_file_config - struct rbf_channel_attr.backend_config.
 * @size:        sizeof(struct rbf_mmap_file_config).
 * @path:        the file.
 * @flags:       RBF_MMAP_FILE_*.  With RBF_MMAP_FILE_REOPEN the file must
 *               exist, have been closed cleanly and match the channel's
 *               geometry, modes and clock; writing continues after its
 *               last event (-EUCLEAN if a writer died in it: recover it
 *               first).
 * @durability:  enum rbf_durability.
 * @max_buffers: per-thread channels: how many thread buffers the file has
 *               room for (0: RBF_MMAP_FILE_MAX_BUFFERS_DEFAULT).  A thread
 *               that finds no room has its events counted as lost (nomem).
 *               Ignored for per-CPU and global channels.
 * @file_mode:   permissions of a created file (0: 0644).
 *
 * Creation reserves the whole file with posix_fallocate(): a file system
 * without room fails rbf_channel_create() with -ENOSPC, and writing never
 * meets SIGBUS later.
 */
struct rbf_mmap_file_config {
	size_t size;
	const char *path;
	uint32_t flags;
	enum rbf_durability durability;
	uint32_t max_buffers;
	mode_t file_mode;
};

/** rbf_mmap_file_config_init() - defaults: no path, durability none. */
RBF_API void rbf_mmap_file_config_init(struct rbf_mmap_file_config *cfg);

/*
 * Attach as reader: fail with -EBUSY if another live process is attached
 * as reader (default: take over the reader role of a dead one).
 */
#define RBF_MMAP_FILE_ATTACH_ONLY_IF_FREE (1u << 0)

/**
 * rbf_mmap_file_attach() - attach to a file, live or not, as its reader.
 * @path:  the file.
 * @flags: RBF_MMAP_FILE_ATTACH_*.
 * @out:   the channel, usable with the reader API of <rbf/reader.h>
 *         (rbf_channel_buffers, rbf_subbuf_get/put, rbf_buffer_consume,
 *         rbf_channel_consume, rbf_buffer_flush, statistics); writes to it
 *         fail with -EPERM.  Destroy it with rbf_channel_destroy(), which
 *         releases the reader role and leaves the file as it is.
 *
 * The file is validated first (as rbf_file_open() does).  A file has one
 * reader at a time: the writing process or one attached process; the role
 * is recorded in the file.  Buffers that threads of the writer create later
 * appear in rbf_channel_buffers() as they are created.
 * rbf_buffer_flush() on a per-thread buffer of a live writer returns
 * -EOPNOTSUPP (its owner writes without bus locks; only the writer's own
 * process can make it stop); per-CPU and global buffers can be flushed.
 *
 * Context: not async-signal-safe; blocking (file I/O).
 * Return: 0, or -errno: -ENOENT/-EACCES (open), -EINVAL (not an rbf file,
 * or corrupt), -EPROTONOSUPPORT (other version, word size or byte order),
 * -EBUSY (another reader is attached), -ENOMEM.
 */
RBF_API int rbf_mmap_file_attach(const char *path, uint32_t flags,
				 struct rbf_channel **out);

/**
 * rbf_mmap_file_writer_state() - is the file's writer still there?
 * @ch: a channel from rbf_mmap_file_attach().
 *
 * Return: 1 if the writing channel is open (its process alive), 0 if it was
 * closed cleanly, -ESRCH if its process died without closing it, -EINVAL.
 */
RBF_API int rbf_mmap_file_writer_state(struct rbf_channel *ch);

/**
 * struct rbf_drain_stats - what a drain moved.
 * @size:          sizeof(struct rbf_drain_stats), set by the caller.
 * @subbufs:       sub-buffers appended to stream files.
 * @bytes:         bytes appended (sub-buffer contents, headers included).
 * @events:        events in them.
 * @zero_copy:     sub-buffers moved by copy_file_range() or splice();
 *                 the others (file systems that support neither) by
 *                 pread/write.
 */
struct rbf_drain_stats {
	size_t size;
	uint64_t subbufs;
	uint64_t bytes;
	uint64_t events;
	uint64_t zero_copy;
};

/**
 * rbf_mmap_file_drain() - append completed sub-buffers to a trace directory.
 * @ch:     a channel from rbf_mmap_file_attach(), or a channel created on
 *          the mmap-file backend (read from its own process).
 * @dirfd:  an open directory; it receives "metadata" (a copy of the file
 *          header, written once) and one stream file per buffer,
 *          "stream-<id>", each a sequence of sub-buffer contents (every one
 *          starts with its struct rbf_subbuf_header and is content_size
 *          bytes long).  See doc/file-format.md.
 * @st:     statistics, added to (may be NULL).
 *
 * Takes every sub-buffer that is complete now from every buffer and
 * appends it with copy_file_range() (splice() through a pipe where that is
 * refused), then gives it back to the ring.  Call it in a loop; call
 * rbf_channel_flush() first to include the sub-buffers still open.
 *
 * Context: the channel's reader; blocking (file I/O).
 * Stream files stay open between calls (one writer per stream: this
 * channel's drain); a call with another directory starts that directory's
 * own streams.
 *
 * Return: sub-buffers appended (>= 0), or -errno: -EINVAL, -ENOTDIR, -EIO,
 * -ENOSPC (the trace directory's file system is full: the stream is cut
 * back to whole sub-buffers and the sub-buffer that did not fit stays held
 * by the reader, to be appended first by the next call, to this or
 * another directory: nothing is lost), or another error of the system
 * calls.
 */
RBF_API int rbf_mmap_file_drain(struct rbf_channel *ch, int dirfd,
				struct rbf_drain_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* RBF_MMAP_FILE_H */
