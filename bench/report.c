/* SPDX-License-Identifier: MIT */
/* report.c - a run's figures as a readable table and as one JSON line. */
#include "report.h"

#include <inttypes.h>
#include <string.h>

/* 1234567 -> "1,234,567" */
static const char *group(char *buf, size_t size, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static void latency_line(FILE *out, const char *label, const struct nt_hist *h)
{
    if (h->count == 0) {
        fprintf(out, "  %-26s none\n", label);
        return;
    }
    fprintf(out,
            "  %-26s p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f µs  (%" PRIu64
            " samples)\n",
            label, us(nt_hist_quantile(h, 0.50)), us(nt_hist_quantile(h, 0.90)),
            us(nt_hist_quantile(h, 0.99)), us(nt_hist_quantile(h, 0.999)), us(h->max), h->count);
}

static void checks_line(FILE *out, const char *label, const struct nt_counters *k)
{
    fprintf(out,
            "  %-26s loss %" PRIu64 ", dups %" PRIu64 ", reorders %" PRIu64 ", corrupt %" PRIu64
            ", unexpected %" PRIu64 ", goodbyes %" PRIu64 ", closed %" PRIu64 "\n",
            label, k->lost, k->dups, k->reorders, k->corrupt, k->unexpected, k->goodbyes,
            k->closed);
}

/* With several --port or --sender-port values: what each port's connections got; with several
 * --server-pid values: each process's share. */
static void layout_lines(FILE *out, const struct nt_options *o, const struct nt_result *r)
{
    char a[32], b[32], label[32];
    bool idle = o->mode == NT_MODE_CONNECTIONS || o->mode == NT_MODE_JOINS;
    if (r->n_ports > 1 || r->n_sender_ports > 0) {
        for (uint32_t i = 0; i < r->n_ports; i++) {
            const struct nt_port_result *p = &r->ports[i];
            snprintf(label, sizeof(label), "port %" PRIu64, p->port);
            fprintf(out, "  %-26s %u receivers", label, p->receivers);
            if (!idle && r->n_sender_ports == 0)
                fprintf(out, ", %u senders (%s sent)", p->senders, group(a, sizeof(a), p->sent));
            fprintf(out, ": %s deliveries", group(b, sizeof(b), p->deliveries));
            if (!idle)
                fprintf(out, ", %s /s in the window",
                        group(a, sizeof(a), (uint64_t)(p->deliveries_per_s + 0.5)));
            if (p->hist.count > 0)
                fprintf(out, "; p50 %.1f  p99 %.1f µs", us(nt_hist_quantile(&p->hist, 0.50)),
                        us(nt_hist_quantile(&p->hist, 0.99)));
            fputc('\n', out);
        }
        for (uint32_t i = 0; i < r->n_sender_ports; i++) {
            const struct nt_sender_port_result *p = &r->sender_ports[i];
            snprintf(label, sizeof(label), "senders on port %" PRIu64, p->port);
            fprintf(out, "  %-26s %u senders, %s sent\n", label, p->senders,
                    group(a, sizeof(a), p->sent));
        }
    }
    if (r->has_server && r->n_servers > 1) {
        for (uint32_t i = 0; i < r->n_servers; i++) {
            const struct nt_server_result *s = &r->servers[i];
            snprintf(label, sizeof(label), "server pid %" PRIu64, s->pid);
            fprintf(out, "  %-26s ", label);
            if (o->mode != NT_MODE_CONNECTIONS) {
                fprintf(out, "%.1f %% of a core", s->cpu_pct);
                if (!idle && r->deliveries)
                    fprintf(out, ", %.3f µs per delivery (of all)",
                            (double)s->cpu_us / (double)r->deliveries);
                fprintf(out, ", ");
            }
            fprintf(out, "%s KiB\n", group(a, sizeof(a), s->rss_kib));
        }
    }
}

void nt_report_table(FILE *out, const struct nt_options *o, const struct nt_result *r)
{
    char a[32], b[32], c[32], where[NT_LIST_MAX * 14 + 48];
    nt_options_ports(o, where, sizeof(where));
    fprintf(out, "natter-bench: %s %s on %s%s\n", nt_proto_name(o->proto), nt_mode_name(o->mode),
            where, o->tls ? " over TLS" : "");
    if (o->ws)
        fprintf(out, "  %-26s GET %s, subprotocol %s, one text message per line%s\n", "WebSocket",
                o->ws_path, o->ws_protocol[0] ? o->ws_protocol : "none", o->tls ? " (wss)" : "");
    if (o->mode == NT_MODE_CONNECTIONS) {
        fprintf(out, "  %-26s %s idle clients, %u worker(s), %u source address(es)\n", "load",
                group(a, sizeof(a), r->receivers), r->workers, r->sources);
    } else if (o->mode == NT_MODE_JOINS) {
        fprintf(out, "  %-26s %s clients join at once, %u worker(s), %u source address(es)\n",
                "load", group(a, sizeof(a), r->receivers), r->workers, r->sources);
    } else {
        fprintf(out, "  %-26s %u receivers, %u senders", "load", r->receivers, r->senders);
        if (o->mode == NT_MODE_LATENCY)
            fprintf(out, ", %.0f msgs/s offered", o->rate);
        else
            fprintf(out, ", window %" PRIu64, o->window);
        if (o->mode == NT_MODE_STALLED)
            fprintf(out, ", %u stalled", r->stalled);
        fprintf(out, ", %" PRIu64 " B payload, %u worker(s)\n", o->size, r->workers);
    }
    if (o->tls)
        fprintf(out, "  %-26s %s, %s\n", "TLS", r->tls_info[0] ? r->tls_info : "no session",
                o->tls_ca[0] ? "certificate verified" : "certificate not checked");
    if (o->mode == NT_MODE_JOINS) {
        fprintf(out, "  %-26s %.3f s until the last was in (%s joins/s)\n", "join storm",
                r->setup_s, group(a, sizeof(a), (uint64_t)(r->joins_per_s + 0.5)));
        if (r->has_server) {
            fprintf(out, "  %-26s %.1f %% of a core, %.1f µs per join\n", "server CPU",
                    r->server_cpu_pct, r->server_cpu_us_per_join);
            fprintf(out, "  %-26s %s KiB before, %s KiB after: %.2f KiB per client\n", "server RSS",
                    group(a, sizeof(a), r->rss_before_kib), group(b, sizeof(b), r->rss_kib),
                    r->rss_per_conn_kib);
        }
        fprintf(out, "  %-26s %.1f %% of a core\n", "natter-bench CPU", r->self_cpu_pct);
    } else {
        fprintf(out, "  %-26s %.2f s\n", "setup (connect + join)", r->setup_s);
    }
    if (o->mode == NT_MODE_JOINS) {
        /* the storm is all there is */
    } else if (o->mode == NT_MODE_CONNECTIONS) {
        if (r->has_server) {
            fprintf(out, "  %-26s %s KiB before, %s KiB after: %.2f KiB per connection\n",
                    "server RSS", group(a, sizeof(a), r->rss_before_kib),
                    group(b, sizeof(b), r->rss_kib), r->rss_per_conn_kib);
        }
        fprintf(out, "  %-26s %s of %s clients got it, the last after %.3f s\n", "one broadcast",
                group(a, sizeof(a), r->bcast_received), group(b, sizeof(b), r->receivers),
                r->bcast_s);
        latency_line(out, "broadcast latency", &r->hist);
    } else {
        fprintf(out, "  %-26s %.2f s (after %.2f s of warmup)\n", "measured window", r->window_s,
                o->warmup);
        fprintf(out, "  %-26s %s (%s /s)\n", "deliveries", group(a, sizeof(a), r->deliveries),
                group(b, sizeof(b), (uint64_t)(r->deliveries_per_s + 0.5)));
        fprintf(out, "  %-26s %s (%s /s)\n", "messages sent", group(a, sizeof(a), r->msgs),
                group(c, sizeof(c), (uint64_t)(r->msgs_per_s + 0.5)));
        latency_line(
            out, o->mode == NT_MODE_LATENCY ? "latency (from schedule)" : "latency (under load)",
            &r->hist);
        if (r->has_server) {
            fprintf(out, "  %-26s %.1f %% of a core, %.3f µs per delivery\n", "server CPU",
                    r->server_cpu_pct, r->server_cpu_us_per_delivery);
            fprintf(out, "  %-26s %s KiB\n", "server RSS", group(a, sizeof(a), r->rss_kib));
        }
        fprintf(out, "  %-26s %.1f %% of a core, %.3f µs per delivery\n", "natter-bench CPU",
                r->self_cpu_pct, r->self_cpu_us_per_delivery);
    }
    layout_lines(out, o, r);
    if (o->mode == NT_MODE_STALLED) {
        fprintf(out, "  %-26s %s /s (last second of warmup, everyone reading)\n", "reference rate",
                group(a, sizeof(a), (uint64_t)(r->baseline_per_s + 0.5)));
        for (uint32_t i = 0; i < r->n_seconds; i++)
            fprintf(out, "  %-26s %s /s (%.2f)\n", i == 0 ? "others, per second" : "",
                    group(a, sizeof(a), (uint64_t)(r->per_second[i] + 0.5)),
                    r->baseline_per_s > 0 ? r->per_second[i] / r->baseline_per_s : 0);
        fprintf(out, "  %-26s min %.2f, median %.2f of the reference\n", "others' rate",
                r->min_ratio, r->median_ratio);
        fprintf(out, "  %-26s %u of %u", "stalled ones cut off", r->stalled_cut, r->stalled);
        if (r->cut_after_s >= 0)
            fprintf(out, ", first seen %.2f s after the stall (%s)", r->cut_after_s,
                    r->cut_seen_by);
        fputc('\n', out);
        checks_line(out, "checks, stalled ones", &r->stalled_k);
    }
    bool lines = o->proto == NT_PROTO_NATTER || o->proto == NT_PROTO_IRC || o->proto == NT_PROTO_WS;
    bool idle = o->mode == NT_MODE_CONNECTIONS || o->mode == NT_MODE_JOINS;
    if (o->mode != NT_MODE_JOINS)
        fprintf(out, "  %-26s %s sent, %s of %s deliveries\n", "totals",
                group(a, sizeof(a), r->sent), group(b, sizeof(b), r->total_deliveries),
                group(c, sizeof(c), r->expected_deliveries));
    if (lines && !idle)
        fprintf(out, "  %-26s %s (each sender also gets the others' lines)\n", "lines to senders",
                group(a, sizeof(a), r->sender_lines));
    if (lines && !idle && r->senders > 0 && r->msgs_per_s < 12.0 * r->senders &&
        o->mode != NT_MODE_LATENCY)
        fprintf(out,
                "  %-26s at most 12 messages/s per sender: if this is natter, its flood control\n"
                "  %-26s may be pacing them (start it with --rate 0 --burst 0)%s\n",
                "note", "", o->proto == NT_PROTO_IRC ? ", or an IRC server's" : "");
    if (o->proto == NT_PROTO_REDIS && r->pub_replies)
        fprintf(out, "  %-26s %s, fewest receivers in a reply %" PRIu64 "\n", "PUBLISH replies",
                group(a, sizeof(a), r->pub_replies), r->pub_min_receivers);
    if (o->ws && r->ws_pings)
        fprintf(out, "  %-26s %" PRIu64 " (each answered)\n", "WebSocket pings", r->ws_pings);
    if (r->server_errors)
        fprintf(out, "  %-26s %" PRIu64 ", first: %s\n", "server errors", r->server_errors,
                r->server_error);
    if (r->senders_closed || r->active_left || r->senders_left)
        fprintf(out,
                "  %-26s senders closed %" PRIu64 ", leave notices: receivers %u, senders %u\n",
                "dropped", r->senders_closed, r->active_left, r->senders_left);
    checks_line(out, "checks", &r->active);
    fprintf(out, "  %-26s %s\n", "result", nt_result_failed(o, r) ? "FAILED" : "ok");
}

static void jstr(FILE *out, const char *key, const char *v)
{
    fprintf(out, ",\"%s\":\"", key);
    for (const char *p = v; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
    fputc('"', out);
}

static void ju(FILE *out, const char *key, uint64_t v)
{
    fprintf(out, ",\"%s\":%" PRIu64, key, v);
}

static void jd(FILE *out, const char *key, double v, bool present)
{
    if (present)
        fprintf(out, ",\"%s\":%.6g", key, v);
    else
        fprintf(out, ",\"%s\":null", key);
}

void nt_report_json(FILE *out, const struct nt_options *o, const struct nt_result *r, bool ok)
{
    const struct nt_hist *h = &r->hist;
    bool lat = h->count > 0, srv = r->has_server;
    bool conn = o->mode == NT_MODE_CONNECTIONS, stall = o->mode == NT_MODE_STALLED;
    bool joins = o->mode == NT_MODE_JOINS, idle = conn || joins;
    fprintf(out, "{\"tool\":\"natter-bench\"");
    jstr(out, "proto", nt_proto_name(o->proto));
    jstr(out, "mode", nt_mode_name(o->mode));
    jstr(out, "host", o->host);
    ju(out, "port", o->port);
    fprintf(out, ",\"ports\":[");
    for (uint32_t i = 0; i < o->ports.n; i++)
        fprintf(out, "%s%" PRIu64, i ? "," : "", o->ports.v[i]);
    fprintf(out, "],\"sender_ports\":[");
    for (uint32_t i = 0; i < o->sender_ports.n; i++)
        fprintf(out, "%s%" PRIu64, i ? "," : "", o->sender_ports.v[i]);
    fputc(']', out);
    fprintf(out, ",\"ok\":%s", ok ? "true" : "false");
    jstr(out, "error", r->completed ? "" : r->error);
    fprintf(out, ",\"tls\":%s", o->tls ? "true" : "false");
    if (o->tls && r->tls_info[0])
        jstr(out, "tls_cipher", r->tls_info);
    else
        fprintf(out, ",\"tls_cipher\":null");
    fprintf(out, ",\"ws\":%s", o->ws ? "true" : "false");
    if (o->ws && o->ws_protocol[0])
        jstr(out, "ws_protocol", o->ws_protocol);
    else
        fprintf(out, ",\"ws_protocol\":null");
    ju(out, "ws_pings", r->ws_pings);
    ju(out, "receivers", r->receivers);
    ju(out, "senders", r->senders);
    ju(out, "stalled", r->stalled);
    ju(out, "window", o->window);
    ju(out, "size", o->size);
    jd(out, "duration", o->duration, true);
    jd(out, "warmup", o->warmup, true);
    jd(out, "rate", o->rate, o->mode == NT_MODE_LATENCY);
    ju(out, "workers", r->workers);
    ju(out, "sources", r->sources);
    jd(out, "setup_s", r->setup_s, true);
    jd(out, "window_s", r->window_s, !idle);
    ju(out, "deliveries", r->deliveries);
    jd(out, "deliveries_per_s", r->deliveries_per_s, !idle);
    ju(out, "msgs", r->msgs);
    jd(out, "msgs_per_s", r->msgs_per_s, !idle);
    ju(out, "sent", r->sent);
    ju(out, "total_deliveries", r->total_deliveries);
    ju(out, "expected_deliveries", r->expected_deliveries);
    ju(out, "loss", r->active.lost);
    ju(out, "dups", r->active.dups);
    ju(out, "reorders", r->active.reorders);
    ju(out, "corrupt", r->active.corrupt);
    ju(out, "unexpected", r->active.unexpected);
    ju(out, "goodbyes", r->active.goodbyes);
    ju(out, "closed", r->active.closed);
    ju(out, "senders_closed", r->senders_closed);
    ju(out, "receivers_left", r->active_left);
    ju(out, "senders_left", r->senders_left);
    jd(out, "p50_us", us(nt_hist_quantile(h, 0.50)), lat);
    jd(out, "p90_us", us(nt_hist_quantile(h, 0.90)), lat);
    jd(out, "p99_us", us(nt_hist_quantile(h, 0.99)), lat);
    jd(out, "p999_us", us(nt_hist_quantile(h, 0.999)), lat);
    jd(out, "max_us", us(h->max), lat);
    jd(out, "mean_us", lat ? us(h->sum) / (double)h->count : 0, lat);
    ju(out, "latency_samples", h->count);
    jd(out, "server_cpu_us", (double)r->server_cpu_us, srv && !conn);
    jd(out, "server_cpu_pct", r->server_cpu_pct, srv && !conn);
    jd(out, "server_cpu_us_per_delivery", r->server_cpu_us_per_delivery,
       srv && !idle && r->deliveries);
    jd(out, "rss_kib", (double)r->rss_kib, srv);
    jd(out, "bench_cpu_pct", r->self_cpu_pct, !conn);
    jd(out, "bench_cpu_us_per_delivery", r->self_cpu_us_per_delivery, !idle && r->deliveries);
    ju(out, "sender_lines", r->sender_lines);
    ju(out, "pub_replies", r->pub_replies);
    ju(out, "pub_min_receivers", r->pub_min_receivers);
    ju(out, "server_errors", r->server_errors);
    jstr(out, "server_error", r->server_error);
    fprintf(out, ",\"per_port\":[");
    for (uint32_t i = 0; i < r->n_ports; i++) {
        const struct nt_port_result *p = &r->ports[i];
        bool plat = p->hist.count > 0;
        fprintf(out, "%s{\"port\":%" PRIu64, i ? "," : "", p->port);
        ju(out, "receivers", p->receivers);
        ju(out, "senders", p->senders);
        ju(out, "sent", p->sent);
        ju(out, "deliveries", p->deliveries);
        ju(out, "window_deliveries", p->window_deliveries);
        jd(out, "deliveries_per_s", p->deliveries_per_s, !idle);
        jd(out, "p50_us", us(nt_hist_quantile(&p->hist, 0.50)), plat);
        jd(out, "p99_us", us(nt_hist_quantile(&p->hist, 0.99)), plat);
        jd(out, "p999_us", us(nt_hist_quantile(&p->hist, 0.999)), plat);
        jd(out, "max_us", us(p->hist.max), plat);
        ju(out, "latency_samples", p->hist.count);
        fputc('}', out);
    }
    fprintf(out, "],\"per_sender_port\":[");
    for (uint32_t i = 0; i < r->n_sender_ports; i++) {
        const struct nt_sender_port_result *p = &r->sender_ports[i];
        fprintf(out, "%s{\"port\":%" PRIu64, i ? "," : "", p->port);
        ju(out, "senders", p->senders);
        ju(out, "sent", p->sent);
        fputc('}', out);
    }
    fprintf(out, "],\"servers\":[");
    for (uint32_t i = 0; i < r->n_servers; i++) {
        const struct nt_server_result *s = &r->servers[i];
        fprintf(out, "%s{\"pid\":%" PRIu64, i ? "," : "", s->pid);
        jd(out, "cpu_us", (double)s->cpu_us, srv && !conn);
        jd(out, "cpu_pct", s->cpu_pct, srv && !conn);
        jd(out, "rss_kib", (double)s->rss_kib, srv);
        fputc('}', out);
    }
    fputc(']', out);
    if (stall) {
        jd(out, "baseline_per_s", r->baseline_per_s, true);
        fprintf(out, ",\"per_second\":[");
        for (uint32_t i = 0; i < r->n_seconds; i++)
            fprintf(out, "%s%.0f", i ? "," : "", r->per_second[i]);
        fputc(']', out);
        jd(out, "min_ratio", r->min_ratio, true);
        jd(out, "median_ratio", r->median_ratio, true);
        ju(out, "stalled_cut", r->stalled_cut);
        ju(out, "stalled_left", r->stalled_left);
        jd(out, "cut_after_s", r->cut_after_s, r->cut_after_s >= 0);
        jstr(out, "cut_seen_by", r->cut_seen_by);
        ju(out, "stalled_deliveries", r->stalled_k.deliveries);
        ju(out, "stalled_loss", r->stalled_k.lost);
        ju(out, "stalled_corrupt", r->stalled_k.corrupt);
        ju(out, "stalled_goodbyes", r->stalled_k.goodbyes);
    }
    if (joins) {
        jd(out, "joins_per_s", r->joins_per_s, true);
        jd(out, "server_cpu_us_per_join", r->server_cpu_us_per_join, srv);
        jd(out, "rss_before_kib", (double)r->rss_before_kib, srv);
        jd(out, "rss_per_conn_kib", r->rss_per_conn_kib, srv);
    }
    if (conn) {
        jd(out, "rss_before_kib", (double)r->rss_before_kib, srv);
        jd(out, "rss_per_conn_kib", r->rss_per_conn_kib, srv);
        ju(out, "bcast_received", r->bcast_received);
        jd(out, "bcast_s", r->bcast_s, true);
    }
    fprintf(out, "}\n");
}
