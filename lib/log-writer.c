/*
 * log writer: encodes records as JSON lines into a buffer and writes the buffer out at least
 * once a second (and syncs at most once a second), so a crash of memline loses at most a
 * second of records and a crash of the machine a few seconds. The file is locked (flock
 * LOCK_EX) while it is written: a second writer is refused before it truncates anything, and a
 * reader can tell a running recording from a dead one.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_BYTES (256 * 1024)
#define FLUSH_SECS  0.5
#define SYNC_SECS   1.0

static const char header_prefix[] = "{\"type\":\"header\"";

/* True if the file at fd is empty or starts like a memline log. */
static bool looks_like_log(int fd)
{
	char buf[sizeof(header_prefix) - 1];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return n == 0;
	return (size_t)n == sizeof(buf) && !memcmp(buf, header_prefix, sizeof(buf));
}

int log_writer_open(struct log_writer *w, const char *path, bool exclusive, struct strbuf *err)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->flush_secs = FLUSH_SECS;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : 0), 0644);
	if (fd < 0) {
		strbuf_addf(err, "cannot create log '%s': %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			strbuf_addf(err,
				    "log '%s' is being written by another memline; choose another "
				    "path with -o",
				    path);
		else
			strbuf_addf(err, "cannot lock log '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!looks_like_log(fd)) {
		strbuf_addf(err,
			    "'%s' exists and is not a memline log; remove it or choose another "
			    "path with -o",
			    path);
		close(fd);
		return -1;
	}
	if (ftruncate(fd, 0) < 0) {
		strbuf_addf(err, "cannot empty log '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	w->fd = fd;
	w->path = strdup(path);
	strbuf_init(&w->buf);
	strbuf_init(&w->err_msg);
	return 0;
}

static void add_opt_int(struct strbuf *sb, const char *key, long long v)
{
	strbuf_add_json_key(sb, key);
	strbuf_add_json_opt(sb, v);
}

void log_write_header(struct log_writer *w, const struct header_info *h)
{
	struct strbuf *sb = &w->buf;
	strbuf_addstr(sb, header_prefix);
	strbuf_add_json_key(sb, "format");
	strbuf_add_json_i64(sb, LOG_FORMAT_VERSION);
	strbuf_add_json_key(sb, "memline");
	strbuf_add_json_str(sb, h->memline_version);
	strbuf_add_json_key(sb, "mode");
	strbuf_add_json_str(sb, h->mode);
	strbuf_add_json_key(sb, "host");
	strbuf_add_json_str(sb, h->host);
	strbuf_add_json_key(sb, "start");
	strbuf_add_json_str(sb, h->start_iso);
	strbuf_add_json_key(sb, "start_unix");
	strbuf_add_json_secs(sb, h->start_unix);
	strbuf_add_json_key(sb, "command");
	strbuf_addch(sb, '[');
	for (size_t i = 0; h->command && h->command[i]; i++) {
		if (i)
			strbuf_addch(sb, ',');
		strbuf_add_json_str(sb, h->command[i]);
	}
	strbuf_addch(sb, ']');
	strbuf_add_json_key(sb, "pid");
	strbuf_add_json_i64(sb, h->pid);
	strbuf_add_json_key(sb, "pids");
	strbuf_add_json_pids(sb, h->pids, h->n_pids);
	strbuf_add_json_key(sb, "cwd");
	strbuf_add_json_str(sb, h->cwd ? h->cwd : "");
	strbuf_add_json_key(sb, "job");
	strbuf_addch(sb, '{');
	for (size_t i = 0; i < h->n_job; i++) {
		if (i)
			strbuf_addch(sb, ',');
		strbuf_add_json_str(sb, h->job_names[i]);
		strbuf_addch(sb, ':');
		strbuf_add_json_str(sb, h->job_values[i]);
	}
	strbuf_addch(sb, '}');
	add_opt_int(sb, "page_size", h->page_size);
	add_opt_int(sb, "clk_tck", h->clk_tck);
	add_opt_int(sb, "mem_total", h->mem_total);
	strbuf_add_json_key(sb, "kernel");
	strbuf_add_json_str(sb, h->kernel);
	strbuf_add_json_key(sb, "interval");
	strbuf_addstr(sb, "{\"fixed\":");
	if (h->interval_fixed > 0)
		strbuf_add_json_secs(sb, h->interval_fixed);
	else
		strbuf_addstr(sb, "null");
	strbuf_addstr(sb, ",\"min\":");
	strbuf_add_json_secs(sb, h->interval_min);
	strbuf_addstr(sb, ",\"max\":");
	strbuf_add_json_secs(sb, h->interval_max);
	strbuf_addch(sb, '}');
	strbuf_add_json_key(sb, "peak_reset");
	strbuf_add_json_bool(sb, h->peak_reset);
	strbuf_add_json_key(sb, "pss");
	strbuf_add_json_bool(sb, h->pss);
	strbuf_add_json_key(sb, "fields");
	strbuf_addch(sb, '[');
	for (int i = 0; i < PROC_NFIELDS; i++) {
		strbuf_add_json_str(sb, proc_field_names[i]);
		strbuf_addch(sb, ',');
	}
	strbuf_addstr(sb, "\"state\"]");
	strbuf_add_json_key(sb, "tree_fields");
	strbuf_addch(sb, '[');
	for (int i = 0; i < TREE_NFIELDS; i++) {
		if (i)
			strbuf_addch(sb, ',');
		strbuf_add_json_str(sb, tree_field_names[i]);
	}
	strbuf_addstr(sb, "]}\n");
}

static void write_proc_info(struct log_writer *w, const char *type, const struct proc_info *p,
			    bool full)
{
	struct strbuf *sb = &w->buf;
	strbuf_addstr(sb, "{\"type\":\"");
	strbuf_addstr(sb, type);
	strbuf_addstr(sb, "\",\"t\":");
	strbuf_add_json_secs(sb, p->t);
	strbuf_add_json_key(sb, "pid");
	strbuf_add_json_i64(sb, p->pid);
	if (full) {
		strbuf_add_json_key(sb, "ppid");
		strbuf_add_json_i64(sb, p->ppid);
		strbuf_add_json_key(sb, "start");
		strbuf_add_json_secs(sb, p->start);
	}
	strbuf_add_json_key(sb, "comm");
	strbuf_add_json_str(sb, p->comm);
	strbuf_add_json_key(sb, "argv");
	strbuf_add_json_argv(sb, p->cmdline, p->cmdline_len);
	strbuf_addstr(sb, "}\n");
}

void log_write_proc(struct log_writer *w, const struct proc_info *p)
{
	write_proc_info(w, "proc", p, true);
}

void log_write_exec(struct log_writer *w, const struct proc_info *p)
{
	write_proc_info(w, "exec", p, false);
}

void log_write_sample(struct log_writer *w, double t, long long avail,
		      const struct tree_values *tree, const struct proc_values *procs, size_t n)
{
	struct strbuf *sb = &w->buf;
	strbuf_grow(sb, 64 + n * 96);
	strbuf_addstr(sb, "{\"type\":\"sample\",\"t\":");
	strbuf_add_json_secs(sb, t);
	strbuf_addstr(sb, ",\"avail\":");
	strbuf_add_json_opt(sb, avail);
	strbuf_addstr(sb, ",\"tree\":[");
	for (int i = 0; i < TREE_NFIELDS; i++) {
		if (i)
			strbuf_addch(sb, ',');
		strbuf_add_json_opt(sb, tree->v[i]);
	}
	strbuf_addstr(sb, "],\"p\":[");
	for (size_t k = 0; k < n; k++) {
		strbuf_addstr(sb, k ? ",[" : "[");
		for (int i = 0; i < PROC_NFIELDS; i++) {
			strbuf_add_json_opt(sb, procs[k].v[i]);
			strbuf_addch(sb, ',');
		}
		char st[4] = {'"', procs[k].state ? procs[k].state : '?', '"', ']'};
		if (st[1] == '"' || st[1] == '\\' || (unsigned char)st[1] < 0x20 ||
		    (unsigned char)st[1] >= 0x7f)
			st[1] = '?';
		strbuf_add(sb, st, 4);
	}
	strbuf_addstr(sb, "]}\n");
	w->samples++;
}

void log_write_exit(struct log_writer *w, const struct exit_info *e)
{
	struct strbuf *sb = &w->buf;
	strbuf_addstr(sb, "{\"type\":\"exit\",\"t\":");
	strbuf_add_json_secs(sb, e->t);
	strbuf_add_json_key(sb, "pid");
	strbuf_add_json_i64(sb, e->pid);
	strbuf_add_json_key(sb, "how");
	strbuf_add_json_str(sb, exit_how_names[e->how]);
	add_opt_int(sb, "code", e->code);
	add_opt_int(sb, "signal", e->signal);
	strbuf_add_json_key(sb, "core");
	strbuf_add_json_bool(sb, e->core);
	strbuf_add_json_key(sb, "oom");
	strbuf_add_json_bool(sb, e->oom);
	add_opt_int(sb, "peak", e->peak);
	add_opt_int(sb, "utime", e->utime);
	add_opt_int(sb, "stime", e->stime);
	strbuf_addstr(sb, "}\n");
}

void log_write_mark(struct log_writer *w, const struct mark_info *m)
{
	struct strbuf *sb = &w->buf;
	strbuf_addstr(sb, m->kind == MARK_EVENT ? "{\"type\":\"event\",\"t\":"
						: "{\"type\":\"span\",\"t\":");
	strbuf_add_json_secs(sb, m->t);
	if (m->kind != MARK_EVENT) {
		strbuf_add_json_key(sb, "phase");
		strbuf_add_json_str(sb, m->kind == MARK_SPAN_BEGIN ? "begin" : "end");
	}
	strbuf_add_json_key(sb, m->kind == MARK_EVENT ? "label" : "name");
	strbuf_add_json_strn(sb, m->text, m->len);
	add_opt_int(sb, "pid", m->pid);
	add_opt_int(sb, "tid", m->tid);
	strbuf_addstr(sb, "}\n");
	w->marks++;
}

void log_write_output(struct log_writer *w, double t, const char *stream, const char *text,
		      size_t len)
{
	struct strbuf *sb = &w->buf;
	strbuf_addstr(sb, "{\"type\":\"output\",\"t\":");
	strbuf_add_json_secs(sb, t);
	strbuf_add_json_key(sb, "stream");
	strbuf_add_json_str(sb, stream);
	strbuf_add_json_key(sb, "text");
	strbuf_add_json_strn(sb, text, len);
	strbuf_addstr(sb, "}\n");
}

void log_write_end(struct log_writer *w, const struct end_info *e)
{
	struct strbuf *sb = &w->buf;
	strbuf_addstr(sb, "{\"type\":\"end\",\"t\":");
	strbuf_add_json_secs(sb, e->t);
	strbuf_add_json_key(sb, "status");
	strbuf_add_json_str(sb, run_status_names[e->status]);
	add_opt_int(sb, "exit_code", e->exit_code);
	add_opt_int(sb, "signal", e->signal);
	strbuf_add_json_key(sb, "core");
	strbuf_add_json_bool(sb, e->core);
	strbuf_add_json_key(sb, "oom_killed");
	strbuf_add_json_pids(sb, e->oom_killed, e->n_oom_killed);
	strbuf_add_json_key(sb, "alive");
	strbuf_add_json_pids(sb, e->alive, e->n_alive);
	strbuf_add_json_key(sb, "samples");
	strbuf_add_json_i64(sb, w->samples);
	add_opt_int(sb, "self_utime", e->self_utime);
	add_opt_int(sb, "self_stime", e->self_stime);
	strbuf_add_json_key(sb, "events");
	strbuf_add_json_i64(sb, w->marks);
	if (e->error) {
		strbuf_add_json_key(sb, "error");
		strbuf_add_json_str(sb, e->error);
	}
	strbuf_addstr(sb, "}\n");
}

int log_writer_flush(struct log_writer *w, double now, bool force, struct strbuf *err)
{
	if (w->fd < 0)
		return -1;
	if (w->buf.oom && !w->failed) {
		w->failed = true;
		strbuf_addf(&w->err_msg, "out of memory buffering log '%s'", w->path);
	}
	if (w->failed) {
		strbuf_reset(&w->buf);
		w->buf.oom = false;
		strbuf_addstr(err, w->err_msg.buf);
		return -1;
	}
	bool due = force || w->buf.len >= FLUSH_BYTES || now - w->last_write >= w->flush_secs;
	if (!due || !w->buf.len)
		return 0;
	size_t off = 0;
	while (off < w->buf.len) {
		ssize_t n = write(w->fd, w->buf.buf + off, w->buf.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Keep what was written; never leave half a record behind. */
			w->failed = true;
			strbuf_addf(&w->err_msg, "cannot write log '%s': %s", w->path,
				    n < 0 ? strerror(errno) : "short write");
			strbuf_addstr(err, w->err_msg.buf);
			strbuf_reset(&w->buf);
			return -1;
		}
		off += (size_t)n;
	}
	strbuf_reset(&w->buf);
	w->last_write = now;
	if (force || now - w->last_sync >= SYNC_SECS) {
		fdatasync(w->fd);
		w->last_sync = now;
	}
	return 0;
}

double log_writer_due(const struct log_writer *w)
{
	return w->buf.len ? w->last_write + w->flush_secs : INFINITY;
}

int log_writer_close(struct log_writer *w, struct strbuf *err)
{
	int ret = 0;
	if (w->fd >= 0) {
		ret = log_writer_flush(w, 0, true, err);
		if (close(w->fd) < 0 && !ret) {
			strbuf_addf(err, "cannot write log '%s': %s", w->path, strerror(errno));
			ret = -1;
		}
		w->fd = -1;
	}
	free(w->path);
	w->path = NULL;
	strbuf_release(&w->buf);
	strbuf_release(&w->err_msg);
	return ret;
}

void log_writer_discard(struct log_writer *w)
{
	if (w->path)
		unlink(w->path);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	free(w->path);
	w->path = NULL;
	strbuf_release(&w->buf);
	strbuf_release(&w->err_msg);
}

char *log_default_name(const char *command)
{
	const char *base = strrchr(command, '/');
	base = base ? base + 1 : command;
	struct strbuf name = STRBUF_INIT;
	strbuf_addstr(&name, "memline-");
	size_t n = 0;
	for (const char *p = base; *p && n < 40; p++, n++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
		strbuf_addch(&name, ok ? c : '_');
	}
	if (!n)
		strbuf_addstr(&name, "cmd");
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	char stamp[32];
	strftime(stamp, sizeof(stamp), "-%Y%m%d-%H%M%S", &tm);
	strbuf_addstr(&name, stamp);
	size_t stem = name.len;
	for (int i = 1; i < 1000; i++) {
		name.len = stem;
		if (i > 1)
			strbuf_addf(&name, "-%d", i);
		strbuf_addstr(&name, ".jsonl");
		if (access(name.buf, F_OK) < 0)
			break;
	}
	if (name.oom) {
		strbuf_release(&name);
		return NULL;
	}
	return strbuf_detach(&name, NULL);
}
