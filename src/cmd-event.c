/*
 * memline event: mark a moment (or a span's begin or end) on the timeline of the recording this
 * process belongs to, through the event channel named by $MEMLINE_EVENTS (docs/events.md). It
 * speaks for its parent: the message names the parent's pid as sender and thread.
 * Outside a recording, or when the channel is gone, it does nothing and exits 0: a job's script
 * must never fail because it is, or is not, being recorded. A channel that is not the
 * recording's own file (channel_open's EPERM: say another user re-created its directory once
 * the recording ended) is refused with an error and exit 77.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record/channel.h"
#include "cli.h"

static const char usage[] =
	"usage: memline event [--begin | --end] [-v] LABEL...\n"
	"\n"
	"Marks a moment on the timeline of the memline recording this process is part of:\n"
	"an event named LABEL (the arguments joined by spaces), or with --begin / --end the\n"
	"start or end of a span (a phase) named LABEL. Outside a recording it does nothing.\n"
	"\n"
	"  -b, --begin     start a span\n"
	"  -e, --end       end the innermost open span of that name (same process and thread)\n"
	"  -v, --verbose   say on stderr when nothing is recording or the send failed\n"
	"  -h, --help      this help\n"
	"\n"
	"Exit status: 0, also when nothing records; 64 a bad command line; 77 when\n"
	"$MEMLINE_EVENTS is not the recording's own file (nothing is sent).\n";

int cmd_event(int argc, char **argv)
{
	static const struct option opts[] = {
		{"begin", no_argument, NULL, 'b'},
		{"end", no_argument, NULL, 'e'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	enum channel_kind kind = CHANNEL_EVENT;
	bool verbose = false;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+bevh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			kind = CHANNEL_BEGIN;
			break;
		case 'e':
			kind = CHANNEL_END;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			die(EXIT_USAGE, "unknown option '%s'; see 'memline event --help'",
			    argv[optind - 1]);
		}
	}
	if (optind >= argc)
		die(EXIT_USAGE, "no label; usage: memline event [--begin | --end] LABEL...");
	struct strbuf label = STRBUF_INIT;
	for (int i = optind; i < argc; i++) {
		if (i > optind)
			strbuf_addch(&label, ' ');
		strbuf_addstr(&label, argv[i]);
	}
	const char *path = getenv(CHANNEL_ENV);
	int fd = path && *path ? channel_open(path) : -1;
	int ret = 0;
	if (!path || !*path) {
		if (verbose)
			warning("not recording ($%s is not set); nothing sent", CHANNEL_ENV);
	} else if (fd < 0 && errno == EPERM) {
		/* Not the recording's own file: someone else's, a link, the wrong mode. */
		error("refusing the event channel '%s': not a private file of this user (see "
		      "memline(1), EVENTS); nothing sent",
		      path);
		ret = EXIT_NOPERM;
	} else if (fd < 0) {
		if (verbose)
			warning("cannot open the event channel '%s': %s; nothing sent", path,
				strerror(errno));
	} else {
		/* The sender is the program that runs memline event (a shell script): its spans
		 * pair up across invocations. */
		pid_t parent = getppid();
		if (channel_send_as(fd, kind, label.buf ? label.buf : "", label.len, parent,
				    parent) < 0 &&
		    verbose)
			warning("cannot send to the event channel: %s", strerror(errno));
		close(fd);
	}
	strbuf_release(&label);
	return ret;
}
