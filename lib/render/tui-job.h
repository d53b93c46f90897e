/*
 * tui-job: the terminal dashboard of a job of many logs (model/job.h): `memline view LOG
 * LOG...`, a directory or a pattern, and with --follow as the logs grow (model/job-follow.h).
 * A header (the job's id, launcher, ranks and nodes, its status naming the rank that ended
 * it, its peak), a chart of the job's memory over time with, for three ranks and more, the
 * band across ranks (lowest to highest, and the median) under it, the nodes (two and more)
 * and the ranks, sorted by peak, name or CPU, scrolled. docs/live.md has the screen and the
 * keys; they are the single log's dashboard's (tui.h) where they mean the same.
 */
#ifndef MEMLINE_TUI_JOB_H
#define MEMLINE_TUI_JOB_H

#include "model/job-follow.h"
#include "model/job.h"
#include "render/tui.h"
#include "util/strbuf.h"

/*
 * Runs the job's dashboard on the terminal until 'q' or *o->quit (o->title, o->history,
 * o->wait_at_end and o->quit as tui_run's; o->ask_stacks is not used). Exactly one of jf and
 * job is given: jf, followed logs, which the dashboard polls (job_follow_poll) from its loop
 * while it is not paused; or job, a job read once. Returns as tui_run: 0, 1 when the terminal
 * went away, -1 with a message in err (no terminal, ncurses failed, out of memory).
 */
int tui_job_run(struct job_follow *jf, const struct job *job, const struct tui_options *o,
		struct strbuf *err);

#endif
