/* SPDX-License-Identifier: MIT */
/* config.c - defaults, the option table, parsing and validation (docs/OPERATIONS.md). */
#include "config.h"

#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum opt_type {
    OPT_LISTEN,
    OPT_FLAG,
    OPT_SECONDS,
    OPT_COUNT,
    OPT_LOG_LEVEL,
    OPT_PATH,
    OPT_ORIGIN, /* repeatable: --web-origin */
    OPT_CIDR,   /* repeatable: --metrics-allow */
    OPT_REDIS,  /* --redis: a string, parsed into c->redis too */
    OPT_NODE,   /* --node-name: a string of NT_NODE_NAME_CHARS */
};

/* One row per option: parsing, range checks, --help and the OPERATIONS.md table come from it. */
struct opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 if none */
    enum opt_type type;
    size_t offset;       /* field in struct nt_config */
    uint64_t min, max;   /* range; for OPT_SECONDS in milliseconds */
    const char *metavar; /* NULL for flags */
    const char *def;     /* default, as shown to people */
    const char *help;
    bool hidden; /* left out of --help and the docs table */
};

#define FIELD(f) offsetof(struct nt_config, f)
#define DAY_MS   (86400ULL * 1000ULL)

static const struct opt options[] = {
    {"listen", 'l', OPT_LISTEN, FIELD(listen), 0, 0, "[SCHEME://]HOST:PORT",
     NT_DEFAULT_LISTEN ", " NT_DEFAULT_LISTEN_IRC " and " NT_DEFAULT_LISTEN_WEB,
     "address to listen on, IPv4 or [IPv6]; SCHEME tcp (the line chat, default), tls (the same "
     "over TLS), irc or ircs (the IRC door, plain or TLS), http or https (the web door: the "
     "browser client, WebSocket, /metrics); repeatable; port 0 picks a free port",
     false},
    {"echo", 0, OPT_FLAG, FIELD(echo), 0, 0, NULL, "off",
     "run the HOWTO's echo server instead of the chat", false},
    {"idle-timeout", 0, OPT_SECONDS, FIELD(idle_timeout_ms), 0, 365 * DAY_MS, "SECONDS", "300",
     "disconnect a client silent this long; fractions allowed; 0 = off", false},
    {"name-timeout", 0, OPT_SECONDS, FIELD(name_timeout_ms), 0, 365 * DAY_MS, "SECONDS", "60",
     "time a client has to give a valid name; 0 = off", false},
    {"max-clients", 0, OPT_COUNT, FIELD(max_clients), 1, 10000000, "N", "open-file limit - 32",
     "clients connected at once; more are refused", false},
    {"max-line", 0, OPT_COUNT, FIELD(max_line), 1, 1048576, "BYTES", "4096",
     "longest line accepted; longer lines are refused", false},
    {"max-output", 0, OPT_COUNT, FIELD(max_output), 1024, 1073741824, "BYTES", "8388608",
     "pending output per client before it is dropped as too slow", false},
    {"max-output-total", 0, OPT_COUNT, FIELD(max_output_total), 65536, 68719476736ULL, "BYTES",
     "268435456",
     "pending output of all clients together (shared lines counted once); past it the largest "
     "backlog is cut first",
     false},
    {"stall-timeout", 0, OPT_SECONDS, FIELD(stall_timeout_ms), 0, 365 * DAY_MS, "SECONDS", "5",
     "cut a client whose socket took nothing this long while output waits; 0 = off", false},
    {"sndbuf", 0, OPT_COUNT, FIELD(sndbuf), 0, 67108864, "BYTES", "kernel's",
     "socket send buffer size (SO_SNDBUF); 0 = the kernel's default", false},
    {"log-level", 0, OPT_LOG_LEVEL, FIELD(log_level), 0, 0, "LEVEL", "info",
     "error, warn, info or debug", false},
    {"log-messages", 0, OPT_FLAG, FIELD(log_messages), 0, 0, NULL, "off",
     "log chat text (not logged by default)", false},
    {"history", 0, OPT_COUNT, FIELD(history), 0, 10000, "N", "0",
     "chat lines each room keeps and replays to newcomers", false},
    {"rate", 0, OPT_COUNT, FIELD(rate), 0, 1000000, "LINES", "10",
     "lines per second a client may send before natter paces it; 0 = off", false},
    {"burst", 0, OPT_COUNT, FIELD(burst), 0, 1000000, "LINES", "20",
     "lines a client may send at once before pacing starts; 0 = off", false},
    {"max-per-ip", 0, OPT_COUNT, FIELD(max_per_ip), 0, 10000000, "N", "16",
     "connections from one address; 0 = no limit", false},
    {"no-loopback-exempt", 0, OPT_FLAG, FIELD(no_loopback_exempt), 0, 0, NULL, "off",
     "apply --max-per-ip to loopback addresses too", false},
    {"oper-password-file", 0, OPT_PATH, FIELD(oper_password_file), 0, 0, "FILE", "none",
     "file whose first line is the operator password (/oper)", false},
    {"state-dir", 0, OPT_PATH, FIELD(state_dir), 0, 0, "DIR", "none",
     "keep what outlives a restart here (the ban list, DIR/bans); none = bans last until restart",
     false},
    {"tls-cert", 0, OPT_PATH, FIELD(tls_cert_file), 0, 0, "FILE", "none",
     "certificate chain (PEM) for tls://, ircs:// and https:// listeners; reloaded on SIGHUP",
     false},
    {"tls-key", 0, OPT_PATH, FIELD(tls_key_file), 0, 0, "FILE", "none",
     "private key (PEM) for tls://, ircs:// and https:// listeners; reloaded on SIGHUP", false},
    {"web-origin", 0, OPT_ORIGIN, FIELD(web_origin), 0, 0, "ORIGIN", "the page's own",
     "another origin (https://chat.example.org) whose pages may open the WebSocket; repeatable",
     false},
    {"metrics-allow", 0, OPT_CIDR, FIELD(metrics_allow), 0, 0, "CIDR", "127.0.0.0/8 and ::1/128",
     "addresses that may GET /metrics (10.0.0.0/8, 2001:db8::/32, 192.0.2.7); repeatable", false},
    {"redis", 0, OPT_REDIS, FIELD(redis_url), 0, 0, "URL", "none",
     "join the cluster of every node on this Redis database: redis://HOST[:PORT][/DB] or "
     "unix:///PATH[?db=N]; none = a single node",
     false},
    {"node-name", 0, OPT_NODE, FIELD(node_name), 0, 0, "NAME", "HOST-PID",
     "this node's name in the cluster (logs, /who *): 1-64 letters, digits, '.', '_' or '-'",
     false},
    {"redis-queue", 0, OPT_COUNT, FIELD(redis_queue), 65536, 1073741824, "BYTES", "16777216",
     "bytes waiting to be written to Redis; past it events for the other nodes are dropped, "
     "counted and reported as a gap",
     false},
    {"config", 0, OPT_PATH, FIELD(config_file), 0, 0, "FILE", "none",
     "read options from FILE, one 'name = value' a line; the command line overrides it", false},
    {"check-config", 'n', OPT_FLAG, FIELD(check_config), 0, 0, NULL, "off",
     "check the configuration (files, certificates, addresses), print every error, exit 0 or 2; "
     "starts nothing",
     false},
    {"version", 0, OPT_FLAG, FIELD(show_version), 0, 0, NULL, NULL, "print the version and exit",
     false},
    {"help", 'h', OPT_FLAG, FIELD(show_help), 0, 0, NULL, NULL, "print this help and exit", false},
    {"help-markdown", 0, OPT_FLAG, FIELD(show_help_markdown), 0, 0, NULL, NULL,
     "print the options as the markdown table of docs/OPERATIONS.md", true},
    {"help-man", 0, OPT_FLAG, FIELD(show_help_man), 0, 0, NULL, NULL,
     "print the options as the OPTIONS section of man/natter.1", true},
};

void nt_config_defaults(struct nt_config *c)
{
    memset(c, 0, sizeof(*c));
    c->idle_timeout_ms = 300ULL * 1000;
    c->name_timeout_ms = 60ULL * 1000;
    c->max_line = 4096;
    c->max_output = 8ULL * 1024 * 1024;
    c->max_output_total = 256ULL * 1024 * 1024;
    c->stall_timeout_ms = 5ULL * 1000;
    c->log_level = NT_LOG_INFO;
    c->rate = 10;
    c->burst = 20;
    c->max_per_ip = 16;
    c->redis_queue = 16ULL * 1024 * 1024;
}

int nt_config_load(struct nt_config *c, FILE *err)
{
    if (c->oper_password_file == NULL)
        return 0;
    FILE *f = fopen(c->oper_password_file, "r");
    if (f == NULL) {
        fprintf(err, "natter: --oper-password-file: cannot read '%s': %s\n", c->oper_password_file,
                strerror(errno));
        return -1;
    }
    char line[sizeof(c->oper_password) + 1];
    size_t n = 0;
    if (fgets(line, sizeof(line), f) != NULL)
        n = strcspn(line, "\r\n");
    fclose(f);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof(c->oper_password)) {
        fprintf(err,
                "natter: --oper-password-file: '%s' must start with a password of 1 to %zu "
                "bytes\n",
                c->oper_password_file, sizeof(c->oper_password) - 1);
        return -1;
    }
    memcpy(c->oper_password, line, n);
    c->oper_password[n] = '\0';
    return 0;
}

int nt_config_parse_listen(const char *s, struct nt_listen_addr *out, const char **why)
{
    const char *colon;
    const char *host;
    size_t host_len;
    memset(out, 0, sizeof(*out));
    const char *sep = strstr(s, "://");
    if (sep != NULL) {
        size_t n = (size_t)(sep - s);
        if (n == 3 && strncmp(s, "tcp", 3) == 0) {
            out->scheme = NT_SCHEME_TCP;
        } else if (n == 3 && strncmp(s, "tls", 3) == 0) {
            out->scheme = NT_SCHEME_TLS;
        } else if (n == 3 && strncmp(s, "irc", 3) == 0) {
            out->scheme = NT_SCHEME_IRC;
        } else if (n == 4 && strncmp(s, "ircs", 4) == 0) {
            out->scheme = NT_SCHEME_IRCS;
        } else if (n == 4 && strncmp(s, "http", 4) == 0) {
            out->scheme = NT_SCHEME_HTTP;
        } else if (n == 5 && strncmp(s, "https", 5) == 0) {
            out->scheme = NT_SCHEME_HTTPS;
        } else {
            *why = "unknown scheme (tcp://, tls://, irc://, ircs://, http:// or https://)";
            return -1;
        }
        s = sep + 3;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL) {
            *why = "missing ']' after the IPv6 address";
            return -1;
        }
        if (close[1] != ':') {
            *why = "expected ':PORT' after ']'";
            return -1;
        }
        host = s + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
        out->is_ipv6 = true;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL) {
            *why = "expected HOST:PORT";
            return -1;
        }
        host = s;
        host_len = (size_t)(colon - s);
        if (memchr(host, ':', host_len) != NULL) {
            *why = "an IPv6 address needs brackets: [ADDR]:PORT";
            return -1;
        }
    }
    if (host_len == 0 || host_len >= sizeof(out->host)) {
        *why = "missing or over-long host";
        return -1;
    }
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';

    unsigned char addr[16];
    if (inet_pton(out->is_ipv6 ? AF_INET6 : AF_INET, out->host, addr) != 1) {
        *why = out->is_ipv6 ? "not a numeric IPv6 address" : "not a numeric IPv4 address";
        return -1;
    }
    const char *port = colon + 1;
    char *end;
    if (*port < '0' || *port > '9') {
        *why = "missing port";
        return -1;
    }
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (*end != '\0' || errno != 0 || p > 65535) {
        *why = "the port must be a number from 0 to 65535";
        return -1;
    }
    out->port = (int)p;
    return 0;
}

/* Parses a plain decimal, no sign, no suffix. */
static int parse_count(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0)
        return -1;
    *out = v;
    return 0;
}

/* Parses "12", "0.25" or "1.5" seconds into milliseconds, rounding to the nearest one. */
static int parse_seconds(const char *s, uint64_t *ms)
{
    uint64_t whole = 0, frac = 0, scale = 1000;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (whole > UINT64_MAX / 10000)
            return -1;
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        uint64_t num = 0, den = 1;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (den < 1000000000ULL) {
                num = num * 10 + (uint64_t)(*p - '0');
                den *= 10;
            }
        }
        frac = (num * scale * 2 + den) / (den * 2);
    }
    if (*p != '\0')
        return -1;
    *ms = whole * scale + frac;
    return 0;
}

static const struct opt *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return &options[i];
    }
    return NULL;
}

static const struct opt *find_short(char c)
{
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        if (options[i].short_name == c)
            return &options[i];
    }
    return NULL;
}

/* Parses "ADDR" or "ADDR/BITS" (IPv4 or IPv6) into *out. Returns 0 or -1. */
static int parse_cidr(const char *s, struct nt_cidr *out)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof(addr))
        return -1;
    memcpy(addr, s, n);
    addr[n] = '\0';
    memset(out, 0, sizeof(*out));
    out->is_ipv6 = strchr(addr, ':') != NULL;
    if (inet_pton(out->is_ipv6 ? AF_INET6 : AF_INET, addr, out->addr) != 1)
        return -1;
    unsigned max = out->is_ipv6 ? 128 : 32;
    out->prefix = max;
    if (slash != NULL) {
        uint64_t bits;
        if (parse_count(slash + 1, &bits) != 0 || bits > max)
            return -1;
        out->prefix = (unsigned)bits;
    }
    return 0;
}

static void format_cidr(const struct nt_cidr *b, char *out, size_t cap)
{
    char addr[INET6_ADDRSTRLEN];
    inet_ntop(b->is_ipv6 ? AF_INET6 : AF_INET, b->addr, addr, sizeof(addr));
    snprintf(out, cap, "%s/%u", addr, b->prefix);
}

/* The blocks --metrics-allow has when none is given. */
static const struct nt_cidr loopback[] = {
    {false, {127}, 8},
    {true, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128},
};

bool nt_config_cidr_match(const struct nt_cidr *blocks, size_t n, const char *ip)
{
    unsigned char a[16];
    bool is_ipv6 = strchr(ip, ':') != NULL;
    if (inet_pton(is_ipv6 ? AF_INET6 : AF_INET, ip, a) != 1)
        return false;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    if (is_ipv6 && memcmp(a, mapped, 12) == 0) { /* ::ffff:a.b.c.d is a.b.c.d */
        memmove(a, a + 12, 4);
        is_ipv6 = false;
    }
    if (n == 0) {
        blocks = loopback;
        n = sizeof(loopback) / sizeof(loopback[0]);
    }
    for (size_t i = 0; i < n; i++) {
        const struct nt_cidr *b = &blocks[i];
        if (b->is_ipv6 != is_ipv6)
            continue;
        unsigned full = b->prefix / 8, rest = b->prefix % 8;
        if (memcmp(a, b->addr, full) != 0)
            continue;
        if (rest == 0 || ((a[full] ^ b->addr[full]) & (0xFF << (8 - rest)) & 0xFF) == 0)
            return true;
    }
    return false;
}

int nt_config_origin_normalize(const char *s, size_t len, char *out, size_t cap)
{
    size_t scheme_len;
    const char *def_port;
    if (len > 7 && strncasecmp(s, "http://", 7) == 0) {
        scheme_len = 7;
        def_port = "80";
    } else if (len > 8 && strncasecmp(s, "https://", 8) == 0) {
        scheme_len = 8;
        def_port = "443";
    } else {
        return -1;
    }
    const char *host = s + scheme_len;
    size_t host_len = len - scheme_len;
    /* host[:port]: an IPv6 literal keeps its brackets; the port is digits. */
    const char *end = host + host_len;
    const char *colon = NULL;
    /* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): len > scheme_len */
    if (host[0] == '[') {
        const char *close = memchr(host, ']', host_len);
        if (close == NULL)
            return -1;
        if (close + 1 < end) {
            if (close[1] != ':')
                return -1;
            colon = close + 1;
        }
    } else {
        colon = memchr(host, ':', host_len);
    }
    size_t name_len = colon ? (size_t)(colon - host) : host_len;
    if (name_len == 0)
        return -1;
    for (size_t i = 0; i < name_len; i++) {
        unsigned char ch = (unsigned char)host[i];
        if (ch <= ' ' || ch >= 0x7F || ch == '/' || ch == '?' || ch == '#' || ch == '@' ||
            ch == '\\')
            return -1;
    }
    const char *port = colon ? colon + 1 : NULL;
    size_t port_len = port ? (size_t)(end - port) : 0;
    if (port != NULL) {
        if (port_len == 0 || port_len > 5 || strspn(port, "0123456789") < port_len)
            return -1;
        if (strtoul(port, NULL, 10) > 65535 || strtoul(port, NULL, 10) == 0)
            return -1;
        if (port_len == strlen(def_port) && memcmp(port, def_port, port_len) == 0)
            port = NULL; /* the default port is left out, as browsers send it */
    }
    size_t total = scheme_len + name_len + (port ? 1 + port_len : 0);
    if (total + 1 > cap)
        return -1;
    for (size_t i = 0; i < scheme_len + name_len; i++)
        out[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
    size_t o = scheme_len + name_len;
    if (port != NULL) {
        out[o++] = ':';
        memcpy(out + o, port, port_len);
        o += port_len;
    }
    out[o] = '\0';
    return 0;
}

/* Applies one option's value; returns 0 or -1 after printing why on err, after where ("" on the
 * command line, "FILE:LINE: " in a config file). */
static int apply(struct nt_config *c, const struct opt *o, const char *val, FILE *err,
                 const char *where)
{
    char *field = (char *)c + o->offset;
    const char *why = NULL;
    uint64_t v;
    switch (o->type) {
    case OPT_FLAG:
        *(bool *)(void *)field = true;
        return 0;
    case OPT_LISTEN:
        if (c->n_listen == NT_MAX_LISTEN) {
            fprintf(err, "natter: %s--listen: at most %d addresses\n", where, NT_MAX_LISTEN);
            return -1;
        }
        if (nt_config_parse_listen(val, &c->listen[c->n_listen], &why) != 0) {
            fprintf(err, "natter: %s--listen: %s, got '%s'\n", where, why, val);
            return -1;
        }
        c->n_listen++;
        return 0;
    case OPT_PATH:
        if (*val == '\0') {
            fprintf(err, "natter: %s--%s: must not be empty\n", where, o->name);
            return -1;
        }
        *(const char **)(void *)field = val;
        return 0;
    case OPT_REDIS:
        if (nt_redis_url_parse(val, &c->redis, &why) != 0) {
            fprintf(err, "natter: %s--%s: %s, got '%s'\n", where, o->name, why, val);
            return -1;
        }
        *(const char **)(void *)field = val;
        return 0;
    case OPT_NODE:
        if (*val == '\0' || strlen(val) > NT_NODE_NAME_MAX ||
            strspn(val, NT_NODE_NAME_CHARS) != strlen(val)) {
            fprintf(err,
                    "natter: %s--%s: must be 1-%d letters, digits, '.', '_' or '-', got '%s'\n",
                    where, o->name, NT_NODE_NAME_MAX, val);
            return -1;
        }
        *(const char **)(void *)field = val;
        return 0;
    case OPT_ORIGIN:
        if (c->n_web_origin == NT_MAX_WEB_ORIGINS) {
            fprintf(err, "natter: %s--%s: at most %d origins\n", where, o->name,
                    NT_MAX_WEB_ORIGINS);
            return -1;
        }
        if (nt_config_origin_normalize(val, strlen(val), c->web_origin[c->n_web_origin],
                                       NT_WEB_ORIGIN_MAX) != 0) {
            fprintf(err,
                    "natter: %s--%s: must be an origin such as https://chat.example.org or "
                    "http://127.0.0.1:8080 (http or https, a host, a port if not the default, "
                    "no path), got '%s'\n",
                    where, o->name, val);
            return -1;
        }
        c->n_web_origin++;
        return 0;
    case OPT_CIDR:
        if (c->n_metrics_allow == NT_MAX_METRICS_ALLOW) {
            fprintf(err, "natter: %s--%s: at most %d address blocks\n", where, o->name,
                    NT_MAX_METRICS_ALLOW);
            return -1;
        }
        if (parse_cidr(val, &c->metrics_allow[c->n_metrics_allow]) != 0) {
            fprintf(err,
                    "natter: %s--%s: must be an address or a block such as 10.0.0.0/8 or "
                    "2001:db8::/32, got '%s'\n",
                    where, o->name, val);
            return -1;
        }
        c->n_metrics_allow++;
        return 0;
    case OPT_LOG_LEVEL:
        if (!nt_log_level_parse(val, (enum nt_log_level *)(void *)field)) {
            fprintf(err, "natter: %s--%s: must be error, warn, info or debug, got '%s'\n", where,
                    o->name, val);
            return -1;
        }
        return 0;
    case OPT_SECONDS:
        if (parse_seconds(val, &v) != 0) {
            fprintf(err,
                    "natter: %s--%s: must be a number of seconds such as 30 or 0.5, got '%s'\n",
                    where, o->name, val);
            return -1;
        }
        if (v > o->max || (v == 0 && strspn(val, "0.") != strlen(val))) {
            fprintf(err,
                    "natter: %s--%s: must be 0 (off) or from 0.001 to %llu seconds, got '%s'\n",
                    where, o->name, (unsigned long long)(o->max / 1000), val);
            return -1;
        }
        *(uint64_t *)(void *)field = v;
        return 0;
    case OPT_COUNT:
        if (parse_count(val, &v) != 0 || v < o->min || v > o->max) {
            fprintf(err, "natter: %s--%s: must be a whole number from %llu to %llu, got '%s'\n",
                    where, o->name, (unsigned long long)o->min, (unsigned long long)o->max, val);
            return -1;
        }
        *(uint64_t *)(void *)field = v;
        return 0;
    }
    return -1;
}

/* The listeners when none is given: the line chat, and the IRC and web doors beside it (not with
 * echo). */
static void default_listen(struct nt_config *c)
{
    const char *why = NULL;
    int rc = nt_config_parse_listen(NT_DEFAULT_LISTEN, &c->listen[0], &why);
    c->n_listen = 1;
    if (!c->echo) {
        rc |= nt_config_parse_listen(NT_DEFAULT_LISTEN_IRC, &c->listen[1], &why);
        rc |= nt_config_parse_listen(NT_DEFAULT_LISTEN_WEB, &c->listen[2], &why);
        c->n_listen = 3;
    }
    NT_ASSERT(rc == 0);
}

/* Keeps a copy of s[0..n) that c owns (a path from a config file outlives the line). */
static const char *own(struct nt_config *c, const char *s, size_t n)
{
    c->owned = nt_xrealloc(c->owned, (c->n_owned + 1) * sizeof(*c->owned));
    c->owned[c->n_owned] = nt_xstrndup(s, n);
    return c->owned[c->n_owned++];
}

void nt_config_fini(struct nt_config *c)
{
    for (size_t i = 0; i < c->n_owned; i++)
        free(c->owned[i]);
    free(c->owned);
    c->owned = NULL;
    c->n_owned = 0;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/*
 * One line of a config file (OPERATIONS.md "Config file"): "name = value", a value maybe in
 * double quotes (\" and \\ inside), a comment after '#' on its own line or after whitespace.
 * Returns 0, or -1 after printing why (with where, "FILE:LINE: ").
 */
static int parse_line(struct nt_config *c, char *p, FILE *err, const char *where)
{
    while (is_blank(*p))
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    const char *name = p;
    while (*p != '\0' && *p != '=' && !is_blank(*p))
        p++;
    size_t name_len = (size_t)(p - name);
    while (is_blank(*p))
        p++;
    if (*p != '=' || name_len == 0) {
        fprintf(err, "natter: %sexpected NAME = VALUE, got '%s'\n", where, name);
        return -1;
    }
    p++;
    while (is_blank(*p))
        p++;
    char value[NT_CONFIG_LINE_MAX];
    size_t n = 0;
    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\0') {
                fprintf(err, "natter: %s--%.*s: the value's closing quote is missing\n", where,
                        (int)name_len, name);
                return -1;
            }
            if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                p++;
            value[n++] = *p;
        }
        p++;
        const char *after = p;
        while (is_blank(*p))
            p++;
        if (*p != '\0' && !(*p == '#' && p > after)) { /* a comment needs whitespace first */
            fprintf(err, "natter: %s--%.*s: unexpected '%s' after the quoted value\n", where,
                    (int)name_len, name, p);
            return -1;
        }
    } else {
        for (; *p != '\0' && !(*p == '#' && is_blank(p[-1])); p++)
            value[n++] = *p; /* '#' right after '=' or inside a word is part of the value */
        while (n > 0 && is_blank(value[n - 1]))
            n--;
    }
    value[n] = '\0';
    const struct opt *o = find_long(name, name_len);
    if (o == NULL) {
        fprintf(err, "natter: %sunknown option '%.*s' (see --help)\n", where, (int)name_len, name);
        return -1;
    }
    if (o->offset == FIELD(config_file) || o->offset == FIELD(check_config) || o->def == NULL ||
        o->hidden) {
        fprintf(err, "natter: %s--%s: cannot be set in a config file\n", where, o->name);
        return -1;
    }
    if (o->type == OPT_FLAG) {
        bool *flag = (bool *)(void *)((char *)c + o->offset);
        if (strcmp(value, "yes") == 0) {
            *flag = true;
        } else if (strcmp(value, "no") == 0) {
            *flag = false;
        } else {
            fprintf(err, "natter: %s--%s: must be yes or no, got '%s'\n", where, o->name, value);
            return -1;
        }
        return 0;
    }
    bool is_string = o->type == OPT_PATH || o->type == OPT_REDIS || o->type == OPT_NODE;
    const char *val = is_string ? own(c, value, n) : value;
    return apply(c, o, val, err, where);
}

/* Reads the config file at path into c; returns the number of errors (each printed). */
static int parse_file(struct nt_config *c, const char *path, FILE *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(err, "natter: --config: cannot read '%s': %s\n", path, strerror(errno));
        return 1;
    }
    int errors = 0;
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    ssize_t len;
    size_t where_size = strlen(path) + 32;
    char *where = nt_xmalloc(where_size);
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        snprintf(where, where_size, "%s:%u: ", path, lineno);
        size_t n = (size_t)len;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n > NT_CONFIG_LINE_MAX - 2) {
            fprintf(err, "natter: %sline too long (at most %d bytes)\n", where,
                    NT_CONFIG_LINE_MAX - 2);
            errors++;
            continue;
        }
        if (memchr(line, '\0', n) != NULL) {
            fprintf(err, "natter: %sa NUL byte in the line\n", where);
            errors++;
            continue;
        }
        line[n] = '\0';
        if (parse_line(c, line, err, where) != 0)
            errors++;
    }
    if (ferror(f)) { /* a directory, an I/O error: not the end of a file */
        fprintf(err, "natter: --config: cannot read '%s': %s\n", path, strerror(errno));
        errors++;
    }
    free(where);
    free(line);
    fclose(f);
    return errors;
}

int nt_config_parse(struct nt_config *c, int argc, char *const argv[], FILE *err)
{
    int errors = 0;
    bool has_cmdline_listen = false, has_cmdline_origin = false, has_cmdline_cidr = false;
    /* The file first, so the command line overrides it (OPERATIONS.md "Config file"). */
    for (int i = 1; i < argc; i++) {
        const char *path = NULL, *arg = argv[i];
        if (arg == NULL)
            break; /* argv ends early (argc was generous) */
        if (strcmp(arg, "--config") == 0 && i + 1 < argc)
            path = argv[i + 1];
        else if (strncmp(arg, "--config=", 9) == 0)
            path = arg + 9;
        if (path != NULL && *path != '\0') {
            errors += parse_file(c, path, err);
            break;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const struct opt *o = NULL;
        const char *val = NULL;
        if (arg == NULL)
            break;
        if (arg[0] == '-' && arg[1] == '-' && arg[2] != '\0') {
            const char *eq = strchr(arg + 2, '=');
            size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
            o = find_long(arg + 2, len);
            if (eq != NULL)
                val = eq + 1;
        } else if (arg[0] == '-' && arg[1] != '\0' && arg[1] != '-') {
            o = find_short(arg[1]);
            if (o != NULL && arg[2] != '\0')
                val = arg + 2;
        } else {
            fprintf(err, "natter: unexpected argument '%s' (options start with --)\n", arg);
            errors++;
            continue;
        }
        if (o == NULL) {
            fprintf(err, "natter: unknown option '%s' (see --help)\n", arg);
            errors++;
            continue;
        }
        if (o->type == OPT_FLAG) {
            if (val != NULL) {
                fprintf(err, "natter: --%s takes no value\n", o->name);
                errors++;
                continue;
            }
        } else if (val == NULL) {
            if (i + 1 >= argc) {
                fprintf(err, "natter: --%s: missing value %s\n", o->name, o->metavar);
                errors++;
                continue;
            }
            val = argv[++i];
        }
        /* The command line's addresses (origins, blocks) replace the file's. */
        if (o->type == OPT_LISTEN && !has_cmdline_listen) {
            has_cmdline_listen = true;
            c->n_listen = 0;
        } else if (o->type == OPT_ORIGIN && !has_cmdline_origin) {
            has_cmdline_origin = true;
            c->n_web_origin = 0;
        } else if (o->type == OPT_CIDR && !has_cmdline_cidr) {
            has_cmdline_cidr = true;
            c->n_metrics_allow = 0;
        }
        if (apply(c, o, val != NULL ? val : "", err, "") != 0)
            errors++;
    }
    if (nt_config_has_tls(c) && (c->tls_cert_file == NULL || c->tls_key_file == NULL)) {
        enum nt_scheme sc = NT_SCHEME_TLS; /* the first TLS listener's, for the message */
        for (size_t i = c->n_listen; i-- > 0;) {
            if (nt_config_scheme_is_tls(c->listen[i].scheme))
                sc = c->listen[i].scheme;
        }
        fprintf(err, "natter: --listen %s://: needs --tls-cert FILE and --tls-key FILE\n",
                nt_config_scheme_name(sc));
        errors++;
    }
    if (c->n_listen == 0) {
        c->listen_is_default = true;
        default_listen(c);
    }
    return errors ? -1 : 0;
}

const char *nt_config_scheme_name(enum nt_scheme scheme)
{
    switch (scheme) {
    case NT_SCHEME_TLS:
        return "tls";
    case NT_SCHEME_IRC:
        return "irc";
    case NT_SCHEME_IRCS:
        return "ircs";
    case NT_SCHEME_HTTP:
        return "http";
    case NT_SCHEME_HTTPS:
        return "https";
    default:
        return "tcp";
    }
}

bool nt_config_scheme_is_tls(enum nt_scheme scheme)
{
    return scheme == NT_SCHEME_TLS || scheme == NT_SCHEME_IRCS || scheme == NT_SCHEME_HTTPS;
}

bool nt_config_has_tls(const struct nt_config *c)
{
    for (size_t i = 0; i < c->n_listen; i++) {
        if (nt_config_scheme_is_tls(c->listen[i].scheme))
            return true;
    }
    return false;
}

void nt_config_usage(FILE *out)
{
    fprintf(out, "usage: natter [options]\n\n"
                 "A chat server: connect with nc or telnet, give a name, talk.\n\noptions:\n");
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        const struct opt *o = &options[i];
        char left[64];
        if (o->hidden)
            continue;
        snprintf(left, sizeof(left), "%s%c%s--%s%s%s", o->short_name ? "-" : " ",
                 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
                 o->metavar ? " " : "", o->metavar ? o->metavar : "");
        fprintf(out, "  %-28s %s", left, o->help);
        if (o->def != NULL)
            fprintf(out, " (default: %s)", o->def);
        fputc('\n', out);
    }
}

void nt_config_markdown(FILE *out)
{
    fprintf(out, "| option | value | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        const struct opt *o = &options[i];
        if (o->hidden)
            continue;
        if (o->short_name)
            fprintf(out, "| `-%c`, `--%s` ", o->short_name, o->name);
        else
            fprintf(out, "| `--%s` ", o->name);
        fprintf(out, "| %s | %s | %s |\n", o->metavar ? o->metavar : "", o->def ? o->def : "",
                o->help);
    }
}

/* Writes s as roff text: a backslash as \e, a hyphen as \- (options must copy and paste as
 * ASCII), and \& before a '.' or '\'' that would start a line and so make it a request. */
static void roff_puts(const char *s, FILE *out)
{
    for (const char *p = s; *p != '\0'; p++) {
        if ((*p == '.' || *p == '\'') && (p == s || p[-1] == '\n'))
            fputs("\\&", out);
        if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-')
            fputs("\\-", out);
        else
            fputc(*p, out);
    }
}

void nt_config_man(FILE *out)
{
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        const struct opt *o = &options[i];
        if (o->hidden)
            continue;
        fputs(".TP\n", out);
        if (o->short_name)
            fprintf(out, "\\fB\\-%c\\fR, ", o->short_name);
        fputs("\\fB\\-\\-", out);
        roff_puts(o->name, out);
        fputs("\\fR", out);
        if (o->metavar != NULL) {
            fputs(" \\fI", out);
            roff_puts(o->metavar, out);
            fputs("\\fR", out);
        }
        fputc('\n', out);
        roff_puts(o->help, out);
        if (o->def != NULL) {
            fputs("\n(default: ", out);
            roff_puts(o->def, out);
            fputc(')', out);
        }
        fputc('\n', out);
    }
}

bool nt_config_listen_equal(const struct nt_listen_addr *a, const struct nt_listen_addr *b)
{
    return a->scheme == b->scheme && a->port == b->port && a->is_ipv6 == b->is_ipv6 &&
           strcmp(a->host, b->host) == 0;
}

void nt_config_format_listen(const struct nt_listen_addr *la, char *out, size_t cap)
{
    snprintf(out, cap, "%s://%s%s%s:%d", nt_config_scheme_name(la->scheme), la->is_ipv6 ? "[" : "",
             la->host, la->is_ipv6 ? "]" : "", la->port);
}

/* An option's value in c as a person would write it: "4096", "0.5", "yes", "info", "none". */
static void format_value(const struct opt *o, const struct nt_config *c, char *out, size_t cap)
{
    const char *field = (const char *)c + o->offset;
    uint64_t v;
    switch (o->type) {
    case OPT_FLAG:
        snprintf(out, cap, "%s", *(const bool *)(const void *)field ? "yes" : "no");
        return;
    case OPT_PATH:
    case OPT_REDIS:
    case OPT_NODE: {
        const char *path = *(const char *const *)(const void *)field;
        snprintf(out, cap, "%s", path ? path : o->type == OPT_NODE ? o->def : "none");
        return;
    }
    case OPT_LOG_LEVEL:
        snprintf(out, cap, "%s",
                 nt_log_level_name(*(const enum nt_log_level *)(const void *)field));
        return;
    case OPT_SECONDS:
        v = *(const uint64_t *)(const void *)field;
        if (v % 1000 == 0) {
            snprintf(out, cap, "%llu", (unsigned long long)(v / 1000));
        } else {
            snprintf(out, cap, "%llu.%03llu", (unsigned long long)(v / 1000),
                     (unsigned long long)(v % 1000));
            size_t n = strlen(out);
            while (out[n - 1] == '0')
                out[--n] = '\0';
        }
        return;
    case OPT_COUNT:
        v = *(const uint64_t *)(const void *)field;
        if (v == 0 && o->min > 0) /* --max-clients: 0 is "not given", derived at start-up */
            snprintf(out, cap, "%s", o->def);
        else
            snprintf(out, cap, "%llu", (unsigned long long)v);
        return;
    case OPT_ORIGIN:
    case OPT_CIDR: {
        size_t n = o->type == OPT_ORIGIN ? c->n_web_origin : c->n_metrics_allow;
        size_t at = 0;
        out[0] = '\0';
        if (n == 0)
            snprintf(out, cap, "%s", o->def);
        for (size_t i = 0; i < n && at < cap; i++) {
            char one[NT_WEB_ORIGIN_MAX];
            if (o->type == OPT_ORIGIN)
                snprintf(one, sizeof(one), "%s", c->web_origin[i]);
            else
                format_cidr(&c->metrics_allow[i], one, sizeof(one));
            at += (size_t)snprintf(out + at, cap - at, "%s%s", i ? ", " : "", one);
        }
        return;
    }
    case OPT_LISTEN:
        break;
    }
    snprintf(out, cap, "?");
}

/* Options that only the command line of one run means anything for. */
static bool is_per_run(const struct opt *o)
{
    return o->type == OPT_LISTEN || o->offset == FIELD(config_file) ||
           o->offset == FIELD(check_config) || o->offset == FIELD(show_help) ||
           o->offset == FIELD(show_version) || o->offset == FIELD(show_help_markdown) ||
           o->offset == FIELD(show_help_man);
}

/* Options a running server cannot take: the door every listener opens, where state is kept. */
static bool needs_restart(const struct opt *o)
{
    return o->offset == FIELD(echo) || o->offset == FIELD(state_dir) ||
           o->offset == FIELD(redis_url) || o->offset == FIELD(node_name) ||
           o->offset == FIELD(redis_queue);
}

size_t nt_config_diff(struct nt_config *next, const struct nt_config *cur, nt_config_change_fn fn,
                      void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
        const struct opt *o = &options[i];
        if (is_per_run(o))
            continue;
        char from[256], to[256];
        format_value(o, cur, from, sizeof(from));
        format_value(o, next, to, sizeof(to));
        if (strcmp(from, to) == 0)
            continue;
        bool restart = needs_restart(o);
        fn(ctx, o->name, from, to, restart);
        n++;
        if (restart && o->type == OPT_FLAG) { /* keeps what runs */
            *(bool *)(void *)((char *)next + o->offset) =
                *(const bool *)(const void *)((const char *)cur + o->offset);
            if (o->offset == FIELD(echo) && next->listen_is_default)
                default_listen(next); /* they follow echo: those of the echo that runs */
        } else if (restart && o->type == OPT_COUNT) {
            *(uint64_t *)(void *)((char *)next + o->offset) =
                *(const uint64_t *)(const void *)((const char *)cur + o->offset);
        } else if (restart) { /* a copy of its own: cur's strings go with cur */
            if (o->type == OPT_REDIS)
                next->redis = cur->redis;
            const char *path = *(const char *const *)(const void *)((const char *)cur + o->offset);
            *(const char **)(void *)((char *)next + o->offset) =
                path ? own(next, path, strlen(path)) : NULL;
        }
    }
    return n;
}
