/* SPDX-License-Identifier: MIT */
/* http.c - a strict HTTP/1.x request-head parser (RFC 9112 §2-§5). */
#include "http.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 §5.6.2: tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9110 §5.5: a field value's bytes are VCHAR, SP, HTAB and obs-text. */
static bool is_field_byte(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* RFC 3986 uri-host [ ":" port ]: unreserved, pct-encoded, sub-delims, and ':' '[' ']'. */
static bool is_host_byte(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("-._~%!$&'()*+,;=:[]", c) != NULL;
}

static bool equals_ci(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/*
 * The line starting at buf[at]: *end is where its content ends (before CR LF or LF), the return
 * value the index just past its LF; 0 when no LF has come yet. A CR anywhere else in the line
 * makes *bare_cr true.
 */
static size_t line_at(const char *buf, size_t len, size_t at, size_t *end, bool *bare_cr)
{
    const char *lf = memchr(buf + at, '\n', len - at);
    if (lf == NULL)
        return 0;
    size_t e = (size_t)(lf - buf);
    if (e > at && buf[e - 1] == '\r')
        e--;
    *end = e;
    *bare_cr = memchr(buf + at, '\r', e - at) != NULL;
    return (size_t)(lf - buf) + 1;
}

/* The request line buf[at..end): method, target, version (§3). Returns 200 or an error. */
static int request_line(const char *buf, size_t at, size_t end, struct nt_http_request *req)
{
    const char *p = buf + at, *e = buf + end;
    const char *method = p;
    while (p < e && is_tchar((unsigned char)*p))
        p++;
    size_t method_len = (size_t)(p - method);
    if (method_len == 0 || p == e || *p != ' ')
        return 400;
    const char *target = ++p;
    while (p < e && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
        p++;
    size_t target_len = (size_t)(p - target);
    if (target_len == 0 || p == e || *p != ' ')
        return 400;
    const char *version = ++p;
    size_t version_len = (size_t)(e - version);
    if (version_len != 8 || memcmp(version, "HTTP/", 5) != 0 || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
        return 400;
    if (version[5] != '1' || version[7] > '1')
        return 505;
    req->minor = version[7] - '0';
    if (method_len == 3 && memcmp(method, "GET", 3) == 0)
        req->method = NT_HTTP_GET;
    else if (method_len == 4 && memcmp(method, "HEAD", 4) == 0)
        req->method = NT_HTTP_HEAD;
    else
        return 405; /* methods are case-sensitive (RFC 9110 §9.1): "get" is not GET */
    bool origin = target[0] == '/';
    bool absolute = (target_len > 7 && strncasecmp(target, "http://", 7) == 0) ||
                    (target_len > 8 && strncasecmp(target, "https://", 8) == 0);
    if (!origin && !absolute)
        return 400;
    req->target = target;
    req->target_len = target_len;
    return 200;
}

/* One field line buf[at..end) (§5). Returns 200 or 400. */
static int field_line(const char *buf, size_t at, size_t end, struct nt_http_field *f)
{
    const char *p = buf + at, *e = buf + end;
    const char *name = p;
    while (p < e && is_tchar((unsigned char)*p))
        p++;
    /* No whitespace between the name and its colon (§5.1), no folded line (§5.2). */
    if (p == name || p == e || *p != ':')
        return 400;
    f->name = name;
    f->name_len = (size_t)(p - name);
    p++;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    const char *value = p;
    for (; p < e; p++) {
        if (!is_field_byte((unsigned char)*p))
            return 400;
    }
    while (p > value && (p[-1] == ' ' || p[-1] == '\t'))
        p--;
    f->value = value;
    f->value_len = (size_t)(p - value);
    return 200;
}

/* What a complete head must hold (§3.2, §6): one good Host (none only in HTTP/1.0), no body. */
static int check_fields(struct nt_http_request *req)
{
    size_t hosts = 0;
    for (size_t i = 0; i < req->n_fields; i++) {
        const struct nt_http_field *f = &req->fields[i];
        if (equals_ci(f->name, f->name_len, "host")) {
            if (++hosts > 1 || f->value_len == 0)
                return 400;
            for (size_t j = 0; j < f->value_len; j++) {
                if (!is_host_byte((unsigned char)f->value[j]))
                    return 400;
            }
            req->host = f->value;
            req->host_len = f->value_len;
        } else if (equals_ci(f->name, f->name_len, "content-length")) {
            if (!(f->value_len == 1 && f->value[0] == '0'))
                return 400; /* a GET or HEAD carries no body: its bytes would be a request */
        } else if (equals_ci(f->name, f->name_len, "transfer-encoding")) {
            return 400;
        }
    }
    if (hosts == 0 && req->minor == 1)
        return 400;
    return 200;
}

int nt_http_parse(const char *buf, size_t len, struct nt_http_request *req)
{
    memset(req, 0, sizeof(*req));
    size_t at = 0;
    /* Empty lines before the request line are skipped (§2.2); they count against the head. */
    for (;;) {
        if (at < len && buf[at] == '\n')
            at++;
        else if (at + 1 < len && buf[at] == '\r' && buf[at + 1] == '\n')
            at += 2;
        else
            break;
        if (at > NT_HTTP_MAX_HEAD)
            return 431;
    }
    size_t end = 0;
    bool bare_cr = false;
    size_t next = line_at(buf, len, at, &end, &bare_cr);
    if (next == 0) {
        /* No LF yet: too long already, or a byte that no request line may hold. */
        size_t have = len - at;
        if (have > 0 && buf[len - 1] == '\r')
            have--;
        if (have > NT_HTTP_MAX_LINE)
            return 414;
        if (len > NT_HTTP_MAX_HEAD)
            return 431;
        return 0;
    }
    if (end - at > NT_HTTP_MAX_LINE)
        return 414;
    if (bare_cr)
        return 400;
    int status = request_line(buf, at, end, req);
    if (status != 200)
        return status;
    for (;;) {
        at = next;
        next = line_at(buf, len, at, &end, &bare_cr);
        if (next == 0)
            return len > NT_HTTP_MAX_HEAD ? 431 : 0;
        if (next > NT_HTTP_MAX_HEAD)
            return 431;
        if (bare_cr)
            return 400;
        if (end == at)
            break; /* the blank line: the head is complete */
        if (req->n_fields == NT_HTTP_MAX_HEADERS)
            return 431;
        status = field_line(buf, at, end, &req->fields[req->n_fields]);
        if (status != 200)
            return status;
        req->n_fields++;
    }
    req->head_len = next;
    return check_fields(req);
}

const struct nt_http_field *nt_http_field(const struct nt_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->n_fields; i++) {
        if (equals_ci(req->fields[i].name, req->fields[i].name_len, name))
            return &req->fields[i];
    }
    return NULL;
}

bool nt_http_has_token(const char *value, size_t value_len, const char *token)
{
    size_t i = 0;
    while (i < value_len) {
        while (i < value_len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        size_t start = i;
        while (i < value_len && value[i] != ',')
            i++;
        size_t stop = i;
        while (stop > start && (value[stop - 1] == ' ' || value[stop - 1] == '\t'))
            stop--;
        if (stop > start && equals_ci(value + start, stop - start, token))
            return true;
    }
    return false;
}

const char *nt_http_reason(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}
