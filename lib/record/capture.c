/*
 * capture: pipes or pseudo-terminals for the command's output (see capture.h). A terminal's
 * output processing is turned off on the pseudo-terminal (no "\n" -> "\r\n"), and its window size
 * is memline's, so the bytes memline passes on are the program's own.
 */
#include "record/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* A pseudo-terminal that passes bytes as they are; its master in *master, its slave returned. */
static int open_pty(int like, int *master)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0)
		return -1;
	char name[128];
	if (grantpt(*master) < 0 || unlockpt(*master) < 0 ||
	    ptsname_r(*master, name, sizeof(name)) != 0) {
		close_fd(master);
		return -1;
	}
	int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		close_fd(master);
		return -1;
	}
	struct termios tio;
	if (tcgetattr(slave, &tio) == 0) {
		tio.c_oflag &= ~(tcflag_t)OPOST;
		tio.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(slave, TCSANOW, &tio);
	}
	struct winsize ws;
	if (ioctl(like, TIOCGWINSZ, &ws) == 0)
		ioctl(*master, TIOCSWINSZ, &ws);
	return slave;
}

int capture_init(struct capture *c, int signo, bool pass, struct strbuf *err)
{
	(void)signo;
	static const char *const names[2] = {"stdout", "stderr"};
	for (int i = 0; i < 2; i++) {
		struct capture_stream *s = &c->s[i];
		s->name = names[i];
		s->out_fd = i + 1;
		s->pass = pass;
		s->quiet = !pass;
		s->read_fd = s->child_fd = -1;
		strbuf_init(&s->line);
		if (isatty(s->out_fd))
			s->child_fd = open_pty(s->out_fd, &s->read_fd);
		if (s->child_fd < 0) {
			int p[2];
			if (pipe2(p, O_CLOEXEC) < 0) {
				strbuf_addf(err, "cannot create a pipe for the command's %s: %s",
					    s->name, strerror(errno));
				capture_release(c);
				return -1;
			}
			s->read_fd = p[0];
			s->child_fd = p[1];
		}
	}
	return 0;
}

void capture_child(struct capture *c)
{
	for (int i = 0; i < 2; i++) {
		struct capture_stream *s = &c->s[i];
		dup2(s->child_fd, s->out_fd); /* dup2 clears close-on-exec on the copy */
	}
}

void capture_parent(struct capture *c, int signo)
{
	for (int i = 0; i < 2; i++) {
		struct capture_stream *s = &c->s[i];
		close_fd(&s->child_fd);
		int fl = fcntl(s->read_fd, F_GETFL);
		fcntl(s->read_fd, F_SETFL, fl | O_NONBLOCK);
		if (fcntl(s->read_fd, F_SETOWN, getpid()) == 0 &&
		    fcntl(s->read_fd, F_SETSIG, signo) == 0)
			fcntl(s->read_fd, F_SETFL, fl | O_NONBLOCK | O_ASYNC);
	}
}

/* Writes all of buf to the stream's own output; gives up quietly once that fails. */
static void pass_through(struct capture_stream *s, const char *buf, size_t n)
{
	while (s->pass && n) {
		ssize_t w = write(s->out_fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			usleep(1000); /* a non-blocking terminal that is full: wait for it */
			continue;
		}
		if (w <= 0) {
			s->pass = false;
			break;
		}
		buf += w;
		n -= (size_t)w;
	}
}

static void take(struct capture_stream *s, const char *buf, size_t n, capture_line_fn *fn,
		 void *data)
{
	for (const char *p = buf, *end = buf + n; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		size_t room = CAPTURE_LINE_MAX - s->line.len;
		if (len > room)
			len = room;
		strbuf_add(&s->line, p, len);
		p += len;
		if (p < end && *p == '\n')
			p++;
		else if (s->line.len < CAPTURE_LINE_MAX)
			break; /* an unfinished line: wait for the rest */
		fn(data, s->name, s->line.buf ? s->line.buf : "", s->line.len);
		strbuf_reset(&s->line);
	}
}

static void read_stream(struct capture_stream *s, capture_line_fn *fn, void *data)
{
	char buf[65536];
	while (s->read_fd >= 0) {
		ssize_t n = read(s->read_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* End of file; a pseudo-terminal says EIO once every writer is gone. */
			close_fd(&s->read_fd);
			break;
		}
		pass_through(s, buf, (size_t)n);
		take(s, buf, (size_t)n, fn, data);
		if (!s->pass && !s->quiet) {
			/*
			 * Whoever read memline's output is gone (a closed pipe): close the
			 * command's stream too, so that it gets SIGPIPE as it would have without
			 * memline.
			 */
			close_fd(&s->read_fd);
		}
	}
}

void capture_poll(struct capture *c, capture_line_fn *fn, void *data)
{
	for (int i = 0; i < 2; i++)
		read_stream(&c->s[i], fn, data);
}

void capture_finish(struct capture *c, capture_line_fn *fn, void *data)
{
	capture_poll(c, fn, data);
	for (int i = 0; i < 2; i++) {
		struct capture_stream *s = &c->s[i];
		if (s->line.len)
			fn(data, s->name, s->line.buf, s->line.len);
		strbuf_reset(&s->line);
		close_fd(&s->read_fd);
	}
}

void capture_release(struct capture *c)
{
	for (int i = 0; i < 2; i++) {
		struct capture_stream *s = &c->s[i];
		close_fd(&s->read_fd);
		close_fd(&s->child_fd);
		strbuf_release(&s->line);
	}
}
