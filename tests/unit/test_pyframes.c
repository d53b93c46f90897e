/*
 * test_pyframes: the CPython frame reader (lib/stacks/pyframes.c). The location table decoder
 * on hand-made tables; the 3.11 layout table checked field by field against the real headers
 * (a small program compiled with -DPy_BUILD_CORE and the internal headers prints offsetof()
 * and the str state's bits; skipped when /usr/include/python3.11/internal is not there); and
 * real interpreters: /usr/bin/python3 (libpython linked in) and pyenv's 3.11.7 (libpython a
 * shared library, skipped if absent) run a script with a known call chain that tells the test
 * through a pipe that it got to its innermost line (the write and the blocking read share that
 * line), is stopped with SIGSTOP, snapshot, continued, and its frames checked innermost first,
 * at the lines the test finds in the script's text by their "# L:name" markers; two threads
 * found by the native ids they write; versions it must refuse (pyenv's 3.9, 3.12), a process
 * that is not Python, a dead pid, a Python that exits before its snapshot, and one of another
 * user (when the test runs as root: a child that became nobody).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "stacks/pyframes.h"

/* The kernel's /proc, as memline reads it (the procfs layer). */
static struct procfs live_fs;

#define PY_SYSTEM "/usr/bin/python3"
#define PY_ENV	  "/root/.pyenv/versions/"
#define PY_HDRS	  "/usr/include/python3.11"

/* ---- the location table ---- */

static void test_linetable(void **state)
{
	(void)state;
	static const unsigned char tab[] = {
		0x80 | 13 << 3 | 0, 0x04,	      /* unit 0: no columns, line +2 */
		0x80 | 0 << 3 | 1,  0x00,	      /* units 1-2: short form, same line */
		0x80 | 11 << 3 | 0, 0x01, 0x02,	      /* unit 3: one-line form, +1 */
		0x80 | 15 << 3 | 0,		      /* unit 4: no location */
		0x80 | 14 << 3 | 2, 0x07, 0,	0, 0, /* units 5-7: long form, -3 */
		0x80 | 13 << 3 | 0, 0x50, 0x01,	      /* unit 8: +40 in two chunks */
	};
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 0), 12);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 1), 12);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 2), 12);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 3), 13);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 4), 0);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 5), 10);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 7), 10);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 8), 50);
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, 9), 0);  /* past the end */
	assert_int_equal(py_linetable_line(tab, sizeof(tab), 10, -1), 0); /* not started */
	/* cut short inside a varint, a continuation byte where an entry must start */
	assert_int_equal(py_linetable_line(tab, sizeof(tab) - 1, 10, 8), 0);
	static const unsigned char bad[] = {0x04, 0x80};
	assert_int_equal(py_linetable_line(bad, sizeof(bad), 10, 0), 0);
	assert_int_equal(py_linetable_line(NULL, 0, 10, 0), 0);
}

/*
 * Every code object of threading.py, compiled by /usr/bin/python3: each code unit's line as
 * co_lines() tells it (None: 0), against the decoder on the same co_linetable.
 */
static const char lines_py[] =
	"import threading, types\n"
	"def codes(co):\n"
	"    yield co\n"
	"    for c in co.co_consts:\n"
	"        if isinstance(c, types.CodeType): yield from codes(c)\n"
	"src = open(threading.__file__).read()\n"
	"for co in codes(compile(src, threading.__file__, 'exec')):\n"
	"    lines = {}\n"
	"    for start, end, line in co.co_lines():\n"
	"        for u in range(start // 2, end // 2): lines[u] = line or 0\n"
	"    units = len(co.co_code) // 2\n"
	"    print(co.co_firstlineno, co.co_linetable.hex() or '-', units,\n"
	"          *[lines.get(u, 0) for u in range(units)])\n";

/* One line of lines_py's output checked; false at the end. */
static bool linetable_check_one(FILE *f, unsigned char *tab, size_t cap)
{
	char hex[1 << 16];
	int first;
	long units;
	size_t n = 0;
	if (fscanf(f, "%d %65535s %ld", &first, hex, &units) != 3)
		return false;
	for (; hex[0] != '-' && hex[2 * n] && n < cap; n++)
		assert_int_equal(sscanf(hex + 2 * n, "%2hhx", &tab[n]), 1);
	for (long u = 0; u < units; u++) {
		int want;
		assert_int_equal(fscanf(f, "%d", &want), 1);
		if (py_linetable_line(tab, n, first, u) != want)
			fail_msg("unit %ld of a code object at line %d: %d, CPython says %d", u,
				 first, py_linetable_line(tab, n, first, u), want);
	}
	return true;
}

static void test_linetable_cpython(void **state)
{
	(void)state;
	static unsigned char tab[1 << 15];
	if (access(PY_SYSTEM, X_OK) != 0)
		skip();
	char dir[] = "/tmp/memline-test-pyframes-XXXXXX", cmd[256];
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "%s/lines.py", dir);
	FILE *f = fopen(cmd, "w");
	assert_non_null(f);
	fputs(lines_py, f);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), PY_SYSTEM " %s/lines.py", dir);
	f = popen(cmd, "r");
	assert_non_null(f);
	int n = 0;
	while (linetable_check_one(f, tab, sizeof(tab)))
		n++;
	assert_int_equal(pclose(f), 0);
	assert_true(n > 50);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- the layout against the headers ---- */

struct check {
	const char *name, *expr; /* printed by the program as "name value" */
	size_t off;		 /* in struct py_layout; SIZE_MAX: compared with want */
	bool is_unsigned;
	size_t want;
};

#define OFF(f, e)                                              \
	{                                                      \
#f, e, offsetof(struct py_layout, f), false, 0 \
	}
#define UNS(f, e)                                             \
	{                                                     \
#f, e, offsetof(struct py_layout, f), true, 0 \
	}
#define SIZE(n, e)                        \
	{                                 \
#n, e, SIZE_MAX, false, n \
	}

static const struct check checks[] = {
	UNS(version, "PY_MAJOR_VERSION << 8 | PY_MINOR_VERSION"),
	OFF(runtime_interpreters_head, "offsetof(_PyRuntimeState, interpreters.head)"),
	OFF(interp_next, "offsetof(PyInterpreterState, next)"),
	OFF(interp_threads_head, "offsetof(PyInterpreterState, threads.head)"),
	OFF(tstate_next, "offsetof(PyThreadState, next)"),
	OFF(tstate_native_thread_id, "offsetof(PyThreadState, native_thread_id)"),
	OFF(tstate_cframe, "offsetof(PyThreadState, cframe)"),
	OFF(tstate_size, "sizeof(PyThreadState)"),
	OFF(tstate_datastack_chunk, "offsetof(PyThreadState, datastack_chunk)"),
	OFF(tstate_datastack_top, "offsetof(PyThreadState, datastack_top)"),
	OFF(cframe_current_frame, "offsetof(_PyCFrame, current_frame)"),
	OFF(frame_code, "offsetof(_PyInterpreterFrame, f_code)"),
	OFF(frame_previous, "offsetof(_PyInterpreterFrame, previous)"),
	OFF(frame_prev_instr, "offsetof(_PyInterpreterFrame, prev_instr)"),
	OFF(frame_is_entry, "offsetof(_PyInterpreterFrame, is_entry)"),
	OFF(frame_owner, "offsetof(_PyInterpreterFrame, owner)"),
	OFF(frame_size, "sizeof(_PyInterpreterFrame)"),
	OFF(code_filename, "offsetof(PyCodeObject, co_filename)"),
	OFF(code_name, "offsetof(PyCodeObject, co_name)"),
	OFF(code_qualname, "offsetof(PyCodeObject, co_qualname)"),
	OFF(code_firstlineno, "offsetof(PyCodeObject, co_firstlineno)"),
	OFF(code_linetable, "offsetof(PyCodeObject, co_linetable)"),
	OFF(code_firsttraceable, "offsetof(PyCodeObject, _co_firsttraceable)"),
	OFF(code_code_adaptive, "offsetof(PyCodeObject, co_code_adaptive)"),
	OFF(bytes_size, "offsetof(PyBytesObject, ob_base.ob_size)"),
	OFF(bytes_sval, "offsetof(PyBytesObject, ob_sval)"),
	OFF(unicode_length, "offsetof(PyASCIIObject, length)"),
	OFF(unicode_state, "state_offset()"),
	OFF(ascii_size, "sizeof(PyASCIIObject)"),
	OFF(compact_utf8_length, "offsetof(PyCompactUnicodeObject, utf8_length)"),
	OFF(compact_utf8, "offsetof(PyCompactUnicodeObject, utf8)"),
	OFF(compact_size, "sizeof(PyCompactUnicodeObject)"),
	UNS(state_kind_shift, "state_shift(1, 0, 0, 0)"),
	UNS(state_compact_shift, "state_shift(0, 1, 0, 0)"),
	UNS(state_ascii_shift, "state_shift(0, 0, 1, 0)"),
	UNS(state_ready_shift, "state_shift(0, 0, 0, 1)"),
	UNS(owner_generator, "FRAME_OWNED_BY_GENERATOR"),
	UNS(owner_max, "FRAME_OWNED_BY_FRAME_OBJECT"),
	/* what the reader takes for granted about the fields' sizes */
	SIZE(1, "sizeof(((_PyInterpreterFrame *)0)->is_entry)"),
	SIZE(1, "sizeof(((_PyInterpreterFrame *)0)->owner)"),
	SIZE(4, "sizeof(((PyCodeObject *)0)->co_firstlineno)"),
	SIZE(4, "sizeof(((PyCodeObject *)0)->_co_firsttraceable)"),
	SIZE(8, "sizeof(((PyThreadState *)0)->native_thread_id)"),
	SIZE(2, "sizeof(_Py_CODEUNIT)"),
	SIZE(4, "sizeof(((PyASCIIObject *)0)->state)"),
};

static const char probe_head[] =
	"#include <Python.h>\n#include <internal/pycore_runtime.h>\n"
	"#include <internal/pycore_interp.h>\n#include <internal/pycore_frame.h>\n"
	"#include <stdio.h>\n#include <string.h>\n"
	"static PyASCIIObject o;\n"
	"static size_t state_offset(void) { memset(&o, 0, sizeof(o)); o.state.interned = 1;\n"
	"  for (size_t i = 0; i < sizeof(o); i++) if (((unsigned char *)&o)[i]) return i & ~3;\n"
	"  return 0; }\n"
	"static unsigned state_shift(int kind, int compact, int ascii, int ready) {\n"
	"  unsigned v; size_t at = state_offset(); memset(&o, 0, sizeof(o)); o.state.kind = kind;\n"
	"  o.state.compact = compact; o.state.ascii = ascii; o.state.ready = ready;\n"
	"  memcpy(&v, (char *)&o + at, 4); return v ? __builtin_ctz(v) : 99; }\n"
	"int main(void) {\n";

/* Writes, compiles and runs the probe in dir; its output is in dir/probe.out. */
static bool probe_run(const char *dir)
{
	char path[256], cmd[1024];
	snprintf(path, sizeof(path), "%s/probe.c", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(probe_head, f);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++)
		fprintf(f, "  printf(\"%%s %%zu\\n\", \"%s\", (size_t)(%s));\n", checks[i].name,
			checks[i].expr);
	fputs("  return 0;\n}\n", f);
	assert_int_equal(fclose(f), 0);
	snprintf(cmd, sizeof(cmd),
		 "cc -DPy_BUILD_CORE -I" PY_HDRS " -I" PY_HDRS "/internal -o %s/probe %s && "
		 "%s/probe > %s/probe.out",
		 dir, path, dir, dir);
	return system(cmd) == 0;
}

static void test_layout_headers(void **state)
{
	(void)state;
	if (access(PY_HDRS "/internal/pycore_frame.h", R_OK) != 0) {
		print_message("no " PY_HDRS "/internal (python3-dev): layout not checked\n");
		skip();
	}
	char dir[] = "/tmp/memline-test-pyframes-XXXXXX", path[256], name[64];
	assert_non_null(mkdtemp(dir));
	assert_true(probe_run(dir));
	const struct py_layout *lay = py_layout_find(0x030b);
	assert_non_null(lay);
	snprintf(path, sizeof(path), "%s/probe.out", dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t i = 0, v;
	while (fscanf(f, "%63s %zu", name, &v) == 2) {
		const struct check *c = &checks[i++];
		size_t have = c->off == SIZE_MAX ? c->want
			      : c->is_unsigned	 ? *(const unsigned *)((const char *)lay + c->off)
						 : *(const size_t *)((const char *)lay + c->off);
		if (have != v)
			fail_msg("%s: the table says %zu, the headers %zu (%s)", name, have, v,
				 c->expr);
	}
	fclose(f);
	assert_int_equal(i, sizeof(checks) / sizeof(checks[0]));
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* ---- real interpreters ---- */

static const char script_chain[] =
	"import os, sys\n"
	"R, G = int(sys.argv[1]), int(sys.argv[2])\n"
	"def inner():\n"
	"    os.write(R, b'%d\\n' % os.getpid()); os.read(G, 1)  # L:inner\n"
	"def middle():\n"
	"    inner()  # L:middle\n"
	"def outer():\n"
	"    middle()  # L:outer\n"
	"outer()  # L:<module>\n";

static const char script_threads[] =
	"import os, sys, threading\n"
	"R, G = int(sys.argv[1]), int(sys.argv[2])\n"
	"def a_inner():\n"
	"    os.write(R, b'%d\\n' % threading.get_native_id()); os.read(G, 1)  # L:a_inner\n"
	"def a_outer():\n"
	"    a_inner()  # L:a_outer\n"
	"def b_inner():\n"
	"    os.write(R, b'%d\\n' % threading.get_native_id()); os.read(G, 1)  # L:b_inner\n"
	"def b_outer():\n"
	"    b_inner()  # L:b_outer\n"
	"ts = [threading.Thread(target=a_outer), threading.Thread(target=b_outer)]\n"
	"for t in ts: t.start()\n"
	"for t in ts: t.join()\n";

/* 1101 calls of rec() under <module>: cut at PY_MAX_FRAMES, spread over data stack chunks. */
static const char script_deep[] =
	"import os, sys\n"
	"R, G = int(sys.argv[1]), int(sys.argv[2])\n"
	"sys.setrecursionlimit(10000)\n"
	"def rec(n):\n"
	"    if n == 0:\n"
	"        os.write(R, b'%d\\n' % os.getpid()); os.read(G, 1)  # L:leaf\n"
	"    else:\n"
	"        rec(n - 1)  # L:rec\n"
	"rec(1100)\n";

/*
 * Names that are not ASCII: latin-1 (one byte a character), UCS-2 and UCS-4 strs, and one
 * whose UTF-8 form CPython has cached (asked for through ctypes, as a C extension would).
 */
static const char script_names[] =
	"import ctypes, os, sys\n"
	"R, G = int(sys.argv[1]), int(sys.argv[2])\n"
	"class Caf\u00e9:\n"
	"    def na\u00efve(self):\n"
	"        os.write(R, b'%d\\n' % os.getpid()); os.read(G, 1)  # L:na\u00efve\n"
	"def \u03a9mega():\n"
	"    Caf\u00e9().na\u00efve()  # L:\u03a9mega\n"
	"def \u51fd\u6570():\n"
	"    \u03a9mega()  # L:\u51fd\u6570\n"
	"def \U00020000():\n"
	"    \u51fd\u6570()  # L:\U00020000\n"
	"ctypes.pythonapi.PyUnicode_AsUTF8.restype = ctypes.c_void_p\n"
	"ctypes.pythonapi.PyUnicode_AsUTF8(ctypes.py_object(\u51fd\u6570.__code__.co_qualname))\n"
	"\U00020000()\n";

struct child {
	pid_t pid;
	int ready, go; /* what it writes (its ids), what releases it */
	char dir[64], script[128];
	const char *text;
};

/* The line of script text marked "# L:name". */
static int marked_line(const char *text, const char *name)
{
	char mark[64];
	snprintf(mark, sizeof(mark), "# L:%s\n", name);
	const char *at = strstr(text, mark);
	assert_non_null(at);
	int line = 1;
	for (const char *p = text; p < at; p++)
		line += *p == '\n';
	return line;
}

/* Starts python on text, its two pipes' numbers as arguments. */
static void child_start(struct child *c, const char *python, const char *text)
{
	int ready[2], go[2];
	memset(c, 0, sizeof(*c));
	c->text = text;
	snprintf(c->dir, sizeof(c->dir), "/tmp/memline-test-pyframes-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->script, sizeof(c->script), "%s/work.py", c->dir);
	FILE *f = fopen(c->script, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		char r[16], g[16];
		close(ready[0]);
		close(go[1]);
		snprintf(r, sizeof(r), "%d", ready[1]);
		snprintf(g, sizeof(g), "%d", go[0]);
		execl(python, python, c->script, r, g, (char *)NULL);
		_exit(127);
	}
	close(ready[1]);
	close(go[0]);
	c->ready = ready[0];
	c->go = go[1];
}

/* Reads n ids, one a line, from the child (waiting at most 30 s for each). */
static void child_ids(struct child *c, pid_t *ids, int n)
{
	char buf[256];
	size_t len = 0;
	for (int got = 0; got < n;) {
		struct pollfd p = {c->ready, POLLIN, 0};
		assert_int_equal(poll(&p, 1, 30000), 1);
		ssize_t k = read(c->ready, buf + len, sizeof(buf) - 1 - len);
		assert_true(k > 0);
		len += k;
		buf[len] = '\0';
		char *nl;
		while (got < n && (nl = strchr(buf, '\n'))) {
			ids[got++] = (pid_t)strtol(buf, NULL, 10);
			memmove(buf, nl + 1, len - (nl + 1 - buf) + 1);
			len -= nl + 1 - buf;
		}
	}
}

static void child_stop(struct child *c)
{
	int st;
	assert_int_equal(kill(c->pid, SIGSTOP), 0);
	assert_int_equal(waitpid(c->pid, &st, WUNTRACED), c->pid);
	assert_true(WIFSTOPPED(st));
}

/* Continues it, releases n threads, and expects a clean exit. */
static void child_finish(struct child *c, int n)
{
	char cmd[128];
	int st;
	assert_int_equal(kill(c->pid, SIGCONT), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(write(c->go, "x", 1), 1);
	assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(c->ready);
	close(c->go);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", c->dir);
	assert_int_equal(system(cmd), 0);
}

static void expect_frame(const struct child *c, const struct py_frame *f, const char *fn,
			 const char *mark, bool entry)
{
	assert_string_equal(f->fn, fn);
	assert_string_equal(f->file, c->script);
	assert_int_equal(f->line, marked_line(c->text, mark));
	assert_int_equal(f->entry, entry);
}

/* Skips the test unless python is there and is a 3.11 (a machine that is not Debian 12). */
static void need_python_311(const char *python)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "%s -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null",
		 python);
	if (access(python, X_OK) != 0 || system(cmd) != 0) {
		print_message("%s is not a CPython 3.11: not tested\n", python);
		skip();
	}
}

static void chain_on(const char *python)
{
	need_python_311(python);
	struct child c;
	struct strbuf why = STRBUF_INIT;
	const struct py_frame *fr;
	pid_t id;
	child_start(&c, python, script_chain);
	child_ids(&c, &id, 1);
	assert_int_equal(id, c.pid);
	struct py_proc *py = py_proc_open(&live_fs, c.pid, &why);
	if (!py)
		fail_msg("py_proc_open: %s", why.buf ? why.buf : "(no reason)");
	child_stop(&c);
	assert_int_equal(py_proc_snapshot(py, &why), 1);
	assert_int_equal(kill(c.pid, SIGCONT), 0);
	assert_int_equal(py_proc_frames(py, c.pid, &fr), 4);
	expect_frame(&c, &fr[0], "inner", "inner", false);
	expect_frame(&c, &fr[1], "middle", "middle", false);
	expect_frame(&c, &fr[2], "outer", "outer", false);
	expect_frame(&c, &fr[3], "<module>", "<module>", true);
	assert_int_equal(py_proc_frames(py, c.pid + 100000, &fr), 0);
	/* a second snapshot, from the cache */
	child_stop(&c);
	assert_int_equal(py_proc_snapshot(py, &why), 1);
	assert_int_equal(py_proc_frames(py, c.pid, &fr), 4);
	expect_frame(&c, &fr[0], "inner", "inner", false);
	child_finish(&c, 1);
	py_proc_free(py);
	strbuf_release(&why);
}

static void test_chain_system(void **state)
{
	(void)state;
	chain_on(PY_SYSTEM);
}

static void test_chain_pyenv(void **state)
{
	(void)state;
	if (access(PY_ENV "3.11.7/bin/python3", X_OK) != 0) {
		print_message("no " PY_ENV "3.11.7: the libpython*.so layout not tested\n");
		skip();
	}
	chain_on(PY_ENV "3.11.7/bin/python3");
}

/* A python whose executable was deleted after it started (upgraded under it): read all the same. */
static void test_deleted_binary(void **state)
{
	(void)state;
	need_python_311(PY_SYSTEM);
	char dir[] = "/tmp/memline-test-pyframes-XXXXXX", python[128], cmd[512];
	assert_non_null(mkdtemp(dir));
	snprintf(python, sizeof(python), "%s/python3.11", dir);
	snprintf(cmd, sizeof(cmd), "cp \"$(readlink -f " PY_SYSTEM ")\" %s", python);
	assert_int_equal(system(cmd), 0);
	struct child c;
	struct strbuf why = STRBUF_INIT;
	const struct py_frame *fr;
	pid_t id;
	assert_int_equal(setenv("PYTHONHOME", "/usr", 1), 0); /* its library, not beside it */
	child_start(&c, python, script_chain);
	assert_int_equal(unsetenv("PYTHONHOME"), 0);
	child_ids(&c, &id, 1);
	assert_int_equal(unlink(python), 0);
	struct py_proc *py = py_proc_open(&live_fs, c.pid, &why);
	if (!py)
		fail_msg("py_proc_open: %s", why.buf ? why.buf : "(no reason)");
	child_stop(&c);
	assert_int_equal(py_proc_snapshot(py, &why), 1);
	assert_int_equal(kill(c.pid, SIGCONT), 0);
	assert_int_equal(py_proc_frames(py, c.pid, &fr), 4);
	expect_frame(&c, &fr[0], "inner", "inner", false);
	child_finish(&c, 1);
	py_proc_free(py);
	strbuf_release(&why);
	assert_int_equal(rmdir(dir), 0);
}

/* Thread tid's frames: inner, outer (the thread's target: an entry), then threading's. */
static void expect_thread(struct py_proc *py, const struct child *c, pid_t tid, const char *a)
{
	const struct py_frame *fr;
	char inner[32], outer[32];
	snprintf(inner, sizeof(inner), "%s_inner", a);
	snprintf(outer, sizeof(outer), "%s_outer", a);
	size_t n = py_proc_frames(py, tid, &fr);
	assert_true(n >= 3);
	expect_frame(c, &fr[0], inner, inner, false);
	expect_frame(c, &fr[1], outer, outer, true);
	assert_string_equal(fr[2].fn, "Thread.run");
	assert_non_null(strstr(fr[2].file, "threading.py"));
	assert_true(fr[2].line > 0);
	assert_string_equal(fr[n - 1].fn, "Thread._bootstrap");
	assert_true(fr[n - 1].entry);
}

static void test_threads(void **state)
{
	(void)state;
	struct child c;
	struct strbuf why = STRBUF_INIT;
	const struct py_frame *fr;
	pid_t ids[2];
	need_python_311(PY_SYSTEM);
	child_start(&c, PY_SYSTEM, script_threads);
	child_ids(&c, ids, 2);
	struct py_proc *py = py_proc_open(&live_fs, c.pid, &why);
	assert_non_null(py);
	child_stop(&c);
	assert_int_equal(py_proc_snapshot(py, &why), 3);
	assert_int_equal(kill(c.pid, SIGCONT), 0);
	/* which id is a's: the one whose innermost frame is a_inner */
	assert_true(py_proc_frames(py, ids[0], &fr) > 0);
	bool a_first = !strcmp(fr[0].fn, "a_inner");
	expect_thread(py, &c, ids[a_first ? 0 : 1], "a");
	expect_thread(py, &c, ids[a_first ? 1 : 0], "b");
	/* the main thread, in join() */
	size_t n = py_proc_frames(py, c.pid, &fr);
	assert_true(n >= 2);
	assert_string_equal(fr[n - 1].fn, "<module>");
	child_finish(&c, 2);
	py_proc_free(py);
	strbuf_release(&why);
}

static void test_deep(void **state)
{
	(void)state;
	struct child c;
	struct strbuf why = STRBUF_INIT;
	const struct py_frame *fr;
	pid_t id;
	need_python_311(PY_SYSTEM);
	child_start(&c, PY_SYSTEM, script_deep);
	child_ids(&c, &id, 1);
	struct py_proc *py = py_proc_open(&live_fs, c.pid, &why);
	assert_non_null(py);
	child_stop(&c);
	assert_int_equal(py_proc_snapshot(py, &why), 1);
	assert_int_equal(kill(c.pid, SIGCONT), 0);
	assert_int_equal(py_proc_frames(py, c.pid, &fr), PY_MAX_FRAMES);
	expect_frame(&c, &fr[0], "rec", "leaf", false);
	for (size_t i = 1; i < PY_MAX_FRAMES; i++)
		expect_frame(&c, &fr[i], "rec", "rec", false);
	child_finish(&c, 1);
	py_proc_free(py);
	strbuf_release(&why);
}

static void test_names(void **state)
{
	(void)state;
	struct child c;
	struct strbuf why = STRBUF_INIT;
	const struct py_frame *fr;
	pid_t id;
	need_python_311(PY_SYSTEM);
	child_start(&c, PY_SYSTEM, script_names);
	child_ids(&c, &id, 1);
	struct py_proc *py = py_proc_open(&live_fs, c.pid, &why);
	assert_non_null(py);
	child_stop(&c);
	assert_int_equal(py_proc_snapshot(py, &why), 1);
	assert_int_equal(kill(c.pid, SIGCONT), 0);
	assert_int_equal(py_proc_frames(py, c.pid, &fr), 5);
	expect_frame(&c, &fr[0], "Caf\u00e9.na\u00efve", "na\u00efve", false);
	expect_frame(&c, &fr[1], "\u03a9mega", "\u03a9mega", false);
	expect_frame(&c, &fr[2], "\u51fd\u6570", "\u51fd\u6570", false);
	expect_frame(&c, &fr[3], "\U00020000", "\U00020000", false);
	assert_string_equal(fr[4].fn, "<module>");
	child_finish(&c, 1);
	py_proc_free(py);
	strbuf_release(&why);
}

/* ---- structures that make no sense, in the test's own memory ---- */

/* A runtime, an interpreter, a thread state, a frame and a code object, as 3.11 lays them out. */
struct fake {
	uint64_t runtime[16], interp[8], tstate[64], cframe[4], frame[16], code[32], setup[16];
	uint64_t name[1100], bytes[8];
};

static void put64(void *base, size_t off, uint64_t v)
{
	memcpy((char *)base + off, &v, sizeof(v));
}

static uint64_t addr_of(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/*
 * One thread whose chain is one frame of code "f" (an ASCII str far longer than its data:
 * cut at 4096 characters) in f.py at line 11 (the location table: unit 0 one line below
 * co_firstlineno 10, 8 units), its previous frame itself.
 */
static void fake_init(struct fake *f, const struct py_layout *lay)
{
	memset(f, 0, sizeof(*f));
	put64(f->runtime, lay->runtime_interpreters_head, addr_of(f->interp));
	put64(f->interp, lay->interp_threads_head, addr_of(f->tstate));
	put64(f->tstate, lay->tstate_native_thread_id, 4242);
	put64(f->tstate, lay->tstate_cframe, addr_of(f->cframe));
	put64(f->tstate, lay->tstate_datastack_top, addr_of(f->frame) + sizeof(f->frame));
	put64(f->cframe, lay->cframe_current_frame, addr_of(f->frame));
	put64(f->frame, lay->frame_code, addr_of(f->code));
	put64(f->frame, lay->frame_previous, addr_of(f->frame));
	put64(f->frame, lay->frame_prev_instr, addr_of(f->code) + lay->code_code_adaptive + 2);
	((unsigned char *)f->frame)[lay->frame_is_entry] = 1;
	put64(f->code, lay->code_filename, addr_of(f->name));
	put64(f->code, lay->code_qualname, addr_of(f->name));
	put64(f->code, lay->code_linetable, addr_of(f->bytes));
	put64(f->code, lay->code_firstlineno, 10);
	put64(f->name, lay->unicode_length, (uint64_t)1 << 40);
	put64(f->name, lay->unicode_state,
	      1u << lay->state_compact_shift | 1u << lay->state_ascii_shift |
		      1u << lay->state_ready_shift | 1u << lay->state_kind_shift);
	memset((char *)f->name + lay->ascii_size, 'f', sizeof(f->name) - lay->ascii_size);
	put64(f->bytes, lay->bytes_size, 2);
	((unsigned char *)f->bytes)[lay->bytes_sval] = 0x80 | 13 << 3 | 7;
	((unsigned char *)f->bytes)[lay->bytes_sval + 1] = 0x02;
}

static void test_loops(void **state)
{
	(void)state;
	const struct py_layout *lay = py_layout_find(0x030b);
	struct fake *f = malloc(sizeof(*f));
	const struct py_frame *fr;
	assert_non_null(f);
	fake_init(f, lay);
	struct py_proc *py = py_proc_at(getpid(), addr_of(f->runtime), 0x030b);
	assert_non_null(py);
	/* a frame whose previous is itself: the chain is cut */
	assert_int_equal(py_proc_snapshot(py, NULL), 1);
	assert_int_equal(py_proc_frames(py, 4242, &fr), PY_MAX_FRAMES);
	assert_int_equal(strlen(fr[0].fn), 4096);
	assert_int_equal(fr[0].line, 11);
	assert_true(fr[PY_MAX_FRAMES - 1].entry);
	/* a thread list that comes back to its start, an interpreter list too: cut */
	put64(f->frame, lay->frame_previous, 0);
	put64(f->tstate, lay->tstate_next, addr_of(f->tstate));
	put64(f->interp, lay->interp_next, addr_of(f->interp));
	assert_int_equal(py_proc_snapshot(py, NULL), PY_MAX_THREADS);
	assert_int_equal(py_proc_frames(py, 4242, &fr), 1);
	/* a code object that is not there, a str that is not ready: kept, unnamed */
	put64(f->tstate, lay->tstate_next, 0);
	put64(f->interp, lay->interp_next, 0);
	put64(f->frame, lay->frame_code, 16);
	assert_int_equal(py_proc_snapshot(py, NULL), 1);
	assert_int_equal(py_proc_frames(py, 4242, &fr), 1);
	assert_string_equal(fr[0].fn, "?");
	assert_int_equal(fr[0].line, 0);
	put64(f->frame, lay->frame_code, addr_of(f->code));
	put64(f->name, lay->unicode_state, 1u << lay->state_compact_shift);
	put64(f->code, lay->code_name, 24); /* unreadable too */
	assert_int_equal(py_proc_snapshot(py, NULL), 1);
	assert_int_equal(py_proc_frames(py, 4242, &fr), 1);
	assert_string_equal(fr[0].fn, "?");
	assert_string_equal(fr[0].file, "?");
	/* an owner 3.11 does not have ends the chain; no runtime yet: no threads */
	((unsigned char *)f->frame)[lay->frame_owner] = 9;
	assert_int_equal(py_proc_snapshot(py, NULL), 1);
	assert_int_equal(py_proc_frames(py, 4242, &fr), 0);
	put64(f->runtime, lay->runtime_interpreters_head, 0);
	assert_int_equal(py_proc_snapshot(py, NULL), 0);
	py_proc_free(py);
	assert_null(py_proc_at(getpid(), addr_of(f->runtime), 0x030c));
	free(f);
}

/*
 * A frame being set up (its instruction before the code's first): left out, but kept (line 0)
 * when it is the entry of an evaluation call that has no other frame.
 */
static void test_incomplete(void **state)
{
	(void)state;
	const struct py_layout *lay = py_layout_find(0x030b);
	struct fake *f = malloc(sizeof(*f));
	const struct py_frame *fr;
	assert_non_null(f);
	fake_init(f, lay);
	put64(f->frame, lay->frame_previous, 0);
	put64(f->cframe, lay->cframe_current_frame, addr_of(f->setup));
	put64(f->setup, lay->frame_code, addr_of(f->code));
	put64(f->setup, lay->frame_previous, addr_of(f->frame));
	put64(f->setup, lay->frame_prev_instr, addr_of(f->code) + lay->code_code_adaptive - 2);
	struct py_proc *py = py_proc_at(getpid(), addr_of(f->runtime), 0x030b);
	assert_non_null(py);
	assert_int_equal(py_proc_snapshot(py, NULL), 1);
	assert_int_equal(py_proc_frames(py, 4242, &fr), 1);
	assert_int_equal(fr[0].line, 11);
	assert_true(fr[0].entry);
	((unsigned char *)f->setup)[lay->frame_is_entry] = 1;
	assert_int_equal(py_proc_snapshot(py, NULL), 1);
	assert_int_equal(py_proc_frames(py, 4242, &fr), 2);
	assert_int_equal(fr[0].line, 0);
	assert_true(fr[0].entry && fr[1].entry);
	/* a generator's frame is never incomplete */
	((unsigned char *)f->setup)[lay->frame_owner] = (unsigned char)lay->owner_generator;
	((unsigned char *)f->setup)[lay->frame_is_entry] = 0;
	assert_int_equal(py_proc_snapshot(py, NULL), 1);
	assert_int_equal(py_proc_frames(py, 4242, &fr), 2);
	py_proc_free(py);
	free(f);
}

/* ---- what it must refuse, calmly ---- */

static void test_other_versions(void **state)
{
	(void)state;
	static const char *const versions[][2] = {
		{"3.9.18", "python 3.9 (libpython3.9.so"},   /* no Py_Version: from the name */
		{"3.12.1", "python 3.12 (libpython3.12.so"}, /* Py_Version */
	};
	int tried = 0;
	for (size_t i = 0; i < 2; i++) {
		char python[128];
		snprintf(python, sizeof(python), PY_ENV "%s/bin/python3", versions[i][0]);
		if (access(python, X_OK) != 0)
			continue;
		struct child c;
		struct strbuf why = STRBUF_INIT;
		pid_t id;
		child_start(&c, python, script_chain);
		child_ids(&c, &id, 1);
		assert_null(py_proc_open(&live_fs, c.pid, &why));
		assert_non_null(why.buf);
		if (strncmp(why.buf, versions[i][1], strlen(versions[i][1])) != 0 ||
		    !strstr(why.buf, "): not a version memline reads: 3.11"))
			fail_msg("unexpected reason: %s", why.buf);
		child_finish(&c, 1);
		strbuf_release(&why);
		tried++;
	}
	if (!tried)
		skip();
}

static void test_not_python(void **state)
{
	(void)state;
	struct strbuf why = STRBUF_INIT;
	assert_null(py_proc_open(&live_fs, getpid(), &why));
	assert_int_equal(why.len, 0);
	assert_null(py_proc_open(&live_fs, getpid(), NULL));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_null(py_proc_open(&live_fs, pid, &why)); /* gone */
	assert_true(why.len > 0);
	strbuf_release(&why);
}

/* A Python opened, then killed and reaped before its snapshot. */
static void test_exited(void **state)
{
	(void)state;
	struct child c;
	struct strbuf why = STRBUF_INIT;
	const struct py_frame *fr;
	pid_t id;
	need_python_311(PY_SYSTEM);
	child_start(&c, PY_SYSTEM, script_chain);
	child_ids(&c, &id, 1);
	struct py_proc *py = py_proc_open(&live_fs, c.pid, &why);
	assert_non_null(py);
	assert_int_equal(kill(c.pid, SIGKILL), 0);
	assert_int_equal(waitpid(c.pid, NULL, 0), c.pid);
	assert_int_equal(py_proc_snapshot(py, &why), -1);
	assert_non_null(strstr(why.buf, "cannot read process"));
	assert_int_equal(py_proc_frames(py, c.pid, &fr), 0);
	py_proc_free(py);
	strbuf_release(&why);
	close(c.ready);
	close(c.go);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", c.dir);
	assert_int_equal(system(cmd), 0);
}

/* A child that became nobody looks at root's Python: refused with a reason, exit 0. */
static void test_other_user(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	struct child c;
	pid_t id;
	int st;
	need_python_311(PY_SYSTEM);
	child_start(&c, PY_SYSTEM, script_chain);
	child_ids(&c, &id, 1);
	pid_t look = fork();
	assert_true(look >= 0);
	if (look == 0) {
		struct strbuf why = STRBUF_INIT;
		if (setgid(65534) || setuid(65534))
			_exit(2);
		struct py_proc *py = py_proc_open(&live_fs, c.pid, &why);
		bool ok = !py && why.buf && strstr(why.buf, "cannot read process");
		py_proc_free(py);
		strbuf_release(&why);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(look, &st, 0), look);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	child_finish(&c, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linetable),      cmocka_unit_test(test_linetable_cpython),
		cmocka_unit_test(test_layout_headers), cmocka_unit_test(test_chain_system),
		cmocka_unit_test(test_chain_pyenv),    cmocka_unit_test(test_deleted_binary),
		cmocka_unit_test(test_threads),	       cmocka_unit_test(test_deep),
		cmocka_unit_test(test_names),	       cmocka_unit_test(test_loops),
		cmocka_unit_test(test_incomplete),     cmocka_unit_test(test_other_versions),
		cmocka_unit_test(test_not_python),     cmocka_unit_test(test_exited),
		cmocka_unit_test(test_other_user),
	};
	struct strbuf err = STRBUF_INIT;
	if (procfs_init(&live_fs, "/proc", &err) < 0) {
		fprintf(stderr, "test_pyframes: %s\n", err.buf);
		return 1;
	}
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	procfs_release(&live_fs);
	strbuf_release(&err);
	return failed;
}
