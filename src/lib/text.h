/* SPDX-License-Identifier: MIT */
/* text.h - sanitising: UTF-8 repair, control and escape stripping, trimming. Pure. */
#ifndef NT_TEXT_H
#define NT_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* The output of nt_text_sanitize() is at most this many bytes for len input bytes. */
#define NT_TEXT_SANITIZED_MAX(len) ((len)*3)

/*
 * Writes the sanitized form of in[0..len) to out (PROTOCOL.md §5.3): invalid UTF-8 becomes
 * U+FFFD per maximal subpart, TAB becomes a space, escape sequences, C0/C1 controls, DEL and
 * bidirectional controls are removed. out must hold NT_TEXT_SANITIZED_MAX(len) bytes and may not
 * overlap in. Returns the bytes written. The output is valid UTF-8 without control characters.
 */
size_t nt_text_sanitize(const char *in, size_t len, char *out);

/* Trims leading and trailing ASCII whitespace (space, TAB, CR, LF, VT, FF) from s[0..*len):
 * returns the new start and updates *len. */
const char *nt_text_trim(const char *s, size_t *len);

/*
 * Decodes one UTF-8 code point from s[0..len) (len >= 1). Returns the bytes consumed (>= 1) and
 * stores the code point in *cp, or stores UINT32_MAX in *cp when the bytes consumed are one
 * maximal invalid subpart.
 */
size_t nt_text_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);

/* Encodes cp (<= 0x10FFFF) as UTF-8 into out (4 bytes room). Returns the bytes written. */
size_t nt_text_utf8_encode(uint32_t cp, char *out);

#endif
