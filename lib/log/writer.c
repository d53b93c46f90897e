/*
 * log writer: encodes records as JSON lines into a buffer and writes the buffer out at least
 * once a second (and syncs at most once a second), so a crash of memline loses at most a
 * second of records and a crash of the machine a few seconds.
 *
 * Where the log goes (see log.h): what is at the path is checked and locked, never truncated;
 * the records go to a temporary file beside it, renamed onto the path by log_writer_commit().
 * The file is locked (flock LOCK_EX) while it is written, so a second writer is refused and a
 * reader can tell a running recording from a dead one.
 *
 * A full file system: every write goes into space allocated beforehand with fallocate
 * (FALLOC_FL_KEEP_SIZE, past the end of the file), with RESERVE_BYTES more kept free. When
 * that allocation fails with ENOSPC or EDQUOT, the batch is dropped and a "stopped" record
 * goes into the kept space instead, which needs no allocation (on ext4, XFS, btrfs, tmpfs).
 * Where fallocate is not supported, a failed write is cut back to the last whole batch and the
 * stopped record tried in what that freed. Either way, nothing more is written except, at
 * close, the end record, if it fits.
 */
#include "log/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_BYTES   (256 * 1024)
#define FLUSH_SECS    0.5
#define SYNC_SECS     1.0
#define RESERVE_BYTES (64 * 1024) /* kept allocated past the end: the stopped and end records */
#define MAX_SUFFIX    999

static const char header_prefix[] = "{\"type\":\"header\"";

static double boottime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* True if the file at fd is empty or starts like a memline log. */
static bool looks_like_log(int fd)
{
	char buf[sizeof(header_prefix) - 1];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	if (n <= 0)
		return n == 0;
	return (size_t)n == sizeof(buf) && !memcmp(buf, header_prefix, sizeof(buf));
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* The directory part of path ("." for none), into out. */
static void dir_of(const char *path, struct strbuf *out)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		strbuf_addch(out, '.');
	else if (slash == path)
		strbuf_addch(out, '/');
	else
		strbuf_add(out, path, (size_t)(slash - path));
}

/*
 * Whether this user may replace file st in the directory of path: in a sticky directory
 * (/tmp) only the owner of the file or of the directory may (or root).
 */
static bool may_replace(const char *path, const struct stat *st)
{
	uid_t me = geteuid();
	if (me == 0 || st->st_uid == me)
		return true;
	struct strbuf dir = STRBUF_INIT;
	dir_of(path, &dir);
	struct stat d;
	bool ok = dir.oom || stat(dir.buf, &d) < 0 || !(d.st_mode & S_ISVTX) || d.st_uid == me;
	strbuf_release(&dir);
	return ok;
}

/*
 * Looks at what is at w->target without changing it: nothing (w->old_fd stays -1), or a
 * memline log no other memline writes, then opened and locked in w->old_fd. Returns -1 with
 * a message otherwise.
 */
static int check_target(struct log_writer *w, struct strbuf *err)
{
	for (int tries = 0; tries < 10; tries++) {
		struct stat st, now;
		if (stat(w->target, &st) < 0) {
			if (errno == ENOENT)
				return 0; /* nothing, or a dangling link: the commit replaces it */
			strbuf_addf(err, "cannot create log '%s': %s", w->path, strerror(errno));
			return -1;
		}
		if (S_ISDIR(st.st_mode)) {
			strbuf_addf(err,
				    "cannot create log '%s': it is a directory; give a file name",
				    w->path);
			return -1;
		}
		if (!S_ISREG(st.st_mode))
			goto not_a_log;
		int fd = open(w->target, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			strbuf_addf(err, "cannot create log '%s': %s", w->path, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno == EWOULDBLOCK)
				strbuf_addf(err,
					    "log '%s' is being written by another memline; choose "
					    "another path with -o",
					    w->path);
			else
				strbuf_addf(err, "cannot lock log '%s': %s", w->path,
					    strerror(errno));
			close(fd);
			return -1;
		}
		/* Locked: is it still what the path names (not replaced since the stat)? */
		if (fstat(fd, &st) < 0 || stat(w->target, &now) < 0 || !same_file(&st, &now)) {
			close(fd);
			continue;
		}
		if (!S_ISREG(st.st_mode) || !looks_like_log(fd)) {
			close(fd);
			goto not_a_log;
		}
		if (!may_replace(w->target, &st)) {
			strbuf_addf(err,
				    "cannot replace log '%s': it belongs to another user and its "
				    "directory is sticky; choose another path with -o",
				    w->path);
			close(fd);
			return -1;
		}
		w->old_fd = fd;
		w->mode = st.st_mode & 07777;
		return 0;
	}
	strbuf_addf(err, "cannot create log '%s': it keeps being replaced", w->path);
	return -1;
not_a_log:
	strbuf_addf(err,
		    "'%s' exists and is not a memline log; remove it or choose another path with "
		    "-o",
		    w->path);
	return -1;
}

/* STEM.jsonl for suffix 1, else STEM-N.jsonl. */
static char *exclusive_name(const struct log_writer *w, int suffix)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, w->stem);
	if (suffix > 1)
		strbuf_addf(&sb, "-%d", suffix);
	strbuf_addstr(&sb, w->ext);
	if (sb.oom) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

/* Moves w->path to the next free-looking exclusive name, from w->suffix + 1 on. */
static int next_name(struct log_writer *w, struct strbuf *err)
{
	while (w->suffix < MAX_SUFFIX) {
		char *name = exclusive_name(w, ++w->suffix);
		if (!name) {
			strbuf_addstr(err, "out of memory");
			return -1;
		}
		struct stat st;
		/* lstat: a dangling symbolic link takes the name as much as a file does */
		if (lstat(name, &st) < 0 && errno == ENOENT) {
			free(w->path);
			w->path = name;
			return 0;
		}
		free(name);
	}
	strbuf_addf(err, "cannot create log '%s%s': that name and its -2 to -%d are taken", w->stem,
		    w->ext, MAX_SUFFIX);
	return -1;
}

/* Creates and locks the temporary file .NAME.XXXXXX beside w->target. */
static int create_tmp(struct log_writer *w, struct strbuf *err)
{
	static const char chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	const char *target = w->exclusive ? w->path : w->target;
	const char *slash = strrchr(target, '/');
	size_t dir = slash ? (size_t)(slash - target) + 1 : 0;
	struct strbuf tmp = STRBUF_INIT;
	int fd = -1, e = EEXIST;
	for (int tries = 0; fd < 0 && e == EEXIST && tries < 100; tries++) {
		unsigned char rnd[6];
		if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
			unsigned long long x = (unsigned long long)(boottime() * 1e9) ^
					       ((unsigned long long)getpid() << 20) ^
					       (unsigned)tries;
			for (size_t i = 0; i < sizeof(rnd); i++, x >>= 7)
				rnd[i] = (unsigned char)x;
		}
		strbuf_reset(&tmp);
		strbuf_addf(&tmp, "%.*s.%s.", (int)dir, target, target + dir);
		for (size_t i = 0; i < sizeof(rnd); i++)
			strbuf_addch(&tmp, chars[rnd[i] % (sizeof(chars) - 1)]);
		if (tmp.oom) {
			strbuf_release(&tmp);
			strbuf_addstr(err, "out of memory");
			return -1;
		}
		/* A log that replaces another keeps its mode; a new one gets 0644 less the umask.
		 */
		fd = open(tmp.buf, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
			  w->old_fd >= 0 ? 0600 : 0644);
		e = fd < 0 ? errno : 0;
	}
	if (fd < 0) {
		strbuf_release(&tmp);
		strbuf_addf(err, "cannot create log '%s': %s", w->path, strerror(e));
		return -1;
	}
	w->tmp = strbuf_detach(&tmp, NULL);
	w->fd = fd;
	if (w->old_fd >= 0)
		fchmod(fd, w->mode);
	flock(fd, LOCK_EX | LOCK_NB); /* a new file: nobody else can hold it */
	return 0;
}

static bool full_errno(int e)
{
	return e == ENOSPC || e == EDQUOT;
}

/*
 * Makes sure the file has space allocated for len more bytes and RESERVE_BYTES after them.
 * Returns -1 with errno ENOSPC or EDQUOT when there is not that much space left.
 */
static int reserve(struct log_writer *w, size_t len)
{
	off_t want = w->size + (off_t)len + RESERVE_BYTES;
	if (w->no_reserve || want <= w->reserved)
		return 0;
	if (fallocate(w->fd, FALLOC_FL_KEEP_SIZE, w->size, want - w->size) == 0) {
		w->reserved = want;
		return 0;
	}
	if (full_errno(errno))
		return -1;
	w->no_reserve = true; /* EOPNOTSUPP (NFS, FUSE, ext4 without extents): write anyway */
	return 0;
}

/* Writes len bytes at the end of the file. Returns -1 with errno (EIO for a short write). */
static int append(struct log_writer *w, const char *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = pwrite(w->fd, buf + off, len - off, w->size + (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

int log_writer_open(struct log_writer *w, const char *path, bool exclusive, struct strbuf *err)
{
	memset(w, 0, sizeof(*w));
	w->fd = w->old_fd = -1;
	w->flush_secs = FLUSH_SECS;
	w->exclusive = exclusive;
	strbuf_init(&w->buf);
	strbuf_init(&w->err_msg);
	if (!(w->path = strdup(path)))
		goto oom;
	if (exclusive) {
		size_t n = strlen(path);
		bool ext = n > 6 && !strcmp(path + n - 6, ".jsonl");
		if (!(w->stem = strndup(path, ext ? n - 6 : n)))
			goto oom;
		w->ext = ext ? ".jsonl" : "";
		if (next_name(w, err) < 0)
			goto fail;
	} else {
		struct stat st;
		char *real = NULL;
		/* A link to an existing file: that file is the log to replace, in its directory. */
		if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			real = realpath(path, NULL);
		if (!(w->target = real ? real : strdup(path)))
			goto oom;
		if (check_target(w, err) < 0)
			goto fail;
	}
	if (create_tmp(w, err) < 0)
		goto fail;
	/* The space for the last records, now: a file system already full fails here. */
	if (reserve(w, 0) < 0) {
		strbuf_addf(err, "cannot create log '%s': %s", w->path, strerror(errno));
		goto fail;
	}
	return 0;
oom:
	strbuf_addstr(err, "out of memory");
fail:
	log_writer_discard(w);
	return -1;
}

/* Renames the temporary file onto the path; -1 with a message. */
static int put_in_place(struct log_writer *w, struct strbuf *err)
{
	for (int tries = 0; tries < 10 + MAX_SUFFIX; tries++) {
		const char *dst = w->exclusive ? w->path : w->target;
		if (!w->exclusive && w->old_fd >= 0) {
			/* Replacing the log locked at open, if the path still names it. */
			struct stat a, b;
			if (fstat(w->old_fd, &a) == 0 && stat(dst, &b) == 0 && same_file(&a, &b)) {
				if (rename(w->tmp, dst) == 0)
					return 0;
				break;
			}
			close(w->old_fd);
			w->old_fd = -1;
			if (check_target(w, err) < 0)
				return -1;
			continue;
		}
		if (renameat2(AT_FDCWD, w->tmp, AT_FDCWD, dst, RENAME_NOREPLACE) == 0)
			return 0;
		int e = errno;
		if (e == EINVAL || e == ENOSYS) {
			/* No renameat2 (NFS, old kernels): a hard link never replaces either. */
			if (link(w->tmp, dst) == 0) {
				unlink(w->tmp);
				return 0;
			}
			e = errno;
			if (e == EPERM || e == EOPNOTSUPP) {
				/* Nor hard links (FAT): look, then rename. */
				struct stat st;
				if (lstat(dst, &st) == 0)
					e = EEXIST;
				else if (rename(w->tmp, dst) == 0)
					return 0;
				else
					e = errno;
			}
		}
		if (e != EEXIST) {
			errno = e;
			break;
		}
		/* Something took the name since open. */
		if (w->exclusive) {
			if (next_name(w, err) < 0)
				return -1;
		} else if (check_target(w, err) < 0) {
			return -1;
		} else if (w->old_fd < 0) {
			continue; /* it went away again */
		}
	}
	strbuf_addf(err, "cannot create log '%s': %s", w->path, strerror(errno));
	return -1;
}

int log_writer_commit(struct log_writer *w, double now, struct strbuf *err)
{
	if (w->committed)
		return 0;
	w->committed = true;
	if (log_writer_flush(w, now, true, err) < 0) {
		/* Not even the header: there is no log, and what was at the path stays. */
		unlink(w->tmp);
		free(w->tmp);
		w->tmp = NULL;
		close(w->fd);
		w->fd = -1;
		strbuf_addstr(err, "; no log was written");
		strbuf_reset(&w->err_msg);
		strbuf_addstr(&w->err_msg, err->buf);
		if (w->old_fd >= 0)
			close(w->old_fd);
		w->old_fd = -1;
		return -1;
	}
	int ret = put_in_place(w, err);
	if (ret < 0) {
		/* The recording has begun: it goes on in the temporary file, which says where. */
		strbuf_addf(err, "; the log is '%s' instead", w->tmp);
		free(w->path);
		w->path = w->tmp;
		w->at_tmp = true;
	} else {
		free(w->tmp);
	}
	w->tmp = NULL;
	if (w->old_fd >= 0)
		close(w->old_fd); /* the replaced log: its lock goes with it */
	w->old_fd = -1;
	return ret;
}

static void add_opt_int(struct strbuf *sb, const char *key, long long v)
{
	strbuf_add_json_key(sb, key);
	strbuf_add_json_opt(sb, v);
}

/* "key":["name",...] */
static void add_names(struct strbuf *sb, const char *key, const char *const *names, int n)
{
	strbuf_add_json_key(sb, key);
	strbuf_addch(sb, '[');
	for (int i = 0; i < n; i++) {
		if (i)
			strbuf_addch(sb, ',');
		strbuf_add_json_str(sb, names[i]);
	}
	strbuf_addch(sb, ']');
}

/* Seconds, or null when there are none (0 or less: not set). */
static void add_secs_or_null(struct strbuf *sb, double secs)
{
	if (secs > 0)
		strbuf_add_json_secs(sb, secs);
	else
		strbuf_addstr(sb, "null");
}

/* The header's "memory": how the job's memory is measured, and the job's cgroup. */
static void write_memory(struct strbuf *sb, const struct header_info *h)
{
	strbuf_add_json_key(sb, "memory");
	strbuf_addstr(sb, "{\"method\":");
	strbuf_add_json_str(sb, memory_method_names[h->method]);
	strbuf_add_json_key(sb, "cgroup");
	if (!h->cgroup_path) {
		strbuf_addstr(sb, "null}");
		return;
	}
	strbuf_addstr(sb, "{\"path\":");
	strbuf_add_json_str(sb, h->cgroup_path);
	strbuf_add_json_key(sb, "version");
	strbuf_add_json_i64(sb, h->cgroup_version);
	strbuf_add_json_key(sb, "own");
	strbuf_add_json_bool(sb, h->cgroup_own);
	strbuf_add_json_key(sb, "peak");
	strbuf_add_json_str(sb, h->cgroup_peak ? h->cgroup_peak : "lifetime");
	strbuf_addstr(sb, "}}");
}

/*
 * The header's "stacks": the moments asked for, by their names there (peaks and events in the
 * plural, as the option says them), and the limits of the captures.
 */
static void write_stacks_asked(struct strbuf *sb, const struct header_info *h)
{
	strbuf_add_json_key(sb, "stacks");
	strbuf_addstr(sb, "{\"when\":[");
	for (int i = 0; i < STACK_NWHY; i++) {
		if (!(h->stacks_when & (1u << i)))
			continue;
		if (sb->buf[sb->len - 1] != '[')
			strbuf_addch(sb, ',');
		strbuf_add_json_str(sb, stack_when_names[i]);
	}
	strbuf_addstr(sb, "],\"every\":");
	add_secs_or_null(sb, h->stacks_every);
	strbuf_addstr(sb, ",\"threshold\":");
	strbuf_add_json_secs(sb, h->stacks_threshold);
	strbuf_addstr(sb, ",\"gap\":");
	strbuf_add_json_secs(sb, h->stacks_gap);
	strbuf_addstr(sb, ",\"budget\":");
	strbuf_add_json_secs(sb, h->stacks_budget);
	strbuf_addch(sb, '}');
}

/* A string member, or null. */
static void add_str_or_null(struct strbuf *sb, const char *key, const char *s)
{
	strbuf_add_json_key(sb, key);
	if (s)
		strbuf_add_json_str(sb, s);
	else
		strbuf_addstr(sb, "null");
}

/* The header's "place" (format 4): where in a job of many processes this recording ran. */
static void write_place(struct strbuf *sb, const struct place_info *p)
{
	strbuf_add_json_key(sb, "place");
	strbuf_addch(sb, '{');
	add_str_or_null(sb, "job", p->job);
	add_opt_int(sb, "rank", p->rank);
	add_opt_int(sb, "local_rank", p->local_rank);
	add_opt_int(sb, "size", p->size);
	add_opt_int(sb, "node_index", p->node_index);
	add_str_or_null(sb, "launcher", p->launcher);
	strbuf_add_json_key(sb, "node_wide");
	strbuf_add_json_bool(sb, p->node_wide);
	strbuf_addch(sb, '}');
}

/* A clock reading's members after "wall_us": how good the kernel says the clock is. */
static void write_clock_members(struct strbuf *sb, const struct clock_info *c)
{
	add_opt_int(sb, "wall_us", c->wall_us);
	strbuf_add_json_key(sb, "synced");
	strbuf_addstr(sb, c->synced < 0 ? "null" : c->synced ? "true" : "false");
	add_opt_int(sb, "maxerror_us", c->maxerror_us);
	add_opt_int(sb, "esterror_us", c->esterror_us);
}

/* The header's "job" (the launcher's variables), "place" and "clock": where and when it ran. */
static void write_job_place(struct strbuf *sb, const struct header_info *h)
{
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
	write_place(sb, &h->place);
	strbuf_add_json_key(sb, "clock");
	strbuf_addch(sb, '{');
	write_clock_members(sb, &h->clock);
	strbuf_addch(sb, '}');
}

/* The header's "events" (where memline learns of processes) and "events_off" (and why not). */
static void write_event_sources(struct strbuf *sb, const struct header_info *h)
{
	strbuf_add_json_key(sb, "events");
	strbuf_addch(sb, '[');
	for (size_t i = 0; i < h->n_event_sources; i++) {
		if (i)
			strbuf_addch(sb, ',');
		strbuf_add_json_str(sb, h->event_sources[i]);
	}
	strbuf_addch(sb, ']');
	if (h->n_events_off) {
		strbuf_add_json_key(sb, "events_off");
		strbuf_addch(sb, '{');
		for (size_t i = 0; i < h->n_events_off; i++) {
			if (i)
				strbuf_addch(sb, ',');
			strbuf_add_json_str(sb, h->events_off[i]);
			strbuf_addch(sb, ':');
			strbuf_add_json_str(sb, h->events_off_why[i]);
		}
		strbuf_addch(sb, '}');
	}
}

void log_write_header(struct log_writer *w, const struct header_info *h)
{
	if (w->failed)
		return;
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
	write_job_place(sb, h);
	add_opt_int(sb, "page_size", h->page_size);
	add_opt_int(sb, "clk_tck", h->clk_tck);
	add_opt_int(sb, "mem_total", h->mem_total);
	strbuf_add_json_key(sb, "kernel");
	strbuf_add_json_str(sb, h->kernel);
	strbuf_add_json_key(sb, "interval");
	strbuf_addstr(sb, "{\"fixed\":");
	add_secs_or_null(sb, h->interval_fixed);
	strbuf_addstr(sb, ",\"min\":");
	strbuf_add_json_secs(sb, h->interval_min);
	strbuf_addstr(sb, ",\"max\":");
	strbuf_add_json_secs(sb, h->interval_max);
	strbuf_addch(sb, '}');
	strbuf_add_json_key(sb, "peak_reset");
	strbuf_add_json_bool(sb, h->peak_reset);
	strbuf_add_json_key(sb, "pss");
	strbuf_add_json_bool(sb, h->pss);
	write_memory(sb, h);
	write_event_sources(sb, h);
	w->stacks_asked = h->stacks_when != 0;
	if (h->stacks_when)
		write_stacks_asked(sb, h);
	strbuf_add_json_key(sb, "fields");
	strbuf_addch(sb, '[');
	for (int i = 0; i < PROC_NFIELDS; i++) {
		strbuf_add_json_str(sb, proc_field_names[i]);
		strbuf_addch(sb, ',');
	}
	strbuf_addstr(sb, "\"state\"]");
	if (h->heap != HEAP_OFF) {
		strbuf_addstr(sb, ",\"heap\":{\"mode\":");
		strbuf_add_json_str(sb,
				    heap_mode_names[(unsigned)h->heap < HEAP_NMODES ? h->heap : 1]);
		strbuf_addch(sb, '}');
	}
	add_names(sb, "tree_fields", tree_field_names, TREE_NFIELDS);
	add_names(sb, "thread_fields", thread_field_names, THREAD_NFIELDS);
	strbuf_addstr(sb, "}\n");
}

static void write_proc_info(struct log_writer *w, const char *type, const struct proc_info *p,
			    bool full)
{
	if (w->failed)
		return;
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
	if (full && p->at_exit) {
		strbuf_add_json_key(sb, "seen");
		strbuf_add_json_str(sb, "exit");
	}
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
		      const struct tree_values *tree, const struct proc_values *procs, size_t n,
		      const struct thread_values *th, size_t n_th)
{
	if (w->failed)
		return;
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
	strbuf_addch(sb, ']');
	if (n_th) {
		strbuf_addstr(sb, ",\"th\":[");
		for (size_t k = 0; k < n_th; k++) {
			strbuf_addstr(sb, k ? ",[" : "[");
			for (int i = 0; i < THREAD_NFIELDS; i++) {
				if (i)
					strbuf_addch(sb, ',');
				strbuf_add_json_opt(sb, th[k].v[i]);
			}
			strbuf_addch(sb, ']');
		}
		strbuf_addch(sb, ']');
	}
	strbuf_addstr(sb, "}\n");
	w->buf_samples++;
}

void log_write_thread(struct log_writer *w, const struct thread_info *th)
{
	if (w->failed)
		return;
	struct strbuf *sb = &w->buf;
	strbuf_addstr(sb, "{\"type\":\"thread\",\"t\":");
	strbuf_add_json_secs(sb, th->t);
	strbuf_add_json_key(sb, "pid");
	strbuf_add_json_i64(sb, th->pid);
	strbuf_add_json_key(sb, "tid");
	strbuf_add_json_i64(sb, th->tid);
	if (th->end) {
		strbuf_addstr(sb, ",\"end\":true");
	} else {
		strbuf_add_json_key(sb, "name");
		if (th->name && th->name[0])
			strbuf_add_json_str(sb, th->name);
		else
			strbuf_addstr(sb, "null");
	}
	strbuf_addstr(sb, "}\n");
}

void log_write_heap(struct log_writer *w, const struct heap_info *h)
{
	if (w->failed)
		return;
	struct strbuf *sb = &w->buf;
	strbuf_addstr(sb, "{\"type\":\"heap\",\"t\":");
	strbuf_add_json_secs(sb, h->t);
	strbuf_add_json_key(sb, "pid");
	strbuf_add_json_i64(sb, h->pid);
	strbuf_add_json_key(sb, "on");
	strbuf_add_json_bool(sb, h->on);
	if (h->allocator && h->allocator[0]) {
		strbuf_add_json_key(sb, "allocator");
		strbuf_add_json_str(sb, h->allocator);
	}
	if (h->why) {
		strbuf_add_json_key(sb, "why");
		strbuf_add_json_str(sb, h->why);
	}
	strbuf_addstr(sb, "}\n");
}

void log_write_exit(struct log_writer *w, const struct exit_info *e)
{
	if (w->failed)
		return;
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
	add_opt_int(sb, "hwm", e->hwm);
	add_opt_int(sb, "maxrss", e->maxrss);
	add_opt_int(sb, "maxrss_base", e->maxrss_base);
	strbuf_add_json_key(sb, "source");
	strbuf_add_json_str(sb, exit_source_names[e->source]);
	strbuf_addstr(sb, "}\n");
}

void log_write_mark(struct log_writer *w, const struct mark_info *m)
{
	if (w->failed)
		return;
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
	w->buf_marks++;
}

void log_write_output(struct log_writer *w, double t, const char *stream, const char *text,
		      size_t len)
{
	if (w->failed)
		return;
	struct strbuf *sb = &w->buf;
	strbuf_addstr(sb, "{\"type\":\"output\",\"t\":");
	strbuf_add_json_secs(sb, t);
	strbuf_add_json_key(sb, "stream");
	strbuf_add_json_str(sb, stream);
	strbuf_add_json_key(sb, "text");
	strbuf_add_json_strn(sb, text, len);
	strbuf_addstr(sb, "}\n");
}

void log_write_clock(struct log_writer *w, const struct clock_info *c)
{
	if (w->failed)
		return;
	struct strbuf *sb = &w->buf;
	/* t to the microsecond, as wall_us: the pair is as exact as its clocks */
	long long us = c->t > 0 ? (long long)(c->t * 1e6 + 0.5) : 0;
	strbuf_addf(sb, "{\"type\":\"clock\",\"t\":%lld.%06lld", us / 1000000, us % 1000000);
	write_clock_members(sb, c);
	strbuf_addstr(sb, "}\n");
}

void log_write_warning(struct log_writer *w, double t, const char *code, pid_t pid,
		       const char *text)
{
	if (w->failed)
		return;
	struct strbuf *sb = &w->buf;
	strbuf_addstr(sb, "{\"type\":\"warning\",\"t\":");
	strbuf_add_json_secs(sb, t);
	strbuf_add_json_key(sb, "code");
	strbuf_add_json_str(sb, code);
	if (pid > 0) {
		strbuf_add_json_key(sb, "pid");
		strbuf_add_json_i64(sb, pid);
	}
	strbuf_add_json_key(sb, "text");
	strbuf_add_json_str(sb, text);
	strbuf_addstr(sb, "}\n");
}

/* A frame of a "frames" record: unknown members left out. */
static void write_frame(struct strbuf *sb, const struct frame_info *f)
{
	strbuf_addstr(sb, "{\"kind\":");
	strbuf_add_json_str(sb, frame_kind_names[f->kind]);
	strbuf_add_json_key(sb, "fn");
	if (f->fn)
		strbuf_add_json_str(sb, f->fn);
	else
		strbuf_addstr(sb, "null");
	if (f->module) {
		strbuf_add_json_key(sb, "mod");
		strbuf_add_json_str(sb, f->module);
	}
	if (f->off >= 0)
		add_opt_int(sb, "off", f->off);
	if (f->fn_off >= 0)
		add_opt_int(sb, "fn_off", f->fn_off);
	if (f->file) {
		strbuf_add_json_key(sb, "file");
		strbuf_add_json_str(sb, f->file);
	}
	if (f->line > 0)
		add_opt_int(sb, "line", f->line);
	strbuf_addch(sb, '}');
}

/*
 * The numbers of s's frames into w->stack_ids, new frames added to the table: returns the
 * number of the first new one (w->frames.n when none is new), or -1 when out of memory.
 */
static long intern_frames(struct log_writer *w, const struct stack_info *s)
{
	size_t first = w->frames.n;
	if (s->n_frames > w->stack_ids_alloc) {
		size_t *ids = realloc(w->stack_ids, s->n_frames * sizeof(*ids));
		if (!ids)
			return -1;
		w->stack_ids = ids;
		w->stack_ids_alloc = s->n_frames;
	}
	for (size_t i = 0; i < s->n_frames; i++) {
		struct frame_info f = s->frames[i];
		if ((unsigned)f.kind >= FRAME_NKINDS)
			f.kind = FRAME_NATIVE;
		long id = frame_table_intern(&w->frames, &f);
		if (id < 0)
			return -1;
		w->stack_ids[i] = (size_t)id;
	}
	return (long)first;
}

void log_write_stack(struct log_writer *w, const struct stack_info *s)
{
	if (w->failed)
		return;
	struct strbuf *sb = &w->buf;
	long first = intern_frames(w, s);
	if (first < 0) {
		sb->oom = true; /* the next flush stops the log with ENOMEM, saying so */
		return;
	}
	if ((size_t)first < w->frames.n) {
		strbuf_addstr(sb, "{\"type\":\"frames\",\"t\":");
		strbuf_add_json_secs(sb, s->t);
		strbuf_add_json_key(sb, "first");
		strbuf_add_json_i64(sb, first);
		strbuf_addstr(sb, ",\"frames\":[");
		for (size_t k = (size_t)first; k < w->frames.n; k++) {
			if (k > (size_t)first)
				strbuf_addch(sb, ',');
			write_frame(sb, &w->frames.frames[k]);
		}
		strbuf_addstr(sb, "]}\n");
	}
	strbuf_addstr(sb, "{\"type\":\"stack\",\"t\":");
	strbuf_add_json_secs(sb, s->t);
	add_opt_int(sb, "capture", s->capture);
	strbuf_add_json_key(sb, "why");
	strbuf_add_json_str(sb, stack_why_names[(unsigned)s->why < STACK_NWHY ? s->why : 0]);
	if (s->label) {
		strbuf_add_json_key(sb, "label");
		strbuf_add_json_strn(sb, s->label, s->label_len);
	}
	add_opt_int(sb, "pid", s->pid);
	add_opt_int(sb, "tid", s->tid);
	if (s->thread) {
		strbuf_add_json_key(sb, "thread");
		strbuf_add_json_str(sb, s->thread);
	}
	strbuf_addstr(sb, ",\"frames\":[");
	for (size_t i = 0; i < s->n_frames; i++) {
		if (i)
			strbuf_addch(sb, ',');
		strbuf_add_json_u64(sb, w->stack_ids[i]);
	}
	strbuf_addch(sb, ']');
	if (s->stall_us >= 0)
		add_opt_int(sb, "stall_us", s->stall_us);
	if (s->truncated) {
		strbuf_add_json_key(sb, "truncated");
		strbuf_add_json_bool(sb, true);
	}
	if (s->error) {
		strbuf_add_json_key(sb, "error");
		strbuf_add_json_str(sb, s->error);
	}
	strbuf_addstr(sb, "}\n");
}

void log_write_end(struct log_writer *w, const struct end_info *e)
{
	/* After a stop, the end alone is still tried at close (log_writer_close). */
	if (w->failed && (!w->stopped || w->buf.len))
		return;
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
	strbuf_add_json_i64(sb, w->samples + w->buf_samples);
	add_opt_int(sb, "self_utime", e->self_utime);
	add_opt_int(sb, "self_stime", e->self_stime);
	strbuf_add_json_key(sb, "events");
	strbuf_add_json_i64(sb, w->marks + w->buf_marks);
	add_opt_int(sb, "job_peak", e->job_peak);
	if (e->job_peak >= 0) {
		strbuf_add_json_key(sb, "job_peak_t");
		strbuf_add_json_secs(sb, e->job_peak_t);
	}
	add_opt_int(sb, "procs", e->procs);
	add_opt_int(sb, "missed", e->missed);
	if (e->overruns >= 0)
		add_opt_int(sb, "overruns", e->overruns);
	if (e->error) {
		strbuf_add_json_key(sb, "error");
		strbuf_add_json_str(sb, e->error);
	}
	if (e->stacks.captures >= 0 && w->stacks_asked) {
		strbuf_addstr(sb, ",\"stacks\":{\"captures\":");
		strbuf_add_json_i64(sb, e->stacks.captures);
		add_opt_int(sb, "skipped", e->stacks.skipped);
		add_opt_int(sb, "failed", e->stacks.failed);
		strbuf_add_json_key(sb, "cpu");
		strbuf_add_json_secs(sb, e->stacks.cpu);
		strbuf_addch(sb, '}');
	}
	strbuf_addstr(sb, "}\n");
}

/* Forgets what is buffered. */
static void drop(struct log_writer *w)
{
	strbuf_reset(&w->buf);
	w->buf.oom = false;
	w->buf_samples = w->buf_marks = 0;
}

/*
 * Writing stops for good, because of errno e: the message is kept for every later flush, and
 * where the log has its header, a stopped record goes into the space kept for it.
 */
static void stop(struct log_writer *w, int e, bool record)
{
	w->failed = true;
	drop(w);
	strbuf_reset(&w->err_msg);
	strbuf_addf(&w->err_msg, "cannot write log '%s': %s", w->path, strerror(e));
	if (!record || w->size == 0)
		return;
	struct strbuf sb = STRBUF_INIT;
	double t = boottime() - w->t0;
	const char *name = strerrorname_np(e);
	strbuf_addstr(&sb, "{\"type\":\"stopped\",\"t\":");
	strbuf_add_json_secs(&sb, t > 0 ? t : 0);
	strbuf_add_json_key(&sb, "errno");
	strbuf_add_json_str(&sb, name ? name : "");
	strbuf_add_json_key(&sb, "error");
	strbuf_add_json_str(&sb, strerror(e));
	strbuf_addstr(&sb, "}\n");
	if (!sb.oom && append(w, sb.buf, sb.len) == 0) {
		w->size += (off_t)sb.len;
		w->stopped = true;
		strbuf_addstr(&w->err_msg, "; the log stops there, with a record that says why");
	} else if (ftruncate(w->fd, w->size) < 0) {
		/* nothing more to do: the reader takes a cut-off last line */
	}
	strbuf_release(&sb);
}

/* True, and writing stopped, when the log was deleted (its directory removed, say). */
static bool check_removed(struct log_writer *w)
{
	struct stat st;
	if (!w->committed || fstat(w->fd, &st) < 0 || st.st_nlink > 0)
		return false;
	w->removed = true;
	w->failed = true;
	drop(w);
	strbuf_reset(&w->err_msg);
	strbuf_addf(&w->err_msg, "log '%s' was removed while memline was writing it", w->path);
	return true;
}

/* Writes what is buffered at the end of the file, within allocated space. */
static int write_buffer(struct log_writer *w)
{
	int e = 0;
	if (reserve(w, w->buf.len) < 0) {
		e = errno; /* nothing written: the space kept is intact */
	} else if (append(w, w->buf.buf, w->buf.len) < 0) {
		e = errno;
		/* Never leave half a batch behind: cut back to the last whole one. */
		if (ftruncate(w->fd, w->size) < 0) {
			/* the reader takes a cut-off last line */
		}
	}
	if (e) {
		stop(w, e, true);
		return -1;
	}
	w->size += (off_t)w->buf.len;
	w->samples += w->buf_samples;
	w->marks += w->buf_marks;
	drop(w);
	return 0;
}

int log_writer_flush(struct log_writer *w, double now, bool force, struct strbuf *err)
{
	if (w->buf.oom && !w->failed)
		stop(w, ENOMEM, true);
	if (w->failed || w->fd < 0) {
		drop(w);
		strbuf_addstr(err, w->err_msg.len ? w->err_msg.buf : "the log is closed");
		return -1;
	}
	bool due = force || w->buf.len >= FLUSH_BYTES || now - w->last_write >= w->flush_secs;
	if (!due || !w->buf.len)
		return 0;
	if (check_removed(w) || write_buffer(w) < 0) {
		strbuf_addstr(err, w->err_msg.buf);
		return -1;
	}
	w->last_write = now;
	if (force || now - w->last_sync >= SYNC_SECS) {
		fdatasync(w->fd);
		w->last_sync = now;
	}
	return 0;
}

double log_writer_due(const struct log_writer *w)
{
	return w->buf.len && !w->failed ? w->last_write + w->flush_secs : INFINITY;
}

static void free_writer(struct log_writer *w)
{
	if (w->old_fd >= 0)
		close(w->old_fd);
	w->old_fd = -1;
	free(w->path);
	free(w->tmp);
	free(w->target);
	free(w->stem);
	w->path = w->tmp = w->target = w->stem = NULL;
	strbuf_release(&w->buf);
	strbuf_release(&w->err_msg);
	frame_table_release(&w->frames);
	free(w->stack_ids);
	w->stack_ids = NULL;
	w->stack_ids_alloc = 0;
}

int log_writer_close(struct log_writer *w, struct strbuf *err)
{
	int ret = 0;
	if (w->fd >= 0) {
		/* After a stop, only the end record is buffered: it may fit in the space kept. */
		if (w->stopped && w->buf.len && !check_removed(w)) {
			if (append(w, w->buf.buf, w->buf.len) == 0)
				w->size += (off_t)w->buf.len;
			else if (ftruncate(w->fd, w->size) < 0) {
				/* a cut-off last line */
			}
			drop(w);
		}
		ret = log_writer_flush(w, boottime(), true, err);
		if (w->reserved > w->size)
			fallocate(w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, w->size,
				  w->reserved - w->size);
		fdatasync(w->fd);
		struct stat st, at;
		if (w->committed && fstat(w->fd, &st) == 0) {
			w->removed = st.st_nlink == 0;
			w->moved = !w->removed && (stat(w->path, &at) < 0 || !same_file(&st, &at));
		}
		if (close(w->fd) < 0 && !ret) {
			strbuf_addf(err, "cannot write log '%s': %s", w->path, strerror(errno));
			ret = -1;
		}
		w->fd = -1;
	}
	free_writer(w);
	return ret;
}

void log_writer_discard(struct log_writer *w)
{
	if (w->tmp || w->at_tmp)
		unlink(w->tmp ? w->tmp : w->path);
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	free_writer(w);
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
	strbuf_addstr(&name, ".jsonl");
	if (name.oom) {
		strbuf_release(&name);
		return NULL;
	}
	return strbuf_detach(&name, NULL);
}
