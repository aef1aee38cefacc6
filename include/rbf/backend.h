/* SPDX-License-Identifier: MIT */
/*
 * rbf/backend.h - the interface a memory backend implements.
 *
 * A backend supplies memory, and the way to touch it, for the buffers of a
 * channel.  It is one constant table of operations (struct rbf_backend).  The
 * frontend (the synchronization algorithm) never assumes anything about the
 * memory beyond what the table's flags say.  See doc/backends.md.
 */
#ifndef RBF_BACKEND_H
#define RBF_BACKEND_H

#include <rbf/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of this table's layout; bump on incompatible change. */
#define RBF_BACKEND_ABI 2

/*
 * The data memory is plain CPU memory: the frontend stores records and
 * headers into it directly and hands readers pointers into it.  Without this
 * flag every data access goes through ->store and ->load, in aligned 8-byte
 * multiples, and the frontend keeps all its atomics in host memory.
 */
#define RBF_BACKEND_F_CPU_DIRECT (1u << 0)
/*
 * The backend supplies the control block (struct rbf_backend_mem.ctl), for
 * instance inside a file so that another process can read the buffer.  The
 * control block must be CPU memory that supports atomic operations.  Without
 * this flag the frontend allocates the control block in host memory.
 */
#define RBF_BACKEND_F_CTL (1u << 1)
/*
 * The data outlives the writing process (a file): the frontend then makes
 * every record recoverable after a crash.  Writers set a commit mark in
 * each record header (they do so on every backend), per-thread writers
 * store the header before their reservation takes effect, and the reader
 * zero-fills each sub-buffer it gives back to the ring, so that a record
 * reserved but never written reads as empty space.  See doc/design.md.
 */
#define RBF_BACKEND_F_PERSISTENT (1u << 2)

/* struct rbf_backend_mem.flags, set by buffer_alloc. */
/*
 * The control block already holds a valid buffer (a reopened file): the
 * frontend checks it against the channel instead of initializing it.
 */
#define RBF_BACKEND_MEM_CTL_VALID (1u << 0)

/**
 * struct rbf_backend_chan - the channel a backend is asked to serve.
 * @subbuf_size, @num_subbuf, @mode, @alloc, @clock: the attributes.
 * @nr_buffers:      buffers created with the channel: the number of
 *                   possible CPUs (per-CPU), 1 (global), 0 (per-thread:
 *                   buffers come later, one per writing thread).
 * @ctl_size:        bytes of control block per buffer.
 * @clock_freq:      clock ticks per second (0 for RBF_CLOCK_NONE).
 * @clock_offset_ns: CLOCK_REALTIME minus the channel clock in ns, sampled
 *                   at creation.
 */
struct rbf_backend_chan {
	uint32_t subbuf_size;
	uint32_t num_subbuf;
	uint32_t mode;
	uint32_t alloc;
	uint32_t clock;
	uint32_t nr_buffers;
	uint64_t ctl_size;
	uint64_t clock_freq;
	int64_t clock_offset_ns;
};

/**
 * struct rbf_backend_geom - what the frontend asks of one buffer.
 * @subbuf_size:  size of a sub-buffer in bytes (a power of two).
 * @nr_subbuf:    sub-buffers in the ring.
 * @nr_data:      sub-buffers of memory to supply: nr_subbuf + 1 (the
 *                reader's spare).  Sub-buffer i lives at data offset
 *                i * subbuf_size.
 * @ctl_size:     bytes of control block needed (when RBF_BACKEND_F_CTL).
 * @buffer_id:    index of the buffer within the channel.
 * @cpu:          for per-CPU channels the CPU this buffer serves, else -1.
 */
struct rbf_backend_geom {
	uint32_t subbuf_size;
	uint32_t nr_subbuf;
	uint32_t nr_data;
	uint32_t buffer_id;
	uint64_t ctl_size;
	int cpu;
};

/**
 * struct rbf_backend_mem - the memory a backend hands out for one buffer.
 * @data:      start of nr_data * subbuf_size bytes.  With
 *             RBF_BACKEND_F_CPU_DIRECT: readable and writable CPU memory,
 *             64-byte aligned.  Otherwise an address the frontend never
 *             dereferences (it may be NULL).
 * @ctl:       with RBF_BACKEND_F_CTL: ctl_size bytes, 64-byte aligned,
 *             zero-filled on creation.  Ignored otherwise.
 * @handle:    the backend's own per-buffer state.
 * @numa_node: NUMA node of the data memory, or -1 if unknown.
 * @flags:     RBF_BACKEND_MEM_*.
 */
struct rbf_backend_mem {
	void *data;
	void *ctl;
	void *handle;
	int numa_node;
	uint32_t flags;
};

/**
 * struct rbf_backend - a backend's table of operations.
 * @size:          sizeof(struct rbf_backend) as the backend was compiled;
 *                 lets the table grow.
 * @abi:           RBF_BACKEND_ABI.
 * @name:          short name ("page", "mmap-file", ...).
 * @flags:         RBF_BACKEND_F_*.
 * @channel_init:  called once at channel creation with the channel's
 *                 description and the caller's backend configuration (may
 *                 be NULL); returns 0 and a private pointer, or a negative
 *                 errno that rbf_channel_create() returns unchanged.
 *                 Optional.
 * @channel_fini:  undoes channel_init, after every buffer was freed; no
 *                 writer runs any more (rbf_channel_destroy() waited for
 *                 them).  Optional.
 * @buffer_alloc:  allocates one buffer's memory.  Called at channel creation
 *                 (per-CPU, global) or, for per-thread channels, from the
 *                 writing thread on its first write, possibly inside a signal
 *                 handler: it must be thread-safe and should use only
 *                 async-signal-safe calls (mmap, not malloc).  Required.
 * @buffer_free:   releases what buffer_alloc returned.  Required.
 * @store:         copies @len bytes from @src to data offset @off.  @off and
 *                 @len are multiples of 8; the range never crosses the data
 *                 area.  Called concurrently by writers on disjoint ranges.
 *                 Required unless RBF_BACKEND_F_CPU_DIRECT.
 * @load:          copies @len bytes at data offset @off to @dst; same rules.
 *                 Required unless RBF_BACKEND_F_CPU_DIRECT.
 * @sync:          optional durability hook, called by the reader side with
 *                 a data range: after it takes a complete sub-buffer, and
 *                 after rbf_buffer_flush() closed the open one (then with
 *                 the whole data area).  May be NULL.
 *
 * Every operation returns 0 or a negative errno.
 */
struct rbf_backend {
	uint32_t size;
	uint32_t abi;
	const char *name;
	uint32_t flags;
	int (*channel_init)(const struct rbf_backend_chan *chan,
			    const void *config, void **priv);
	void (*channel_fini)(void *priv);
	int (*buffer_alloc)(void *priv, const struct rbf_backend_geom *geom,
			    struct rbf_backend_mem *mem);
	void (*buffer_free)(void *priv, struct rbf_backend_mem *mem);
	int (*store)(void *priv, const struct rbf_backend_mem *mem,
		     uint64_t off, const void *src, size_t len);
	int (*load)(void *priv, const struct rbf_backend_mem *mem, uint64_t off,
		    void *dst, size_t len);
	int (*sync)(void *priv, const struct rbf_backend_mem *mem, uint64_t off,
		    size_t len);
};

#ifdef __cplusplus
}
#endif

#endif /* RBF_BACKEND_H */
