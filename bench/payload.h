/* SPDX-License-Identifier: MIT */
/* payload.h - the self-checking message body every sender sends and every receiver verifies. */
#ifndef NT_BENCH_PAYLOAD_H
#define NT_BENCH_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A payload is `size` bytes of printable ASCII (size >= NT_PAYLOAD_MIN), nothing a chat server
 * would sanitize or trim:
 *
 *   [0,16)   sender id (high 24 bits) and sequence number (low 40 bits)
 *   [16,32)  timestamp, ns on CLOCK_MONOTONIC: the scheduled send time in latency mode, the
 *            real send time otherwise
 *   [32,48)  checksum of the two fields above and the size
 *   [48,size) padding, a fixed pattern of [0-9a-z]
 *
 * Each 64-bit field is 16 characters 'A'..'P', one per 4 bits, least significant first: a
 * fixed-width form that is encoded and checked eight bytes at a time, with no division and no
 * branch per character. A receiver rejects any byte out of range, a wrong checksum or a wrong
 * padding byte, so a corrupted, truncated or spliced line is never counted as a delivery.
 */
#define NT_PAYLOAD_MIN         48
#define NT_PAYLOAD_MAX         4000
#define NT_PAYLOAD_SEQ_BITS    40
#define NT_PAYLOAD_SEQ_MASK    ((UINT64_C(1) << NT_PAYLOAD_SEQ_BITS) - 1)
#define NT_PAYLOAD_MAX_SENDERS (UINT32_C(1) << 24)

struct nt_payload_fmt {
    size_t size;
    char pad[NT_PAYLOAD_MAX]; /* the padding bytes, at their offsets */
};

/* Sets up fmt for payloads of size bytes (NT_PAYLOAD_MIN..NT_PAYLOAD_MAX). */
void nt_payload_fmt_init(struct nt_payload_fmt *fmt, size_t size);

/* Writes the fmt->size bytes of the payload for (sender, seq, ts) to out. No terminator. */
void nt_payload_encode(const struct nt_payload_fmt *fmt, char *out, uint32_t sender, uint64_t seq,
                       uint64_t ts);

/*
 * Checks the fmt->size bytes at p. On success returns true with the sender, sequence number and
 * timestamp stored; on any damage returns false and stores nothing.
 */
bool nt_payload_decode(const struct nt_payload_fmt *fmt, const char *p, uint32_t *sender,
                       uint64_t *seq, uint64_t *ts);

#endif
