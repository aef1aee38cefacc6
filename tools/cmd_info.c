/* SPDX-License-Identifier: MIT */
/*
 * tools/cmd_info.c - `rbf info FILE`: the file header (geometry, modes,
 * clock, uuid, creation time, writer state) and, for each buffer, its
 * positions, the writer's counters and what a walk of it finds.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rbf_tool.h"

static void info_usage(FILE *out)
{
	fprintf(out,
		"Usage: " TOOL_NAME " info [OPTION]... FILE\n"
		"Show the header of an rbf ring file (geometry, modes, clock, "
		"uuid, creation\n"
		"time, clean or unclean) and the statistics of each buffer: "
		"write position,\n"
		"events lost per cause, overwritten, read, and the events a "
		"walk of the file\n"
		"can recover or must drop.  The file is only read.\n\n"
		"Options:\n"
		"  -j, --json  print the same as one JSON object\n"
		"  -h, --help  show this help and exit\n");
}

/* What the file says about its writer, in words. */
static const char *state_words(const struct rbf_file_info *in)
{
	if (in->state == RBF_FILE_STATE_CLEAN)
		return "clean";
	if (in->state == RBF_FILE_STATE_OPEN)
		return in->writer_alive ? "open" : "unclean";
	return "unknown";
}

static void print_offset(FILE *out, int64_t ns)
{
	uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

	fprintf(out, "%c%" PRIu64 ".%09" PRIu64 " s", ns < 0 ? '-' : '+',
		a / 1000000000u, a % 1000000000u);
}

static void print_text(const char *path, const struct rbf_file_info *in,
		       const struct rbf_file_report *tot,
		       const struct rbf_file_buffer_info *bi, uint32_t nbuf)
{
	char uuid[37], when[TOOL_TIME_LEN];
	uint32_t i;
	int c;

	tool_uuid_str(in->uuid, uuid);
	tool_format_wall((int64_t)in->create_time_ns, when);
	printf("file:        %s\n", path);
	printf("format:      version %u, %u-bit words, %s endian, %" PRIu64
	       " bytes\n",
	       in->version, in->word_size * 8,
	       in->big_endian ? "big" : "little", in->file_size);
	printf("uuid:        %s\n", uuid);
	printf("created:     %s\n", when);
	printf("state:       %s", state_words(in));
	if (in->state == RBF_FILE_STATE_OPEN && in->writer_alive)
		printf(" (writer pid %d is running)\n", in->writer_pid);
	else if (in->state == RBF_FILE_STATE_OPEN)
		printf(" (writer pid %d died without closing the file; "
		       "see 'rbf recover')\n",
		       in->writer_pid);
	else
		printf(" (closed by its writer, pid %d)\n", in->writer_pid);
	printf("geometry:    %u sub-buffers of %u bytes per buffer\n",
	       in->num_subbuf, in->subbuf_size);
	printf("buffers:     %u of %u slots, %s", in->nr_buffers,
	       in->max_buffers, tool_alloc_name(in->alloc));
	if (in->alloc == RBF_ALLOC_PER_CPU)
		printf(" (%u CPUs)", in->nr_cpus);
	printf("\n");
	printf("mode:        %s\n", tool_mode_name(in->mode));
	printf("clock:       %s", tool_clock_name(in->clock));
	if (in->clock == RBF_CLOCK_NONE) {
		printf(" (stamps supplied by the writer, not a time)\n");
	} else {
		printf(", %" PRIu64 " Hz, offset to real time ",
		       in->clock_freq);
		print_offset(stdout, in->clock_offset_ns);
		printf("\n");
	}
	printf("durability:  %s\n", tool_durability_name(in->durability));
	printf("events:      %" PRIu64 " recoverable in %" PRIu64
	       " sub-buffers\n",
	       tot->events, tot->subbufs);
	printf("dropped:     %" PRIu64 " uncommitted, %" PRIu64
	       " malformed, %" PRIu64 " bad sub-buffers (%" PRIu64 " bytes)\n",
	       tot->dropped_uncommitted, tot->dropped_malformed,
	       tot->bad_subbufs, tot->dropped_bytes);
	printf("writer:      written %" PRIu64 ", lost %" PRIu64
	       ", overwritten %" PRIu64 ", read %" PRIu64 "\n",
	       tot->written, tot->lost, tot->overwritten, tot->read);

	for (i = 0; i < nbuf; i++) {
		const struct rbf_file_buffer_info *b = &bi[i];
		const struct rbf_file_report *r = &b->report;

		printf("\nbuffer %u:", b->id);
		if (b->cpu >= 0)
			printf(" cpu %d", b->cpu);
		if (b->tid > 0)
			printf(" tid %d%s", b->tid,
			       b->dead ? " (thread exited)" : "");
		printf("\n");
		printf("  write position  %" PRIu64
		       " bytes, next sub-buffer to read %" PRIu64 "\n",
		       b->write_pos, b->read_seq);
		printf("  events          %" PRIu64 " recoverable in %" PRIu64
		       " sub-buffers, %" PRIu64 " read, %" PRIu64
		       " overwritten\n",
		       r->events, r->subbufs, b->read, b->overwritten);
		printf("  lost           ");
		for (c = 0; c < RBF_LOST_NR; c++)
			printf(" %s %" PRIu64 "%s",
			       rbf_lost_cause_name((enum rbf_lost_cause)c),
			       b->lost[c], c + 1 < RBF_LOST_NR ? "," : "\n");
		printf("  dropped         %" PRIu64 " uncommitted, %" PRIu64
		       " malformed, %" PRIu64 " bad sub-buffers (%" PRIu64
		       " bytes)\n",
		       r->dropped_uncommitted, r->dropped_malformed,
		       r->bad_subbufs, r->dropped_bytes);
	}
}

static void json_report(struct tool_json *j, const char *key,
			const struct rbf_file_report *r)
{
	tool_json_begin(j, key, '{');
	tool_json_u64(j, "events", r->events);
	tool_json_u64(j, "subbufs", r->subbufs);
	tool_json_u64(j, "dropped_uncommitted", r->dropped_uncommitted);
	tool_json_u64(j, "dropped_malformed", r->dropped_malformed);
	tool_json_u64(j, "dropped_bytes", r->dropped_bytes);
	tool_json_u64(j, "bad_subbufs", r->bad_subbufs);
	tool_json_u64(j, "written", r->written);
	tool_json_u64(j, "lost", r->lost);
	tool_json_u64(j, "overwritten", r->overwritten);
	tool_json_u64(j, "read", r->read);
	tool_json_end(j, '}');
}

static void print_json(const char *path, const struct rbf_file_info *in,
		       const struct rbf_file_report *tot,
		       const struct rbf_file_buffer_info *bi, uint32_t nbuf)
{
	char uuid[37], when[TOOL_TIME_LEN];
	struct tool_json j;
	uint32_t i;
	int c;

	tool_uuid_str(in->uuid, uuid);
	tool_format_wall((int64_t)in->create_time_ns, when);
	tool_json_init(&j, stdout);
	tool_json_begin(&j, NULL, '{');
	tool_json_str(&j, "file", path);
	tool_json_u64(&j, "file_size", in->file_size);
	tool_json_u64(&j, "version", in->version);
	tool_json_u64(&j, "word_size", in->word_size);
	tool_json_str(&j, "byte_order", in->big_endian ? "big" : "little");
	tool_json_str(&j, "uuid", uuid);
	tool_json_u64(&j, "create_time_ns", in->create_time_ns);
	tool_json_str(&j, "create_time", when);
	tool_json_str(&j, "state", state_words(in));
	tool_json_i64(&j, "writer_pid", in->writer_pid);
	tool_json_bool(&j, "writer_alive", in->writer_alive);
	tool_json_u64(&j, "subbuf_size", in->subbuf_size);
	tool_json_u64(&j, "num_subbuf", in->num_subbuf);
	tool_json_str(&j, "mode", tool_mode_name(in->mode));
	tool_json_str(&j, "alloc", tool_alloc_name(in->alloc));
	tool_json_begin(&j, "clock", '{');
	tool_json_str(&j, "source", tool_clock_name(in->clock));
	tool_json_u64(&j, "frequency", in->clock_freq);
	tool_json_i64(&j, "offset_ns", in->clock_offset_ns);
	tool_json_end(&j, '}');
	tool_json_str(&j, "durability", tool_durability_name(in->durability));
	tool_json_u64(&j, "nr_buffers", in->nr_buffers);
	tool_json_u64(&j, "max_buffers", in->max_buffers);
	tool_json_u64(&j, "nr_cpus", in->nr_cpus);
	json_report(&j, "total", tot);
	tool_json_begin(&j, "buffers", '[');
	for (i = 0; i < nbuf; i++) {
		const struct rbf_file_buffer_info *b = &bi[i];

		tool_json_begin(&j, NULL, '{');
		tool_json_u64(&j, "id", b->id);
		tool_json_i64(&j, "cpu", b->cpu);
		tool_json_i64(&j, "tid", b->tid);
		tool_json_bool(&j, "dead", b->dead);
		tool_json_u64(&j, "write_pos", b->write_pos);
		tool_json_u64(&j, "read_seq", b->read_seq);
		tool_json_begin(&j, "lost", '{');
		for (c = 0; c < RBF_LOST_NR; c++)
			tool_json_u64(
				&j, rbf_lost_cause_name((enum rbf_lost_cause)c),
				b->lost[c]);
		tool_json_end(&j, '}');
		tool_json_u64(&j, "overwritten", b->overwritten);
		tool_json_u64(&j, "read", b->read);
		json_report(&j, "walk", &b->report);
		tool_json_end(&j, '}');
	}
	tool_json_end(&j, ']');
	tool_json_end(&j, '}');
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rbf_file_buffer_info *bi = NULL;
	struct rbf_file_report tot;
	struct rbf_file_info in;
	struct rbf_file *f;
	const char *path;
	int json = 0, c, rc, status = TOOL_EXIT_ERROR;
	uint32_t i;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			info_usage(stdout);
			return tool_close_stdout(TOOL_EXIT_OK);
		case ':':
			return tool_usage_err("info",
					      "option '%s' needs an argument",
					      argv[optind - 1]);
		default:
			return tool_usage_err("info", "unknown option '%s'",
					      argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return tool_usage_err("info", "missing FILE");
	if (optind + 1 < argc)
		return tool_usage_err("info", "too many arguments");
	path = argv[optind];

	f = tool_file_open(path);
	if (!f)
		return TOOL_EXIT_ERROR;
	memset(&in, 0, sizeof(in));
	in.size = sizeof(in);
	rc = rbf_file_get_info(f, &in);
	if (rc < 0) {
		tool_err(path, "cannot read the header: %s", strerror(-rc));
		goto out;
	}
	memset(&tot, 0, sizeof(tot));
	tot.size = sizeof(tot);
	tool_progress(1, "info: walking the events of %s ...", path);
	rc = rbf_file_check(f, &tot);
	tool_progress_end();
	if (rc < 0) {
		tool_err(path, "cannot walk the events: %s", strerror(-rc));
		goto out;
	}
	if (in.nr_buffers) {
		bi = calloc(in.nr_buffers, sizeof(*bi));
		if (!bi) {
			tool_err(path, "out of memory");
			goto out;
		}
	}
	for (i = 0; i < in.nr_buffers; i++) {
		bi[i].size = sizeof(bi[i]);
		bi[i].report.size = sizeof(bi[i].report);
		rc = rbf_file_buffer_get_info(f, i, &bi[i]);
		if (rc < 0) {
			tool_err(path, "buffer %u: %s", i, strerror(-rc));
			goto out;
		}
	}
	if (json)
		print_json(path, &in, &tot, bi, in.nr_buffers);
	else
		print_text(path, &in, &tot, bi, in.nr_buffers);
	status = tool_close_stdout(TOOL_EXIT_OK);
out:
	free(bi);
	rbf_file_close(f);
	return status;
}
