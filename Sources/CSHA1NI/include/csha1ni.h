// SHA-1 with the x86 SHA extensions (SHA-NI), one message or two interleaved. Used by Metainfo's piece hasher:
// one SHA-1 is a chain of dependent SHA1RNDS4 instructions that leaves the SHA unit idle most of the time, so two or
// four independent pieces hashed in lock-step run 1.7 or 2.2 times as fast on one core as OpenSSL's single stream.
#ifndef CSHA1NI_H
#define CSHA1NI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the CPU has SHA-NI, SSSE3 and SSE4.1 (and this is an x86-64 build); 0 otherwise.
int swt_sha1ni_available(void);

/// SHA-1 of `length` bytes at `data` into `digest` (20 bytes). Only call when swt_sha1ni_available().
void swt_sha1ni(const uint8_t *data, size_t length, uint8_t *digest);

/// SHA-1 of two messages of the same `length`, computed interleaved. Only call when swt_sha1ni_available().
void swt_sha1ni_x2(const uint8_t *a, const uint8_t *b, size_t length, uint8_t *digestA, uint8_t *digestB);

/// SHA-1 of four consecutive messages of `length` bytes each (`data`, `data + length`, ...), computed interleaved,
/// into `digests` (4 × 20 bytes). Only call when swt_sha1ni_available().
void swt_sha1ni_x4(const uint8_t *data, size_t length, uint8_t *digests);

#ifdef __cplusplus
}
#endif

#endif
