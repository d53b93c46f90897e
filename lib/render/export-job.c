/*
 * export-job: a job of many logs (model/job.h) as a CSV table (contract in export.h): the
 * job's grid as the report and the plots read it, a row a bin, a column for the job, the band
 * across ranks, each node and each log. The column names come from the logs (hosts, names,
 * files), so they are CSV fields like any text of a log: valid UTF-8, quoted where they must
 * be.
 */
#include <stdlib.h>
#include <string.h>

#include "render/export.h"

/* Whether another readable log than i has l's name. */
static bool name_shared(const struct job *job, size_t i)
{
	for (size_t k = 0; k < job->n_logs; k++)
		if (k != i && !job->logs[k].unreadable &&
		    !strcmp(job->logs[k].name, job->logs[i].name))
			return true;
	return false;
}

static void add_heading(struct strbuf *sb, const struct job *job)
{
	struct strbuf name = STRBUF_INIT;
	strbuf_addstr(sb, "t,wall,job,rank_min,rank_median,rank_max");
	for (size_t k = 0; k < job->n_nodes; k++) {
		strbuf_reset(&name);
		strbuf_addf(&name, "node:%s", job->nodes[k].host);
		strbuf_addch(sb, ',');
		export_csv_field(sb, name.buf, name.len);
	}
	for (size_t i = 0; i < job->n_logs; i++) {
		const struct job_log *l = &job->logs[i];
		if (l->unreadable)
			continue;
		strbuf_reset(&name);
		strbuf_addstr(&name, l->name);
		if (name_shared(job, i)) {
			const char *base = strrchr(l->path, '/');
			strbuf_addf(&name, " (%s)", base ? base + 1 : l->path);
		}
		strbuf_addch(sb, ',');
		export_csv_field(sb, name.buf, name.len);
	}
	strbuf_addch(sb, '\n');
	sb->oom |= name.oom;
	strbuf_release(&name);
}

void export_job_csv(const struct job *job, struct export_out *out)
{
	struct strbuf *sb = &out->buf;
	add_heading(sb, job);
	for (size_t b = 0; b < job->n_bins; b++) {
		double t = (double)b * job->bin;
		strbuf_addf(sb, "%.3f,%.3f", t, job->start_unix + t);
		export_csv_num(sb, job->total[b]);
		export_csv_num(sb, job->rank_min[b]);
		export_csv_num(sb, job->rank_median[b]);
		export_csv_num(sb, job->rank_max[b]);
		for (size_t k = 0; k < job->n_nodes; k++)
			export_csv_num(sb, job->nodes[k].series[b]);
		for (size_t i = 0; i < job->n_logs; i++)
			if (!job->logs[i].unreadable)
				export_csv_num(sb, job->logs[i].series[b]);
		strbuf_addch(sb, '\n');
		export_out_hand_over(out, false);
	}
}
