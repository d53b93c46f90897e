/*
 * channel-dir: where a recording's event channel lives (see channel.h and docs/events.md).
 *
 * The directory is BASE/memline-PID-START-XXXXXX, mode 0700, holding the channel file
 * "events", mode 0600. PID and START (field 22 of /proc/PID/stat) name the process that made
 * it; that process holds a flock(2) on the directory for as long as it uses it. A directory is
 * stale when both say its maker is gone: no process PID with that start time lives (in our pid
 * namespace) and nobody holds the lock (in any namespace, a forked child included). Stale
 * directories of this user are removed when a new one is made, so that a memline or a Python
 * process killed with SIGKILL leaves nothing behind for long.
 *
 * BASE is chosen so that, once the directory is removed, nobody else can create it again
 * while processes of the tree may still send: $XDG_RUNTIME_DIR (the user's own), /run/memline
 * for root, and /tmp only when neither is there. The senders' checks (channel_open) are what
 * makes /tmp safe for them; a plain shell redirect has no such checks (docs/events.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "record/channel.h"
#include "record/procfs.h"

#define PREFIX	 "memline-"
#define RUN_BASE "/run/memline"

enum dir_rule {
	DIR_PRIVATE,	/* mode exactly 0700 */
	DIR_NOT_SHARED, /* neither group nor others may write */
};

/* Whether path is a directory (not a link) of owner that follows rule. */
static bool dir_is(const char *path, uid_t owner, enum dir_rule rule)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == owner &&
		  (rule == DIR_PRIVATE ? (st.st_mode & 07777) == 0700 : !(st.st_mode & 022));
	close(fd);
	return ok;
}

void channel_dir_base(struct strbuf *out)
{
	strbuf_reset(out);
	uid_t me = geteuid();
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && xdg[0] == '/' && dir_is(xdg, me, DIR_PRIVATE)) {
		strbuf_addstr(out, xdg);
		return;
	}
	if (me == 0 && dir_is("/run", 0, DIR_NOT_SHARED)) {
		/* It may exist already; on a read-only /run, the check fails: /tmp then. */
		mkdir(RUN_BASE, 0700);
		if (dir_is(RUN_BASE, 0, DIR_NOT_SHARED)) {
			strbuf_addstr(out, RUN_BASE);
			return;
		}
	}
	strbuf_addstr(out, "/tmp");
}

/* Parses a run of decimal digits at *p into *v (no sign, no overflow); moves *p past it. */
static bool digits(const char **p, unsigned long long *v)
{
	const char *s = *p;
	unsigned long long n = 0;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (~0ULL - 9) / 10)
			return false;
		n = n * 10 + (unsigned long long)(*s - '0');
	}
	*p = s;
	*v = n;
	return true;
}

/* Whether name is memline-PID-START-XXXXXX (six letters or digits); sets pid and start. */
static bool parse_name(const char *name, pid_t *pid, unsigned long long *start)
{
	if (strncmp(name, PREFIX, strlen(PREFIX)))
		return false;
	const char *p = name + strlen(PREFIX);
	unsigned long long v;
	if (!digits(&p, &v) || *p++ != '-' || v == 0 || v > 0x7fffffff)
		return false;
	*pid = (pid_t)v;
	if (!digits(&p, start) || *p++ != '-')
		return false;
	size_t n = 0;
	for (; p[n]; n++)
		if (!((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
		      (p[n] >= '0' && p[n] <= '9')))
			return false;
	return n == 6;
}

/* Removes what dfd (a channel directory) holds: files only, a subdirectory stays. */
static void empty_dir(int dfd)
{
	int fd = dup(dfd);
	DIR *dp = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dp) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(dp)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dfd, e->d_name, 0);
	closedir(dp);
}

/* Removes the entry name of bfd if it is a stale channel directory of this user. */
static bool remove_if_stale(int bfd, const char *name, const struct procfs *fs)
{
	pid_t pid;
	unsigned long long start;
	struct stat st, st2;
	if (!parse_name(name, &pid, &start))
		return false;
	if (fstatat(bfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid())
		return false;
	struct proc_stat ps;
	if (procfs_pid_stat(fs, pid, &ps) && ps.starttime == start)
		return false; /* its maker lives */
	int dfd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return false;
	bool removed = false;
	/* The same directory as the one looked at, and nobody uses it. */
	if (fstat(dfd, &st2) == 0 && st2.st_dev == st.st_dev && st2.st_ino == st.st_ino &&
	    st2.st_uid == geteuid() && flock(dfd, LOCK_EX | LOCK_NB) == 0) {
		empty_dir(dfd);
		removed = unlinkat(bfd, name, AT_REMOVEDIR) == 0;
	}
	close(dfd); /* and with it the lock */
	return removed;
}

size_t channel_dir_clean(const char *base, const struct procfs *fs)
{
	int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = bfd >= 0 ? fdopendir(bfd) : NULL;
	if (!dp) {
		if (bfd >= 0)
			close(bfd);
		return 0;
	}
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(dp)))
		if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN)
			n += remove_if_stale(dirfd(dp), e->d_name, fs);
	closedir(dp);
	return n;
}

int channel_dir_create(struct channel_dir *d, const struct procfs *fs, struct strbuf *err)
{
	memset(d, 0, sizeof(*d));
	d->lock_fd = -1;
	struct strbuf base = STRBUF_INIT, path = STRBUF_INIT;
	channel_dir_base(&base);
	if (base.oom) {
		strbuf_addstr(err, "cannot create the event channel: out of memory");
		goto fail;
	}
	channel_dir_clean(base.buf, fs);
	pid_t me = getpid();
	struct proc_stat ps;
	unsigned long long start = procfs_pid_stat(fs, me, &ps) ? ps.starttime : 0;
	strbuf_addf(&path, "%s/" PREFIX "%d-%llu-XXXXXX", base.buf, (int)me, start);
	if (path.oom || !mkdtemp(path.buf)) {
		strbuf_addf(err, "cannot create a directory for the event channel in '%s': %s",
			    base.buf, path.oom ? strerror(ENOMEM) : strerror(errno));
		strbuf_release(&path);
		goto fail;
	}
	d->dir = strbuf_detach(&path, NULL);
	/* mkdtemp's 0700 is cut by the umask: make it exactly 0700, as senders require. */
	d->lock_fd = open(d->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d->lock_fd < 0 || fchmod(d->lock_fd, 0700) < 0 ||
	    flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		strbuf_addf(err, "cannot set up the event channel's directory '%s': %s", d->dir,
			    strerror(errno));
		goto fail;
	}
	int fd = openat(d->lock_fd, "events", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
			0600);
	if (fd < 0 || fchmod(fd, 0600) < 0) {
		strbuf_addf(err, "cannot create the event channel in '%s': %s", d->dir,
			    strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	close(fd);
	strbuf_addf(&path, "%s/events", d->dir);
	if (path.oom) {
		strbuf_addstr(err, "cannot create the event channel: out of memory");
		strbuf_release(&path);
		goto fail;
	}
	d->file = strbuf_detach(&path, NULL);
	strbuf_release(&base);
	return 0;
fail:
	strbuf_release(&base);
	channel_dir_remove(d);
	return -1;
}

void channel_dir_remove(struct channel_dir *d)
{
	if (d->dir) {
		int dfd = open(d->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd >= 0) {
			empty_dir(dfd); /* the channel, and --heap's counters files */
			close(dfd);
		}
		rmdir(d->dir);
	}
	/* Without a directory there is no lock: a zeroed d's lock_fd of 0 is not ours. */
	if (d->dir && d->lock_fd >= 0)
		close(d->lock_fd);
	free(d->dir);
	free(d->file);
	memset(d, 0, sizeof(*d));
	d->lock_fd = -1;
}
