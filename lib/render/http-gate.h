/*
 * http-gate: the HTTP server's door (used by http.c only). A thread of its own accepts the
 * connections and holds each until its request's headers are all in (peeked, not read), then
 * hands it to libmicrohttpd; one whose headers are not in HTTP_GATE_DEADLINE seconds after it
 * was accepted is closed, however it trickles. A slow client thus holds a descriptor in the
 * gate for a few seconds, never one of the server's threads, and cannot keep one longer by
 * sending a byte now and then (libmicrohttpd's own timeout is an idle one, which each byte
 * restarts).
 */
#ifndef MEMLINE_HTTP_GATE_H
#define MEMLINE_HTTP_GATE_H

#include <stdbool.h>
#include <sys/socket.h>

#include "util/strbuf.h"

#define HTTP_GATE_DEADLINE 5.0 /* seconds from accept() for a request's headers */
#define HTTP_GATE_MAX	   512 /* connections waiting for their headers, at most */
#define HTTP_GATE_PER_ADDR 16  /* of one client address, unless every client shares one */

struct http_gate;

/*
 * Hands a connection whose headers are in (or that holds max_head bytes without their end) to
 * its server, which owns fd from then on (closes it, also when it refuses it).
 */
typedef void http_gate_admit_fn(void *arg, int fd, const struct sockaddr *addr, socklen_t addrlen);

/*
 * Starts the gate on the listening socket listen_fd (which stays the caller's; it is made
 * non-blocking). A connection
 * is handed to admit once its headers are in. When the gate is full, the connection waiting
 * longest is closed to make room; with shared_addr false (a server reachable from other
 * machines), one client address gets HTTP_GATE_PER_ADDR places at most, so that one host
 * cannot take them all. The thread blocks every signal. Returns NULL with a one-line message
 * in err.
 */
struct http_gate *http_gate_start(int listen_fd, bool shared_addr, size_t max_head,
				  http_gate_admit_fn *admit, void *arg, struct strbuf *err);
/* Connections waiting for their headers now. */
unsigned http_gate_waiting(struct http_gate *g);
/* Stops the thread, closes the connections that wait, frees g. NULL is ignored. */
void http_gate_stop(struct http_gate *g);

#endif
