/* SPDX-License-Identifier: MIT */
/*
 * frontend/internal.h - the frontend's private types and helpers.
 */
#ifndef RBF_FRONTEND_INTERNAL_H
#define RBF_FRONTEND_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rbf/rbf.h>

#include "atomic.h"
#include "ctl.h"

#define RBF_HIDDEN __attribute__((visibility("hidden")))

#define RBF_SB_HDR_SIZE ((uint32_t)sizeof(struct rbf_subbuf_header))
#define RBF_REC_HDR_SIZE ((uint32_t)sizeof(struct rbf_record_header))
#define RBF_REC_EXT_SIZE ((uint32_t)sizeof(struct rbf_record_header_ext))

/* ctx->priv_flags */
#define RBF_WCTX_LOCAL (1u << 0) /* use local (non-LOCK) atomics */
#define RBF_WCTX_ACTIVE (1u << 1) /* reserved, not yet committed */
#define RBF_WCTX_PERTHREAD (1u << 2) /* per-thread buffer: wr_nest held */

/* Reader-side state of one buffer (host memory, under the reader lock). */
struct rbf_rstate {
	/* Sub-buffer held for event-by-event consumption. */
	struct rbf_subbuf cur;
	int cur_valid;
	size_t cur_pos;
	uint64_t cur_prev_ts;
	/* Copy of the sub-buffer for backends without CPU access. */
	void *bounce;
	/* One decoded event kept for the timestamp merge. */
	struct rbf_event peek;
	int peek_valid;
};

struct rbf_buffer {
	struct rbf_ctl *ctl;
	char *data; /* CPU-direct data, or NULL */
	uint64_t *links; /* rbf_ctl_links(ctl), cached */
	struct rbf_ctl_commit *commits; /* rbf_ctl_commits(ctl), cached */
	struct rbf_channel *ch;
	struct rbf_backend_mem mem;
	uint32_t id;
	int cpu;
	int tid;
	int dead;
	bool local; /* writers use local atomics */
	bool ctl_from_backend;
	size_t host_size; /* bytes mmap'ed for this struct (+ctl) */
	struct rbf_buffer *next; /* channel list, RCU-protected */
	struct rbf_rstate rs;
};

struct rbf_channel {
	uint64_t uid; /* unique over the process lifetime */
	/* Geometry and configuration, constant after creation. */
	uint32_t subbuf_size;
	uint32_t subbuf_order;
	uint32_t num_subbuf;
	uint32_t num_order;
	uint64_t sb_mask; /* subbuf_size - 1 */
	uint32_t slot_mask; /* num_subbuf - 1 */
	enum rbf_mode mode;
	enum rbf_alloc alloc;
	enum rbf_clock clock;
	uint32_t max_nesting;
	uint32_t max_payload; /* largest payload that fits */
	bool cpu_direct;
	bool persistent; /* RBF_BACKEND_F_PERSISTENT */
	bool attached; /* a reader process's view of a file: no writes */
	bool local_ok; /* per-thread local atomics usable */
	const struct rbf_backend *be;
	void *be_priv;
	uint64_t clock_freq;
	double tsc_ns_mult;

	/* Writer-visible state. */
	int enabled;
	uint32_t nr_cpus;
	struct rbf_buffer **percpu; /* per-CPU: indexed by CPU; global: [0] */
	struct rbf_buffer *list; /* all buffers, RCU list, newest first */
	uint32_t next_id; /* per-thread buffer ids */
	uint64_t lost_nobuf[RBF_LOST_NR]; /* losses before a buffer existed */

	/* Reader side. */
	pthread_mutex_t rlock;
	struct rbf_stats retired; /* buffers already freed */
	/*
	 * Channels attached to a file by a reader process (mmap-file
	 * attach.c): called under rlock before the buffer list is walked, to
	 * pick up buffers the writer created since.
	 */
	void (*refresh)(struct rbf_channel *ch);
};

/* Thread-local writer state. */
#define RBF_TLS_CACHE 16
struct urcu_bp_reader;
struct rbf_tls {
	struct urcu_bp_reader *urcu; /* liburcu-bp reader (rcu.h) */
	pthread_t self;
	uint32_t nest; /* per-CPU/global write nesting */
	uint64_t last_uid; /* last per-thread channel written */
	struct rbf_buffer *last_buf; /* and its buffer */
	uint32_t nr; /* used entries */
	uint32_t evict; /* round-robin victim when full */
	struct {
		uint64_t uid;
		struct rbf_buffer *buf;
	} cache[RBF_TLS_CACHE];
};

extern __thread struct rbf_tls rbf_tls
	__attribute__((tls_model("initial-exec"))) RBF_HIDDEN;

/* Sequence and slot arithmetic. */
static inline uint64_t rbf_seq_of(const struct rbf_channel *ch, uint64_t pos)
{
	return pos >> ch->subbuf_order;
}

static inline uint32_t rbf_slot_of(const struct rbf_channel *ch, uint64_t seq)
{
	return (uint32_t)seq & ch->slot_mask;
}

static inline uint64_t rbf_gen_of(const struct rbf_channel *ch, uint64_t seq)
{
	return seq >> ch->num_order;
}

static inline uint64_t rbf_sb_mask(const struct rbf_channel *ch)
{
	return ch->sb_mask;
}

/* Bytes of commit word @cc equal the end of generation @gen_end * size. */
static inline bool rbf_cc_at(const struct rbf_channel *ch, uint64_t cc,
			     uint64_t gen_end)
{
	return ((cc - gen_end * ch->subbuf_size) & RBF_COMMIT_BYTES_MASK) == 0;
}

/* Is sequence @seq (all its bytes) committed? */
static inline bool rbf_seq_complete(const struct rbf_channel *ch, uint64_t cc,
				    uint64_t seq)
{
	return rbf_cc_at(ch, cc, rbf_gen_of(ch, seq) + 1);
}

/* Records committed to a slot once @seq is complete (mod 2^24). */
static inline uint32_t rbf_cc_records(const struct rbf_channel *ch, uint64_t cc,
				      uint64_t seq)
{
	uint64_t bytes = (rbf_gen_of(ch, seq) + 1) * ch->subbuf_size;

	return (uint32_t)(((cc - bytes) >> RBF_COMMIT_REC_SHIFT) &
			  RBF_LINK_RDEC_MASK);
}

static inline uint64_t rbf_read_cc(struct rbf_buffer *buf, uint32_t slot)
{
	return rbf_load_acquire(&buf->commits[slot].cc);
}

/* Full sequence number whose low tag bits are @tag, nearest below or at
 * @hi (sequence numbers in flight are within 2^21 of each other). */
static inline uint64_t rbf_tag_to_seq(uint64_t tag, uint64_t hi)
{
	return hi - ((hi - tag) & RBF_LINK_TAG_MASK);
}

/* clock.c */
RBF_HIDDEN int rbf_clock_setup(struct rbf_channel *ch);
RBF_HIDDEN uint64_t rbf_clock_read_slow(const struct rbf_channel *ch);
RBF_HIDDEN bool rbf_tsc_invariant(void);

static inline uint64_t rbf_rdtsc_ordered(void)
{
#if defined(__x86_64__) || defined(__i386__)
	uint32_t lo, hi, aux;

	/* RDTSCP waits for earlier loads (the write position) to complete. */
	__asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	return ((uint64_t)hi << 32) | lo;
#else
	return 0;
#endif
}

/* cpu.c */
RBF_HIDDEN int rbf_current_cpu_slow(void);
RBF_HIDDEN uint32_t rbf_possible_cpus(void);
RBF_HIDDEN extern ptrdiff_t rbf_rseq_cpu_off; /* < 0: no rseq */

/*
 * The CPU we run on: one load from glibc's rseq area (the kernel keeps
 * cpu_id current), else sched_getcpu().
 */
static inline int rbf_current_cpu(void)
{
	if (rbf_likely(rbf_rseq_cpu_off >= 0)) {
		int32_t cpu = (int32_t)RBF_LOAD(
			*(const uint32_t *)((char *)__builtin_thread_pointer() +
					    rbf_rseq_cpu_off));

		if (rbf_likely(cpu >= 0))
			return cpu;
	}
	return rbf_current_cpu_slow();
}

/* buffer.c */
RBF_HIDDEN int rbf_buffer_create(struct rbf_channel *ch, uint32_t id, int cpu,
				 int tid, struct rbf_buffer **out);
RBF_HIDDEN void rbf_buffer_destroy(struct rbf_buffer *buf);
RBF_HIDDEN int rbf_buffer_wrap(struct rbf_channel *ch, uint32_t id, int cpu,
			       int tid, const struct rbf_backend_mem *mem,
			       struct rbf_buffer **out);
RBF_HIDDEN int rbf_ctl_check(const struct rbf_channel *ch,
			     const struct rbf_ctl *ctl, uint64_t ctl_size);
RBF_HIDDEN void rbf_ctl_reclaim_held(struct rbf_ctl *ctl);
RBF_HIDDEN int rbf_ctl_repair_reader(const struct rbf_channel *ch,
				     struct rbf_ctl *ctl, uint64_t ctl_size);
RBF_HIDDEN void rbf_channel_list_push(struct rbf_channel *ch,
				      struct rbf_buffer *buf);
RBF_HIDDEN struct rbf_channel *rbf_channel_alloc(void);
RBF_HIDDEN int rbf_channel_setup(struct rbf_channel *ch, uint32_t subbuf_size,
				 uint32_t num_subbuf, enum rbf_mode mode,
				 enum rbf_alloc alloc, enum rbf_clock clock,
				 uint64_t clock_freq);
RBF_HIDDEN int rbf_data_store(struct rbf_buffer *buf, uint64_t off,
			      const void *src, size_t len);
RBF_HIDDEN int rbf_data_load(struct rbf_buffer *buf, uint64_t off, void *dst,
			     size_t len);

static inline uint64_t rbf_phys_off(const struct rbf_channel *ch, uint32_t phys)
{
	return (uint64_t)phys << ch->subbuf_order;
}

/* head.c */
RBF_HIDDEN int rbf_slot_ensure_slow(struct rbf_buffer *buf, uint64_t seq,
				    uint64_t *link);
RBF_HIDDEN void rbf_head_place(struct rbf_buffer *buf, uint64_t seq);
RBF_HIDDEN void rbf_head_hint_advance(struct rbf_buffer *buf, uint64_t seq);

/*
 * Make sure slot(@seq) maps to @seq (its previous generation has been read
 * or overwritten) and return its link word.  Fast path: one load.
 */
static inline int rbf_slot_ensure(struct rbf_buffer *buf, uint64_t seq,
				  uint64_t *link)
{
	uint32_t slot = rbf_slot_of(buf->ch, seq);
	uint64_t l = rbf_load_acquire(&buf->links[slot]);

	if (rbf_likely(rbf_link_tag_is(l, seq))) {
		*link = l;
		return 0;
	}
	return rbf_slot_ensure_slow(buf, seq, link);
}

/* write.c */
RBF_HIDDEN void rbf_count_lost(struct rbf_buffer *buf, bool local,
			       enum rbf_lost_cause cause);
RBF_HIDDEN int rbf_switch_close(struct rbf_buffer *buf);

/* thread.c */
RBF_HIDDEN struct rbf_buffer *rbf_thread_buffer_slow(struct rbf_channel *ch,
						     int *err);

/* The calling thread's buffer of per-thread channel @ch (created on the
 * first write). */
static inline struct rbf_buffer *rbf_thread_buffer(struct rbf_channel *ch,
						   int *err)
{
	struct rbf_tls *t = &rbf_tls;

	if (rbf_likely(t->last_uid == ch->uid))
		return t->last_buf;
	return rbf_thread_buffer_slow(ch, err);
}
RBF_HIDDEN int rbf_registry_add(struct rbf_channel *ch);
RBF_HIDDEN void rbf_registry_del(struct rbf_channel *ch);
RBF_HIDDEN int rbf_membarrier_setup(void);
RBF_HIDDEN int rbf_membarrier(void);
RBF_HIDDEN bool rbf_tid_alive(int tid);

/* stats.c */
RBF_HIDDEN void rbf_buffer_stats_locked(struct rbf_buffer *buf,
					struct rbf_stats *st);
RBF_HIDDEN void rbf_stats_add(struct rbf_stats *dst,
			      const struct rbf_stats *src);

/* consume.c */
RBF_HIDDEN int rbf_decode_at(const struct rbf_channel *ch, const char *sb,
			     uint32_t content, size_t *pos, uint64_t *prev_ts,
			     struct rbf_event *ev);
RBF_HIDDEN void rbf_rstate_release(struct rbf_buffer *buf);
RBF_HIDDEN int rbf_subbuf_get_locked(struct rbf_buffer *buf,
				     struct rbf_subbuf *sb);
RBF_HIDDEN int rbf_subbuf_put_locked(struct rbf_buffer *buf,
				     struct rbf_subbuf *sb);
RBF_HIDDEN int rbf_buffer_flush_locked(struct rbf_buffer *buf);

/* Host memory that is safe to obtain from a signal handler. */
RBF_HIDDEN void *rbf_host_alloc(size_t size);
RBF_HIDDEN void rbf_host_free(void *p, size_t size);

#endif /* RBF_FRONTEND_INTERNAL_H */
