/* SPDX-License-Identifier: MIT */
/*
 * tests/helpers.h - shared helpers of the rbf test suites.
 *
 * Static inline functions only (no file-scope objects), so that every test
 * program can include it whatever subset it uses.  Contents:
 *  - th_*: checksums, the test event payload, channel creation, draining,
 *    a decoder of the sub-buffer format written from rbf/format.h alone,
 *    CPU pinning, environment knobs;
 *  - st_*: the "storm" engine shared by test_signal.c and test_torture.c:
 *    writer threads, a thread sending signals whose handlers write nested
 *    events, concurrent readers verifying every event, and the final exact
 *    accounting.
 *
 * Helpers that may run outside the test's main thread never call cr_assert
 * (a failed Criterion assertion must not unwind another thread); they
 * return an error code or record an error in the run.
 */
#ifndef RBF_TESTS_HELPERS_H
#define RBF_TESTS_HELPERS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <rbf/rbf.h>

#define TH_HDR_SIZE ((uint32_t)sizeof(struct rbf_subbuf_header))
#define TH_REC_SIZE ((uint32_t)sizeof(struct rbf_record_header))
#define TH_REC_EXT_SIZE ((uint32_t)sizeof(struct rbf_record_header_ext))

/* Bytes a record of @len payload bytes occupies with the extended header. */
static inline uint32_t th_ext_slot(uint32_t len)
{
	return RBF_ALIGN(TH_REC_EXT_SIZE + len, RBF_REC_ALIGN);
}

/* Bytes a record of @len payload bytes occupies with the compact header. */
static inline uint32_t th_compact_slot(uint32_t len)
{
	return RBF_ALIGN(TH_REC_SIZE + len, RBF_REC_ALIGN);
}

/* ---------------------------------------------------------------------- */
/* Checksum: 64-bit FNV-1a.                                                */

#define TH_FNV_OFFSET 0xcbf29ce484222325ull
#define TH_FNV_PRIME 0x100000001b3ull

static inline uint64_t th_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = (const unsigned char *)p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= c[i];
		h *= TH_FNV_PRIME;
	}
	return h;
}

static inline uint64_t th_fnv1a_u64(uint64_t h, uint64_t v)
{
	return th_fnv1a(h, &v, sizeof(v));
}

/* ---------------------------------------------------------------------- */
/* Test event payload.                                                     */

/*
 * struct th_event - head of every test event payload.
 * @writer: writer (thread) number.
 * @nest:   nesting level it was written at (0 = thread context).
 * @seq:    sequence number within the (writer, nest) stream.
 * @check:  FNV-1a of writer, nest, seq, the payload length and every byte
 *          after this header.
 *
 * Bytes after the header follow th_pattern_byte().
 */
struct th_event {
	uint32_t writer;
	uint32_t nest;
	uint64_t seq;
	uint64_t check;
};

#define TH_EVENT_SIZE ((uint32_t)sizeof(struct th_event))

static inline uint8_t th_pattern_byte(uint64_t seed, size_t k)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + (uint64_t)k * 0x2545f491ull;

	return (uint8_t)(x >> 56 ^ x >> 17 ^ k);
}

static inline void th_fill_pattern(void *buf, size_t len, uint64_t seed)
{
	uint8_t *b = (uint8_t *)buf;
	size_t k;

	for (k = 0; k < len; k++)
		b[k] = th_pattern_byte(seed, k);
}

/* Return: -1 when @buf matches the pattern, else the first bad offset. */
static inline long th_check_pattern(const void *buf, size_t len, uint64_t seed)
{
	const uint8_t *b = (const uint8_t *)buf;
	size_t k;

	for (k = 0; k < len; k++)
		if (b[k] != th_pattern_byte(seed, k))
			return (long)k;
	return -1;
}

static inline uint64_t th_event_seed(uint32_t writer, uint32_t nest,
				     uint64_t seq)
{
	return seq ^ (uint64_t)writer << 40 ^ (uint64_t)nest << 56;
}

static inline uint64_t th_event_sum(const struct th_event *e, const void *rest,
				    size_t rest_len)
{
	uint64_t h = TH_FNV_OFFSET;

	h = th_fnv1a_u64(h, e->writer);
	h = th_fnv1a_u64(h, e->nest);
	h = th_fnv1a_u64(h, e->seq);
	h = th_fnv1a_u64(h, rest_len);
	return th_fnv1a(h, rest, rest_len);
}

/*
 * th_event_make() - build a test event payload of @len bytes
 * (@len >= TH_EVENT_SIZE) in @buf.  Async-signal-safe.
 */
static inline void th_event_make(void *buf, size_t len, uint32_t writer,
				 uint32_t nest, uint64_t seq)
{
	struct th_event e;
	uint8_t *rest = (uint8_t *)buf + TH_EVENT_SIZE;
	size_t rest_len = len - TH_EVENT_SIZE;

	e.writer = writer;
	e.nest = nest;
	e.seq = seq;
	th_fill_pattern(rest, rest_len, th_event_seed(writer, nest, seq));
	e.check = th_event_sum(&e, rest, rest_len);
	memcpy(buf, &e, sizeof(e));
}

/*
 * th_event_verify() - check a payload built by th_event_make().
 * Return: 0 and *@out filled, -1 too short, -2 bad checksum, -3 bad pattern.
 */
static inline int th_event_verify(const void *data, size_t len,
				  struct th_event *out)
{
	const uint8_t *rest;
	size_t rest_len;

	if (len < TH_EVENT_SIZE || !data)
		return -1;
	memcpy(out, data, sizeof(*out));
	rest = (const uint8_t *)data + TH_EVENT_SIZE;
	rest_len = len - TH_EVENT_SIZE;
	if (th_event_sum(out, rest, rest_len) != out->check)
		return -2;
	if (th_check_pattern(rest, rest_len,
			     th_event_seed(out->writer, out->nest, out->seq)) >= 0)
		return -3;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Environment, time, threads, CPUs.                                       */

static inline double th_env_double(const char *name, double def)
{
	const char *s = getenv(name);
	char *end;
	double v;

	if (!s || !*s)
		return def;
	v = strtod(s, &end);
	if (end == s || v <= 0)
		return def;
	return v;
}

static inline uint64_t th_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void th_sleep_us(unsigned long us)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(us / 1000000);
	ts.tv_nsec = (long)(us % 1000000) * 1000;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static inline pid_t th_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Number of possible CPUs, from /sys/devices/system/cpu/possible. */
static inline int th_possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	int max = -1;
	char line[256];
	char *p;

	if (!f)
		return (int)sysconf(_SC_NPROCESSORS_CONF);
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return (int)sysconf(_SC_NPROCESSORS_CONF);
	}
	fclose(f);
	/* "0-3" or "0,2-5": the highest number + 1. */
	for (p = line; *p;) {
		char *end;
		long v;

		if (*p < '0' || *p > '9') {
			p++; /* '-', ',' or the newline */
			continue;
		}
		v = strtol(p, &end, 10);
		if (v > max)
			max = (int)v;
		p = end;
	}
	return max + 1;
}

/* CPUs this process may run on, in @set; return how many. */
static inline int th_allowed_cpus(cpu_set_t *set)
{
	CPU_ZERO(set);
	if (sched_getaffinity(0, sizeof(*set), set))
		return 1;
	return CPU_COUNT(set);
}

/* The @n-th allowed CPU (wrapping), or -1. */
static inline int th_nth_cpu(int n)
{
	cpu_set_t set;
	int cnt = th_allowed_cpus(&set), i, k = 0;

	if (cnt <= 0)
		return -1;
	n %= cnt;
	for (i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &set))
			continue;
		if (k++ == n)
			return i;
	}
	return -1;
}

/* Pin the calling thread to @cpu.  Return 0 or -errno. */
static inline int th_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return -errno;
	return 0;
}

/* Does /proc/cpuinfo announce an invariant TSC? */
static inline int th_tsc_invariant(void)
{
#if defined(__x86_64__) || defined(__i386__)
	FILE *f = fopen("/proc/cpuinfo", "r");
	char *line = NULL;
	size_t cap = 0;
	int constant = 0, nonstop = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "flags", 5))
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	free(line);
	fclose(f);
	return constant && nonstop;
#else
	return 0;
#endif
}

/* ---------------------------------------------------------------------- */
/* Channels.                                                               */

/* A fresh directory ${TMPDIR:-/tmp}/rbf-@tag-XXXXXX, its name in @dir. */
static inline void th_tmpdir(char *dir, size_t n, const char *tag)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, n, "%s/rbf-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
	cr_assert_not_null(mkdtemp(dir), "mkdtemp(%s): %s", dir,
			   strerror(errno));
}

/* Remove @dir and everything in it. */
static inline void th_tmpdir_remove(const char *dir)
{
	char cmd[320];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Backends that need a configuration per channel (mmap-file: a path) set
 * this; th_attr() asks it for one for each channel. */
static const void *(*th_backend_config)(const struct rbf_backend *be);

static inline void th_attr(struct rbf_channel_attr *attr, enum rbf_mode mode,
			   enum rbf_alloc alloc, enum rbf_clock clock,
			   const struct rbf_backend *backend,
			   uint32_t subbuf_size, uint32_t num_subbuf)
{
	rbf_channel_attr_init(attr);
	attr->mode = mode;
	attr->alloc = alloc;
	attr->clock = clock;
	attr->backend = backend;
	attr->subbuf_size = subbuf_size;
	attr->num_subbuf = num_subbuf;
	if (backend && th_backend_config)
		attr->backend_config = th_backend_config(backend);
}

/* Create a channel or fail the test. */
static inline struct rbf_channel *
th_channel(enum rbf_mode mode, enum rbf_alloc alloc, enum rbf_clock clock,
	   const struct rbf_backend *backend, uint32_t subbuf_size,
	   uint32_t num_subbuf)
{
	struct rbf_channel_attr attr;
	struct rbf_channel *ch = NULL;
	int ret;

	th_attr(&attr, mode, alloc, clock, backend, subbuf_size, num_subbuf);
	ret = rbf_channel_create(&attr, &ch);
	cr_assert_eq(ret, 0, "rbf_channel_create(mode %d alloc %d clock %d "
		     "%u x %u): %d", mode, alloc, clock, num_subbuf,
		     subbuf_size, ret);
	cr_assert_not_null(ch);
	return ch;
}

static inline struct rbf_stats th_stats(struct rbf_channel *ch)
{
	struct rbf_stats st;
	int ret;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	ret = rbf_channel_stats(ch, &st);
	cr_assert_eq(ret, 0, "rbf_channel_stats: %d", ret);
	return st;
}

static inline struct rbf_stats th_buffer_stats(struct rbf_buffer *buf)
{
	struct rbf_stats st;
	int ret;

	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	ret = rbf_buffer_stats(buf, &st);
	cr_assert_eq(ret, 0, "rbf_buffer_stats: %d", ret);
	return st;
}

/* Assert the internal consistency of a statistics snapshot. */
static inline void th_assert_identity(const struct rbf_stats *st,
				      const char *what)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < RBF_LOST_NR; i++)
		sum += st->lost[i];
	cr_assert_eq(st->lost_total, sum, "%s: lost_total %" PRIu64
		     " != sum of causes %" PRIu64, what, st->lost_total, sum);
	cr_assert_eq(st->written, st->committed + st->lost_total,
		     "%s: written %" PRIu64 " != committed %" PRIu64
		     " + lost %" PRIu64, what, st->written, st->committed,
		     st->lost_total);
	cr_assert_eq(st->written,
		     st->read + st->overwritten + st->lost_total + st->buffered,
		     "%s: written %" PRIu64 " != read %" PRIu64
		     " + overwritten %" PRIu64 " + lost %" PRIu64
		     " + buffered %" PRIu64, what, st->written, st->read,
		     st->overwritten, st->lost_total, st->buffered);
}

/* List the channel's buffers into @bufs (capacity @cap); return count. */
static inline int th_buffers(struct rbf_channel *ch, struct rbf_buffer **bufs,
			     size_t cap)
{
	int n = rbf_channel_buffers(ch, bufs, cap);

	cr_assert_geq(n, 0, "rbf_channel_buffers: %d", n);
	cr_assert_leq((size_t)n, cap, "more buffers (%d) than expected", n);
	return n;
}

/* The only buffer of a global channel. */
static inline struct rbf_buffer *th_global_buffer(struct rbf_channel *ch)
{
	struct rbf_buffer *bufs[2] = { NULL, NULL };
	int n = rbf_channel_buffers(ch, bufs, 2);

	cr_assert_eq(n, 1, "global channel has %d buffers", n);
	cr_assert_not_null(bufs[0]);
	return bufs[0];
}

/* ---------------------------------------------------------------------- */
/* Collecting events.                                                      */

struct th_rec {
	uint64_t ts;
	uint16_t id;
	uint32_t len;
	uint64_t subbuf_seq;
	struct rbf_buffer *buffer;
	uint8_t *data; /* malloc'ed copy */
};

struct th_recs {
	struct th_rec *v;
	size_t n, cap;
};

static inline void th_recs_push(struct th_recs *r, const struct rbf_event *ev)
{
	struct th_rec *x;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->v = (struct th_rec *)realloc(r->v, r->cap * sizeof(*r->v));
		cr_assert_not_null(r->v);
	}
	x = &r->v[r->n++];
	x->ts = ev->ts;
	x->id = ev->id;
	x->len = ev->len;
	x->subbuf_seq = ev->subbuf_seq;
	x->buffer = ev->buffer;
	x->data = (uint8_t *)malloc(ev->len ? ev->len : 1);
	cr_assert_not_null(x->data);
	if (ev->len) {
		cr_assert_not_null(ev->data, "event with len %u has no data",
				   ev->len);
		memcpy(x->data, ev->data, ev->len);
	}
}

static inline void th_recs_free(struct th_recs *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i].data);
	free(r->v);
	r->v = NULL;
	r->n = r->cap = 0;
}

/* Consume everything @buf has now into @r; return how many. */
static inline size_t th_drain_buffer(struct rbf_buffer *buf, struct th_recs *r)
{
	struct rbf_event ev;
	size_t n = 0;
	int ret;

	for (;;) {
		ret = rbf_buffer_consume(buf, &ev);
		cr_assert_geq(ret, 0, "rbf_buffer_consume: %d", ret);
		if (ret == 0)
			return n;
		cr_assert_eq(ret, 1, "rbf_buffer_consume returned %d", ret);
		cr_assert_eq(ev.buffer, buf, "event of another buffer");
		if (r)
			th_recs_push(r, &ev);
		n++;
	}
}

/* Consume everything @ch has now (merged) into @r; return how many. */
static inline size_t th_drain_channel(struct rbf_channel *ch, struct th_recs *r)
{
	struct rbf_event ev;
	size_t n = 0;
	int ret;

	for (;;) {
		ret = rbf_channel_consume(ch, &ev);
		cr_assert_geq(ret, 0, "rbf_channel_consume: %d", ret);
		if (ret == 0)
			return n;
		cr_assert_eq(ret, 1, "rbf_channel_consume returned %d", ret);
		if (r)
			th_recs_push(r, &ev);
		n++;
	}
}

/* Iterate without consuming into @r; return how many. */
static inline size_t th_iterate(struct rbf_channel *ch, struct rbf_buffer *buf,
				struct th_recs *r)
{
	struct rbf_iter *it = NULL;
	struct rbf_event ev;
	size_t n = 0;
	int ret;

	ret = rbf_iter_create(ch, buf, &it);
	cr_assert_eq(ret, 0, "rbf_iter_create: %d", ret);
	cr_assert_not_null(it);
	for (;;) {
		ret = rbf_iter_next(it, &ev);
		cr_assert_geq(ret, 0, "rbf_iter_next: %d", ret);
		if (ret == 0)
			break;
		cr_assert_eq(ret, 1, "rbf_iter_next returned %d", ret);
		if (r)
			th_recs_push(r, &ev);
		n++;
	}
	rbf_iter_destroy(it);
	return n;
}

/* ---------------------------------------------------------------------- */
/* A decoder of the sub-buffer format written from rbf/format.h only.      */

struct th_raw_rec {
	uint64_t ts;
	uint16_t id;
	uint32_t len;
	int ext;
	uint32_t off;	/* payload offset in the sub-buffer */
	uint32_t slot;	/* bytes the record occupies */
};

/*
 * th_parse_subbuf() - decode the sub-buffer image @img (@size bytes, at
 * least the content size) into @out (capacity @cap).
 * Return: the number of records, or -1 (header), -2 (malformed record),
 * -3 (@cap too small).
 */
static inline int th_parse_subbuf(const void *img, size_t size,
				  struct rbf_subbuf_header *hdr,
				  struct th_raw_rec *out, int cap)
{
	const uint8_t *b = (const uint8_t *)img;
	uint64_t prev;
	uint32_t pos;
	int n = 0;

	if (size < TH_HDR_SIZE)
		return -1;
	memcpy(hdr, b, sizeof(*hdr));
	if (hdr->magic != RBF_SUBBUF_MAGIC || hdr->header_size != TH_HDR_SIZE ||
	    hdr->content_size < TH_HDR_SIZE || hdr->content_size > size ||
	    hdr->content_size > hdr->subbuf_size)
		return -1;
	prev = hdr->ts_begin;
	pos = TH_HDR_SIZE;
	while (pos < hdr->content_size) {
		struct rbf_record_header rh;
		struct th_raw_rec r;

		if (pos % RBF_REC_ALIGN || hdr->content_size - pos < TH_REC_SIZE)
			return -2;
		memcpy(&rh, b + pos, sizeof(rh));
		r.id = rh.id;
		/* Every record a reader receives carries the commit mark. */
		if (!(rh.len & RBF_REC_COMMITTED))
			return -2;
		rh.len &= (uint16_t)~RBF_REC_COMMITTED;
		if (rh.len & RBF_REC_EXT) {
			struct rbf_record_header_ext eh;

			if (rh.len != RBF_REC_EXT ||
			    hdr->content_size - pos < TH_REC_EXT_SIZE)
				return -2;
			memcpy(&eh, b + pos, sizeof(eh));
			r.ts = (uint64_t)eh.ts_high << 32 | eh.ts_low;
			r.len = eh.length;
			r.ext = 1;
			r.off = pos + TH_REC_EXT_SIZE;
		} else {
			r.ts = prev + (uint32_t)(rh.ts_low - (uint32_t)prev);
			r.len = rh.len;
			r.ext = 0;
			r.off = pos + TH_REC_SIZE;
		}
		if ((uint64_t)r.off + r.len > hdr->content_size)
			return -2;
		r.slot = (uint32_t)RBF_ALIGN((uint64_t)r.off + r.len,
					     RBF_REC_ALIGN) - pos;
		if (n >= cap)
			return -3;
		out[n++] = r;
		prev = r.ts;
		pos += r.slot;
	}
	if (pos != hdr->content_size)
		return -2;
	return n;
}

/* Copy the content of a held sub-buffer into a malloc'ed image. */
static inline uint8_t *th_subbuf_image(const struct rbf_subbuf *sb)
{
	uint8_t *img = (uint8_t *)malloc(sb->size);
	int ret;

	cr_assert_not_null(img);
	ret = rbf_subbuf_read(sb, 0, img, sb->size);
	cr_assert_eq(ret, 0, "rbf_subbuf_read(0, %u): %d", sb->size, ret);
	if (sb->data)
		cr_assert_eq(memcmp(img, sb->data, sb->size), 0,
			     "rbf_subbuf_read differs from sb.data");
	return img;
}

/* ---------------------------------------------------------------------- */
/* Writing.                                                                */

/*
 * Copy @len bytes into a reservation in pieces of @chunk bytes: directly
 * when the backend gives CPU memory, else with rbf_wctx_write().
 */
static inline int th_wctx_fill(struct rbf_wctx *ctx, const void *src,
			       size_t len, size_t chunk)
{
	const uint8_t *s = (const uint8_t *)src;
	size_t off, n;
	int ret;

	if (!chunk)
		chunk = len ? len : 1;
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		if (ctx->data) {
			memcpy((uint8_t *)ctx->data + off, s + off, n);
		} else {
			ret = rbf_wctx_write(ctx, off, s + off, n);
			if (ret)
				return ret;
		}
	}
	return 0;
}

/* reserve_ts + fill + commit. */
static inline int th_write_ts(struct rbf_channel *ch, uint16_t id,
			      const void *src, size_t len, uint64_t ts,
			      size_t chunk)
{
	struct rbf_wctx ctx;
	int ret;

	ret = rbf_reserve_ts(ch, &ctx, id, len, ts);
	if (ret)
		return ret;
	ret = th_wctx_fill(&ctx, src, len, chunk);
	if (ret)
		return ret;
	return rbf_commit(&ctx);
}

/* Map a write's return value to the loss cause it is counted as, or -1. */
static inline int th_cause_of(int ret)
{
	switch (ret) {
	case -ENOBUFS:
		return RBF_LOST_FULL;
	case -EBUSY:
		return RBF_LOST_BUSY;
	case -EMSGSIZE:
		return RBF_LOST_TOO_BIG;
	case -EPERM:
		return RBF_LOST_DISABLED;
	case -ELOOP:
		return RBF_LOST_NESTING;
	case -ENOMEM:
		return RBF_LOST_NOMEM;
	default:
		return -1;
	}
}

/* ====================================================================== */
/* The storm engine (test_signal.c, test_torture.c).                      */

#define ST_MAX_WRITERS 16
#define ST_LEVELS 5 /* nesting levels 0 (thread) .. 4 (signal handlers) */
#define ST_MAX_BUFS 512
#define ST_MAX_READERS 2
#define ST_EXTRA_MAX 40 /* random payload bytes after struct th_event */

struct st_cfg {
	const char *name;
	const struct rbf_backend *backend; /* NULL: page */
	enum rbf_mode mode;
	enum rbf_alloc alloc;
	enum rbf_clock clock;
	uint32_t subbuf_size;
	uint32_t num_subbuf;
	unsigned int nr_writers;
	unsigned int nr_readers;	/* 1 or 2; ignored when merge */
	int merge;			/* readers use rbf_channel_consume */
	double seconds;
	unsigned int storm_pause_us;	/* pause between signal rounds */
	unsigned int slow_mask;		/* yield while holding when
					 * (rand & slow_mask) == 0; 0 = never */
	unsigned int migrate_mask;	/* change CPU while holding when
					 * (rand & migrate_mask) == 0; 0 = never */
	int no_storm;			/* no signals: level 0 writes only */
	int no_flush;			/* readers never flush while writing */
	int no_read;			/* nothing read until the writers end */
	int no_backoff;			/* failed writers only sched_yield() */
};

struct st_stream {
	uint64_t next;			/* successes == next sequence number */
	uint64_t fail[RBF_LOST_NR];	/* failures by cause */
	uint64_t unexpected;		/* any other return value */
	int last_unexpected;
};

struct st_run;

struct st_writer {
	struct st_run *run;
	unsigned int id;
	pthread_t thread;
	atomic_int ready;
	struct st_stream streams[ST_LEVELS];
	uint64_t rng;
	uint64_t migrations;
	cpu_set_t home;
	int home_valid;
	atomic_ulong l0_ops;		/* level-0 writes finished */
	unsigned long storm_seen;	/* storm thread: l0_ops at last kill */
	uint64_t storm_at_us;		/* storm thread: time of last kill */
};

struct st_seqs {
	uint64_t *v;
	size_t n, cap;
};

struct st_bufstate {
	struct rbf_buffer *buf;
	int owner;			/* reader index */
	int have_ts;
	uint64_t last_ts;
	int writer;			/* per-thread: owning writer, or -1 */
	uint64_t last_seq[ST_MAX_WRITERS][ST_LEVELS]; /* seq + 1, 0 = none */
	int have_subbuf;
	uint64_t last_subbuf_seq;
};

struct st_reader {
	struct st_run *run;
	int idx;
	pthread_t thread;
	uint64_t received;
	struct st_seqs seqs[ST_MAX_WRITERS][ST_LEVELS];
	struct rbf_buffer *cache_buf;
	struct st_bufstate *cache_bs;
};

struct st_result {
	uint64_t attempts;
	uint64_t successes;
	uint64_t failures;
	uint64_t fail[RBF_LOST_NR];
	uint64_t received;
	uint64_t signals;
	uint64_t migrations;
	uint64_t max_subbuf_seq;
	unsigned int max_nest_seen;
	uint64_t nest_successes[ST_LEVELS];
	int reaped;
	struct rbf_stats st;
	unsigned long errors;
	char err[512];
};

struct st_run {
	struct st_cfg cfg;
	struct rbf_channel *ch;
	struct st_writer w[ST_MAX_WRITERS];
	struct st_reader rd[ST_MAX_READERS];
	unsigned int nr_readers;
	pthread_t storm;
	atomic_int stop_storm;
	atomic_int stop_writers;
	atomic_int stop_readers;
	atomic_ulong signals;
	atomic_ulong deepest_ok;	/* successful writes at the last level */
	uint64_t t_begin;
	pthread_mutex_t lock;		/* bufs, errors */
	struct st_bufstate *bufs[ST_MAX_BUFS];
	unsigned int nr_bufs;
	unsigned int next_owner;
	struct st_result *res;
};

static inline struct st_writer **st_tls(void)
{
	static __thread struct st_writer *tls;

	return &tls;
}

static inline int st_level_signal(unsigned int level)
{
	switch (level) {
	case 1:
		return SIGUSR1;
	case 2:
		return SIGUSR2;
	case 3:
		return SIGRTMIN;
	case 4:
		return SIGRTMIN + 1;
	default:
		return 0;
	}
}

static inline uint64_t st_rand(uint64_t *s)
{
	/* xorshift64*, async-signal-safe */
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static inline __attribute__((format(printf, 2, 3))) void
st_error(struct st_run *run, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&run->lock);
	if (run->res->errors < 10) {
		/* The first few go to stderr as they happen. */
		va_start(ap, fmt);
		fputs("storm error: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	if (!run->res->errors++) {
		va_start(ap, fmt);
		vsnprintf(run->res->err, sizeof(run->res->err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&run->lock);
}

static inline uint16_t st_event_id(unsigned int writer, unsigned int level)
{
	return (uint16_t)(writer * 8 + level);
}

static inline void st_count(struct st_stream *s, int ret)
{
	int cause = th_cause_of(ret);

	if (cause >= 0) {
		s->fail[cause]++;
	} else {
		s->unexpected++;
		s->last_unexpected = ret;
	}
}

/*
 * Copy a payload into a reservation word by word, optionally yielding or
 * moving to another CPU in the middle, and raising @sig (the next nesting
 * level) half way.  Async-signal-safe when @may_block is 0.
 */
static inline int st_fill(struct st_writer *w, struct rbf_wctx *ctx,
			  const uint8_t *src, size_t len, int sig,
			  int may_block)
{
	const struct st_cfg *cfg = &w->run->cfg;
	size_t off, n = 0, half = len / 2;
	int raised = 0, ret;

	for (off = 0; off <= len; off += n) {
		if (!raised && off >= half && sig) {
			raise(sig);
			raised = 1;
		}
		if (off == len)
			break;
		n = len - off < 8 ? len - off : 8;
		if (ctx->data) {
			volatile uint8_t *d = (volatile uint8_t *)ctx->data;
			size_t k;

			for (k = 0; k < n; k++)
				d[off + k] = src[off + k];
		} else {
			ret = rbf_wctx_write(ctx, off, src + off, n);
			if (ret)
				return ret;
		}
		if (!may_block)
			continue;
		if (cfg->slow_mask && !(st_rand(&w->rng) & cfg->slow_mask))
			sched_yield();
		if (cfg->migrate_mask && !(st_rand(&w->rng) & cfg->migrate_mask)) {
			int cpu = sched_getcpu();
			int target = th_nth_cpu(cpu + 1);

			if (target >= 0 && target != cpu &&
			    !th_pin_cpu(target))
				w->migrations++;
		}
	}
	return 0;
}

static inline void st_restore_affinity(struct st_writer *w)
{
	if (w->home_valid && w->run->cfg.migrate_mask)
		sched_setaffinity(0, sizeof(w->home), &w->home);
}

/* One event at @level (0: thread context, 1..4: signal handlers). */
static inline void st_write_one(struct st_writer *w, unsigned int level)
{
	struct st_stream *s = &w->streams[level];
	uint64_t buf[(TH_EVENT_SIZE + ST_EXTRA_MAX) / 8 + 1];
	size_t len = TH_EVENT_SIZE + st_rand(&w->rng) % (ST_EXTRA_MAX + 1);
	int next_sig = level + 1 < ST_LEVELS ? st_level_signal(level + 1) : 0;
	struct rbf_wctx ctx;
	int ret;

	if (!level)
		next_sig = 0; /* level 1 comes from the storm thread */
	ret = rbf_reserve(w->run->ch, &ctx, st_event_id(w->id, level), len);
	if (ret) {
		st_count(s, ret);
		if (next_sig)
			raise(next_sig);
		return;
	}
	if (ctx.len != len) {
		s->unexpected++;
		s->last_unexpected = -10000;
	}
	th_event_make(buf, len, w->id, level, s->next);
	ret = st_fill(w, &ctx, (const uint8_t *)buf, len, next_sig, level == 0);
	if (ret) {
		s->unexpected++;
		s->last_unexpected = ret;
	}
	ret = rbf_commit(&ctx);
	if (!level)
		st_restore_affinity(w);
	if (ret) {
		s->unexpected++;
		s->last_unexpected = ret;
		return;
	}
	s->next++;
	if (level == ST_LEVELS - 1)
		atomic_fetch_add(&w->run->deepest_ok, 1);
}

static inline void st_handler(int sig)
{
	struct st_writer *w = *st_tls();
	int saved = errno;
	unsigned int level;

	if (!w) {
		errno = saved;
		return;
	}
	for (level = 1; level < ST_LEVELS; level++)
		if (st_level_signal(level) == sig)
			break;
	if (level < ST_LEVELS)
		st_write_one(w, level);
	errno = saved;
}

static inline void st_block_signals(int how)
{
	sigset_t set;
	unsigned int level;

	sigemptyset(&set);
	for (level = 1; level < ST_LEVELS; level++)
		sigaddset(&set, st_level_signal(level));
	pthread_sigmask(how, &set, NULL);
}

static inline void *st_writer_main(void *arg)
{
	struct st_writer *w = (struct st_writer *)arg;
	unsigned int fails = 0;
	int ret;

	w->home_valid = !sched_getaffinity(0, sizeof(w->home), &w->home);
	ret = rbf_thread_prepare(w->run->ch);
	if (ret)
		st_error(w->run, "writer %u: rbf_thread_prepare: %d", w->id,
			 ret);
	*st_tls() = w;
	st_block_signals(SIG_UNBLOCK);
	atomic_store(&w->ready, 1);
	while (!atomic_load_explicit(&w->run->stop_writers,
				     memory_order_relaxed)) {
		uint64_t before = w->streams[0].next;

		st_write_one(w, 0);
		atomic_fetch_add(&w->l0_ops, 1);
		if (w->streams[0].next != before) {
			fails = 0;
			continue;
		}
		/* Failed (full, busy): let the reader and the stalled
		 * writer run; sched_yield alone hardly does under CFS. */
		if (++fails % 8 || w->run->cfg.no_backoff)
			sched_yield();
		else
			th_sleep_us(50);
	}
	st_block_signals(SIG_BLOCK);
	atomic_store(&w->ready, 0);
	*st_tls() = NULL;
	return NULL;
}

static inline void *st_storm_main(void *arg)
{
	struct st_run *run = (struct st_run *)arg;
	unsigned int i;

	while (!atomic_load(&run->stop_storm)) {
		if (run->cfg.no_storm) {
			th_sleep_us(1000);
			continue;
		}
		for (i = 0; i < run->cfg.nr_writers; i++) {
			struct st_writer *w = &run->w[i];
			unsigned long ops = atomic_load(&w->l0_ops);
			uint64_t now = th_now_ns() / 1000;

			if (!atomic_load(&w->ready))
				continue;
			/*
			 * Pace the storm: a signal that arrives while the
			 * previous handler chain runs is delivered again at
			 * sigreturn, so an unpaced storm can keep a writer in
			 * handlers forever, its level-0 reservation never
			 * committed.  Re-signal once the writer made progress
			 * at level 0, or after 2 ms.
			 */
			if (ops == w->storm_seen && now - w->storm_at_us < 2000)
				continue;
			w->storm_seen = ops;
			w->storm_at_us = now;
			if (!pthread_kill(w->thread, SIGUSR1))
				atomic_fetch_add(&run->signals, 1);
		}
		if (run->cfg.storm_pause_us)
			th_sleep_us(run->cfg.storm_pause_us);
		else
			sched_yield();
	}
	return NULL;
}

static inline struct st_bufstate *st_bufstate(struct st_run *run,
					      struct rbf_buffer *buf)
{
	struct st_bufstate *bs = NULL;
	unsigned int i;

	pthread_mutex_lock(&run->lock);
	for (i = 0; i < run->nr_bufs; i++) {
		if (run->bufs[i]->buf == buf) {
			bs = run->bufs[i];
			break;
		}
	}
	if (!bs && run->nr_bufs < ST_MAX_BUFS) {
		bs = (struct st_bufstate *)calloc(1, sizeof(*bs));
		if (bs) {
			bs->buf = buf;
			bs->writer = -1;
			bs->owner = (int)(run->next_owner++ % run->nr_readers);
			run->bufs[run->nr_bufs++] = bs;
		}
	}
	pthread_mutex_unlock(&run->lock);
	return bs;
}

static inline void st_seqs_push(struct st_seqs *s, uint64_t v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *nv = (uint64_t *)realloc(s->v, cap * sizeof(*nv));

		if (!nv)
			abort(); /* test infrastructure failure */
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

/* Check one received event. */
static inline void st_verify(struct st_reader *rd, const struct rbf_event *ev)
{
	struct st_run *run = rd->run;
	struct st_bufstate *bs;
	struct th_event e;
	int ret;

	rd->received++;
	if (ev->buffer == rd->cache_buf && rd->cache_bs) {
		bs = rd->cache_bs;
	} else {
		bs = st_bufstate(run, ev->buffer);
		rd->cache_buf = ev->buffer;
		rd->cache_bs = bs;
	}
	if (!bs) {
		st_error(run, "event from unknown buffer %p",
			 (void *)ev->buffer);
		return;
	}
	if (bs->have_ts && ev->ts < bs->last_ts)
		st_error(run, "%s: timestamp went back in one buffer: %" PRIu64
			 " after %" PRIu64, run->cfg.name, ev->ts,
			 bs->last_ts);
	if (ev->ts < run->t_begin)
		st_error(run, "%s: timestamp %" PRIu64 " before the run (%"
			 PRIu64 ")", run->cfg.name, ev->ts, run->t_begin);
	bs->have_ts = 1;
	bs->last_ts = ev->ts;
	if (bs->have_subbuf && ev->subbuf_seq < bs->last_subbuf_seq)
		st_error(run, "%s: sub-buffer seq went back: %" PRIu64
			 " after %" PRIu64, run->cfg.name, ev->subbuf_seq,
			 bs->last_subbuf_seq);
	bs->have_subbuf = 1;
	bs->last_subbuf_seq = ev->subbuf_seq;
	ret = th_event_verify(ev->data, ev->len, &e);
	if (ret) {
		st_error(run, "%s: corrupt event (len %u, id %u): %d",
			 run->cfg.name, ev->len, ev->id, ret);
		return;
	}
	if (e.writer >= run->cfg.nr_writers || e.nest >= ST_LEVELS) {
		st_error(run, "%s: event of writer %u level %u",
			 run->cfg.name, e.writer, e.nest);
		return;
	}
	if (ev->id != st_event_id(e.writer, e.nest))
		st_error(run, "%s: id %u for writer %u level %u",
			 run->cfg.name, ev->id, e.writer, e.nest);
	if (run->cfg.alloc == RBF_ALLOC_PER_THREAD) {
		if (bs->writer < 0)
			bs->writer = (int)e.writer;
		else if (bs->writer != (int)e.writer)
			st_error(run, "%s: per-thread buffer of writer %d "
				 "holds an event of writer %u", run->cfg.name,
				 bs->writer, e.writer);
	}
	if (bs->last_seq[e.writer][e.nest] &&
	    e.seq + 1 <= bs->last_seq[e.writer][e.nest])
		st_error(run, "%s: stream (%u,%u) seq %" PRIu64 " after %"
			 PRIu64 " in one buffer", run->cfg.name, e.writer,
			 e.nest, e.seq, bs->last_seq[e.writer][e.nest] - 1);
	bs->last_seq[e.writer][e.nest] = e.seq + 1;
	st_seqs_push(&rd->seqs[e.writer][e.nest], e.seq);
}

/* One pass over what reader @rd owns; return events received. */
static inline uint64_t st_read_pass(struct st_reader *rd, int all, int limit)
{
	struct st_run *run = rd->run;
	struct rbf_buffer *list[ST_MAX_BUFS];
	struct rbf_event ev;
	uint64_t got = 0;
	int n, i, k, ret;

	if (run->cfg.merge) {
		for (k = 0; !limit || k < limit; k++) {
			ret = rbf_channel_consume(run->ch, &ev);
			if (ret < 0) {
				st_error(run, "%s: rbf_channel_consume: %d",
					 run->cfg.name, ret);
				break;
			}
			if (ret == 0)
				break;
			st_verify(rd, &ev);
			got++;
		}
		return got;
	}
	n = rbf_channel_buffers(run->ch, list, ST_MAX_BUFS);
	if (n < 0) {
		st_error(run, "rbf_channel_buffers: %d", n);
		return 0;
	}
	if (n > ST_MAX_BUFS)
		n = ST_MAX_BUFS;
	for (i = 0; i < n; i++) {
		struct st_bufstate *bs = st_bufstate(run, list[i]);

		if (!bs || (!all && bs->owner != rd->idx))
			continue;
		rd->cache_buf = list[i];
		rd->cache_bs = bs;
		for (k = 0; !limit || k < limit; k++) {
			ret = rbf_buffer_consume(list[i], &ev);
			if (ret < 0) {
				st_error(run, "%s: rbf_buffer_consume: %d",
					 run->cfg.name, ret);
				break;
			}
			if (ret == 0)
				break;
			if (ev.buffer != list[i])
				st_error(run, "%s: event names another buffer",
					 run->cfg.name);
			st_verify(rd, &ev);
			got++;
		}
	}
	return got;
}

static inline void *st_reader_main(void *arg)
{
	struct st_reader *rd = (struct st_reader *)arg;
	struct st_run *run = rd->run;
	uint64_t last_flush = th_now_ns();

	while (!atomic_load(&run->stop_readers)) {
		uint64_t got = run->cfg.no_read ? 0 : st_read_pass(rd, 0, 256);
		uint64_t now = th_now_ns();

		/* Exercise flush concurrently with the writers. */
		if (rd->idx == 0 && !run->cfg.no_flush &&
		    now - last_flush > 20000000ull) {
			int ret = rbf_channel_flush(run->ch);

			if (ret && ret != -EAGAIN)
				st_error(run, "%s: rbf_channel_flush: %d",
					 run->cfg.name, ret);
			last_flush = now;
		}
		if (!got)
			th_sleep_us(200);
	}
	return NULL;
}

static inline int st_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Final per-stream checks and the accounting. */
static inline void st_account(struct st_run *run)
{
	struct st_result *res = run->res;
	const struct st_cfg *cfg = &run->cfg;
	unsigned int wi, l, r, c;
	struct rbf_stats *st = &res->st;
	uint64_t lost_sum = 0;

	for (wi = 0; wi < cfg->nr_writers; wi++) {
		for (l = 0; l < ST_LEVELS; l++) {
			struct st_stream *s = &run->w[wi].streams[l];
			struct st_seqs all = { NULL, 0, 0 };
			size_t k;

			if (s->unexpected)
				st_error(run, "%s: writer %u level %u: %" PRIu64
					 " unexpected results, last %d",
					 cfg->name, wi, l, s->unexpected,
					 s->last_unexpected);
			res->successes += s->next;
			res->nest_successes[l] += s->next;
			for (c = 0; c < RBF_LOST_NR; c++) {
				res->fail[c] += s->fail[c];
				res->failures += s->fail[c];
			}
			for (r = 0; r < run->nr_readers; r++) {
				struct st_seqs *q = &run->rd[r].seqs[wi][l];

				for (k = 0; k < q->n; k++)
					st_seqs_push(&all, q->v[k]);
			}
			if (all.n)
				qsort(all.v, all.n, sizeof(*all.v), st_cmp_u64);
			for (k = 0; k < all.n; k++) {
				if (k && all.v[k] == all.v[k - 1]) {
					st_error(run, "%s: stream (%u,%u): seq %"
						 PRIu64 " received twice",
						 cfg->name, wi, l, all.v[k]);
					break;
				}
				if (all.v[k] >= s->next) {
					st_error(run, "%s: stream (%u,%u): seq %"
						 PRIu64 " never committed (%"
						 PRIu64 " were)", cfg->name,
						 wi, l, all.v[k], s->next);
					break;
				}
			}
			if (all.n && l > res->max_nest_seen)
				res->max_nest_seen = l;
			if (cfg->mode == RBF_MODE_DISCARD && all.n != s->next)
				st_error(run, "%s: stream (%u,%u): %zu received"
					 ", %" PRIu64 " committed (discard mode"
					 " loses nothing committed)",
					 cfg->name, wi, l, all.n, s->next);
			free(all.v);
		}
		res->migrations += run->w[wi].migrations;
	}
	res->attempts = res->successes + res->failures;
	for (r = 0; r < run->nr_readers; r++)
		res->received += run->rd[r].received;

	if (st->committed != res->successes)
		st_error(run, "%s: stats.committed %" PRIu64 " != writers' "
			 "successes %" PRIu64, cfg->name, st->committed,
			 res->successes);
	for (c = 0; c < RBF_LOST_NR; c++) {
		lost_sum += st->lost[c];
		if (st->lost[c] != res->fail[c])
			st_error(run, "%s: stats.lost[%s] %" PRIu64 " != "
				 "writers' failures %" PRIu64, cfg->name,
				 rbf_lost_cause_name((enum rbf_lost_cause)c),
				 st->lost[c], res->fail[c]);
	}
	if (st->lost_total != res->failures || lost_sum != st->lost_total)
		st_error(run, "%s: stats.lost_total %" PRIu64 " (causes %"
			 PRIu64 ") != writers' failures %" PRIu64, cfg->name,
			 st->lost_total, lost_sum, res->failures);
	if (st->written != res->attempts)
		st_error(run, "%s: stats.written %" PRIu64 " != attempts %"
			 PRIu64, cfg->name, st->written, res->attempts);
	if (st->read != res->received)
		st_error(run, "%s: stats.read %" PRIu64 " != received %"
			 PRIu64, cfg->name, st->read, res->received);
	if (st->buffered != 0)
		st_error(run, "%s: stats.buffered %" PRIu64 " after draining",
			 cfg->name, st->buffered);
	if (st->written != st->read + st->overwritten + st->lost_total +
			   st->buffered)
		st_error(run, "%s: identity broken: written %" PRIu64
			 " read %" PRIu64 " overwritten %" PRIu64 " lost %"
			 PRIu64 " buffered %" PRIu64, cfg->name, st->written,
			 st->read, st->overwritten, st->lost_total,
			 st->buffered);
	if (st->overwritten != st->committed - st->read)
		st_error(run, "%s: overwritten %" PRIu64 " != committed %"
			 PRIu64 " - read %" PRIu64, cfg->name, st->overwritten,
			 st->committed, st->read);
	if (cfg->mode == RBF_MODE_DISCARD && st->overwritten)
		st_error(run, "%s: %" PRIu64 " overwritten in discard mode",
			 cfg->name, st->overwritten);

	/*
	 * Every sub-buffer sequence up to the last one of each buffer (which
	 * is read, being the newest) was decided exactly once: read or
	 * overwritten.
	 */
	{
		uint64_t seqs = 0;

		for (wi = 0; wi < run->nr_bufs; wi++)
			if (run->bufs[wi]->have_subbuf)
				seqs += run->bufs[wi]->last_subbuf_seq + 1;
		if (st->subbufs_read + st->subbufs_overwritten != seqs)
			st_error(run, "%s: subbufs_read %" PRIu64 " + "
				 "subbufs_overwritten %" PRIu64 " != %" PRIu64
				 " sub-buffers closed", cfg->name,
				 st->subbufs_read, st->subbufs_overwritten,
				 seqs);
	}
}

/*
 * st_run() - run one storm configuration; everything it found wrong is in
 * @res->errors / @res->err.  Call from the test's main thread.
 */
static inline void st_run(const struct st_cfg *cfg, struct st_result *res)
{
	struct st_run *run = (struct st_run *)calloc(1, sizeof(*run));
	struct rbf_channel_attr attr;
	struct sigaction sa;
	unsigned int i, l, r;
	uint64_t deadline, hard_deadline;
	int ret;

	cr_assert_not_null(run);
	memset(res, 0, sizeof(*res));
	cr_assert_leq(cfg->nr_writers, ST_MAX_WRITERS);
	run->cfg = *cfg;
	run->res = res;
	run->nr_readers = cfg->merge ? 1 : (cfg->nr_readers ? cfg->nr_readers : 1);
	cr_assert_leq(run->nr_readers, ST_MAX_READERS);
	pthread_mutex_init(&run->lock, NULL);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = st_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (l = 1; l < ST_LEVELS; l++)
		cr_assert_eq(sigaction(st_level_signal(l), &sa, NULL), 0);
	/* Only writer threads take the signals. */
	st_block_signals(SIG_BLOCK);

	th_attr(&attr, cfg->mode, cfg->alloc, cfg->clock, cfg->backend,
		cfg->subbuf_size, cfg->num_subbuf);
	ret = rbf_channel_create(&attr, &run->ch);
	cr_assert_eq(ret, 0, "%s: rbf_channel_create: %d", cfg->name, ret);
	run->t_begin = rbf_channel_read_clock(run->ch);

	for (r = 0; r < run->nr_readers; r++) {
		run->rd[r].run = run;
		run->rd[r].idx = (int)r;
		cr_assert_eq(pthread_create(&run->rd[r].thread, NULL,
					    st_reader_main, &run->rd[r]), 0);
	}
	for (i = 0; i < cfg->nr_writers; i++) {
		run->w[i].run = run;
		run->w[i].id = i;
		run->w[i].rng = 0x1234567ull * (i + 1) + th_now_ns();
		cr_assert_eq(pthread_create(&run->w[i].thread, NULL,
					    st_writer_main, &run->w[i]), 0);
	}
	cr_assert_eq(pthread_create(&run->storm, NULL, st_storm_main, run), 0);

	deadline = th_now_ns() + (uint64_t)(cfg->seconds * 1e9);
	/*
	 * A run must exercise what the test asserts: signals delivered, a
	 * write that succeeded at the deepest nesting level, and in
	 * overwrite mode many wraps of the ring.  On an overloaded machine
	 * (sanitizers, parallel tests) threads can go unscheduled for a
	 * whole short slice, and a writer preempted between reserve and
	 * commit legitimately blocks a ring for a while (-EBUSY); so keep
	 * running until all of that happened, up to 20 times the budget.
	 */
	hard_deadline = deadline + (uint64_t)(cfg->seconds * 19e9);
	for (;;) {
		uint64_t now = th_now_ns();
		struct rbf_stats rs;

		if (now >= hard_deadline)
			break;
		if (now >= deadline) {
			/* Until what the test asserts was exercised. */
			int done = cfg->no_storm ||
				   (atomic_load(&run->signals) >= 100 &&
				    atomic_load(&run->deepest_ok) > 0);

			if (done && cfg->mode == RBF_MODE_OVERWRITE) {
				rs.size = sizeof(rs);
				done = rbf_channel_stats(run->ch, &rs) == 0 &&
				       rs.subbufs_read +
						       rs.subbufs_overwritten >=
					       4ull * cfg->num_subbuf;
			}
			if (done)
				break;
		}
		th_sleep_us(10000);
	}

	/* Stop the signals before the writers: never signal a dead thread. */
	atomic_store(&run->stop_storm, 1);
	pthread_join(run->storm, NULL);
	atomic_store(&run->stop_writers, 1);
	for (i = 0; i < cfg->nr_writers; i++)
		pthread_join(run->w[i].thread, NULL);
	atomic_store(&run->stop_readers, 1);
	for (r = 0; r < run->nr_readers; r++)
		pthread_join(run->rd[r].thread, NULL);
	res->signals = atomic_load(&run->signals);

	ret = rbf_channel_disable(run->ch);
	if (ret)
		st_error(run, "%s: rbf_channel_disable: %d", cfg->name, ret);
	ret = rbf_channel_flush(run->ch);
	if (ret)
		st_error(run, "%s: rbf_channel_flush after disable: %d",
			 cfg->name, ret);
	/* Drain everything, with reader 0's state (it owns nothing now). */
	while (st_read_pass(&run->rd[0], 1, 0))
		;

	memset(&res->st, 0, sizeof(res->st));
	res->st.size = sizeof(res->st);
	ret = rbf_channel_stats(run->ch, &res->st);
	if (ret)
		st_error(run, "%s: rbf_channel_stats: %d", cfg->name, ret);
	st_account(run);

	for (i = 0; i < run->nr_bufs; i++)
		if (run->bufs[i]->have_subbuf &&
		    run->bufs[i]->last_subbuf_seq > res->max_subbuf_seq)
			res->max_subbuf_seq = run->bufs[i]->last_subbuf_seq;

	if (cfg->alloc == RBF_ALLOC_PER_THREAD) {
		/* Every writer exited and its buffer is drained. */
		res->reaped = rbf_channel_reap(run->ch);
		if (res->reaped != (int)cfg->nr_writers)
			st_error(run, "%s: rbf_channel_reap freed %d of %u "
				 "drained buffers of exited threads", cfg->name,
				 res->reaped, cfg->nr_writers);
	}

	rbf_channel_destroy(run->ch);
	for (r = 0; r < run->nr_readers; r++)
		for (i = 0; i < ST_MAX_WRITERS; i++)
			for (l = 0; l < ST_LEVELS; l++)
				free(run->rd[r].seqs[i][l].v);
	for (i = 0; i < run->nr_bufs; i++)
		free(run->bufs[i]);
	pthread_mutex_destroy(&run->lock);
	st_block_signals(SIG_UNBLOCK);
	free(run);
}

static inline void st_summary(const struct st_cfg *cfg,
			      const struct st_result *res)
{
	fprintf(stderr,
		"%-28s events %" PRIu64 " read %" PRIu64 " overwritten %"
		PRIu64 " wraps %" PRIu64 " signals %" PRIu64 " migrations %"
		PRIu64 " nest %u lost: full %" PRIu64 " busy %" PRIu64
		" too_big %" PRIu64 " disabled %" PRIu64 " nesting %" PRIu64
		" nomem %" PRIu64 " errors %lu\n",
		cfg->name, res->attempts, res->received, res->st.overwritten,
		res->max_subbuf_seq, res->signals, res->migrations,
		res->max_nest_seen, res->fail[RBF_LOST_FULL],
		res->fail[RBF_LOST_BUSY], res->fail[RBF_LOST_TOO_BIG],
		res->fail[RBF_LOST_DISABLED], res->fail[RBF_LOST_NESTING],
		res->fail[RBF_LOST_NOMEM], res->errors);
}

#endif /* RBF_TESTS_HELPERS_H */
