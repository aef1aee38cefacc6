/* SPDX-License-Identifier: MIT */
/*
 * tools/cmd_recover.c - `rbf recover FILE -o OUT`: validate a ring file
 * (typically one whose writer died) and write a clean, consistent copy
 * with rbf_file_recover(); report what was kept and what was dropped, and
 * why.  The input file is only read; OUT must not exist.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "rbf_tool.h"

static void recover_usage(FILE *out)
{
	fprintf(out,
		"Usage: " TOOL_NAME " recover [OPTION]... FILE -o OUT\n"
		"Validate the rbf ring FILE and write a clean, consistent copy "
		"to OUT: every\n"
		"committed event is kept; records that were reserved but never "
		"committed\n"
		"(the writer died inside a write) and malformed records are "
		"dropped and\n"
		"counted.  OUT is a closed ring file that 'rbf dump', 'rbf "
		"drain' and the\n"
		"library can read.  FILE is never written to.\n\n"
		"Options:\n"
		"  -o, --output=OUT  the copy to create (must not exist)\n"
		"  -q, --quiet       print nothing on success\n"
		"  -h, --help        show this help and exit\n");
}

static void print_report(const char *path, const char *out,
			 const struct rbf_file_info *in,
			 const struct rbf_file_report *r)
{
	int any = 0;

	printf("recovered:   %s -> %s\n", path, out);
	if (in->state == RBF_FILE_STATE_CLEAN)
		printf("input state: clean (closed by its writer)\n");
	else if (in->writer_alive)
		printf("input state: open (writer pid %d still running: "
		       "the copy is a snapshot)\n",
		       in->writer_pid);
	else
		printf("input state: unclean (writer pid %d died without "
		       "closing the file)\n",
		       in->writer_pid);
	printf("kept:        %" PRIu64 " events in %" PRIu64 " sub-buffers\n",
	       r->events, r->subbufs);
	printf("dropped:    ");
	if (r->dropped_uncommitted) {
		printf(" %" PRIu64 " uncommitted records (reserved but never "
		       "committed: the writer\n"
		       "             stopped inside a write)\n",
		       r->dropped_uncommitted);
		any = 1;
	}
	if (r->dropped_malformed) {
		printf("%s%" PRIu64 " malformed records (the walk of each "
		       "such sub-buffer stopped\n"
		       "             there)\n",
		       any ? "             " : " ", r->dropped_malformed);
		any = 1;
	}
	if (r->bad_subbufs) {
		printf("%s%" PRIu64 " sub-buffers skipped whole (bad header "
		       "or impossible commit\n"
		       "             count)\n",
		       any ? "             " : " ", r->bad_subbufs);
		any = 1;
	}
	if (any)
		printf("             %" PRIu64 " bytes not kept as events\n",
		       r->dropped_bytes);
	else
		printf(" nothing\n");
	printf("writer:      written %" PRIu64 ", lost %" PRIu64
	       ", overwritten %" PRIu64 ", read %" PRIu64 "\n",
	       r->written, r->lost, r->overwritten, r->read);
}

int cmd_recover(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path, *out = NULL;
	struct rbf_file_report rep;
	struct rbf_file_info in;
	struct rbf_file *f;
	int c, rc, quiet = 0, status = TOOL_EXIT_ERROR;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			recover_usage(stdout);
			return tool_close_stdout(TOOL_EXIT_OK);
		case ':':
			return tool_usage_err("recover",
					      "option '%s' needs an argument",
					      argv[optind - 1]);
		default:
			return tool_usage_err("recover", "unknown option '%s'",
					      argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return tool_usage_err("recover", "missing FILE");
	if (optind + 1 < argc)
		return tool_usage_err("recover", "too many arguments");
	if (!out || !*out)
		return tool_usage_err("recover", "missing -o OUT");
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
	if (in.state == RBF_FILE_STATE_OPEN && in.writer_alive)
		tool_warn(path,
			  "its writer (pid %d) is still running; the copy "
			  "holds what was committed so far",
			  in.writer_pid);

	memset(&rep, 0, sizeof(rep));
	rep.size = sizeof(rep);
	tool_progress(1, "recover: validating %s and writing %s ...", path,
		      out);
	rc = rbf_file_recover(f, out, &rep);
	tool_progress_end();
	if (rc == -EEXIST) {
		tool_err(out, "already exists (recover never overwrites)");
		goto out;
	}
	if (rc == -EINVAL) {
		tool_err(path, "cannot be recovered: invalid or corrupt file");
		goto out;
	}
	if (rc < 0) {
		tool_err(out, "%s", strerror(-rc));
		goto out;
	}
	if (!quiet)
		print_report(path, out, &in, &rep);
	status = tool_close_stdout(TOOL_EXIT_OK);
out:
	rbf_file_close(f);
	return status;
}
