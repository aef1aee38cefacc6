/* SPDX-License-Identifier: MIT */
/*
 * tools/cmd_dump.c - `rbf dump FILE|DIR`: every event, one line each,
 * merged across buffers by timestamp.
 *
 * A ring FILE is read through <rbf/file.h>: one cursor per buffer.  A trace
 * DIRECTORY written by `rbf drain` (rbf_mmap_file_drain()) is parsed here:
 * "metadata" is a copy of the file's 4 KiB header page (struct
 * rbf_file_header, backends/mmap-file/layout.h) and each "stream-<id>" is
 * a sequence of sub-buffers, each starting with a struct rbf_subbuf_header
 * and content_size bytes long, holding the records of <rbf/format.h>.
 * Every length and offset read from those files is checked against the
 * bytes really there before it is used: a damaged stream gives a message
 * naming the file and the offset, and the events before the damage.
 *
 * The merge is a binary min-heap of the buffers' next events, keyed by
 * (timestamp, buffer order): O(log k) per event for k buffers.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rbf/format.h>

#include "rbf_tool.h"
/*
 * The layout of the metadata page.  Not a public header: the tool reads
 * the same bytes that doc/file-format.md documents for other readers.
 */
#include "../backends/mmap-file/layout.h"

#define MAX_BUFFER_FILTERS 256
#define NOTHING_MATCHES (-1)

struct dump_opts {
	int string; /* payload as an escaped string instead of hex */
	uint32_t nr_filter;
	uint32_t filter[MAX_BUFFER_FILTERS];
	int has_from, has_to;
	int from_wall, to_wall;
	int64_t from, to; /* as given: clock ns, or wall ns */
};

/* The clock of the events being dumped, from the file or the metadata. */
struct dump_clock {
	uint32_t clock;
	uint64_t freq;
	int64_t offset_ns;
	struct rbf_file *file; /* ring file mode: its own conversion */
};

/* One stream file of a trace directory, mapped read-only. */
struct stream {
	char path[4096];
	uint32_t id;
	const uint8_t *map;
	uint64_t len;
	uint32_t subbuf_size; /* from the metadata, 0: unknown */
	/* walk state */
	uint64_t sb_off; /* current sub-buffer */
	uint64_t sb_end; /* its content end */
	uint64_t pos; /* next record */
	uint64_t seq;
	uint64_t prev_ts;
	uint32_t prev_low;
	int in_sb;
	int done;
	int have_seq;
	uint64_t last_seq;
	/* what the walk found */
	uint64_t subbufs, events, uncommitted, malformed, gaps;
	int damaged;
	int id_warned;
};

enum src_kind { SRC_FILE, SRC_STREAM };

/* One buffer being merged, with its next event. */
struct src {
	enum src_kind kind;
	uint32_t order; /* tie break: buffer order */
	uint32_t id; /* buffer id printed */
	struct rbf_file_cursor cur;
	struct stream *st;
	struct rbf_file_event ev;
	uint64_t ns; /* ev's stamp in the filter's domain */
};

struct dump_ctx {
	const char *input;
	struct dump_opts opt;
	struct dump_clock clk;
	int64_t from_ns, to_ns; /* in the clock's ns (raw stamps for NONE) */
	struct rbf_file *file;
	struct src *src;
	uint32_t nr_src;
	struct src **heap;
	uint32_t heap_len;
	uint64_t printed;
	int status;
};

static void dump_usage(FILE *out)
{
	fprintf(out,
		"Usage: " TOOL_NAME " dump [OPTION]... FILE|DIR\n"
		"Print every event of an rbf ring FILE, or of a trace DIR "
		"written by\n"
		"'rbf drain', one per line, merged across buffers by "
		"timestamp:\n\n"
		"  buf=ID ts=NS time=WALL id=EVENT len=BYTES data=PAYLOAD\n\n"
		"NS is the event's clock in nanoseconds; WALL the same as UTC "
		"ISO 8601 time\n"
		"(from the clock's offset to real time).  With clock 'none' "
		"ts is the raw\n"
		"stamp and time is '-'.  PAYLOAD is hexadecimal, or a quoted "
		"string with -s.\n\n"
		"Options:\n"
		"  -b, --buffer=ID  only buffer ID (repeatable)\n"
		"  -f, --from=TIME  only events at or after TIME\n"
		"  -t, --to=TIME    only events at or before TIME\n"
		"  -s, --string     payload as an escaped string\n"
		"  -x, --hex        payload in hexadecimal (the default)\n"
		"  -h, --help       show this help and exit\n\n"
		"TIME is a number of nanoseconds of the event clock (as in "
		"ts=), or a wall\n"
		"time YYYY-MM-DD[THH:MM[:SS[.NNNNNNNNN]]][Z|+HH:MM], UTC unless "
		"a zone is given.\n");
}

/* --- clock ------------------------------------------------------------ */

static uint64_t clock_ns(const struct dump_clock *c, uint64_t ts)
{
	if (c->clock == RBF_CLOCK_NONE)
		return ts; /* raw stamps, not a time */
	if (c->file)
		return rbf_file_ts_to_ns(c->file, ts);
	if (c->freq == 0 || c->freq == 1000000000u)
		return ts;
	return (uint64_t)((unsigned __int128)ts * 1000000000u / c->freq);
}

/* --- output ----------------------------------------------------------- */

static void put_hex(const uint8_t *p, uint32_t n)
{
	static const char hex[] = "0123456789abcdef";
	char buf[1024];
	uint32_t i, o = 0;

	for (i = 0; i < n; i++) {
		buf[o++] = hex[p[i] >> 4];
		buf[o++] = hex[p[i] & 15];
		if (o == sizeof(buf)) {
			fwrite(buf, 1, o, stdout);
			o = 0;
		}
	}
	fwrite(buf, 1, o, stdout);
}

static void put_string(const uint8_t *p, uint32_t n)
{
	static const char hex[] = "0123456789abcdef";
	char buf[1024];
	uint32_t i, o = 0;

	buf[o++] = '"';
	for (i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (o > sizeof(buf) - 8) {
			fwrite(buf, 1, o, stdout);
			o = 0;
		}
		switch (c) {
		case '"':
		case '\\':
			buf[o++] = '\\';
			buf[o++] = (char)c;
			break;
		case '\n':
			buf[o++] = '\\';
			buf[o++] = 'n';
			break;
		case '\t':
			buf[o++] = '\\';
			buf[o++] = 't';
			break;
		case '\r':
			buf[o++] = '\\';
			buf[o++] = 'r';
			break;
		case '\0':
			buf[o++] = '\\';
			buf[o++] = '0';
			break;
		default:
			if (c < 0x20 || c >= 0x7f) {
				buf[o++] = '\\';
				buf[o++] = 'x';
				buf[o++] = hex[c >> 4];
				buf[o++] = hex[c & 15];
			} else {
				buf[o++] = (char)c;
			}
		}
	}
	buf[o++] = '"';
	fwrite(buf, 1, o, stdout);
}

static void print_event(struct dump_ctx *d, const struct src *s)
{
	const struct rbf_file_event *ev = &s->ev;
	char when[TOOL_TIME_LEN];

	if (d->clk.clock == RBF_CLOCK_NONE) {
		printf("buf=%u ts=%" PRIu64 " time=-", s->id, ev->ts);
	} else {
		/* Wraps rather than overflows on a stamp of garbage. */
		tool_format_wall((int64_t)(s->ns + (uint64_t)d->clk.offset_ns),
				 when);
		printf("buf=%u ts=%" PRIu64 " time=%s", s->id, s->ns, when);
	}
	printf(" id=%u len=%u data=", ev->id, ev->len);
	if (d->opt.string)
		put_string(ev->data, ev->len);
	else
		put_hex(ev->data, ev->len);
	putchar('\n');
}

/* --- trace directory streams ------------------------------------------ */

static void stream_damaged(struct stream *st, uint64_t off, const char *what)
{
	tool_err(st->path,
		 "%s at offset %" PRIu64 "; the rest of the stream is skipped",
		 what, off);
	st->damaged = 1;
	st->done = 1;
}

/* Enter the sub-buffer at st->sb_off.  Return: 1 entered, 0 end of file. */
static int stream_enter(struct stream *st)
{
	struct rbf_subbuf_header h;
	uint64_t left;

	if (st->sb_off >= st->len) {
		st->done = 1;
		return 0;
	}
	left = st->len - st->sb_off;
	if (left < sizeof(h)) {
		stream_damaged(st, st->sb_off, "truncated sub-buffer header");
		return 0;
	}
	memcpy(&h, st->map + st->sb_off, sizeof(h));
	if (h.magic != RBF_SUBBUF_MAGIC) {
		stream_damaged(st, st->sb_off, "bad sub-buffer magic");
		return 0;
	}
	if (h.header_size < sizeof(h) || h.header_size % RBF_REC_ALIGN ||
	    h.content_size < h.header_size || h.content_size > h.subbuf_size ||
	    (st->subbuf_size && h.subbuf_size != st->subbuf_size)) {
		stream_damaged(st, st->sb_off, "corrupt sub-buffer header");
		return 0;
	}
	if (h.content_size > left) {
		stream_damaged(st, st->sb_off, "truncated sub-buffer");
		return 0;
	}
	if (h.buffer_id != st->id && !st->id_warned) {
		tool_warn(st->path,
			  "sub-buffer at offset %" PRIu64
			  " belongs to buffer %u",
			  st->sb_off, h.buffer_id);
		st->id_warned = 1;
	}
	if (st->have_seq && h.seq != st->last_seq + 1)
		st->gaps++;
	st->have_seq = 1;
	st->last_seq = h.seq;
	st->seq = h.seq;
	st->subbufs++;
	st->pos = st->sb_off + h.header_size;
	st->sb_end = st->sb_off + h.content_size;
	st->prev_ts = h.ts_begin;
	st->prev_low = (uint32_t)h.ts_begin;
	st->in_sb = 1;
	return 1;
}

static void stream_leave(struct stream *st)
{
	st->in_sb = 0;
	st->sb_off = st->sb_end;
}

/* The next committed event of a stream.  Return: 1, or 0 at the end. */
static int stream_next(struct stream *st, struct rbf_file_event *ev)
{
	for (;;) {
		struct rbf_record_header_ext x;
		uint64_t hsize, plen, rsize, ts;

		if (st->done)
			return 0;
		if (!st->in_sb) {
			if (!stream_enter(st))
				return 0;
			continue;
		}
		if (st->sb_end - st->pos < sizeof(struct rbf_record_header)) {
			stream_leave(st);
			continue;
		}
		memset(&x, 0, sizeof(x));
		memcpy(&x, st->map + st->pos, sizeof(struct rbf_record_header));
		if (x.len & RBF_REC_EXT) {
			hsize = sizeof(struct rbf_record_header_ext);
			if (x.len & RBF_REC_LEN_MASK) {
				tool_err(st->path,
					 "malformed record header at offset "
					 "%" PRIu64,
					 st->pos);
				st->malformed++;
				stream_leave(st);
				continue;
			}
			if (st->sb_end - st->pos < hsize) {
				tool_err(st->path,
					 "truncated record header at offset "
					 "%" PRIu64,
					 st->pos);
				st->malformed++;
				stream_leave(st);
				continue;
			}
			memcpy(&x, st->map + st->pos, hsize);
			plen = x.length;
			ts = ((uint64_t)x.ts_high << 32) | x.ts_low;
		} else {
			hsize = sizeof(struct rbf_record_header);
			plen = x.len & RBF_REC_LEN_MASK;
			ts = st->prev_ts + (uint32_t)(x.ts_low - st->prev_low);
		}
		rsize = RBF_ALIGN(hsize + plen, (uint64_t)RBF_REC_ALIGN);
		if (rsize > st->sb_end - st->pos) {
			tool_err(st->path,
				 "malformed record at offset %" PRIu64
				 " (%" PRIu64 " bytes past the sub-buffer)",
				 st->pos, rsize - (st->sb_end - st->pos));
			st->malformed++;
			stream_leave(st);
			continue;
		}
		if (!(x.len & RBF_REC_COMMITTED)) {
			/* Reserved, never committed: not an event. */
			st->uncommitted++;
			st->pos += rsize;
			continue;
		}
		/* Padding carries a stamp too: the next delta is from it. */
		st->prev_ts = ts;
		st->prev_low = x.ts_low;
		if (x.id == RBF_EVENT_ID_PAD) {
			st->pos += rsize;
			continue;
		}
		ev->buffer = st->id;
		ev->ts = ts;
		ev->id = x.id;
		ev->len = (uint32_t)plen;
		ev->data = st->map + st->pos + hsize;
		ev->subbuf_seq = st->seq;
		ev->offset = st->pos;
		st->pos += rsize;
		st->events++;
		return 1;
	}
}

static uint32_t crc32c(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = 0xffffffffu;
	int k;

	while (len--) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static int is_little_endian(void)
{
	const uint16_t one = 1;

	return *(const uint8_t *)&one == 1;
}

/* Read and check DIR/metadata.  Return: 0, or -1 with a message. */
static int read_metadata(const char *dir, int dfd, struct rbf_file_header *h)
{
	char path[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/metadata", dir);
	fd = openat(dfd, "metadata", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			tool_err(dir, "not an rbf ring file nor a trace "
				      "directory (no metadata file)");
		else
			tool_err(path, "%s", strerror(errno));
		return -1;
	}
	memset(h, 0, sizeof(*h));
	do {
		n = pread(fd, h, sizeof(*h), 0);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0) {
		tool_err(path, "%s", strerror(errno));
		return -1;
	}
	if ((size_t)n < sizeof(h->magic) ||
	    memcmp(h->magic, RBF_FILE_MAGIC, sizeof(h->magic))) {
		tool_err(path, "wrong magic: not an rbf trace metadata file");
		return -1;
	}
	if ((size_t)n < sizeof(*h)) {
		tool_err(path, "truncated: %zd bytes, need %zu", n, sizeof(*h));
		return -1;
	}
	if (h->byte_order != 1 && h->byte_order != 2) {
		tool_err(path, "corrupt byte order field at offset %zu",
			 offsetof(struct rbf_file_header, byte_order));
		return -1;
	}
	if ((h->byte_order == 1) != is_little_endian()) {
		tool_err(path, "unsupported byte order (%s endian)",
			 h->byte_order == 1 ? "little" : "big");
		return -1;
	}
	if (h->version != RBF_FILE_VERSION) {
		tool_err(path, "unsupported version %u", h->version);
		return -1;
	}
	if (crc32c(h, offsetof(struct rbf_file_header, hdr_crc)) !=
	    h->hdr_crc) {
		tool_err(path, "header checksum mismatch (corrupt header)");
		return -1;
	}
	if (h->clock > RBF_CLOCK_NONE ||
	    (h->clock != RBF_CLOCK_NONE && h->clock_freq == 0)) {
		tool_err(path, "corrupt clock field at offset %zu",
			 offsetof(struct rbf_file_header, clock));
		return -1;
	}
	return 0;
}

static int parse_stream_name(const char *name, uint32_t *id)
{
	uint64_t v;

	if (strncmp(name, "stream-", 7))
		return -1;
	if (tool_parse_u64(name + 7, &v) || v > UINT32_MAX)
		return -1;
	*id = (uint32_t)v;
	return 0;
}

static int stream_cmp(const void *a, const void *b)
{
	const struct stream *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static int map_stream(struct stream *st, int dfd, const char *name)
{
	struct stat sb;
	void *p;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tool_err(st->path, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		tool_err(st->path, "not a regular file");
		close(fd);
		return -1;
	}
	st->len = (uint64_t)sb.st_size;
	if (st->len == 0) {
		close(fd);
		st->done = 1;
		return 0;
	}
	p = mmap(NULL, st->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		tool_err(st->path, "%s", strerror(errno));
		return -1;
	}
	st->map = p;
	return 0;
}

/*
 * Open a trace directory: metadata, then every stream-<id> file.  Fills
 * d->clk, *streams and *nr.  Return: 0 or -1.
 */
static int open_trace_dir(struct dump_ctx *d, struct stream **streams,
			  uint32_t *nr)
{
	struct rbf_file_header h;
	struct stream *sv = NULL, *tmp;
	uint32_t n = 0, cap = 0, id;
	struct dirent *de;
	DIR *dir;
	int dfd;

	dfd = open(d->input, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		tool_err(d->input, "%s", strerror(errno));
		return -1;
	}
	if (read_metadata(d->input, dfd, &h) < 0) {
		close(dfd);
		return -1;
	}
	d->clk.clock = h.clock;
	d->clk.freq = h.clock_freq;
	d->clk.offset_ns = h.clock_offset_ns;
	d->clk.file = NULL;

	dir = fdopendir(dfd);
	if (!dir) {
		tool_err(d->input, "%s", strerror(errno));
		close(dfd);
		return -1;
	}
	while ((errno = 0, de = readdir(dir)) != NULL) {
		if (parse_stream_name(de->d_name, &id))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			tmp = realloc(sv, cap * sizeof(*sv));
			if (!tmp) {
				tool_err(d->input, "out of memory");
				goto fail;
			}
			sv = tmp;
		}
		memset(&sv[n], 0, sizeof(sv[n]));
		snprintf(sv[n].path, sizeof(sv[n].path), "%s/%s", d->input,
			 de->d_name);
		sv[n].id = id;
		sv[n].subbuf_size = h.subbuf_size;
		if (map_stream(&sv[n], dirfd(dir), de->d_name) < 0) {
			n++;
			goto fail;
		}
		n++;
	}
	if (errno) {
		tool_err(d->input, "%s", strerror(errno));
		goto fail;
	}
	closedir(dir);
	if (n)
		qsort(sv, n, sizeof(*sv), stream_cmp);
	*streams = sv;
	*nr = n;
	return 0;
fail:
	while (n--)
		if (sv[n].map)
			munmap((void *)sv[n].map, sv[n].len);
	free(sv);
	closedir(dir);
	return -1;
}

/* --- merge ------------------------------------------------------------- */

static int buffer_selected(const struct dump_opts *o, uint32_t id)
{
	uint32_t i;

	if (!o->nr_filter)
		return 1;
	for (i = 0; i < o->nr_filter; i++)
		if (o->filter[i] == id)
			return 1;
	return 0;
}

/*
 * Advance @s to its next event inside the time range.  Return: 1, or 0
 * when the source is exhausted (or failed: d->status says).
 */
static int src_advance(struct dump_ctx *d, struct src *s)
{
	for (;;) {
		int rc;

		if (s->kind == SRC_FILE) {
			rc = rbf_file_cursor_next(d->file, &s->cur, &s->ev);
			if (rc < 0) {
				tool_err(d->input, "buffer %u: event walk: %s",
					 s->id, strerror(-rc));
				d->status = TOOL_EXIT_ERROR;
				return 0;
			}
		} else {
			rc = stream_next(s->st, &s->ev);
		}
		if (rc == 0)
			return 0;
		s->ns = clock_ns(&d->clk, s->ev.ts);
		if (d->opt.has_to && s->ns > (uint64_t)d->to_ns) {
			/* Stamps do not decrease within a buffer. */
			if (d->clk.clock != RBF_CLOCK_NONE)
				return 0;
			continue;
		}
		if (d->opt.has_from && s->ns < (uint64_t)d->from_ns)
			continue;
		return 1;
	}
}

static int src_before(const struct src *a, const struct src *b)
{
	if (a->ev.ts != b->ev.ts)
		return a->ev.ts < b->ev.ts;
	return a->order < b->order;
}

static void heap_down(struct dump_ctx *d, uint32_t i)
{
	struct src **h = d->heap;
	uint32_t n = d->heap_len;

	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		struct src *t;

		if (l < n && src_before(h[l], h[m]))
			m = l;
		if (r < n && src_before(h[r], h[m]))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void merge(struct dump_ctx *d)
{
	int show = tool_progress_enabled() && !isatty(STDOUT_FILENO);
	uint32_t i;

	d->heap_len = 0;
	for (i = 0; i < d->nr_src; i++)
		if (src_advance(d, &d->src[i]))
			d->heap[d->heap_len++] = &d->src[i];
	for (i = d->heap_len / 2; i-- > 0;)
		heap_down(d, i);
	while (d->heap_len) {
		struct src *s = d->heap[0];

		print_event(d, s);
		d->printed++;
		if (show && (d->printed & 4095) == 0)
			tool_progress(0, "dump: %" PRIu64 " events",
				      d->printed);
		if (!src_advance(d, s))
			d->heap[0] = d->heap[--d->heap_len];
		heap_down(d, 0);
	}
	tool_progress_end();
}

/* --- the two inputs ---------------------------------------------------- */

/*
 * Turn --from/--to into the clock's domain.  Return: 0, NOTHING_MATCHES, or
 * an exit status (usage error).
 */
static int resolve_range(struct dump_ctx *d)
{
	struct dump_opts *o = &d->opt;

	if ((o->has_from && o->from_wall) || (o->has_to && o->to_wall)) {
		if (d->clk.clock == RBF_CLOCK_NONE)
			return tool_usage_err("dump",
					      "%s has no clock (clock none): "
					      "give --from/--to as raw stamps",
					      d->input);
	}
	d->from_ns = o->from;
	d->to_ns = o->to;
	if (o->has_from && o->from_wall &&
	    __builtin_sub_overflow(o->from, d->clk.offset_ns, &d->from_ns))
		d->from_ns = d->clk.offset_ns < 0 ? INT64_MAX : 0;
	if (o->has_to && o->to_wall &&
	    __builtin_sub_overflow(o->to, d->clk.offset_ns, &d->to_ns))
		d->to_ns = d->clk.offset_ns < 0 ? INT64_MAX : -1;
	if (o->has_from && d->from_ns < 0)
		d->from_ns = 0;
	if (o->has_to && d->to_ns < 0)
		return NOTHING_MATCHES;
	return 0;
}

static int dump_file(struct dump_ctx *d)
{
	struct rbf_file_info in;
	uint32_t i, n = 0;
	int rc;

	d->file = tool_file_open(d->input);
	if (!d->file)
		return TOOL_EXIT_ERROR;
	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	rc = rbf_file_get_info(d->file, &in);
	if (rc < 0) {
		tool_err(d->input, "cannot read the header: %s", strerror(-rc));
		rbf_file_close(d->file);
		return TOOL_EXIT_ERROR;
	}
	d->clk.clock = in.clock;
	d->clk.freq = in.clock_freq;
	d->clk.offset_ns = in.clock_offset_ns;
	d->clk.file = d->file;
	rc = resolve_range(d);
	if (rc) {
		rbf_file_close(d->file);
		return rc == NOTHING_MATCHES ? TOOL_EXIT_OK : rc;
	}
	d->src = calloc(in.nr_buffers ? in.nr_buffers : 1, sizeof(*d->src));
	d->heap = calloc(in.nr_buffers ? in.nr_buffers : 1, sizeof(*d->heap));
	if (!d->src || !d->heap) {
		tool_err(d->input, "out of memory");
		d->status = TOOL_EXIT_ERROR;
		goto out;
	}
	for (i = 0; i < in.nr_buffers; i++) {
		struct rbf_file_buffer_info bi;
		struct src *s = &d->src[n];

		memset(&bi, 0, sizeof(bi));
		bi.size = sizeof(bi);
		bi.report.size = sizeof(bi.report);
		rc = rbf_file_buffer_get_info(d->file, i, &bi);
		if (rc < 0) {
			tool_err(d->input, "buffer %u: %s", i, strerror(-rc));
			d->status = TOOL_EXIT_ERROR;
			goto out;
		}
		if (!buffer_selected(&d->opt, bi.id))
			continue;
		rc = rbf_file_cursor_init(d->file, i, &s->cur);
		if (rc < 0) {
			tool_err(d->input, "buffer %u: %s", bi.id,
				 strerror(-rc));
			d->status = TOOL_EXIT_ERROR;
			goto out;
		}
		s->kind = SRC_FILE;
		s->order = n;
		s->id = bi.id;
		n++;
	}
	d->nr_src = n;
	merge(d);
out:
	free(d->src);
	free(d->heap);
	rbf_file_close(d->file);
	return d->status;
}

static int dump_dir(struct dump_ctx *d)
{
	struct stream *sv = NULL;
	uint32_t i, nr = 0, n = 0;
	int rc;

	if (open_trace_dir(d, &sv, &nr) < 0)
		return TOOL_EXIT_ERROR;
	rc = resolve_range(d);
	if (rc) {
		d->status = rc == NOTHING_MATCHES ? TOOL_EXIT_OK : rc;
		goto out;
	}
	d->src = calloc(nr ? nr : 1, sizeof(*d->src));
	d->heap = calloc(nr ? nr : 1, sizeof(*d->heap));
	if (!d->src || !d->heap) {
		tool_err(d->input, "out of memory");
		d->status = TOOL_EXIT_ERROR;
		goto out;
	}
	for (i = 0; i < nr; i++) {
		if (!buffer_selected(&d->opt, sv[i].id))
			continue;
		d->src[n].kind = SRC_STREAM;
		d->src[n].order = n;
		d->src[n].id = sv[i].id;
		d->src[n].st = &sv[i];
		n++;
	}
	d->nr_src = n;
	merge(d);
	for (i = 0; i < nr; i++)
		if (sv[i].damaged || sv[i].malformed)
			d->status = TOOL_EXIT_ERROR;
out:
	free(d->src);
	free(d->heap);
	for (i = 0; i < nr; i++)
		if (sv[i].map)
			munmap((void *)sv[i].map, sv[i].len);
	free(sv);
	return d->status;
}

/* --- command line ------------------------------------------------------- */

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "buffer", required_argument, NULL, 'b' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "string", no_argument, NULL, 's' },
		{ "hex", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static char outbuf[1 << 16];
	struct dump_ctx d;
	struct stat sb;
	uint64_t v;
	int c, status;

	memset(&d, 0, sizeof(d));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:f:t:sxh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (tool_parse_u64(optarg, &v) || v > UINT32_MAX)
				return tool_usage_err(
					"dump", "bad buffer id '%s'", optarg);
			if (d.opt.nr_filter == MAX_BUFFER_FILTERS)
				return tool_usage_err("dump",
						      "too many --buffer "
						      "options (at most %d)",
						      MAX_BUFFER_FILTERS);
			d.opt.filter[d.opt.nr_filter++] = (uint32_t)v;
			break;
		case 'f':
			if (tool_parse_time(optarg, &d.opt.from,
					    &d.opt.from_wall))
				return tool_usage_err("dump",
						      "bad time '%s' for "
						      "--from",
						      optarg);
			d.opt.has_from = 1;
			break;
		case 't':
			if (tool_parse_time(optarg, &d.opt.to, &d.opt.to_wall))
				return tool_usage_err("dump",
						      "bad time '%s' for --to",
						      optarg);
			d.opt.has_to = 1;
			break;
		case 's':
			d.opt.string = 1;
			break;
		case 'x':
			d.opt.string = 0;
			break;
		case 'h':
			dump_usage(stdout);
			return tool_close_stdout(TOOL_EXIT_OK);
		case ':':
			return tool_usage_err("dump",
					      "option '%s' needs an argument",
					      argv[optind - 1]);
		default:
			return tool_usage_err("dump", "unknown option '%s'",
					      argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return tool_usage_err("dump", "missing FILE or DIR");
	if (optind + 1 < argc)
		return tool_usage_err("dump", "too many arguments");
	d.input = argv[optind];
	d.status = TOOL_EXIT_OK;

	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	if (stat(d.input, &sb) == 0 && S_ISDIR(sb.st_mode))
		status = dump_dir(&d);
	else
		status = dump_file(&d);
	return tool_close_stdout(status);
}
