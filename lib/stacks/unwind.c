/*
 * unwind: libdwfl on a grab's copies (stacks/unwind.h). libdwfl's thread callbacks are ours:
 * the threads are the grab's, their first registers its copies, and memory reads come from the
 * stack copy, else from /proc/PID/mem (code and data that do not move while the threads run).
 */
#include "stacks/unwind.h"

#include <elfutils/libdwfl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct unwind_sym {
	Dwarf_Addr pc;
	struct frame_info f;
};

static char *debuginfo_path = NULL; /* libdwfl's default: .debug, /usr/lib/debug */

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

void unwinder_init(struct unwinder *u, struct procfs *fs, pid_t pid)
{
	memset(u, 0, sizeof(*u));
	u->fs = fs;
	u->pid = pid;
	u->mem_fd = -1;
}

static void free_sym(struct unwind_sym *s)
{
	free((char *)s->f.fn);
	free((char *)s->f.module);
	free((char *)s->f.file);
	free(s);
}

void unwinder_release(struct unwinder *u)
{
	if (u->dwfl)
		dwfl_end(u->dwfl);
	if (u->mem_fd >= 0)
		close(u->mem_fd);
	for (size_t i = 0; i < u->cap; i++)
		if (u->syms[i])
			free_sym(u->syms[i]);
	free(u->syms);
	unwinder_init(u, u->fs, u->pid);
}

void unwinder_new_capture(struct unwinder *u)
{
	u->again = false;
}

/* ---- libdwfl's thread callbacks: the grab's threads ---- */

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	(void)dwfl;
	struct unwinder *u = arg;
	if (*thread_argp || !u->cur)
		return 0;
	*thread_argp = (void *)u->cur;
	return u->cur->tid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	(void)dwfl;
	struct unwinder *u = arg;
	if (!u->cur || u->cur->tid != tid)
		return false;
	*thread_argp = (void *)u->cur;
	return true;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	(void)dwfl;
	struct unwinder *u = arg;
	const struct grab_thread *t = u->cur;
	if (t && addr >= t->sp && addr - t->sp + sizeof(*result) <= t->stack_len) {
		memcpy(result, t->stack + (addr - t->sp), sizeof(*result));
		return true;
	}
	if (t && addr >= t->sp && addr - t->sp < GRAB_STACK_MAX)
		return false; /* the stack past what was copied has moved on since */
	if (u->mem_fd < 0)
		return false;
	return pread(u->mem_fd, result, sizeof(*result), (off_t)addr) == (ssize_t)sizeof(*result);
}

static bool set_initial_registers(Dwfl_Thread *thread, void *thread_arg)
{
	const struct grab_thread *t = thread_arg;
#if defined(__x86_64__)
	const struct user_regs_struct *r = &t->regs;
	/* DWARF's order on x86-64: rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip */
	Dwarf_Word regs[17] = {r->rax, r->rdx, r->rcx, r->rbx, r->rsi, r->rdi,
			       r->rbp, r->rsp, r->r8,  r->r9,  r->r10, r->r11,
			       r->r12, r->r13, r->r14, r->r15, r->rip};
	return dwfl_thread_state_registers(thread, 0, 17, regs);
#elif defined(__aarch64__)
	Dwarf_Word regs[32];
	for (int i = 0; i < 31; i++)
		regs[i] = t->regs.regs[i];
	regs[31] = t->regs.sp;
	if (!dwfl_thread_state_registers(thread, 0, 32, regs))
		return false;
	dwfl_thread_state_register_pc(thread, t->regs.pc);
	return true;
#else
	(void)thread;
	(void)t;
	return false;
#endif
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

/* Reports the process's modules from its maps, read through the procfs layer. */
static bool report(struct unwinder *u, struct strbuf *why)
{
	struct strbuf maps = STRBUF_INIT;
	bool ok = false;
	if (!procfs_read_maps(u->fs, u->pid, &maps)) {
		strbuf_addf(why, "cannot read process %d's maps", (int)u->pid);
		goto out;
	}
	FILE *f = fmemopen(maps.buf, maps.len, "r");
	if (!f)
		goto out;
	dwfl_report_begin(u->dwfl);
	int r = dwfl_linux_proc_maps_report(u->dwfl, f);
	fclose(f);
	if (dwfl_report_end(u->dwfl, NULL, NULL) != 0 || r != 0) {
		strbuf_addf(why, "libdwfl: %s", dwfl_errmsg(-1));
		goto out;
	}
	u->reported = true;
	ok = true;
out:
	strbuf_release(&maps);
	return ok;
}

static bool session(struct unwinder *u, struct strbuf *why)
{
	if (!u->dwfl) {
		u->dwfl = dwfl_begin(&callbacks);
		if (!u->dwfl) {
			strbuf_addf(why, "libdwfl: %s", dwfl_errmsg(-1));
			return false;
		}
		u->mem_fd = procfs_mem_open(u->fs, u->pid);
	}
	if (!u->reported && !report(u, why))
		return false;
	if (!u->attached) {
		if (!dwfl_attach_state(u->dwfl, NULL, u->pid, &thread_callbacks, u)) {
			strbuf_addf(why, "libdwfl: %s", dwfl_errmsg(-1));
			return false;
		}
		u->attached = true;
	}
	return true;
}

/* ---- symbols, by pc ---- */

static size_t slot_of(const struct unwinder *u, Dwarf_Addr pc)
{
	uint64_t h = (uint64_t)pc * 0x9e3779b97f4a7c15ULL;
	size_t i = (size_t)(h >> 20) & (u->cap - 1);
	while (u->syms[i] && u->syms[i]->pc != pc)
		i = (i + 1) & (u->cap - 1);
	return i;
}

static bool grow(struct unwinder *u)
{
	size_t cap = u->cap ? 2 * u->cap : 1024;
	struct unwind_sym **old = u->syms;
	size_t old_cap = u->cap;
	u->syms = calloc(cap, sizeof(*u->syms));
	if (!u->syms) {
		u->syms = old;
		return false;
	}
	u->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i])
			u->syms[slot_of(u, old[i]->pc)] = old[i];
	free(old);
	return true;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* What pc (a return address less one, or an activation's own) names, looked up once. */
static const struct frame_info *symbol(struct unwinder *u, Dwarf_Addr pc)
{
	if (u->used * 2 >= u->cap && !grow(u))
		return NULL;
	size_t i = slot_of(u, pc);
	if (u->syms[i])
		return &u->syms[i]->f;
	struct unwind_sym *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->pc = pc;
	s->f.kind = FRAME_NATIVE;
	s->f.off = s->f.fn_off = -1;
	Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, pc);
	if (mod) {
		s->f.module = dup_or_null(
			dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
		Dwarf_Addr bias = 0;
		if (dwfl_module_getelf(mod, &bias))
			s->f.off = (long long)(pc - bias);
		GElf_Off off = 0;
		GElf_Sym sym;
		const char *name = dwfl_module_addrinfo(mod, pc, &off, &sym, NULL, NULL, NULL);
		if (name) {
			s->f.fn = strdup(name);
			s->f.fn_off = (long long)off;
		}
		Dwfl_Line *line = dwfl_module_getsrc(mod, pc);
		int lineno = 0;
		const char *file =
			line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) : NULL;
		if (file) {
			s->f.file = strdup(file);
			s->f.line = lineno;
		}
	}
	u->syms[i] = s;
	u->used++;
	return &s->f;
}

struct walk {
	struct unwinder *u;
	size_t n;
	bool more; /* it stopped at UNWIND_FRAMES_MAX */
};

static int on_frame(Dwfl_Frame *state, void *arg)
{
	struct walk *w = arg;
	Dwarf_Addr pc;
	bool activation = false;
	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
	if (w->n >= UNWIND_FRAMES_MAX) {
		w->more = true;
		return DWARF_CB_ABORT;
	}
	Dwarf_Addr at = activation || pc == 0 ? pc : pc - 1;
	const struct frame_info *f = symbol(w->u, at);
	if (!f)
		return DWARF_CB_ABORT;
	w->u->frames[w->n++] = *f;
	return DWARF_CB_OK;
}

size_t unwinder_unwind(struct unwinder *u, const struct grab_thread *t, bool *truncated,
		       struct strbuf *why)
{
	*truncated = false;
	if (!session(u, why))
		return 0;
	Dwarf_Addr pc;
#if defined(__x86_64__)
	pc = t->regs.rip;
#elif defined(__aarch64__)
	pc = t->regs.pc;
#else
	pc = 0;
#endif
	if (!dwfl_addrmodule(u->dwfl, pc) && !u->again) {
		u->again = true;
		struct strbuf ignored = STRBUF_INIT;
		report(u, &ignored); /* a library loaded since the last capture */
		strbuf_release(&ignored);
	}
	u->cur = t;
	struct walk w = {u, 0, false};
	int r = dwfl_getthread_frames(u->dwfl, t->tid, on_frame, &w);
	u->cur = NULL;
	/* libdwfl ends a complete unwind with an error on some systems: a frame whose caller
	 * has no pc (the outermost, _start or clone's) ends it as well */
	if (w.more) {
		*truncated = true;
	} else if (r != 0 && w.n > 0) {
		const struct frame_info *last = &u->frames[w.n - 1];
		bool outermost =
			last->fn && (!strcmp(last->fn, "_start") || !strcmp(last->fn, "__clone3") ||
				     !strcmp(last->fn, "clone3") || !strcmp(last->fn, "__clone") ||
				     !strcmp(last->fn, "clone"));
		*truncated = !outermost;
	} else if (r != 0) {
		strbuf_addf(why, "libdwfl: %s", dwfl_errmsg(-1));
	}
	return w.n;
}
