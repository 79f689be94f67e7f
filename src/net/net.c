/* SPDX-License-Identifier: MIT */
/* net.c - what every conn shares that needs no conn: formatting addresses. The flush, the output
 * budget and the deadlines that drive the conns are conn.c's (nt_conn_net_init). */
#include "net/net.h"

#include <stdio.h>

void nt_net_format_addr(const struct sockaddr_storage *ss, char *out, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
        uv_ip6_name(a, ip, sizeof(ip));
        snprintf(out, size, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(out, size, "%s:%u", ip, ntohs(a->sin_port));
    }
}
