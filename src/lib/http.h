/* SPDX-License-Identifier: MIT */
/* http.h - a strict HTTP/1.x request-head parser (RFC 9112), for the web door. Pure: no I/O, no
 * allocation (fuzz target). */
#ifndef NT_HTTP_H
#define NT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define NT_HTTP_MAX_HEAD    8192 /* the whole head with its blank line; more is 431 */
#define NT_HTTP_MAX_LINE    4096 /* the request line without its line end; more is 414 */
#define NT_HTTP_MAX_HEADERS 64   /* header lines; more is 431 */

enum nt_http_method { NT_HTTP_GET, NT_HTTP_HEAD };

/* One header field; name and value point into the parsed buffer, the value without the
 * whitespace around it. */
struct nt_http_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct nt_http_request {
    enum nt_http_method method;
    const char *target; /* as sent: origin-form "/path?query" or absolute-form "http://h/p" */
    size_t target_len;
    int minor;        /* HTTP/1.minor: 0 or 1 */
    const char *host; /* the one Host field's value (NULL in an HTTP/1.0 request without one) */
    size_t host_len;
    struct nt_http_field fields[NT_HTTP_MAX_HEADERS];
    size_t n_fields;
    size_t head_len; /* bytes of the buffer the head took, its blank line included */
};

/*
 * Parses the request head at the start of buf[0..len) (RFC 9112 §2-§5, stricter where it lets a
 * server be). Returns:
 *   0   the head is not complete yet and within the limits: read more;
 *   200 a complete, valid head of a GET or HEAD: *req is filled, pointing into buf;
 *   an error status, the answer to send before closing:
 *   400 bad syntax: a bare CR, a control byte, no or two spaces between the parts, a request
 *       target that is neither origin- nor absolute-form, whitespace before a field's colon or a
 *       line folded onto the previous one, a field name that is not a token, no Host in
 *       HTTP/1.1 or more than one, an empty Host, a body (Content-Length other than 0,
 *       Transfer-Encoding);
 *   405 a method other than GET and HEAD (send `Allow: GET, HEAD`);
 *   414 a request line over NT_HTTP_MAX_LINE bytes;
 *   431 a head over NT_HTTP_MAX_HEAD bytes or with more than NT_HTTP_MAX_HEADERS fields;
 *   505 an HTTP version other than 1.0 and 1.1.
 * Empty lines before the request line are skipped (§2.2). A line may end in CR LF or LF.
 */
int nt_http_parse(const char *buf, size_t len, struct nt_http_request *req);

/* The first field named name (case-insensitive), or NULL. */
const struct nt_http_field *nt_http_field(const struct nt_http_request *req, const char *name);

/* Whether the comma-separated list value holds token (case-insensitive), as in
 * `Connection: keep-alive, Upgrade`. */
bool nt_http_has_token(const char *value, size_t value_len, const char *token);

/* The reason phrase of a status this parser or the web door sends ("Bad Request"). */
const char *nt_http_reason(int status);

#endif
