/* SPDX-License-Identifier: MIT */
/*
 * tests/test_crash.c - kill a writer with SIGKILL, recover its ring file.
 *
 * For each configuration (per-thread, per-CPU, global) x (discard,
 * overwrite), repeatedly, alternating between two ring geometries (one
 * with sub-buffers so small that every few events open a new one):
 *
 *  1. fork a writer process: it creates a channel on the mmap-file backend
 *     (a fresh file in a mkdtemp directory), starts CR_WRITERS threads
 *     (pinned one per CPU in turn for per-CPU channels, so that each
 *     writer's events go to one known buffer) writing test events
 *     (th_event_make: writer, nesting level, sequence, checksum), and
 *     signals them from its main thread; the handlers write events too,
 *     each raising the next level's signal between its reserve and commit,
 *     so writes nest CR_LEVELS deep.  After every write that returned 0
 *     (rbf_commit or rbf_write), the writer stores the stream's last
 *     committed sequence number, and a stamp no later than the event's,
 *     into a MAP_SHARED anonymous mapping the parent created; after every
 *     failed write, the failure by cause.
 *  2. SIGKILL it at a random moment, 1 to 30 ms after every thread started
 *     writing, and reap it.
 *  3. open the file with rbf_file_open(), walk every buffer with a cursor,
 *     and check:
 *     - every event verifies (checksum, payload pattern, id, length), lies
 *       in its writer's buffer, and is stamped between the fork and the
 *       writer's death; stamps and sub-buffer sequences never go back in a
 *       buffer; within a buffer each stream's sequences strictly increase;
 *       no event is returned twice;
 *     - nothing uncommitted is returned: an event's sequence is at most
 *       the published last committed one + 1 (the + 1 is the event whose
 *       commit returned but whose publication the kill prevented);
 *     - discard mode: each stream is recovered exactly, 0 .. last with
 *       last = published or published + 1: every event whose commit
 *       returned is there;
 *     - overwrite mode: stamps are ordered like positions in a buffer and
 *       only whole sub-buffers at its old end are overwritten, so each
 *       stream's recovered events are contiguous, and an event whose
 *       published stamp is later than the first event recovered from its
 *       buffer must be there: the newest committed one, and the one just
 *       before the stream's first recovered event;
 *     - a walk cut short (a malformed record or a bad sub-buffer) may cost
 *       committed events only in multi-writer buffers in overwrite mode,
 *       where a writer killed between its reservation and its record
 *       header leaves an older generation's bytes behind; there the checks
 *       above are relaxed for the streams of that buffer, and the drops
 *       must be counted (dropped_malformed with dropped_bytes, or
 *       bad_subbufs).  Everywhere else the checks stay exact whatever the
 *       walk dropped;
 *     - the counts add up: the report of rbf_file_check() is the sum of
 *       the buffers' reports and its event count is what the cursors
 *       return; the file's counters (written, lost by cause) agree with
 *       the publications, one write per stream being possibly in flight;
 *       per buffer, the events recovered minus those the counters say are
 *       buffered is between 0 and the writes that can be in flight
 *       (marked committed, commit not yet counted); nothing was read;
 *       discard mode overwrites nothing;
 *  4. rbf_file_recover() into a copy: the copy is clean, holds exactly the
 *     same events in the same buffers, its walk drops nothing and its
 *     counters add up to its events.
 *
 * The opener_killed tests aim at one window: a reservation that crosses
 * into a new sub-buffer (the buffer's first one, or a later one),
 * interrupted before that sub-buffer's header is written, while a signal
 * handler commits an event after it; that event must be recovered.
 *
 * RBF_CRASH_KILLS (default 30) is the number of kills of the whole
 * program, shared between the six configurations (`make crash` runs
 * 1000 or more).  RBF_CRASH_SEED fixes the random delays; RBF_CRASH_VERBOSE
 * prints one line per kill; RBF_CRASH_GDB prints the stacks of a writer
 * that does not start.  A file that failed a check is kept and its path
 * printed.  One summary per configuration and geometry goes to stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "helpers.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <rbf/file.h>
#include <rbf/mmap_file.h>

#include "ctl.h" /* the control block, for the targeted test */
#include "layout.h" /* the file's slot table */

#define CR_WRITERS 3
#define CR_LEVELS 5 /* 0: thread context, 1..4: nested signal handlers */
#define CR_STREAMS (CR_WRITERS * CR_LEVELS)
#define CR_EXTRA_MAX 40 /* random payload bytes after struct th_event */
#define CR_BIG_MAX 1500 /* occasional large level-0 payloads */
#define CR_CONFIGS 6
#define CR_KILLS_DEFAULT 30
#define CR_MAX_ERRORS 20 /* printed per kill */
#define CR_TS_RING 4096 /* published stamps per stream (a power of 2) */
/*
 * One timeout for every test (each kill also has a 120 s alarm): with
 * different timeouts in one program, Criterion 2.4.1's runner leaks 48
 * bytes, which fails the sanitizer build.
 */
#define CR_TIMEOUT 3600

/* ---------------------------------------------------------------------- */
/* What the writer process publishes (shared anonymous mapping).          */

/*
 * struct cr_pub_stream - one stream (writer thread x nesting level).
 * @seq1:  last committed sequence + 1 (0: none yet), stored after the
 *         write returned 0.
 * @ts:    for the last CR_TS_RING committed events, by sequence mod
 *         CR_TS_RING: a stamp no later than the event's (stored before
 *         @seq1, so the entries @seq1 covers are never half written).
 * @committing: sequence + 1 of the event about to be committed, stored
 *         just before rbf_commit() (payload complete) or rbf_write().
 * @fail:  failed writes by cause.
 * @unexpected, @last_unexpected: results the API does not document.
 */
struct cr_pub_stream {
	uint64_t seq1;
	uint64_t committing;
	uint64_t ts[CR_TS_RING];
	uint64_t fail[RBF_LOST_NR];
	uint64_t unexpected;
	int64_t last_unexpected;
};

struct cr_pub {
	struct cr_pub_stream s[CR_WRITERS][CR_LEVELS];
	int tid[CR_WRITERS];
	int cpu[CR_WRITERS]; /* per-CPU: the CPU the writer is pinned to */
	int stage; /* 1: channel created, 2: every writer wrote */
	int setup_err;
	char msg[200];
	uint64_t signals;
};

static void cr_store(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static void cr_store_release(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ---------------------------------------------------------------------- */
/* Configurations.                                                         */

/* Ring geometry; kills alternate between a configuration's two. */
struct cr_geom {
	uint32_t subbuf_size;
	uint32_t num_subbuf;
};

struct cr_cfg {
	const char *name;
	enum rbf_mode mode;
	enum rbf_alloc alloc;
	struct cr_geom geom[2];
};

/* Totals of one configuration over its kills. */
struct cr_tot {
	unsigned int kills;
	uint64_t events; /* verified in the crashed files */
	uint64_t recovered; /* events in the recovered copies */
	uint64_t plus1; /* events committed whose publication was killed */
	uint64_t uncommitted;
	uint64_t malformed;
	uint64_t malformed_kills; /* kills with a malformed/bad drop */
	uint64_t benign_drops; /* ... where nothing committed was missing */
	uint64_t dropped_bytes;
	uint64_t bad_subbufs;
	uint64_t lost;
	uint64_t overwritten;
	uint64_t newest_checked; /* overwrite: streams whose newest was due */
	uint64_t relaxed; /* streams whose checks a drop relaxed */
	uint64_t inflight; /* sum of per-buffer d (see cr_check_counts) */
	uint64_t signals;
	uint64_t delay_us;
	uint64_t ns; /* time spent */
};

/* ---------------------------------------------------------------------- */
/* The writer process.                                                     */

struct cr_writer {
	unsigned int id;
	pthread_t thread;
	uint64_t rng;
	uint64_t next[CR_LEVELS]; /* next sequence per level */
	atomic_ulong l0_ops;
	atomic_int ready;
	unsigned long storm_seen;
	uint64_t storm_at_us;
};

struct cr_child {
	const struct cr_cfg *cfg;
	struct cr_geom geom;
	size_t big_max; /* largest payload after struct th_event */
	struct cr_pub *pub;
	struct rbf_channel *ch;
	struct cr_writer w[CR_WRITERS];
};

/* Only ever set in the writer process. */
static struct cr_child *cr_child;
static __thread struct cr_writer *cr_self;

static uint16_t cr_event_id(unsigned int writer, unsigned int level)
{
	return (uint16_t)(writer * 8 + level);
}

static void cr_count_fail(struct cr_pub_stream *ps, int ret)
{
	int cause = th_cause_of(ret);

	if (cause >= 0) {
		cr_store(&ps->fail[cause], ps->fail[cause] + 1);
	} else {
		ps->last_unexpected = ret;
		cr_store(&ps->unexpected, ps->unexpected + 1);
	}
}

/*
 * Copy @len bytes into the reservation word by word, raising @sig (the
 * next nesting level) half way; at level 0 sometimes yield while holding
 * the reservation, to widen the windows the kill can land in.
 */
static void cr_fill(struct cr_writer *w, struct rbf_wctx *ctx,
		    const uint8_t *src, size_t len, int sig, int may_yield)
{
	volatile uint8_t *d = (volatile uint8_t *)ctx->data;
	size_t k, half = len / 2;

	for (k = 0; k < len; k++) {
		if (k == half && sig)
			raise(sig);
		if (d)
			d[k] = src[k];
		else
			rbf_wctx_write(ctx, k, src + k, 1);
		if (may_yield && !(k & 15) && !(st_rand(&w->rng) & 255))
			sched_yield();
	}
	if (!len && sig)
		raise(sig);
}

/* Write one event at @level (0: thread, 1..4: signal handlers). */
static void cr_write_one(struct cr_writer *w, unsigned int level)
{
	struct cr_child *c = cr_child;
	struct cr_pub_stream *ps = &c->pub->s[w->id][level];
	uint64_t buf[(TH_EVENT_SIZE + CR_BIG_MAX) / 8 + 1];
	uint64_t r = st_rand(&w->rng);
	uint64_t seq = w->next[level];
	size_t len = TH_EVENT_SIZE + r % (CR_EXTRA_MAX + 1);
	/* Level 1 comes from the main thread; each handler raises the next
	 * level while it holds its own reservation. */
	int sig = level && level + 1 < CR_LEVELS ? st_level_signal(level + 1) :
						   0;
	uint16_t id = cr_event_id(w->id, level);
	struct rbf_wctx ctx;
	uint64_t ts = 0;
	int ret;

	if (!level && !((r >> 40) & 63))
		len = TH_EVENT_SIZE + (r >> 16) % c->big_max;
	th_event_make(buf, len, w->id, level, seq);
	if (!((r >> 48) & 3)) {
		/* One call: its stamp is read inside, after this one. */
		ts = rbf_channel_read_clock(c->ch);
		cr_store_release(&ps->committing, seq + 1);
		ret = rbf_write(c->ch, id, buf, len);
		if (sig)
			raise(sig);
	} else {
		ret = rbf_reserve(c->ch, &ctx, id, len);
		if (!ret) {
			ts = ctx.ts;
			if (ctx.len != len) {
				ps->last_unexpected = -10000;
				cr_store(&ps->unexpected, ps->unexpected + 1);
			}
			cr_fill(w, &ctx, (const uint8_t *)buf, len, sig,
				level == 0);
			cr_store_release(&ps->committing, seq + 1);
			ret = rbf_commit(&ctx);
			if (ret) {
				ps->last_unexpected = ret;
				cr_store(&ps->unexpected, ps->unexpected + 1);
				return;
			}
		} else if (sig) {
			raise(sig);
		}
	}
	if (ret) {
		cr_count_fail(ps, ret);
		return;
	}
	/* Published only now that the write returned 0. */
	cr_store(&ps->ts[seq & (CR_TS_RING - 1)], ts);
	cr_store_release(&ps->seq1, seq + 1);
	w->next[level] = seq + 1;
}

static void cr_handler(int sig)
{
	struct cr_writer *w = cr_self;
	int saved = errno;
	unsigned int level;

	if (w) {
		for (level = 1; level < CR_LEVELS; level++)
			if (st_level_signal(level) == sig)
				break;
		if (level < CR_LEVELS)
			cr_write_one(w, level);
	}
	errno = saved;
}

static void cr_block_signals(int how)
{
	sigset_t set;
	unsigned int level;

	sigemptyset(&set);
	for (level = 1; level < CR_LEVELS; level++)
		sigaddset(&set, st_level_signal(level));
	pthread_sigmask(how, &set, NULL);
}

static __attribute__((format(printf, 2, 3))) void
cr_child_fail(struct cr_pub *pub, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pub->msg, sizeof(pub->msg), fmt, ap);
	va_end(ap);
	__atomic_store_n(&pub->setup_err, 1, __ATOMIC_RELEASE);
	_exit(3);
}

static void *cr_writer_main(void *arg)
{
	struct cr_writer *w = (struct cr_writer *)arg;
	struct cr_child *c = cr_child;
	unsigned int fails = 0;
	int ret;

	c->pub->tid[w->id] = (int)th_gettid();
	if (c->cfg->alloc == RBF_ALLOC_PER_CPU) {
		/* Pinned: every event of the writer goes to one buffer. */
		int cpu = th_nth_cpu((int)w->id);

		if (cpu < 0 || th_pin_cpu(cpu))
			cr_child_fail(c->pub, "writer %u: cannot pin to CPU %d",
				      w->id, cpu);
		c->pub->cpu[w->id] = cpu;
	} else {
		c->pub->cpu[w->id] = -1;
	}
	ret = rbf_thread_prepare(c->ch);
	if (ret)
		cr_child_fail(c->pub, "writer %u: rbf_thread_prepare: %d",
			      w->id, ret);
	cr_self = w;
	cr_block_signals(SIG_UNBLOCK);
	atomic_store(&w->ready, 1);
	for (;;) {
		uint64_t before = w->next[0];

		cr_write_one(w, 0);
		atomic_fetch_add(&w->l0_ops, 1);
		if (w->next[0] != before) {
			fails = 0;
			continue;
		}
		/* Full or busy: let the stalled writer run. */
		if (++fails % 8)
			sched_yield();
		else
			th_sleep_us(50);
	}
	return NULL;
}

/* The writer process: never returns (SIGKILL ends it). */
static __attribute__((noreturn)) void
cr_child_main(const struct cr_cfg *cfg, const struct cr_geom *geom,
	      struct cr_pub *pub, const char *path, pid_t parent)
{
	static struct cr_child child;
	struct rbf_mmap_file_config fcfg;
	struct rbf_channel_attr attr;
	struct sigaction sa;
	uint64_t deadline;
	unsigned int i, l;
	int ret;

	/* Never outlive the test (a failed assertion or a timeout). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(4);
	cr_child = &child;
	child.cfg = cfg;
	child.geom = *geom;
	child.big_max = geom->subbuf_size / 2 - TH_EVENT_SIZE;
	if (child.big_max > CR_BIG_MAX - TH_EVENT_SIZE)
		child.big_max = CR_BIG_MAX - TH_EVENT_SIZE;
	child.pub = pub;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cr_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (l = 1; l < CR_LEVELS; l++)
		if (sigaction(st_level_signal(l), &sa, NULL))
			cr_child_fail(pub, "sigaction: %d", errno);
	/* Only the writer threads take the signals. */
	cr_block_signals(SIG_BLOCK);

	rbf_mmap_file_config_init(&fcfg);
	fcfg.path = path;
	fcfg.max_buffers = CR_WRITERS + 1;
	rbf_channel_attr_init(&attr);
	attr.backend = &rbf_backend_mmap_file;
	attr.backend_config = &fcfg;
	attr.mode = cfg->mode;
	attr.alloc = cfg->alloc;
	attr.clock = RBF_CLOCK_MONOTONIC;
	attr.subbuf_size = geom->subbuf_size;
	attr.num_subbuf = geom->num_subbuf;
	ret = rbf_channel_create(&attr, &child.ch);
	if (ret)
		cr_child_fail(pub, "rbf_channel_create(%s): %d", path, ret);
	__atomic_store_n(&pub->stage, 1, __ATOMIC_RELEASE);

	for (i = 0; i < CR_WRITERS; i++) {
		child.w[i].id = i;
		child.w[i].rng = 0x9e3779b97f4a7c15ull * (i + 1) ^ th_now_ns() ^
				 (uint64_t)getpid() << 20;
		if (pthread_create(&child.w[i].thread, NULL, cr_writer_main,
				   &child.w[i]))
			cr_child_fail(pub, "pthread_create");
	}
	/* Until every writer wrote at level 0. */
	deadline = th_now_ns() + 10000000000ull;
	for (i = 0; i < CR_WRITERS;) {
		if (atomic_load(&child.w[i].ready) &&
		    atomic_load(&child.w[i].l0_ops) > 0) {
			i++;
			continue;
		}
		if (th_now_ns() > deadline && !pub->setup_err) {
			snprintf(pub->msg, sizeof(pub->msg),
				 "writer %u did not start (ready %d, %lu "
				 "writes)",
				 i, atomic_load(&child.w[i].ready),
				 atomic_load(&child.w[i].l0_ops));
			__atomic_store_n(&pub->setup_err, 1, __ATOMIC_RELEASE);
		}
		th_sleep_us(100);
	}
	__atomic_store_n(&pub->stage, 2, __ATOMIC_RELEASE);

	/* The storm, paced as in helpers.h (st_storm_main): re-signal a
	 * writer once it made progress at level 0, or after 2 ms. */
	for (;;) {
		for (i = 0; i < CR_WRITERS; i++) {
			struct cr_writer *w = &child.w[i];
			unsigned long ops = atomic_load(&w->l0_ops);
			uint64_t now = th_now_ns() / 1000;

			if (ops == w->storm_seen && now - w->storm_at_us < 2000)
				continue;
			w->storm_seen = ops;
			w->storm_at_us = now;
			if (!pthread_kill(w->thread, SIGUSR1))
				cr_store(&pub->signals, pub->signals + 1);
		}
		th_sleep_us(20);
	}
}

/* ---------------------------------------------------------------------- */
/* Checking a crashed file.                                                */

/* Errors of one kill: the first few are printed, all are counted. */
struct cr_chk {
	const struct cr_cfg *cfg;
	unsigned int kill;
	unsigned long errors;
	char first[400];
};

static __attribute__((format(printf, 2, 3))) void cr_err(struct cr_chk *chk,
							 const char *fmt, ...)
{
	char line[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (chk->errors < CR_MAX_ERRORS)
		fprintf(stderr, "crash %s kill %u: %s\n", chk->cfg->name,
			chk->kill, line);
	if (!chk->errors++)
		snprintf(chk->first, sizeof(chk->first), "%s", line);
}

struct cr_ev {
	uint32_t buffer;
	uint16_t id;
	uint32_t len;
	uint64_t ts;
	uint64_t subbuf_seq;
	const unsigned char *data;
};

struct cr_evs {
	struct cr_ev *v;
	size_t n, cap;
};

static void cr_evs_push(struct cr_evs *e, const struct rbf_file_event *ev)
{
	struct cr_ev *x;

	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 4096;
		e->v = (struct cr_ev *)realloc(e->v, e->cap * sizeof(*e->v));
		cr_assert_not_null(e->v);
	}
	x = &e->v[e->n++];
	x->buffer = ev->buffer;
	x->id = ev->id;
	x->len = ev->len;
	x->ts = ev->ts;
	x->subbuf_seq = ev->subbuf_seq;
	x->data = (const unsigned char *)ev->data;
}

/* Walk every buffer of @f with a cursor into @out (pointers into the
 * mapping); per-buffer counts into @counts. */
static void cr_walk(struct cr_chk *chk, struct rbf_file *f, uint32_t nbuf,
		    uint64_t file_size, struct cr_evs *out, uint64_t *counts)
{
	uint32_t b;

	for (b = 0; b < nbuf; b++) {
		struct rbf_file_cursor cur;
		struct rbf_file_event ev;
		uint64_t guard = file_size / 8 + 2;
		int ret;

		counts[b] = 0;
		ret = rbf_file_cursor_init(f, b, &cur);
		if (ret) {
			cr_err(chk, "rbf_file_cursor_init(%u): %d", b, ret);
			continue;
		}
		for (;;) {
			memset(&ev, 0, sizeof(ev));
			ret = rbf_file_cursor_next(f, &cur, &ev);
			if (ret == 0)
				break;
			if (ret != 1) {
				cr_err(chk,
				       "rbf_file_cursor_next(buffer %u): "
				       "%d",
				       b, ret);
				break;
			}
			if (!guard--) {
				cr_err(chk, "buffer %u: cursor never ends", b);
				break;
			}
			if (ev.buffer != b)
				cr_err(chk,
				       "cursor of buffer %u returned an "
				       "event of buffer %u",
				       b, ev.buffer);
			cr_evs_push(out, &ev);
			counts[b]++;
		}
	}
}

/* What the checker knows of one buffer. */
struct cr_buf {
	struct rbf_file_buffer_info info;
	uint64_t count;
	int have;
	uint64_t first_ts, last_ts, last_sbseq;
	uint64_t last_seq1[CR_WRITERS][CR_LEVELS]; /* seq + 1, 0: none */
	int drops; /* the walk was cut: malformed record or bad sub-buffer */
};

struct cr_seqs {
	uint64_t *v;
	size_t n, cap;
	int64_t buffer; /* the buffer holding the stream, -1: none seen */
};

static void cr_seqs_push(struct cr_seqs *s, uint64_t v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1024;
		s->v = (uint64_t *)realloc(s->v, s->cap * sizeof(*s->v));
		cr_assert_not_null(s->v);
	}
	s->v[s->n++] = v;
}

static int cr_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The buffer writer @w's events must land in, or -1. */
static int cr_home_buffer(const struct cr_cfg *cfg, const struct cr_pub *pub,
			  const struct cr_buf *bufs, uint32_t nbuf, unsigned w,
			  uint32_t nr_cpus)
{
	uint32_t b;

	if (cfg->alloc == RBF_ALLOC_GLOBAL)
		return nbuf ? 0 : -1;
	for (b = 0; b < nbuf; b++) {
		if (cfg->alloc == RBF_ALLOC_PER_THREAD &&
		    bufs[b].info.tid == pub->tid[w])
			return (int)b;
		if (cfg->alloc == RBF_ALLOC_PER_CPU && nr_cpus &&
		    bufs[b].info.cpu == (int)((uint32_t)pub->cpu[w] % nr_cpus))
			return (int)b;
	}
	return -1;
}

static void cr_report_add(struct rbf_file_report *d,
			  const struct rbf_file_report *s)
{
	d->events += s->events;
	d->subbufs += s->subbufs;
	d->dropped_uncommitted += s->dropped_uncommitted;
	d->dropped_malformed += s->dropped_malformed;
	d->dropped_bytes += s->dropped_bytes;
	d->bad_subbufs += s->bad_subbufs;
	d->written += s->written;
	d->lost += s->lost;
	d->overwritten += s->overwritten;
	d->read += s->read;
}

static void cr_report_cmp(struct cr_chk *chk, const char *what,
			  const struct rbf_file_report *a,
			  const struct rbf_file_report *b)
{
#define CR_CMP(field)                                                         \
	do {                                                                  \
		if (a->field != b->field)                                     \
			cr_err(chk, "%s: " #field " %" PRIu64 " != %" PRIu64, \
			       what, a->field, b->field);                     \
	} while (0)
	CR_CMP(events);
	CR_CMP(subbufs);
	CR_CMP(dropped_uncommitted);
	CR_CMP(dropped_malformed);
	CR_CMP(dropped_bytes);
	CR_CMP(bad_subbufs);
	CR_CMP(written);
	CR_CMP(lost);
	CR_CMP(overwritten);
	CR_CMP(read);
#undef CR_CMP
}

/* Everything a check of one crashed file needs. */
struct cr_run {
	const struct cr_cfg *cfg;
	const struct cr_geom *geom;
	struct cr_pub *pub;
	struct cr_tot *tot;
	struct cr_chk chk;
	pid_t pid;
	uint64_t t_fork, t_dead;
	struct rbf_file *f;
	struct rbf_file_info info;
	struct rbf_file_report rep;
	struct cr_buf *bufs;
	uint32_t nbuf;
	struct cr_evs evs;
	struct cr_seqs seqs[CR_WRITERS][CR_LEVELS];
};

/* Per-event checks, in buffer order. */
static void cr_check_events(struct cr_run *r)
{
	struct cr_chk *chk = &r->chk;
	size_t i;

	for (i = 0; i < r->evs.n; i++) {
		const struct cr_ev *ev = &r->evs.v[i];
		struct cr_buf *b;
		struct cr_seqs *s;
		struct th_event e;
		uint64_t seq1;
		int ret;

		if (ev->buffer >= r->nbuf) {
			cr_err(chk, "event of buffer %u (%u buffers)",
			       ev->buffer, r->nbuf);
			continue;
		}
		b = &r->bufs[ev->buffer];
		if (ev->ts < r->t_fork || ev->ts > r->t_dead)
			cr_err(chk,
			       "buffer %u: stamp %" PRIu64 " outside the "
			       "writer's life [%" PRIu64 ", %" PRIu64 "]",
			       ev->buffer, ev->ts, r->t_fork, r->t_dead);
		if (b->have && ev->ts < b->last_ts)
			cr_err(chk,
			       "buffer %u: stamp %" PRIu64 " after %" PRIu64,
			       ev->buffer, ev->ts, b->last_ts);
		if (b->have && ev->subbuf_seq < b->last_sbseq)
			cr_err(chk,
			       "buffer %u: sub-buffer %" PRIu64
			       " after %" PRIu64,
			       ev->buffer, ev->subbuf_seq, b->last_sbseq);
		if (!b->have)
			b->first_ts = ev->ts;
		b->have = 1;
		b->last_ts = ev->ts;
		b->last_sbseq = ev->subbuf_seq;

		ret = th_event_verify(ev->data, ev->len, &e);
		if (ret) {
			cr_err(chk,
			       "buffer %u sub-buffer %" PRIu64 ": corrupt "
			       "event (id %u, len %u): %d",
			       ev->buffer, ev->subbuf_seq, ev->id, ev->len,
			       ret);
			continue;
		}
		if (e.writer >= CR_WRITERS || e.nest >= CR_LEVELS) {
			cr_err(chk, "event of writer %u level %u", e.writer,
			       e.nest);
			continue;
		}
		if (ev->id != cr_event_id(e.writer, e.nest))
			cr_err(chk, "id %u for writer %u level %u", ev->id,
			       e.writer, e.nest);
		s = &r->seqs[e.writer][e.nest];
		if (s->buffer < 0)
			s->buffer = ev->buffer;
		else if (s->buffer != (int64_t)ev->buffer)
			cr_err(chk,
			       "stream (%u,%u) in buffers %" PRId64 " and %u",
			       e.writer, e.nest, s->buffer, ev->buffer);
		if (b->last_seq1[e.writer][e.nest] &&
		    e.seq < b->last_seq1[e.writer][e.nest])
			cr_err(chk,
			       "buffer %u: stream (%u,%u) seq %" PRIu64
			       " after %" PRIu64,
			       ev->buffer, e.writer, e.nest, e.seq,
			       b->last_seq1[e.writer][e.nest] - 1);
		b->last_seq1[e.writer][e.nest] = e.seq + 1;
		/* Nothing uncommitted: at most one past the publication. */
		seq1 = r->pub->s[e.writer][e.nest].seq1;
		if (e.seq > seq1)
			cr_err(chk,
			       "stream (%u,%u): seq %" PRIu64 " returned, "
			       "last committed %" PRId64 " (never "
			       "committed)",
			       e.writer, e.nest, e.seq, (int64_t)seq1 - 1);
		else if (e.seq == seq1 &&
			 r->pub->s[e.writer][e.nest].committing != seq1 + 1)
			cr_err(chk,
			       "stream (%u,%u): seq %" PRIu64 " returned, "
			       "its writer never called rbf_commit for it",
			       e.writer, e.nest, e.seq);
		else if (e.seq == seq1)
			r->tot->plus1++;
		cr_seqs_push(s, e.seq);
	}
}

/* Per-stream checks: exact (discard) or newest present (overwrite). */
static void cr_check_streams(struct cr_run *r)
{
	const struct cr_cfg *cfg = r->cfg;
	struct cr_chk *chk = &r->chk;
	unsigned int w, l;

	for (w = 0; w < CR_WRITERS; w++) {
		int home = cr_home_buffer(cfg, r->pub, r->bufs, r->nbuf, w,
					  r->info.nr_cpus);

		for (l = 0; l < CR_LEVELS; l++) {
			struct cr_seqs *s = &r->seqs[w][l];
			const struct cr_pub_stream *ps = &r->pub->s[w][l];
			uint64_t seq1 = ps->seq1, k;
			const struct cr_buf *b;
			int relaxed;

			if (s->n)
				qsort(s->v, s->n, sizeof(*s->v), cr_cmp_u64);
			for (k = 1; k < s->n; k++)
				if (s->v[k] == s->v[k - 1])
					cr_err(chk,
					       "stream (%u,%u): seq %" PRIu64
					       " returned twice",
					       w, l, s->v[k]);
			if (ps->unexpected)
				cr_err(chk,
				       "stream (%u,%u): %" PRIu64
				       " unexpected write results, last %" PRId64,
				       w, l, ps->unexpected,
				       ps->last_unexpected);
			if (s->n && s->buffer != home)
				cr_err(chk,
				       "stream (%u,%u) in buffer %" PRId64
				       ", its writer's is %d",
				       w, l, s->buffer, home);
			if (home < 0) {
				if (seq1)
					cr_err(chk,
					       "writer %u committed %" PRIu64
					       " events at level %u but "
					       "has no buffer",
					       w, seq1, l);
				continue;
			}
			b = &r->bufs[home];
			relaxed = b->drops && cfg->mode == RBF_MODE_OVERWRITE &&
				  cfg->alloc != RBF_ALLOC_PER_THREAD;
			if (cfg->mode == RBF_MODE_DISCARD) {
				/* Exactly 0 .. seq1 - 1, perhaps seq1. */
				if (s->n < seq1 || s->n > seq1 + 1 ||
				    (s->n && s->v[s->n - 1] != s->n - 1))
					cr_err(chk,
					       "stream (%u,%u): %zu events "
					       "recovered (last %" PRId64
					       "), %" PRIu64 " committed",
					       w, l, s->n,
					       s->n ? (int64_t)s->v[s->n - 1] :
						      -1,
					       seq1);
				continue;
			}
			/* Overwrite: a contiguous run, ending at the
			 * newest committed event when that one is due. */
			if (s->n && s->v[s->n - 1] - s->v[0] + 1 != s->n) {
				if (relaxed)
					r->tot->relaxed++;
				else
					cr_err(chk,
					       "stream (%u,%u): gap: %zu "
					       "events in %" PRIu64
					       "..%" PRIu64,
					       w, l, s->n, s->v[0],
					       s->v[s->n - 1]);
			}
			if (!seq1)
				continue;
			if (!b->have) {
				if (relaxed)
					r->tot->relaxed++;
				else
					cr_err(chk,
					       "stream (%u,%u): %" PRIu64
					       " committed, its buffer %d "
					       "returned nothing",
					       w, l, seq1, home);
				continue;
			}
			/* The event just before the first recovered one
			 * may be missing only if it lies before the
			 * buffer's first recovered event. */
			k = s->n ? s->v[0] : seq1;
			if (k && seq1 - (k - 1) <= CR_TS_RING &&
			    ps->ts[(k - 1) & (CR_TS_RING - 1)] > b->first_ts) {
				if (relaxed)
					r->tot->relaxed++;
				else
					cr_err(chk,
					       "stream (%u,%u): seq %" PRIu64
					       " (stamp %" PRIu64 ") missing"
					       ", first recovered %" PRId64
					       ", buffer %d starts at %" PRIu64,
					       w, l, k - 1,
					       ps->ts[(k - 1) &
						      (CR_TS_RING - 1)],
					       s->n ? (int64_t)s->v[0] : -1,
					       home, b->first_ts);
			}
			if (ps->ts[(seq1 - 1) & (CR_TS_RING - 1)] <=
			    b->first_ts)
				continue; /* may have been overwritten */
			r->tot->newest_checked++;
			if (!s->n || s->v[s->n - 1] + 1 < seq1) {
				if (relaxed)
					r->tot->relaxed++;
				else
					cr_err(chk,
					       "stream (%u,%u): newest "
					       "committed %" PRIu64
					       " (stamp %" PRIu64
					       ") missing, last "
					       "recovered %" PRId64 ", "
					       "buffer %d starts at %" PRIu64,
					       w, l, seq1 - 1,
					       ps->ts[(seq1 - 1) &
						      (CR_TS_RING - 1)],
					       s->n ? (int64_t)s->v[s->n - 1] :
						      -1,
					       home, b->first_ts);
			}
		}
	}
}

/*
 * The counts: reports add up, the cursors agree with them, the file's
 * counters agree with the publications, and per buffer the recovered
 * events match what the counters say is buffered.
 */
static void cr_check_counts(struct cr_run *r, const uint64_t *counts)
{
	const struct cr_cfg *cfg = r->cfg;
	struct cr_chk *chk = &r->chk;
	struct rbf_file_report sum;
	uint64_t pub_commit = 0, pub_fail[RBF_LOST_NR] = { 0 };
	uint64_t file_lost[RBF_LOST_NR] = { 0 }, committed, slack = 0;
	uint64_t pub_fail_all = 0;
	unsigned int w, l, c;
	uint32_t b;

	memset(&sum, 0, sizeof(sum));
	for (b = 0; b < r->nbuf; b++) {
		struct cr_buf *cb = &r->bufs[b];
		const struct rbf_file_report *br = &cb->info.report;
		uint64_t lost = 0;
		int64_t d;

		cr_report_add(&sum, br);
		for (c = 0; c < RBF_LOST_NR; c++) {
			lost += cb->info.lost[c];
			file_lost[c] += cb->info.lost[c];
		}
		if (br->events != counts[b])
			cr_err(chk,
			       "buffer %u: report says %" PRIu64 " events, "
			       "the cursor returned %" PRIu64,
			       b, br->events, counts[b]);
		if (br->lost != lost ||
		    br->overwritten != cb->info.overwritten ||
		    br->read != cb->info.read)
			cr_err(chk,
			       "buffer %u: report lost/overwritten/read %" PRIu64
			       "/%" PRIu64 "/%" PRIu64 " != info %" PRIu64
			       "/%" PRIu64 "/%" PRIu64,
			       b, br->lost, br->overwritten, br->read, lost,
			       cb->info.overwritten, cb->info.read);
		if (br->read)
			cr_err(chk,
			       "buffer %u: %" PRIu64 " events read, no "
			       "reader ran",
			       b, br->read);
		if (cfg->mode == RBF_MODE_DISCARD && br->overwritten)
			cr_err(chk,
			       "buffer %u: %" PRIu64 " overwritten in "
			       "discard mode",
			       b, br->overwritten);
		if (br->dropped_malformed && !br->dropped_bytes)
			cr_err(chk, "buffer %u: %" PRIu64 " malformed, 0 bytes",
			       b, br->dropped_malformed);
		/* Only multi-writer overwrite buffers may lose committed
		 * events to a cut walk; elsewhere the stream checks stay
		 * exact whatever the walk dropped. */
		cb->drops = br->dropped_malformed || br->bad_subbufs;
		if (cfg->alloc == RBF_ALLOC_PER_THREAD &&
		    br->dropped_uncommitted > CR_LEVELS)
			cr_err(chk,
			       "buffer %u: %" PRIu64 " uncommitted records, "
			       "its thread nests %d deep",
			       b, br->dropped_uncommitted, CR_LEVELS);
		/*
		 * Events recovered minus the committed ones the counters
		 * hold (commit words of undecided sub-buffers): records
		 * marked committed whose commit add the kill prevented, at
		 * most one per writer and level.
		 */
		d = (int64_t)(br->events - (br->written - br->lost -
					    br->overwritten - br->read));
		if (d >= 0)
			r->tot->inflight += (uint64_t)d;
		if (!cb->drops && (d < 0 || d > CR_STREAMS))
			cr_err(chk,
			       "buffer %u: %" PRIu64 " events recovered, "
			       "counters: written %" PRIu64 " lost %" PRIu64
			       " overwritten %" PRIu64 " read %" PRIu64
			       " (difference %" PRId64 ")",
			       b, br->events, br->written, br->lost,
			       br->overwritten, br->read, d);
	}
	sum.size = r->rep.size;
	cr_report_cmp(chk, "rbf_file_check vs sum of buffers", &r->rep, &sum);
	if (r->rep.events != r->evs.n)
		cr_err(chk, "report: %" PRIu64 " events, cursors returned %zu",
		       r->rep.events, r->evs.n);

	/* The file's counters against the publications: each stream has at
	 * most one write in flight (succeeded or failed, unpublished). */
	for (w = 0; w < CR_WRITERS; w++) {
		for (l = 0; l < CR_LEVELS; l++) {
			pub_commit += r->pub->s[w][l].seq1;
			for (c = 0; c < RBF_LOST_NR; c++)
				pub_fail[c] += r->pub->s[w][l].fail[c];
		}
	}
	for (c = 0; c < RBF_LOST_NR; c++) {
		pub_fail_all += pub_fail[c];
		if (file_lost[c] < pub_fail[c])
			cr_err(chk,
			       "lost[%s]: file %" PRIu64 " < %" PRIu64
			       " failures published",
			       rbf_lost_cause_name((enum rbf_lost_cause)c),
			       file_lost[c], pub_fail[c]);
		else
			slack += file_lost[c] - pub_fail[c];
	}
	if (r->rep.lost < pub_fail_all || r->rep.written < r->rep.lost) {
		cr_err(chk,
		       "report: written %" PRIu64 ", lost %" PRIu64 ", %" PRIu64
		       " failures published",
		       r->rep.written, r->rep.lost, pub_fail_all);
		return;
	}
	committed = r->rep.written - r->rep.lost;
	if (committed < pub_commit)
		cr_err(chk,
		       "counters: %" PRIu64 " committed (written %" PRIu64
		       " - lost %" PRIu64 "), %" PRIu64 " published",
		       committed, r->rep.written, r->rep.lost, pub_commit);
	else
		slack += committed - pub_commit;
	if (slack > CR_STREAMS)
		cr_err(chk,
		       "counters exceed the publications by %" PRIu64
		       " writes, %d streams",
		       slack, CR_STREAMS);
	if (cfg->mode == RBF_MODE_DISCARD && r->rep.overwritten)
		cr_err(chk, "discard mode: %" PRIu64 " overwritten",
		       r->rep.overwritten);
}

/* Recover a copy; it must hold exactly the same events, cleanly. */
static void cr_check_recover(struct cr_run *r, const char *out)
{
	struct cr_chk *chk = &r->chk;
	struct rbf_file_report rrep, crep;
	struct rbf_file_error err;
	struct rbf_file_info info;
	struct rbf_file *g = NULL;
	struct cr_evs evs = { NULL, 0, 0 };
	uint64_t *counts;
	uint32_t b;
	size_t i;
	int ret;

	memset(&rrep, 0, sizeof(rrep));
	rrep.size = sizeof(rrep);
	ret = rbf_file_recover(r->f, out, &rrep);
	if (ret) {
		cr_err(chk, "rbf_file_recover: %d", ret);
		return;
	}
	if (rrep.events != r->rep.events)
		cr_err(chk,
		       "recover: report says %" PRIu64 " events, the "
		       "file has %" PRIu64,
		       rrep.events, r->rep.events);
	memset(&err, 0, sizeof(err));
	ret = rbf_file_open(out, &g, &err);
	if (ret) {
		cr_err(chk, "rbf_file_open(recovered): %d: %s", ret, err.msg);
		return;
	}
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	ret = rbf_file_get_info(g, &info);
	if (ret)
		cr_err(chk, "rbf_file_get_info(recovered): %d", ret);
	if (info.state != RBF_FILE_STATE_CLEAN)
		cr_err(chk, "recovered copy: state %d, not clean", info.state);
	if (info.nr_buffers != r->nbuf)
		cr_err(chk, "recovered copy: %u buffers, the file has %u",
		       info.nr_buffers, r->nbuf);
	memset(&crep, 0, sizeof(crep));
	crep.size = sizeof(crep);
	ret = rbf_file_check(g, &crep);
	if (ret)
		cr_err(chk, "rbf_file_check(recovered): %d", ret);
	if (crep.events != r->rep.events || crep.dropped_uncommitted ||
	    crep.dropped_malformed || crep.dropped_bytes || crep.bad_subbufs)
		cr_err(chk,
		       "recovered copy: %" PRIu64 " events (file %" PRIu64
		       "), dropped: %" PRIu64 " uncommitted, %" PRIu64
		       " malformed, %" PRIu64 " bytes, %" PRIu64 " bad "
		       "sub-buffers",
		       crep.events, r->rep.events, crep.dropped_uncommitted,
		       crep.dropped_malformed, crep.dropped_bytes,
		       crep.bad_subbufs);
	if (crep.written - crep.lost - crep.overwritten - crep.read !=
	    crep.events)
		cr_err(chk,
		       "recovered copy: counters written %" PRIu64
		       " lost %" PRIu64 " overwritten %" PRIu64 " read %" PRIu64
		       " do not add up to %" PRIu64 " events",
		       crep.written, crep.lost, crep.overwritten, crep.read,
		       crep.events);
	if (crep.read != r->rep.read || crep.lost != r->rep.lost)
		cr_err(chk,
		       "recovered copy: lost %" PRIu64 " read %" PRIu64
		       ", the file lost %" PRIu64 " read %" PRIu64,
		       crep.lost, crep.read, r->rep.lost, r->rep.read);

	counts = (uint64_t *)calloc(info.nr_buffers + 1, sizeof(*counts));
	cr_assert_not_null(counts);
	cr_walk(chk, g, info.nr_buffers, info.file_size, &evs, counts);
	if (evs.n != r->evs.n)
		cr_err(chk, "recovered copy: %zu events, the file %zu", evs.n,
		       r->evs.n);
	for (i = 0; i < evs.n && i < r->evs.n; i++) {
		const struct cr_ev *a = &r->evs.v[i], *c = &evs.v[i];

		if (a->buffer != c->buffer || a->id != c->id ||
		    a->len != c->len || a->ts != c->ts ||
		    memcmp(a->data, c->data, a->len)) {
			cr_err(chk,
			       "recovered copy: event %zu differs "
			       "(buffer %u/%u id %u/%u len %u/%u ts %" PRIu64
			       "/%" PRIu64 ")",
			       i, a->buffer, c->buffer, a->id, c->id, a->len,
			       c->len, a->ts, c->ts);
			break;
		}
	}
	for (b = 0; b < info.nr_buffers && b < r->nbuf; b++) {
		struct rbf_file_buffer_info bi;

		memset(&bi, 0, sizeof(bi));
		bi.size = sizeof(bi);
		bi.report.size = sizeof(bi.report);
		if (rbf_file_buffer_get_info(g, b, &bi)) {
			cr_err(chk, "recovered copy: buffer %u: no info", b);
			continue;
		}
		if (bi.id != r->bufs[b].info.id ||
		    bi.cpu != r->bufs[b].info.cpu ||
		    bi.tid != r->bufs[b].info.tid)
			cr_err(chk,
			       "recovered copy: buffer %u is id %u cpu %d "
			       "tid %d, was id %u cpu %d tid %d",
			       b, bi.id, bi.cpu, bi.tid, r->bufs[b].info.id,
			       r->bufs[b].info.cpu, r->bufs[b].info.tid);
	}
	r->tot->recovered += evs.n;
	free(evs.v);
	free(counts);
	rbf_file_close(g);
}

/* Open, walk and check the file of a killed writer. */
static void cr_check_file(struct cr_run *r, const char *path, const char *out)
{
	struct cr_chk *chk = &r->chk;
	struct rbf_file_error err;
	unsigned long errors;
	uint64_t *counts, relaxed;
	uint32_t b;
	int ret;

	memset(&err, 0, sizeof(err));
	ret = rbf_file_open(path, &r->f, &err);
	if (ret) {
		cr_err(chk, "rbf_file_open: %d: %s (offset %" PRId64 ")", ret,
		       err.msg, err.offset);
		return;
	}
	memset(&r->info, 0, sizeof(r->info));
	r->info.size = sizeof(r->info);
	ret = rbf_file_get_info(r->f, &r->info);
	if (ret) {
		cr_err(chk, "rbf_file_get_info: %d", ret);
		return;
	}
	if (r->info.state != RBF_FILE_STATE_OPEN || r->info.writer_alive ||
	    r->info.writer_pid != r->pid)
		cr_err(chk,
		       "info: state %d, writer alive %d pid %d (killed "
		       "%d)",
		       r->info.state, r->info.writer_alive, r->info.writer_pid,
		       (int)r->pid);
	if (r->info.mode != r->cfg->mode || r->info.alloc != r->cfg->alloc ||
	    r->info.subbuf_size != r->geom->subbuf_size ||
	    r->info.num_subbuf != r->geom->num_subbuf)
		cr_err(chk, "info: mode %d alloc %d %u x %u", r->info.mode,
		       r->info.alloc, r->info.num_subbuf, r->info.subbuf_size);
	r->nbuf = r->info.nr_buffers;
	if (r->cfg->alloc == RBF_ALLOC_PER_THREAD && r->nbuf != CR_WRITERS)
		cr_err(chk, "per-thread file has %u buffers, %d writers",
		       r->nbuf, CR_WRITERS);
	if (r->cfg->alloc == RBF_ALLOC_GLOBAL && r->nbuf != 1)
		cr_err(chk, "global file has %u buffers", r->nbuf);

	memset(&r->rep, 0, sizeof(r->rep));
	r->rep.size = sizeof(r->rep);
	ret = rbf_file_check(r->f, &r->rep);
	if (ret)
		cr_err(chk, "rbf_file_check: %d", ret);

	r->bufs = (struct cr_buf *)calloc(r->nbuf + 1, sizeof(*r->bufs));
	counts = (uint64_t *)calloc(r->nbuf + 1, sizeof(*counts));
	cr_assert(r->bufs && counts);
	for (b = 0; b < r->nbuf; b++) {
		struct rbf_file_buffer_info *bi = &r->bufs[b].info;

		bi->size = sizeof(*bi);
		bi->report.size = sizeof(bi->report);
		ret = rbf_file_buffer_get_info(r->f, b, bi);
		if (ret)
			cr_err(chk, "rbf_file_buffer_get_info(%u): %d", b, ret);
	}
	cr_walk(chk, r->f, r->nbuf, r->info.file_size, &r->evs, counts);
	cr_check_counts(r, counts);
	cr_check_events(r);
	relaxed = r->tot->relaxed;
	errors = chk->errors;
	cr_check_streams(r);
	cr_check_recover(r, out);

	r->tot->events += r->evs.n;
	r->tot->uncommitted += r->rep.dropped_uncommitted;
	r->tot->malformed += r->rep.dropped_malformed;
	r->tot->dropped_bytes += r->rep.dropped_bytes;
	r->tot->bad_subbufs += r->rep.bad_subbufs;
	if (r->rep.dropped_malformed || r->rep.bad_subbufs) {
		r->tot->malformed_kills++;
		if (r->tot->relaxed == relaxed && chk->errors == errors)
			r->tot->benign_drops++;
	}
	r->tot->lost += r->rep.lost;
	r->tot->overwritten += r->rep.overwritten;
	free(counts);
}

/* ---------------------------------------------------------------------- */
/* One kill.                                                               */

static uint64_t cr_rng_state;

static uint64_t cr_random(void)
{
	return st_rand(&cr_rng_state);
}

static void cr_one_kill(const struct cr_cfg *cfg, struct cr_tot *tot,
			const char *dir, unsigned int kill_no, int verbose)
{
	struct cr_run r;
	char path[640], out[640];
	uint64_t deadline, delay_us;
	unsigned int w, l;
	pid_t pid;
	int status = 0;

	memset(&r, 0, sizeof(r));
	r.cfg = cfg;
	r.geom = &cfg->geom[kill_no & 1];
	r.tot = tot;
	r.chk.cfg = cfg;
	r.chk.kill = kill_no;
	for (w = 0; w < CR_WRITERS; w++)
		for (l = 0; l < CR_LEVELS; l++)
			r.seqs[w][l].buffer = -1;
	snprintf(path, sizeof(path), "%s/ring-%u.rbf", dir, kill_no);
	snprintf(out, sizeof(out), "%s/recovered-%u.rbf", dir, kill_no);
	r.pub = (struct cr_pub *)mmap(NULL, sizeof(*r.pub),
				      PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(r.pub, MAP_FAILED, "mmap: %d", errno);

	/* Watchdog of this kill (the walk must end too). */
	alarm(120);
	r.t_fork = th_now_ns();
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %d", errno);
	if (pid == 0)
		cr_child_main(cfg, r.geom, r.pub, path, getppid());
	r.pid = pid;

	/* Until every writer wrote; the child fails loudly otherwise. */
	deadline = th_now_ns() + 20000000000ull;
	while (__atomic_load_n(&r.pub->stage, __ATOMIC_ACQUIRE) < 2) {
		pid_t got = waitpid(pid, &status, WNOHANG);

		if (got == pid) {
			cr_assert_fail("%s: writer exited (status %#x) before "
				       "writing: %s",
				       cfg->name, status,
				       r.pub->setup_err ? r.pub->msg : "?");
		}
		if (th_now_ns() > deadline) {
			if (getenv("RBF_CRASH_GDB")) {
				char cmd[128];

				snprintf(cmd, sizeof(cmd),
					 "gdb -p %d -batch -ex 'thread apply "
					 "all bt' >&2",
					 (int)pid);
				if (system(cmd))
					fprintf(stderr, "gdb failed\n");
			}
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			cr_assert_fail("%s: writer did not start in 20 s: %s",
				       cfg->name, r.pub->msg);
		}
		th_sleep_us(200);
	}
	delay_us = 1000 + cr_random() % 29000;
	th_sleep_us(delay_us);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	r.t_dead = th_now_ns();
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		  "%s: writer status %#x, not killed (%s)", cfg->name, status,
		  r.pub->setup_err ? r.pub->msg : "");

	cr_check_file(&r, path, out);
	alarm(0);

	tot->kills++;
	tot->ns += th_now_ns() - r.t_fork;
	tot->signals += r.pub->signals;
	tot->delay_us += delay_us;
	if (verbose)
		fprintf(stderr,
			"crash %s kill %u: %.1f ms, %zu events, %" PRIu64
			" signals, dropped %" PRIu64 " uncommitted %" PRIu64
			" malformed %" PRIu64 " bytes %" PRIu64
			" bad, lost %" PRIu64 " overwritten %" PRIu64 "\n",
			cfg->name, kill_no, delay_us / 1000.0, r.evs.n,
			r.pub->signals, r.rep.dropped_uncommitted,
			r.rep.dropped_malformed, r.rep.dropped_bytes,
			r.rep.bad_subbufs, r.rep.lost, r.rep.overwritten);

	if (r.f)
		rbf_file_close(r.f);
	for (w = 0; w < CR_WRITERS; w++)
		for (l = 0; l < CR_LEVELS; l++)
			free(r.seqs[w][l].v);
	free(r.evs.v);
	free(r.bufs);
	munmap(r.pub, sizeof(*r.pub));
	if (r.chk.errors) {
		fprintf(stderr,
			"crash %s kill %u: %lu errors; files kept: %s "
			"(and %s)\n",
			cfg->name, kill_no, r.chk.errors, path, out);
		cr_assert_fail("%s kill %u: %lu errors, first: %s (file %s)",
			       cfg->name, kill_no, r.chk.errors, r.chk.first,
			       path);
	}
	unlink(path);
	unlink(out);
}

static unsigned int cr_kills_per_config(void)
{
	double total = th_env_double("RBF_CRASH_KILLS", CR_KILLS_DEFAULT);
	unsigned int n = (unsigned int)((total + CR_CONFIGS - 1) / CR_CONFIGS);

	return n ? n : 1;
}

static void cr_summary(const struct cr_cfg *cfg, const struct cr_tot *t,
		       unsigned int g, uint64_t seed)
{
	fprintf(stderr,
		"crash %s, %u x %u: %u kills (%.1f s, mean delay %.1f ms, "
		"seed %#" PRIx64 ")\n"
		"  events: %" PRIu64 " verified, %" PRIu64 " in the recovered "
		"copies, %" PRIu64 " committed but unpublished, %" PRIu64
		" marked but uncounted\n"
		"  dropped: %" PRIu64 " uncommitted records; %" PRIu64
		" malformed tails and %" PRIu64 " bad sub-buffers (%" PRIu64
		" bytes in all) in %" PRIu64 " kills, %" PRIu64 " of them "
		"with every committed event recovered; %" PRIu64 " streams "
		"excused by such a drop\n"
		"  writer: %" PRIu64 " lost, %" PRIu64 " overwritten, %" PRIu64
		" signals; newest event checked in %" PRIu64 " streams\n",
		cfg->name, cfg->geom[g].num_subbuf, cfg->geom[g].subbuf_size,
		t->kills, t->ns / 1e9,
		t->kills ? t->delay_us / 1000.0 / t->kills : 0.0, seed,
		t->events, t->recovered, t->plus1, t->inflight, t->uncommitted,
		t->malformed, t->bad_subbufs, t->dropped_bytes,
		t->malformed_kills, t->benign_drops, t->relaxed, t->lost,
		t->overwritten, t->signals, t->newest_checked);
}

static void crash(const struct cr_cfg *cfg)
{
	const char *tmp = getenv("TMPDIR");
	unsigned int kills = cr_kills_per_config(), k, g;
	int verbose = getenv("RBF_CRASH_VERBOSE") != NULL;
	const char *seed_env = getenv("RBF_CRASH_SEED");
	uint64_t seed;
	struct cr_tot tot[2];
	char dir[512];

	snprintf(dir, sizeof(dir), "%s/rbf-crash-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp(%s): %d", dir, errno);
	seed = seed_env ? strtoull(seed_env, NULL, 0) :
			  th_now_ns() ^ (uint64_t)getpid() << 32;
	cr_rng_state = seed ? seed : 1;
	memset(tot, 0, sizeof(tot));
	for (k = 0; k < kills; k++)
		cr_one_kill(cfg, &tot[k & 1], dir, k, verbose);
	rmdir(dir);

	for (g = 0; g < 2; g++)
		cr_summary(cfg, &tot[g], g, seed);
	cr_assert_eq(tot[0].kills + tot[1].kills, kills);
	cr_assert_gt(tot[0].events + tot[1].events, 0u,
		     "%s: no event recovered at all", cfg->name);
	cr_assert_gt(tot[0].signals + tot[1].signals, 0u);
	if (cfg->mode == RBF_MODE_OVERWRITE)
		cr_assert_gt(tot[0].overwritten + tot[1].overwritten, 0u,
			     "%s: the rings never wrapped", cfg->name);
}

/* ---------------------------------------------------------------------- */
/* Targeted: the opener of a sub-buffer killed before writing its header. */

/*
 * A reservation that crosses into a new sub-buffer moves the write
 * position first (the CAS), and only then closes the old sub-buffer and
 * writes the new one's header (frontend/write.c, reserve_switch).  A signal
 * handler on that thread - or, on a multi-writer buffer, any other thread -
 * may reserve and commit an event in the new sub-buffer in between.  Here
 * the writer's SIGUSR1 handler looks at the file through a second, read-only
 * mapping: when the write position lies in a sub-buffer whose header does
 * not name it yet, the interrupted write is in that window; the handler
 * then writes one event B (rbf_write returns 0: B is committed) and kills
 * the process.  B must be recovered.  The window opens mostly on the page
 * fault of the first store into the new sub-buffer (its header), when the
 * kernel delivers the pending signal.  Two cases: the buffer's first
 * sub-buffer (the thread's very first write), and a later one.
 */

#define OK_EVENT_ID 999

struct ok_shared {
	int stage;
	int hit;
	int b_ret;
	uint64_t pos; /* write position the handler saw */
	uint64_t tries; /* handler calls */
	char msg[200];
};

static struct {
	struct rbf_channel *ch;
	struct ok_shared *sh;
	const struct rbf_ctl *ctl;
	const uint64_t *links;
	const unsigned char *data;
	uint32_t subbuf_size, num_subbuf;
	int first; /* the window of sub-buffer 0, else of a later one */
} ok;

/* Is the write position in a sub-buffer whose header is not written yet? */
static int ok_in_window(uint64_t *pos)
{
	uint64_t o = __atomic_load_n(&ok.ctl->offset, __ATOMIC_ACQUIRE);
	uint64_t seq = o / ok.subbuf_size, l;
	const struct rbf_subbuf_header *h;

	*pos = o;
	if (!(o % ok.subbuf_size) || (seq == 0) != ok.first)
		return 0;
	l = __atomic_load_n(&ok.links[seq % ok.num_subbuf], __ATOMIC_ACQUIRE);
	if (!rbf_link_tag_is(l, seq))
		return 1; /* its slot is not even taken yet */
	h = (const struct rbf_subbuf_header *)(ok.data +
					       (uint64_t)rbf_link_phys(l) *
						       ok.subbuf_size);
	return __atomic_load_n(&h->magic, __ATOMIC_RELAXED) !=
		       RBF_SUBBUF_MAGIC ||
	       __atomic_load_n(&h->seq, __ATOMIC_RELAXED) != seq;
}

static void ok_handler(int sig)
{
	uint64_t b[(TH_EVENT_SIZE + 24) / 8];
	uint64_t pos;

	(void)sig;
	cr_store(&ok.sh->tries, ok.sh->tries + 1);
	if (!ok_in_window(&pos))
		return;
	th_event_make(b, sizeof(b), 1, 1, 0);
	ok.sh->pos = pos;
	ok.sh->b_ret = rbf_write(ok.ch, OK_EVENT_ID, b, sizeof(b));
	__atomic_store_n(&ok.sh->hit, 1, __ATOMIC_RELEASE);
	raise(SIGKILL);
}

static void *ok_sender(void *arg)
{
	pthread_t target = *(pthread_t *)arg;
	uint64_t rng = th_now_ns();

	for (;;) {
		unsigned int spin = (unsigned int)(st_rand(&rng) & 1023);

		pthread_kill(target, SIGUSR1);
		while (spin--)
			__asm__ volatile("" ::: "memory");
	}
	return NULL;
}

static __attribute__((noreturn, format(printf, 2, 3))) void
ok_fail(struct ok_shared *sh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sh->msg, sizeof(sh->msg), fmt, ap);
	va_end(ap);
	_exit(3);
}

static __attribute__((noreturn)) void ok_child(enum rbf_alloc alloc,
					       enum rbf_mode mode, int first,
					       struct ok_shared *sh,
					       const char *path, pid_t parent)
{
	static pthread_t self;
	struct rbf_mmap_file_config fcfg;
	struct rbf_channel_attr attr;
	const struct rbf_file_header *fh;
	const struct rbf_file_slot *slot = NULL;
	struct sigaction sa;
	pthread_t sender;
	uint64_t buf[64], seq = 0;
	uint32_t i;
	sigset_t set;
	void *map;
	int fd, cpu = -1, ret;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(4);
	ok.sh = sh;
	ok.first = first;
	ok.subbuf_size = 4096;
	ok.num_subbuf = first ? 4 : 1024;
	if (alloc == RBF_ALLOC_PER_CPU) {
		cpu = th_nth_cpu(0);
		if (cpu < 0 || th_pin_cpu(cpu))
			ok_fail(sh, "cannot pin to CPU %d", cpu);
	}
	rbf_mmap_file_config_init(&fcfg);
	fcfg.path = path;
	fcfg.max_buffers = 2;
	rbf_channel_attr_init(&attr);
	attr.backend = &rbf_backend_mmap_file;
	attr.backend_config = &fcfg;
	attr.mode = mode;
	attr.alloc = alloc;
	attr.subbuf_size = ok.subbuf_size;
	attr.num_subbuf = ok.num_subbuf;
	ret = rbf_channel_create(&attr, &ok.ch);
	if (!ret)
		ret = rbf_thread_prepare(ok.ch);
	if (ret)
		ok_fail(sh, "channel: %d", ret);

	/* A second, read-only view of the file: the same page cache. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		ok_fail(sh, "open: %d", errno);
	map = mmap(NULL, (size_t)lseek(fd, 0, SEEK_END), PROT_READ, MAP_SHARED,
		   fd, 0);
	if (map == MAP_FAILED)
		ok_fail(sh, "mmap: %d", errno);
	fh = (const struct rbf_file_header *)map;
	for (i = 0; i < fh->max_buffers; i++) {
		const struct rbf_file_slot *s =
			(const struct rbf_file_slot *)((const char *)map +
						       fh->table_off) +
			i;

		if (s->state == RBF_SLOT_LIVE && (cpu < 0 || s->cpu == cpu)) {
			slot = s;
			break;
		}
	}
	if (!slot)
		ok_fail(sh, "no buffer slot for CPU %d", cpu);
	ok.ctl = (const struct rbf_ctl *)((const char *)map + slot->ctl_off);
	ok.links = (const uint64_t *)((const char *)ok.ctl + ok.ctl->link_off);
	ok.data = (const unsigned char *)map + slot->data_off;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ok_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGUSR1, &sa, NULL))
		ok_fail(sh, "sigaction: %d", errno);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	self = pthread_self();
	/* The sender inherits the mask: only this thread takes SIGUSR1. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&sender, NULL, ok_sender, &self))
		ok_fail(sh, "pthread_create");
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	__atomic_store_n(&sh->stage, 1, __ATOMIC_RELEASE);

	/* Events of up to 1/8 sub-buffer: a switch every few writes, until
	 * the ring is full (no reader: discard mode fills it). */
	for (;;) {
		size_t len = TH_EVENT_SIZE + (size_t)(seq * 337 % 480);

		th_event_make(buf, len, 0, 0, seq);
		ret = rbf_write(ok.ch, 1, buf, len);
		if (ret == -ENOBUFS || (first && !ret))
			_exit(5); /* past the window without a hit */
		if (!ret)
			seq++;
	}
}

static void opener_killed(enum rbf_alloc alloc, enum rbf_mode mode, int first,
			  const char *name)
{
	const char *tmp = getenv("TMPDIR");
	struct ok_shared *sh;
	struct rbf_file_report rep;
	struct rbf_file_error err;
	struct rbf_file_info info;
	struct rbf_file *f = NULL;
	char dir[512], path[640];
	uint64_t found = 0, events = 0;
	unsigned int tries;
	uint32_t b;
	int status = 0, ret;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/rbf-crash-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/opener.rbf", dir);
	sh = (struct ok_shared *)mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(sh, MAP_FAILED);
	/* A try takes a few ms: one write (first), or filling a 4 MiB ring
	 * (later), where the window is hit in most tries. */
	alarm(120);
	for (tries = 0; tries < 2000; tries++) {
		memset(sh, 0, sizeof(*sh));
		unlink(path);
		fflush(NULL);
		pid = fork();
		cr_assert_geq(pid, 0);
		if (!pid)
			ok_child(alloc, mode, first, sh, path, getppid());
		cr_assert_eq(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 5)
			continue;
		break;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 5) {
		/* The window is a race: it was not hit this time.  Say so
		 * (a skip, not a pass); the random-kill tests still ran. */
		alarm(0);
		unlink(path);
		rmdir(dir);
		cr_skip_test("%s: the window was not hit in %u runs", name,
			     tries);
	}
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && sh->hit,
		  "%s: writer status %#x (%s), window %s after %u runs", name,
		  status, sh->msg, sh->hit ? "hit" : "never hit", tries + 1);
	alarm(0);
	cr_assert_eq(sh->b_ret, 0, "%s: rbf_write(B) in the window: %d", name,
		     sh->b_ret);

	memset(&err, 0, sizeof(err));
	ret = rbf_file_open(path, &f, &err);
	cr_assert_eq(ret, 0, "%s: rbf_file_open: %d: %s", name, ret, err.msg);
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	cr_assert_eq(rbf_file_get_info(f, &info), 0);
	memset(&rep, 0, sizeof(rep));
	rep.size = sizeof(rep);
	cr_assert_eq(rbf_file_check(f, &rep), 0);
	for (b = 0; b < info.nr_buffers; b++) {
		struct rbf_file_cursor cur;
		struct rbf_file_event ev;
		struct th_event e;

		cr_assert_eq(rbf_file_cursor_init(f, b, &cur), 0);
		while ((ret = rbf_file_cursor_next(f, &cur, &ev)) == 1) {
			events++;
			cr_assert_eq(th_event_verify(ev.data, ev.len, &e), 0,
				     "%s: corrupt event", name);
			if (ev.id == OK_EVENT_ID)
				found++;
		}
		cr_assert_eq(ret, 0);
	}
	fprintf(stderr,
		"crash %s: B written at position %" PRIu64
		" (sub-buffer %" PRIu64 " + %" PRIu64 "), run %u, %" PRIu64
		" signals: %s; "
		"%" PRIu64 " events, dropped %" PRIu64 " uncommitted, %" PRIu64
		" malformed, %" PRIu64 " bad sub-buffers (%" PRIu64 " bytes)\n",
		name, sh->pos, sh->pos / 4096, sh->pos % 4096, tries + 1,
		sh->tries, found ? "recovered" : "LOST", events,
		rep.dropped_uncommitted, rep.dropped_malformed, rep.bad_subbufs,
		rep.dropped_bytes);
	cr_assert_eq(found, 1, "%s: committed event B %s (file %s)", name,
		     found ? "returned twice" : "not recovered", path);
	rbf_file_close(f);
	unlink(path);
	rmdir(dir);
	munmap(sh, sizeof(*sh));
}

Test(crash, opener_killed_first_per_thread, .timeout = CR_TIMEOUT)
{
	opener_killed(RBF_ALLOC_PER_THREAD, RBF_MODE_DISCARD, 1,
		      "opener killed, first sub-buffer, per-thread");
}

Test(crash, opener_killed_first_per_cpu, .timeout = CR_TIMEOUT)
{
	opener_killed(RBF_ALLOC_PER_CPU, RBF_MODE_DISCARD, 1,
		      "opener killed, first sub-buffer, per-cpu");
}

Test(crash, opener_killed_first_global, .timeout = CR_TIMEOUT)
{
	opener_killed(RBF_ALLOC_GLOBAL, RBF_MODE_DISCARD, 1,
		      "opener killed, first sub-buffer, global");
}

Test(crash, opener_killed_later_per_thread, .timeout = CR_TIMEOUT)
{
	opener_killed(RBF_ALLOC_PER_THREAD, RBF_MODE_DISCARD, 0,
		      "opener killed, later sub-buffer, per-thread");
}

Test(crash, opener_killed_later_per_cpu, .timeout = CR_TIMEOUT)
{
	opener_killed(RBF_ALLOC_PER_CPU, RBF_MODE_DISCARD, 0,
		      "opener killed, later sub-buffer, per-cpu");
}

Test(crash, opener_killed_later_global, .timeout = CR_TIMEOUT)
{
	opener_killed(RBF_ALLOC_GLOBAL, RBF_MODE_DISCARD, 0,
		      "opener killed, later sub-buffer, global");
}

/*
 * Geometries.  Discard: 4 MiB rings, which the writers do not fill in the
 * time before most kills (filling loses nothing committed: -ENOBUFS), as
 * 32 x 128 KiB and as 8192 x 512 bytes, where nearly every few events open
 * a sub-buffer.  Overwrite: 4 x 4 KiB and 8 x 512 bytes, wrapping many
 * times.
 */
#define CR_DISCARD_GEOMS            \
	{                           \
		{ 128u << 10, 32 }, \
		{                   \
			512, 8192   \
		}                   \
	}
#define CR_OVERWRITE_GEOMS     \
	{                      \
		{ 4096, 4 },   \
		{              \
			512, 8 \
		}              \
	}

Test(crash, per_thread_discard, .timeout = CR_TIMEOUT)
{
	static const struct cr_cfg cfg = { "per-thread discard",
					   RBF_MODE_DISCARD,
					   RBF_ALLOC_PER_THREAD,
					   CR_DISCARD_GEOMS };

	crash(&cfg);
}

Test(crash, per_thread_overwrite, .timeout = CR_TIMEOUT)
{
	static const struct cr_cfg cfg = { "per-thread overwrite",
					   RBF_MODE_OVERWRITE,
					   RBF_ALLOC_PER_THREAD,
					   CR_OVERWRITE_GEOMS };

	crash(&cfg);
}

Test(crash, per_cpu_discard, .timeout = CR_TIMEOUT)
{
	static const struct cr_cfg cfg = { "per-cpu discard", RBF_MODE_DISCARD,
					   RBF_ALLOC_PER_CPU,
					   CR_DISCARD_GEOMS };

	crash(&cfg);
}

Test(crash, per_cpu_overwrite, .timeout = CR_TIMEOUT)
{
	static const struct cr_cfg cfg = { "per-cpu overwrite",
					   RBF_MODE_OVERWRITE,
					   RBF_ALLOC_PER_CPU,
					   CR_OVERWRITE_GEOMS };

	crash(&cfg);
}

Test(crash, global_discard, .timeout = CR_TIMEOUT)
{
	static const struct cr_cfg cfg = { "global discard", RBF_MODE_DISCARD,
					   RBF_ALLOC_GLOBAL, CR_DISCARD_GEOMS };

	crash(&cfg);
}

Test(crash, global_overwrite, .timeout = CR_TIMEOUT)
{
	static const struct cr_cfg cfg = { "global overwrite",
					   RBF_MODE_OVERWRITE, RBF_ALLOC_GLOBAL,
					   CR_OVERWRITE_GEOMS };

	crash(&cfg);
}
