/* SPDX-License-Identifier: MIT */
/* config.c - defaults, the option table, parsing and validation (docs/OPERATIONS.md). */
#include "config.h"

#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_LISTEN, OPT_FLAG, OPT_SECONDS, OPT_COUNT, OPT_LOG_LEVEL, OPT_PATH };

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
     NT_DEFAULT_LISTEN " and " NT_DEFAULT_LISTEN_IRC,
     "address to listen on, IPv4 or [IPv6]; SCHEME tcp (the line chat, default), tls (the same "
     "over TLS), irc or ircs (the IRC door, plain or TLS); repeatable; port 0 picks a free port",
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
    {"tls-cert", 0, OPT_PATH, FIELD(tls_cert_file), 0, 0, "FILE", "none",
     "certificate chain (PEM) for tls:// and ircs:// listeners; reloaded on SIGHUP", false},
    {"tls-key", 0, OPT_PATH, FIELD(tls_key_file), 0, 0, "FILE", "none",
     "private key (PEM) for tls:// and ircs:// listeners; reloaded on SIGHUP", false},
    {"version", 0, OPT_FLAG, FIELD(show_version), 0, 0, NULL, NULL, "print the version and exit",
     false},
    {"help", 'h', OPT_FLAG, FIELD(show_help), 0, 0, NULL, NULL, "print this help and exit", false},
    {"help-markdown", 0, OPT_FLAG, FIELD(show_help_markdown), 0, 0, NULL, NULL,
     "print the options as the markdown table of docs/OPERATIONS.md", true},
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
        } else {
            *why = "unknown scheme (tcp://, tls://, irc:// or ircs://)";
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

/* Applies one option's value; returns 0 or -1 after printing why on err. */
static int apply(struct nt_config *c, const struct opt *o, const char *val, FILE *err)
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
            fprintf(err, "natter: --listen: at most %d addresses\n", NT_MAX_LISTEN);
            return -1;
        }
        if (nt_config_parse_listen(val, &c->listen[c->n_listen], &why) != 0) {
            fprintf(err, "natter: --listen: %s, got '%s'\n", why, val);
            return -1;
        }
        c->n_listen++;
        return 0;
    case OPT_PATH:
        if (*val == '\0') {
            fprintf(err, "natter: --%s: must not be empty\n", o->name);
            return -1;
        }
        *(const char **)(void *)field = val;
        return 0;
    case OPT_LOG_LEVEL:
        if (!nt_log_level_parse(val, (enum nt_log_level *)(void *)field)) {
            fprintf(err, "natter: --%s: must be error, warn, info or debug, got '%s'\n", o->name,
                    val);
            return -1;
        }
        return 0;
    case OPT_SECONDS:
        if (parse_seconds(val, &v) != 0) {
            fprintf(err, "natter: --%s: must be a number of seconds such as 30 or 0.5, got '%s'\n",
                    o->name, val);
            return -1;
        }
        if (v > o->max || (v == 0 && strspn(val, "0.") != strlen(val))) {
            fprintf(err, "natter: --%s: must be 0 (off) or from 0.001 to %llu seconds, got '%s'\n",
                    o->name, (unsigned long long)(o->max / 1000), val);
            return -1;
        }
        *(uint64_t *)(void *)field = v;
        return 0;
    case OPT_COUNT:
        if (parse_count(val, &v) != 0 || v < o->min || v > o->max) {
            fprintf(err, "natter: --%s: must be a whole number from %llu to %llu, got '%s'\n",
                    o->name, (unsigned long long)o->min, (unsigned long long)o->max, val);
            return -1;
        }
        *(uint64_t *)(void *)field = v;
        return 0;
    }
    return -1;
}

int nt_config_parse(struct nt_config *c, int argc, char *const argv[], FILE *err)
{
    int errors = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const struct opt *o = NULL;
        const char *val = NULL;
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
        if (apply(c, o, val != NULL ? val : "", err) != 0)
            errors++;
    }
    if (nt_config_has_tls(c) && (c->tls_cert_file == NULL || c->tls_key_file == NULL)) {
        fprintf(err, "natter: --listen tls://: needs --tls-cert FILE and --tls-key FILE\n");
        errors++;
    }
    if (c->n_listen == 0) { /* the line chat, and the IRC door beside it (not in echo mode) */
        const char *why = NULL;
        int rc = nt_config_parse_listen(NT_DEFAULT_LISTEN, &c->listen[0], &why);
        c->n_listen = 1;
        if (!c->echo) {
            rc |= nt_config_parse_listen(NT_DEFAULT_LISTEN_IRC, &c->listen[1], &why);
            c->n_listen = 2;
        }
        NT_ASSERT(rc == 0);
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
    default:
        return "tcp";
    }
}

bool nt_config_has_tls(const struct nt_config *c)
{
    for (size_t i = 0; i < c->n_listen; i++) {
        if (c->listen[i].scheme == NT_SCHEME_TLS || c->listen[i].scheme == NT_SCHEME_IRCS)
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
