/*
 * no_getsockname: an LD_PRELOAD shim for tests/e2e/test_serve.py whose getsockname() always
 * fails with ENOBUFS, the one way the call fails on a socket that is bound: memline must then
 * say it cannot tell the port it took, not serve on a port nobody knows.
 */
#include <errno.h>
#include <sys/socket.h>

int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	(void)fd;
	(void)addr;
	(void)len;
	errno = ENOBUFS;
	return -1;
}
