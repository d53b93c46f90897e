/*
 * procfs: reading /proc relative to a root directory fd, and the cgroup file systems relative
 * to the system root (the proc root's parent). Per-process files are opened once and re-read
 * with pread (the kernel regenerates a /proc file on every read at offset 0). Reads of a
 * process that exited fail with ESRCH or return nothing: that is reported as false, quietly.
 * Parsers only look for what memline records and tolerate everything else.
 */
#include "record/procfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#define SMALL_READ 4096

static ssize_t pread_small(int fd, char *buf, size_t size);

static int open_ro(int dirfd, const char *path)
{
	return openat(dirfd, path, O_RDONLY | O_CLOEXEC);
}

int procfs_init(struct procfs *fs, const char *root, struct strbuf *err)
{
	memset(fs, 0, sizeof(*fs));
	fs->sys_fd = -1;
	fs->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->root_fd < 0) {
		strbuf_addf(err, "cannot open '%s': %s", root, strerror(errno));
		return -1;
	}
	/* "/" for /proc; a fixture tree's root for TREE/proc. -1 if it cannot be opened: no
	 * cgroup file is then readable, and OOM detection falls back to /proc/vmstat. */
	fs->sys_fd = openat(fs->root_fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct statfs sfs;
	fs->live = fstatfs(fs->root_fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
	fs->loadavg_fd = open_ro(fs->root_fd, "loadavg");
	fs->meminfo_fd = open_ro(fs->root_fd, "meminfo");
	fs->vmstat_fd = open_ro(fs->root_fd, "vmstat");
	long ps = sysconf(_SC_PAGESIZE);
	fs->page_kib = ps > 0 ? ps / 1024 : 4;
	fs->clk_tck = sysconf(_SC_CLK_TCK);
	if (fs->clk_tck <= 0)
		fs->clk_tck = 100;
	fs->pid_max = 4194304;
	struct strbuf sb = STRBUF_INIT;
	if (procfs_read_file(fs, "sys/kernel/pid_max", &sb)) {
		long v = strtol(sb.buf, NULL, 10);
		if (v > 0)
			fs->pid_max = (int)v;
	}
	strbuf_release(&sb);
	procfs_update_fd_budget(fs);
	return 0;
}

void procfs_update_fd_budget(struct procfs *fs)
{
	struct rlimit r;
	long limit = getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < (rlim_t)1 << 30
			     ? (long)r.rlim_cur
			     : 1L << 30;
	long reserve = limit / 8 > 128 ? limit / 8 : 128;
	fs->fd_budget = limit - reserve;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void procfs_release(struct procfs *fs)
{
	close_fd(&fs->root_fd);
	close_fd(&fs->sys_fd);
	close_fd(&fs->loadavg_fd);
	close_fd(&fs->meminfo_fd);
	close_fd(&fs->vmstat_fd);
}

/* ---- parsers ---- */

/* Parses one unsigned or negative decimal number at *p, moving past it and one separator. */
static bool next_num(const char **p, const char *end, long long *out)
{
	const char *s = *p;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	bool neg = false;
	if (s < end && *s == '-') {
		neg = true;
		s++;
	}
	if (s >= end || *s < '0' || *s > '9')
		return false;
	unsigned long long v = 0;
	while (s < end && *s >= '0' && *s <= '9')
		v = v * 10 + (unsigned long long)(*s++ - '0');
	*p = s;
	*out = neg ? -(long long)v : (long long)v;
	return true;
}

bool procfs_parse_stat(const char *buf, size_t len, struct proc_stat *st)
{
	const char *end = buf + len;
	const char *open = memchr(buf, '(', len);
	const char *close = NULL;
	/* The name may itself contain ')': the real end is the last one. */
	for (const char *q = end; q > buf; q--)
		if (q[-1] == ')') {
			close = q - 1;
			break;
		}
	if (!open || !close || close < open || close + 2 >= end)
		return false;
	memset(st, 0, sizeof(*st));
	const char *p = buf;
	long long v;
	if (!next_num(&p, open, &v))
		return false;
	st->pid = (pid_t)v;
	size_t n = (size_t)(close - open - 1);
	if (n >= sizeof(st->comm))
		n = sizeof(st->comm) - 1;
	memcpy(st->comm, open + 1, n);
	st->comm[n] = '\0';
	p = close + 2;
	st->state = *p++;
	/*
	 * Fields 4 onwards, numbered as in proc(5): the ones memline uses are parsed, the others
	 * skipped. This runs for every process at every sample.
	 */
	static const unsigned char wanted[] = {4,  9,  10, 11, 12, 14, 15, 20,
					       22, 23, 24, 26, 38, 48, 52};
	long long f[53] = {0};
	int field = 3;
	for (size_t i = 0; i < sizeof(wanted); i++) {
		while (field + 1 < wanted[i] && p < end) {
			const char *sp = memchr(p + 1, ' ', (size_t)(end - p - 1));
			p = sp ? sp : end;
			field++;
		}
		if (!next_num(&p, end, &f[wanted[i]]))
			break;
		field = wanted[i];
	}
	if (field < 24)
		return false;
	st->ppid = (pid_t)f[4];
	st->flags = (unsigned long)f[9];
	st->minflt = (unsigned long long)f[10];
	st->cminflt = (unsigned long long)f[11];
	st->majflt = (unsigned long long)f[12];
	st->utime = (unsigned long long)f[14];
	st->stime = (unsigned long long)f[15];
	st->threads = (long)f[20];
	st->starttime = (unsigned long long)f[22];
	st->vsize = (unsigned long long)f[23];
	st->rss = f[24];
	st->startcode = field >= 26 ? (unsigned long long)f[26] : 0;
	st->exit_signal = field >= 38 ? (int)f[38] : 17;
	st->argstart = field >= 48 ? (unsigned long long)f[48] : 0;
	st->exit_code = field >= 52 ? (int)f[52] : -1;
	return true;
}

/* Finds "key:" at the start of a line; returns the text after the colon or NULL. */
static const char *find_key(const char *buf, size_t len, const char *key, size_t klen)
{
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if ((size_t)(le - p) > klen && !memcmp(p, key, klen) && p[klen] == ':')
			return p + klen + 1;
		p = le + 1;
	}
	return NULL;
}

long long procfs_parse_kv(const char *buf, size_t len, const char *key)
{
	const char *v = find_key(buf, len, key, strlen(key));
	long long out;
	if (!v || !next_num(&v, buf + len, &out))
		return -1;
	return out;
}

long long procfs_parse_counter(const char *buf, size_t len, const char *key)
{
	size_t klen = strlen(key);
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if ((size_t)(le - p) > klen && !memcmp(p, key, klen) && p[klen] == ' ') {
			const char *v = p + klen;
			long long out;
			if (next_num(&v, le, &out))
				return out;
		}
		p = le + 1;
	}
	return -1;
}

bool procfs_parse_status(const char *buf, size_t len, struct proc_status *st)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{"VmHWM", offsetof(struct proc_status, vm_hwm)},
		{"VmRSS", offsetof(struct proc_status, vm_rss)},
		{"RssAnon", offsetof(struct proc_status, rss_anon)},
		{"RssFile", offsetof(struct proc_status, rss_file)},
		{"RssShmem", offsetof(struct proc_status, rss_shmem)},
		{"VmSwap", offsetof(struct proc_status, vm_swap)},
		{"VmSize", offsetof(struct proc_status, vm_size)},
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		*(long long *)((char *)st + keys[i].off) = -1;
	st->tgid = -1;
	const char *p = buf, *end = buf + len;
	bool any = false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (colon) {
			size_t klen = (size_t)(colon - p);
			const char *v = colon + 1;
			long long num;
			if (klen == 4 && !memcmp(p, "Tgid", 4) && next_num(&v, le, &num)) {
				st->tgid = (pid_t)num;
				any = true;
			} else if (klen >= 5 && (p[0] == 'V' || p[0] == 'R')) {
				for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
					if (strlen(keys[i].key) == klen &&
					    !memcmp(p, keys[i].key, klen) &&
					    next_num(&v, le, &num)) {
						*(long long *)((char *)st + keys[i].off) = num;
						any = true;
					}
			}
		}
		p = le + 1;
	}
	return any;
}

bool procfs_parse_io(const char *buf, size_t len, struct proc_io *io)
{
	io->rchar = procfs_parse_kv(buf, len, "rchar");
	io->wchar = procfs_parse_kv(buf, len, "wchar");
	io->read_bytes = procfs_parse_kv(buf, len, "read_bytes");
	io->write_bytes = procfs_parse_kv(buf, len, "write_bytes");
	return io->rchar >= 0;
}

bool procfs_parse_statm(const char *buf, size_t len, long long *resident, long long *shared)
{
	const char *p = buf, *end = buf + len;
	long long size;
	return next_num(&p, end, &size) && next_num(&p, end, resident) && next_num(&p, end, shared);
}

bool procfs_parse_smaps(const char *buf, size_t len, struct proc_smaps *sm)
{
	sm->rss = procfs_parse_kv(buf, len, "Rss");
	sm->pss = procfs_parse_kv(buf, len, "Pss");
	long long clean = procfs_parse_kv(buf, len, "Private_Clean");
	long long dirty = procfs_parse_kv(buf, len, "Private_Dirty");
	sm->private_kib = clean >= 0 && dirty >= 0 ? clean + dirty : -1;
	sm->anon = procfs_parse_kv(buf, len, "Anonymous");
	sm->pss_anon = procfs_parse_kv(buf, len, "Pss_Anon");
	return sm->pss >= 0;
}

int procfs_parse_loadavg_last_pid(const char *buf, size_t len)
{
	const char *end = buf + len, *p = buf;
	for (int field = 0; field < 4; field++) {
		while (p < end && *p != ' ')
			p++;
		while (p < end && *p == ' ')
			p++;
	}
	long long v;
	if (!next_num(&p, end, &v))
		return -1;
	return (int)v;
}

bool procfs_parse_cgroup(const char *buf, size_t len, struct strbuf *path, bool *v2)
{
	const char *p = buf, *end = buf + len;
	bool found_v2 = false;
	struct strbuf v2path = STRBUF_INIT;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *c1 = memchr(p, ':', (size_t)(le - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
		if (c2) {
			const char *ctl = c1 + 1;
			size_t clen = (size_t)(c2 - ctl);
			if (clen == 0 && c1 - p == 1 && *p == '0') {
				strbuf_reset(&v2path);
				strbuf_add(&v2path, c2 + 1, (size_t)(le - c2 - 1));
				found_v2 = true;
			} else {
				/* A v1 line names its controllers, comma-separated. */
				const char *q = ctl;
				while (q < c2) {
					const char *comma = memchr(q, ',', (size_t)(c2 - q));
					const char *ce = comma ? comma : c2;
					if (ce - q == 6 && !memcmp(q, "memory", 6)) {
						strbuf_reset(path);
						strbuf_add(path, c2 + 1, (size_t)(le - c2 - 1));
						*v2 = false;
						strbuf_release(&v2path);
						return true;
					}
					q = ce + 1;
				}
			}
		}
		p = le + 1;
	}
	if (found_v2) {
		strbuf_reset(path);
		strbuf_add(path, v2path.buf, v2path.len);
		*v2 = true;
	}
	strbuf_release(&v2path);
	return found_v2;
}

/* ---- reading ---- */

/* Reads a whole file from fd by pread into out; false on error or an empty read. */
static bool pread_all(int fd, struct strbuf *out)
{
	strbuf_reset(out);
	for (;;) {
		if (!strbuf_grow(out, SMALL_READ))
			return false;
		ssize_t n =
			pread(fd, out->buf + out->len, out->alloc - out->len - 1, (off_t)out->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->buf[out->len] = '\0';
	}
	return out->len > 0;
}

bool procfs_read_file(const struct procfs *fs, const char *path, struct strbuf *out)
{
	int fd = open_ro(fs->root_fd, path);
	if (fd < 0)
		return false;
	bool ok = pread_all(fd, out);
	close(fd);
	return ok;
}

bool procfs_read_sys_file(const struct procfs *fs, const char *path, struct strbuf *out)
{
	if (fs->sys_fd < 0)
		return false;
	int fd = open_ro(fs->sys_fd, procfs_sys_rel(path));
	if (fd < 0)
		return false;
	bool ok = pread_all(fd, out);
	close(fd);
	return ok;
}

const char *procfs_sys_rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

int procfs_sys_open(const struct procfs *fs, const char *path, int flags)
{
	if (fs->sys_fd < 0) {
		errno = ENOENT;
		return -1;
	}
	return openat(fs->sys_fd, procfs_sys_rel(path), flags | O_CLOEXEC);
}

bool procfs_fd_read(int fd, struct strbuf *out)
{
	return fd >= 0 && pread_all(fd, out);
}

long long procfs_fd_number(int fd)
{
	char buf[64];
	ssize_t n = pread_small(fd, buf, sizeof(buf));
	if (n <= 0)
		return -1;
	if (!strncmp(buf, "max", 3))
		return LLONG_MAX;
	const char *p = buf;
	long long v;
	return next_num(&p, buf + n, &v) && v >= 0 ? v : -1;
}

bool procfs_mountinfo(const struct procfs *fs, struct strbuf *out)
{
	return procfs_read_file(fs, "self/mountinfo", out);
}

/* A comm file's name into buf (without its newline); fd is closed. False when unreadable. */
static bool read_comm(int fd, char *buf, size_t size)
{
	ssize_t n = fd >= 0 && size >= 2 ? pread_small(fd, buf, size) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] != '\0';
}

bool procfs_comm(const struct procfs *fs, pid_t pid, char *buf, size_t size)
{
	char path[48];
	if (pid > 0)
		snprintf(path, sizeof(path), "%s%d/comm", fs ? "" : "/proc/", (int)pid);
	else
		snprintf(path, sizeof(path), "%sself/comm", fs ? "" : "/proc/");
	return read_comm(fs ? open_ro(fs->root_fd, path) : open(path, O_RDONLY | O_CLOEXEC), buf,
			 size);
}

/* One pread of a small file into buf; returns the length or -1. */
static ssize_t pread_small(int fd, char *buf, size_t size)
{
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = pread(fd, buf, size - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static bool read_stat(const struct procfs *fs, const char *path, struct proc_stat *st)
{
	int fd = open_ro(fs->root_fd, path);
	if (fd < 0)
		return false;
	char buf[SMALL_READ];
	ssize_t n = pread_small(fd, buf, sizeof(buf));
	close(fd);
	return n > 0 && procfs_parse_stat(buf, (size_t)n, st);
}

bool procfs_pid_stat(const struct procfs *fs, pid_t pid, struct proc_stat *st)
{
	char path[32];
	snprintf(path, sizeof(path), "%d/stat", (int)pid);
	return read_stat(fs, path, st);
}

bool procfs_task_stat(const struct procfs *fs, pid_t pid, pid_t tid, struct proc_stat *st)
{
	char path[48];
	snprintf(path, sizeof(path), "%d/task/%d/stat", (int)pid, (int)tid);
	return read_stat(fs, path, st);
}

int procfs_same_vm(struct procfs *fs, pid_t a, pid_t b)
{
	if (!fs->live || fs->no_kcmp)
		return -1;
	long r = syscall(SYS_kcmp, a, b, KCMP_VM, 0, 0);
	if (r < 0 && errno == ENOSYS)
		fs->no_kcmp = true;
	return r < 0 ? -1 : r == 0;
}

bool procfs_has_smaps_rollup(const struct procfs *fs)
{
	return faccessat(fs->root_fd, "self/smaps_rollup", R_OK, 0) == 0;
}

int procfs_last_pid(const struct procfs *fs)
{
	char buf[256];
	ssize_t n = pread_small(fs->loadavg_fd, buf, sizeof(buf));
	return n < 0 ? -1 : procfs_parse_loadavg_last_pid(buf, (size_t)n);
}

void procfs_meminfo(const struct procfs *fs, long long *total, long long *avail)
{
	char buf[SMALL_READ];
	ssize_t n = pread_small(fs->meminfo_fd, buf, sizeof(buf));
	*total = n < 0 ? -1 : procfs_parse_kv(buf, (size_t)n, "MemTotal");
	*avail = n < 0 ? -1 : procfs_parse_kv(buf, (size_t)n, "MemAvailable");
}

long long procfs_vmstat_oom_kill(const struct procfs *fs)
{
	if (fs->vmstat_fd < 0)
		return -1;
	struct strbuf sb = STRBUF_INIT;
	long long v = pread_all(fs->vmstat_fd, &sb)
			      ? procfs_parse_counter(sb.buf, sb.len, "oom_kill")
			      : -1;
	strbuf_release(&sb);
	return v;
}

/* Calls fn for every numeric entry of the directory fd (closed here). */
static int for_each_number(int fd, void (*fn)(pid_t pid, void *data), void *data)
{
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *s = de->d_name;
		if (*s < '1' || *s > '9')
			continue;
		char *end;
		long pid = strtol(s, &end, 10);
		if (*end == '\0' && pid > 0)
			fn((pid_t)pid, data);
	}
	closedir(d);
	return 0;
}

int procfs_for_each_pid(const struct procfs *fs, void (*fn)(pid_t pid, void *data), void *data)
{
	return for_each_number(openat(fs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), fn,
			       data);
}

int procfs_for_each_task(const struct procfs *fs, pid_t pid, void (*fn)(pid_t tid, void *data),
			 void *data)
{
	char path[32];
	snprintf(path, sizeof(path), "%d/task", (int)pid);
	return for_each_number(openat(fs->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fn,
			       data);
}

bool procfs_task_comm(const struct procfs *fs, pid_t pid, pid_t tid, char *buf, size_t size)
{
	char path[48];
	snprintf(path, sizeof(path), "%d/task/%d/comm", (int)pid, (int)tid);
	return read_comm(open_ro(fs->root_fd, path), buf, size);
}

int procfs_mem_open(const struct procfs *fs, pid_t pid)
{
	char path[32];
	snprintf(path, sizeof(path), "%d/mem", (int)pid);
	return openat(fs->root_fd, path, O_RDONLY | O_CLOEXEC);
}

int procfs_open(const struct procfs *fs, const char *path, int flags)
{
	return openat(fs->root_fd, path, flags | O_CLOEXEC);
}

ssize_t procfs_readlink(const struct procfs *fs, pid_t pid, const char *name, char *buf,
			size_t size)
{
	char path[48];
	snprintf(path, sizeof(path), "%d/%s", (int)pid, name);
	return readlinkat(fs->root_fd, path, buf, size);
}

bool procfs_read_maps(const struct procfs *fs, pid_t pid, struct strbuf *out)
{
	char path[32];
	snprintf(path, sizeof(path), "%d/maps", (int)pid);
	return procfs_read_file(fs, path, out);
}

static bool out_of_fds(void)
{
	return errno == EMFILE || errno == ENFILE;
}

bool proc_handle_open(struct proc_handle *h, struct procfs *fs, pid_t pid)
{
	char name[24];
	snprintf(name, sizeof(name), "%d", (int)pid);
	memset(h, 0, sizeof(*h));
	h->fs = fs;
	h->pid = pid;
	h->dir_fd = h->stat_fd = h->status_fd = h->statm_fd = h->smaps_fd = h->clear_refs_fd = -1;
	bool full = fs->fds_kept + 2 > fs->fd_budget;
	if (!full) {
		h->dir_fd = openat(fs->root_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (h->dir_fd >= 0)
			h->stat_fd = open_ro(h->dir_fd, "stat");
		if (h->stat_fd >= 0) {
			fs->fds_kept += 2;
			return true;
		}
		full = out_of_fds();
		close_fd(&h->dir_fd);
		if (!full)
			return false;
	}
	/* No descriptor to keep: read by path from now on, if the process is there at all. */
	h->transient = true;
	struct proc_stat st;
	return procfs_pid_stat(fs, pid, &st);
}

/* Closes a kept descriptor and gives it back to the budget. */
static void drop_fd(struct proc_handle *h, int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		h->fs->fds_kept--;
	}
	*fd = -1;
}

void proc_handle_close(struct proc_handle *h)
{
	drop_fd(h, &h->dir_fd);
	drop_fd(h, &h->stat_fd);
	drop_fd(h, &h->status_fd);
	drop_fd(h, &h->statm_fd);
	drop_fd(h, &h->smaps_fd);
	drop_fd(h, &h->clear_refs_fd);
}

/*
 * A descriptor for one of the process's files: the kept one (opened now if need be), or, for a
 * transient handle, a file not worth keeping (keep false) or a budget spent, a fresh one that
 * put_fd closes.
 * -2 marks a file that cannot be opened, not to be tried again.
 */
static int get_fd(struct proc_handle *h, int *fd, const char *name, int flags, bool keep)
{
	if (*fd >= 0 || *fd == -2)
		return *fd;
	int f;
	if (h->transient) {
		char path[48];
		snprintf(path, sizeof(path), "%d/%s", (int)h->pid, name);
		f = openat(h->fs->root_fd, path, flags | O_CLOEXEC);
	} else {
		f = openat(h->dir_fd, name, flags | O_CLOEXEC);
	}
	if (f < 0) {
		if (errno != EACCES && errno != EPERM && errno != ENOENT)
			return -1;
		if (keep)
			*fd = -2;
		return -2;
	}
	if (keep && !h->transient && h->fs->fds_kept < h->fs->fd_budget) {
		*fd = f;
		h->fs->fds_kept++;
	}
	return f;
}

static void put_fd(const struct proc_handle *h, int fd, const int *kept)
{
	if (fd >= 0 && (h->transient || fd != *kept))
		close(fd);
}

bool proc_handle_stat(struct proc_handle *h, struct proc_stat *st)
{
	if (h->transient)
		return procfs_pid_stat(h->fs, h->pid, st);
	char buf[SMALL_READ];
	ssize_t n = pread_small(h->stat_fd, buf, sizeof(buf));
	return n > 0 && procfs_parse_stat(buf, (size_t)n, st);
}

bool proc_handle_status(struct proc_handle *h, struct proc_status *st)
{
	int fd = get_fd(h, &h->status_fd, "status", O_RDONLY, true);
	if (fd < 0)
		return false;
	char buf[SMALL_READ * 2];
	ssize_t n = pread_small(fd, buf, sizeof(buf));
	bool ok = false;
	if (n > 0 && (size_t)n < sizeof(buf) - 1) {
		ok = procfs_parse_status(buf, (size_t)n, st);
	} else if (n > 0) {
		/* A long Groups: or Cpus_allowed: line; read the whole file. */
		struct strbuf sb = STRBUF_INIT;
		ok = pread_all(fd, &sb) && procfs_parse_status(sb.buf, sb.len, st);
		strbuf_release(&sb);
	}
	put_fd(h, fd, &h->status_fd);
	return ok;
}

bool proc_handle_statm(struct proc_handle *h, long long *rss, long long *shared)
{
	int fd = get_fd(h, &h->statm_fd, "statm", O_RDONLY, true);
	char buf[256];
	ssize_t n = pread_small(fd, buf, sizeof(buf));
	put_fd(h, fd, &h->statm_fd);
	if (n <= 0 || !procfs_parse_statm(buf, (size_t)n, rss, shared))
		return false;
	*rss *= h->fs->page_kib;
	*shared *= h->fs->page_kib;
	return true;
}

bool proc_handle_io(struct proc_handle *h, struct proc_io *io)
{
	/* Read about once a second: not worth a descriptor kept open. */
	int none = -1;
	if (h->no_io)
		return false;
	int fd = get_fd(h, &none, "io", O_RDONLY, false);
	if (fd == -2) {
		h->no_io = true;
		if (errno == EACCES || errno == EPERM)
			h->denied |= PROC_DENIED_IO;
	}
	char buf[1024];
	ssize_t n = pread_small(fd, buf, sizeof(buf));
	put_fd(h, fd, &none);
	return n > 0 && procfs_parse_io(buf, (size_t)n, io);
}

bool proc_handle_smaps(struct proc_handle *h, struct proc_smaps *sm)
{
	bool tried = h->smaps_fd == -1;
	int fd = get_fd(h, &h->smaps_fd, "smaps_rollup", O_RDONLY, true);
	if (tried && fd == -2 && (errno == EACCES || errno == EPERM))
		h->denied |= PROC_DENIED_PSS;
	char buf[SMALL_READ];
	ssize_t n = pread_small(fd, buf, sizeof(buf));
	put_fd(h, fd, &h->smaps_fd);
	return n > 0 && procfs_parse_smaps(buf, (size_t)n, sm);
}

long long proc_handle_pss(struct proc_handle *h)
{
	struct proc_smaps sm;
	return proc_handle_smaps(h, &sm) ? sm.pss : -1;
}

void proc_handle_exec(struct proc_handle *h)
{
	drop_fd(h, &h->smaps_fd);
}

/* Reads a file of the process that is read rarely (cmdline, cgroup) whole into out. */
static bool read_rare(struct proc_handle *h, const char *name, struct strbuf *out)
{
	int none = -1;
	int fd = get_fd(h, &none, name, O_RDONLY, false);
	if (fd < 0)
		return false;
	bool ok = pread_all(fd, out);
	put_fd(h, fd, &none);
	return ok;
}

bool proc_handle_cmdline(struct proc_handle *h, struct strbuf *out)
{
	strbuf_reset(out);
	bool ok = read_rare(h, "cmdline", out);
	/* Drop the trailing NUL of the last argument. */
	while (ok && out->len && out->buf[out->len - 1] == '\0')
		out->len--;
	return ok;
}

bool proc_handle_cgroup(struct proc_handle *h, struct strbuf *path, bool *v2)
{
	struct strbuf sb = STRBUF_INIT;
	bool ok = read_rare(h, "cgroup", &sb) && procfs_parse_cgroup(sb.buf, sb.len, path, v2);
	strbuf_release(&sb);
	return ok;
}

bool proc_handle_reset_hwm(struct proc_handle *h)
{
	bool tried = h->clear_refs_fd == -1;
	int fd = get_fd(h, &h->clear_refs_fd, "clear_refs", O_WRONLY, true);
	if (tried && fd == -2 && (errno == EACCES || errno == EPERM))
		h->denied |= PROC_DENIED_RESET;
	bool ok = fd >= 0 && pwrite(fd, "5", 1, 0) == 1;
	put_fd(h, fd, &h->clear_refs_fd);
	return ok;
}
