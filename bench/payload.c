/* SPDX-License-Identifier: MIT */
/* payload.c - encode and verify the benchmark payload. */
#include "payload.h"

#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "payload.c loads eight characters as one little-endian word"
#endif

#define ONES   UINT64_C(0x0101010101010101)
#define BASE   (ONES * 'A')
#define HIGHS  (ONES * 0xF0)
#define HEXLEN 16

static uint64_t checksum(uint64_t idseq, uint64_t ts, uint64_t size)
{
    uint64_t h = idseq * UINT64_C(0x9E3779B97F4A7C15);
    h ^= (ts + UINT64_C(0x632BE59BD9B4E019)) * UINT64_C(0xC2B2AE3D27D4EB4F);
    h ^= size * UINT64_C(0x165667B19E3779F9);
    h ^= h >> 31;
    h *= UINT64_C(0xD6E8FEB86659FD93);
    h ^= h >> 32;
    return h;
}

/* The 32 bits of v, one per byte, 'A' + nibble, least significant nibble first. */
static uint64_t spread32(uint32_t v)
{
    uint64_t x = v;
    x = (x | (x << 16)) & UINT64_C(0x0000FFFF0000FFFF);
    x = (x | (x << 8)) & UINT64_C(0x00FF00FF00FF00FF);
    x = (x | (x << 4)) & UINT64_C(0x0F0F0F0F0F0F0F0F);
    return x + BASE;
}

/* Inverse of spread32; false when a byte is outside 'A'..'P'. */
static bool gather32(uint64_t x, uint32_t *v)
{
    /* Every byte in [0x41, 0x50] leaves no borrow and a value below 16; a byte below 0x41
     * wraps to 0xBE or more, one above 0x50 keeps a high bit: either sets a bit of HIGHS. */
    x -= BASE;
    if (x & HIGHS)
        return false;
    x = (x | (x >> 4)) & UINT64_C(0x00FF00FF00FF00FF);
    x = (x | (x >> 8)) & UINT64_C(0x0000FFFF0000FFFF);
    x = (x | (x >> 16)) & UINT64_C(0x00000000FFFFFFFF);
    *v = (uint32_t)x;
    return true;
}

static void put64(char *out, uint64_t v)
{
    uint64_t lo = spread32((uint32_t)v), hi = spread32((uint32_t)(v >> 32));
    memcpy(out, &lo, 8);
    memcpy(out + 8, &hi, 8);
}

static bool get64(const char *in, uint64_t *v)
{
    uint64_t lo, hi;
    uint32_t a, b;
    memcpy(&lo, in, 8);
    memcpy(&hi, in + 8, 8);
    if (!gather32(lo, &a) || !gather32(hi, &b))
        return false;
    *v = (uint64_t)a | ((uint64_t)b << 32);
    return true;
}

void nt_payload_fmt_init(struct nt_payload_fmt *fmt, size_t size)
{
    static const char pattern[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    fmt->size = size;
    memset(fmt->pad, 0, sizeof(fmt->pad));
    for (size_t i = 3 * HEXLEN; i < size; i++)
        fmt->pad[i] = pattern[i % (sizeof(pattern) - 1)];
}

void nt_payload_encode(const struct nt_payload_fmt *fmt, char *out, uint32_t sender, uint64_t seq,
                       uint64_t ts)
{
    uint64_t idseq = ((uint64_t)sender << NT_PAYLOAD_SEQ_BITS) | (seq & NT_PAYLOAD_SEQ_MASK);
    put64(out, idseq);
    put64(out + HEXLEN, ts);
    put64(out + 2 * HEXLEN, checksum(idseq, ts, fmt->size));
    memcpy(out + 3 * HEXLEN, fmt->pad + 3 * HEXLEN, fmt->size - 3 * HEXLEN);
}

bool nt_payload_decode(const struct nt_payload_fmt *fmt, const char *p, uint32_t *sender,
                       uint64_t *seq, uint64_t *ts)
{
    uint64_t idseq, t, sum;
    if (!get64(p, &idseq) || !get64(p + HEXLEN, &t) || !get64(p + 2 * HEXLEN, &sum))
        return false;
    if (sum != checksum(idseq, t, fmt->size))
        return false;
    if (memcmp(p + 3 * HEXLEN, fmt->pad + 3 * HEXLEN, fmt->size - 3 * HEXLEN) != 0)
        return false;
    *sender = (uint32_t)(idseq >> NT_PAYLOAD_SEQ_BITS);
    *seq = idseq & NT_PAYLOAD_SEQ_MASK;
    *ts = t;
    return true;
}
