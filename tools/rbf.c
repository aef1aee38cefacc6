/* SPDX-License-Identifier: MIT */
/*
 * tools/rbf.c - the `rbf` command: inspect, dump, recover and drain ring
 * files of the mmap-file backend.
 *
 *	rbf info FILE              what the file holds
 *	rbf dump FILE|DIR          every event, one per line
 *	rbf recover FILE -o OUT    a clean copy of a crashed writer's file
 *	rbf drain FILE -o DIR      a live file's sub-buffers into a trace dir
 *
 * Nothing is ever written to an input file.  Exit status: 0 success,
 * 1 error, 2 usage error.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "rbf_tool.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "info", cmd_info, "show a ring file's header and buffers" },
	{ "dump", cmd_dump, "print the events of a ring file or trace dir" },
	{ "recover", cmd_recover, "write a clean copy of a damaged file" },
	{ "drain", cmd_drain, "copy a live file's sub-buffers to a trace dir" },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"Usage: " TOOL_NAME " COMMAND [OPTION]... ARG...\n"
		"Inspect, dump, recover and drain rbf ring files (mmap-file "
		"backend).\n\n"
		"Commands:\n");
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(out, "  %-9s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(out,
		"\nOptions:\n"
		"  -h, --help     show this help and exit\n"
		"  -V, --version  show the version and exit\n\n"
		"Run '" TOOL_NAME " COMMAND --help' for a command's options.\n"
		"Exit status: 0 success, 1 error, 2 usage error.\n");
}

static void version(void)
{
	unsigned int v = rbf_version();

	printf(TOOL_NAME " %d.%d.%d (library %u.%u.%u)\n", RBF_VERSION_MAJOR,
	       RBF_VERSION_MINOR, RBF_VERSION_PATCH, v >> 16, (v >> 8) & 0xff,
	       v & 0xff);
}

int main(int argc, char **argv)
{
	const char *name;
	size_t i;

	if (argc < 2)
		return tool_usage_err(NULL, "missing command");
	name = argv[1];
	if (!strcmp(name, "-h") || !strcmp(name, "--help") ||
	    !strcmp(name, "help")) {
		if (argc > 2 && strcmp(name, "help") == 0) {
			/* "rbf help CMD" is "rbf CMD --help". */
			static char help_opt[] = "--help";

			for (i = 0; i < NR_COMMANDS; i++) {
				char *args[] = { argv[2], help_opt, NULL };

				if (!strcmp(argv[2], commands[i].name))
					return commands[i].fn(2, args);
			}
			return tool_usage_err(NULL, "unknown command '%s'",
					      argv[2]);
		}
		usage(stdout);
		return tool_close_stdout(TOOL_EXIT_OK);
	}
	if (!strcmp(name, "-V") || !strcmp(name, "--version")) {
		version();
		return tool_close_stdout(TOOL_EXIT_OK);
	}
	if (name[0] == '-')
		return tool_usage_err(NULL, "unknown option '%s'", name);
	for (i = 0; i < NR_COMMANDS; i++) {
		if (!strcmp(name, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	}
	return tool_usage_err(NULL, "unknown command '%s'", name);
}
