// SHA-1 (FIPS 180-4) with the x86 SHA extensions, one message or two interleaved. See include/csha1ni.h.
//
// The rounds follow Intel's SHA-NI reference structure: 20 groups of 4 rounds, each one SHA1RNDS4 (round function
// `group / 5`), with the message schedule computed 4 words at a time by SHA1MSG1 / XOR / SHA1MSG2 and the next E
// by SHA1NEXTE. Each lane keeps its own registers; the two- and four-lane versions issue the lanes' instructions in
// turn so the CPU overlaps their latencies.
#include "csha1ni.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

#define SWT_TARGET __attribute__((target("sha,sse4.1,ssse3")))

int swt_sha1ni_available(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    int ssse3 = (ecx >> 9) & 1, sse41 = (ecx >> 19) & 1;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    int sha = (ebx >> 29) & 1;
    return ssse3 && sse41 && sha;
}

#define SWT_LOAD(L, k, p) L##M[k] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)((p) + 16 * (k))), mask)

// Rounds 4k .. 4k+3 of lane L; `k` is a literal, so every condition and index folds at compile time.
#define SWT_GROUP(L, k)                                                                                       \
    do {                                                                                                      \
        __m128i input = (k) == 0 ? _mm_add_epi32(L##E, L##M[0]) : _mm_sha1nexte_epu32(L##Eprev, L##M[(k) % 4]); \
        L##Eprev = L##ABCD;                                                                                   \
        L##ABCD = _mm_sha1rnds4_epu32(L##ABCD, input, (k) / 5);                                               \
        if ((k) >= 3 && (k) <= 18) L##M[((k) + 1) % 4] = _mm_sha1msg2_epu32(L##M[((k) + 1) % 4], L##M[(k) % 4]); \
        if ((k) >= 2 && (k) <= 17) L##M[((k) + 2) % 4] = _mm_xor_si128(L##M[((k) + 2) % 4], L##M[(k) % 4]);  \
        if ((k) >= 1 && (k) <= 16) L##M[((k) + 3) % 4] = _mm_sha1msg1_epu32(L##M[((k) + 3) % 4], L##M[(k) % 4]); \
    } while (0)

#define SWT_ALL_GROUPS(G)                                                                                     \
    G(0); G(1); G(2); G(3); G(4); G(5); G(6); G(7); G(8); G(9);                                               \
    G(10); G(11); G(12); G(13); G(14); G(15); G(16); G(17); G(18); G(19)

#define SWT_LANE_A(k) SWT_GROUP(a, k)
#define SWT_BOTH_LANES(k) SWT_GROUP(a, k); SWT_GROUP(b, k)
#define SWT_FOUR_LANES(k) SWT_GROUP(a, k); SWT_GROUP(b, k); SWT_GROUP(c, k); SWT_GROUP(d, k)

SWT_TARGET static void swt_blocks1(__m128i *abcd, __m128i *e, const uint8_t *p, size_t blocks) {
    const __m128i mask = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
    __m128i aABCD = *abcd, aE = *e, aEprev, aM[4];
    while (blocks--) {
        __m128i savedABCD = aABCD, savedE = aE;
        SWT_LOAD(a, 0, p); SWT_LOAD(a, 1, p); SWT_LOAD(a, 2, p); SWT_LOAD(a, 3, p);
        SWT_ALL_GROUPS(SWT_LANE_A);
        aE = _mm_sha1nexte_epu32(aEprev, savedE);
        aABCD = _mm_add_epi32(aABCD, savedABCD);
        p += 64;
    }
    *abcd = aABCD;
    *e = aE;
}

SWT_TARGET static void swt_blocks2(__m128i abcd[2], __m128i e[2], const uint8_t *pa, const uint8_t *pb, size_t blocks) {
    const __m128i mask = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
    __m128i aABCD = abcd[0], aE = e[0], aEprev, aM[4];
    __m128i bABCD = abcd[1], bE = e[1], bEprev, bM[4];
    while (blocks--) {
        __m128i savedABCDa = aABCD, savedEa = aE, savedABCDb = bABCD, savedEb = bE;
        SWT_LOAD(a, 0, pa); SWT_LOAD(a, 1, pa); SWT_LOAD(a, 2, pa); SWT_LOAD(a, 3, pa);
        SWT_LOAD(b, 0, pb); SWT_LOAD(b, 1, pb); SWT_LOAD(b, 2, pb); SWT_LOAD(b, 3, pb);
        SWT_ALL_GROUPS(SWT_BOTH_LANES);
        aE = _mm_sha1nexte_epu32(aEprev, savedEa);
        aABCD = _mm_add_epi32(aABCD, savedABCDa);
        bE = _mm_sha1nexte_epu32(bEprev, savedEb);
        bABCD = _mm_add_epi32(bABCD, savedABCDb);
        pa += 64;
        pb += 64;
    }
    abcd[0] = aABCD;
    e[0] = aE;
    abcd[1] = bABCD;
    e[1] = bE;
}

// Four lanes need more than the 16 XMM registers; the few spills to L1 cost far less than the latency they hide.
SWT_TARGET static void swt_blocks4(__m128i abcd[4], __m128i e[4], const uint8_t *const p[4], size_t blocks) {
    const __m128i mask = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
    const uint8_t *pa = p[0], *pb = p[1], *pc = p[2], *pd = p[3];
    __m128i aABCD = abcd[0], aE = e[0], aEprev, aM[4];
    __m128i bABCD = abcd[1], bE = e[1], bEprev, bM[4];
    __m128i cABCD = abcd[2], cE = e[2], cEprev, cM[4];
    __m128i dABCD = abcd[3], dE = e[3], dEprev, dM[4];
    while (blocks--) {
        __m128i savedABCDa = aABCD, savedEa = aE, savedABCDb = bABCD, savedEb = bE;
        __m128i savedABCDc = cABCD, savedEc = cE, savedABCDd = dABCD, savedEd = dE;
        SWT_LOAD(a, 0, pa); SWT_LOAD(a, 1, pa); SWT_LOAD(a, 2, pa); SWT_LOAD(a, 3, pa);
        SWT_LOAD(b, 0, pb); SWT_LOAD(b, 1, pb); SWT_LOAD(b, 2, pb); SWT_LOAD(b, 3, pb);
        SWT_LOAD(c, 0, pc); SWT_LOAD(c, 1, pc); SWT_LOAD(c, 2, pc); SWT_LOAD(c, 3, pc);
        SWT_LOAD(d, 0, pd); SWT_LOAD(d, 1, pd); SWT_LOAD(d, 2, pd); SWT_LOAD(d, 3, pd);
        SWT_ALL_GROUPS(SWT_FOUR_LANES);
        aE = _mm_sha1nexte_epu32(aEprev, savedEa);
        aABCD = _mm_add_epi32(aABCD, savedABCDa);
        bE = _mm_sha1nexte_epu32(bEprev, savedEb);
        bABCD = _mm_add_epi32(bABCD, savedABCDb);
        cE = _mm_sha1nexte_epu32(cEprev, savedEc);
        cABCD = _mm_add_epi32(cABCD, savedABCDc);
        dE = _mm_sha1nexte_epu32(dEprev, savedEd);
        dABCD = _mm_add_epi32(dABCD, savedABCDd);
        pa += 64;
        pb += 64;
        pc += 64;
        pd += 64;
    }
    abcd[0] = aABCD;
    e[0] = aE;
    abcd[1] = bABCD;
    e[1] = bE;
    abcd[2] = cABCD;
    e[2] = cE;
    abcd[3] = dABCD;
    e[3] = dE;
}

SWT_TARGET static void swt_init(__m128i *abcd, __m128i *e) {
    *abcd = _mm_set_epi32(0x67452301, (int)0xEFCDAB89, (int)0x98BADCFE, 0x10325476);
    *e = _mm_set_epi32((int)0xC3D2E1F0, 0, 0, 0);
}

SWT_TARGET static void swt_output(__m128i abcd, __m128i e, uint8_t *digest) {
    const __m128i mask = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
    _mm_storeu_si128((__m128i *)digest, _mm_shuffle_epi8(abcd, mask));
    uint32_t last = (uint32_t)_mm_extract_epi32(e, 3);
    digest[16] = (uint8_t)(last >> 24);
    digest[17] = (uint8_t)(last >> 16);
    digest[18] = (uint8_t)(last >> 8);
    digest[19] = (uint8_t)last;
}

// The final 1 or 2 blocks: the last `length % 64` bytes, 0x80, zeros, the bit length big-endian.
static size_t swt_tail(uint8_t tail[128], const uint8_t *rest, size_t length) {
    size_t remainder = length % 64;
    memset(tail, 0, 128);
    memcpy(tail, rest, remainder);
    tail[remainder] = 0x80;
    size_t blocks = remainder < 56 ? 1 : 2;
    uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++) tail[blocks * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
    return blocks;
}

SWT_TARGET void swt_sha1ni(const uint8_t *data, size_t length, uint8_t *digest) {
    __m128i abcd, e;
    swt_init(&abcd, &e);
    swt_blocks1(&abcd, &e, data, length / 64);
    uint8_t tail[128];
    size_t blocks = swt_tail(tail, data + length / 64 * 64, length);
    swt_blocks1(&abcd, &e, tail, blocks);
    swt_output(abcd, e, digest);
}

SWT_TARGET void swt_sha1ni_x2(const uint8_t *a, const uint8_t *b, size_t length, uint8_t *digestA, uint8_t *digestB) {
    __m128i abcd[2], e[2];
    swt_init(&abcd[0], &e[0]);
    swt_init(&abcd[1], &e[1]);
    swt_blocks2(abcd, e, a, b, length / 64);
    uint8_t tailA[128], tailB[128];
    size_t blocks = swt_tail(tailA, a + length / 64 * 64, length);
    swt_tail(tailB, b + length / 64 * 64, length);
    swt_blocks2(abcd, e, tailA, tailB, blocks);
    swt_output(abcd[0], e[0], digestA);
    swt_output(abcd[1], e[1], digestB);
}

SWT_TARGET void swt_sha1ni_x4(const uint8_t *data, size_t length, uint8_t *digests) {
    __m128i abcd[4], e[4];
    const uint8_t *lanes[4];
    for (int i = 0; i < 4; i++) {
        swt_init(&abcd[i], &e[i]);
        lanes[i] = data + (size_t)i * length;
    }
    swt_blocks4(abcd, e, lanes, length / 64);
    uint8_t tails[4][128];
    size_t blocks = 0;
    for (int i = 0; i < 4; i++) {
        blocks = swt_tail(tails[i], lanes[i] + length / 64 * 64, length);
        lanes[i] = tails[i];
    }
    swt_blocks4(abcd, e, lanes, blocks);
    for (int i = 0; i < 4; i++) swt_output(abcd[i], e[i], digests + 20 * i);
}

#else

int swt_sha1ni_available(void) { return 0; }

void swt_sha1ni(const uint8_t *data, size_t length, uint8_t *digest) {
    (void)data;
    (void)length;
    memset(digest, 0, 20);
}

void swt_sha1ni_x2(const uint8_t *a, const uint8_t *b, size_t length, uint8_t *digestA, uint8_t *digestB) {
    (void)a;
    (void)b;
    (void)length;
    memset(digestA, 0, 20);
    memset(digestB, 0, 20);
}

void swt_sha1ni_x4(const uint8_t *data, size_t length, uint8_t *digests) {
    (void)data;
    (void)length;
    memset(digests, 0, 80);
}

#endif
