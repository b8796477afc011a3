/* Table-lookup dequantization, out[i] = table[code_i], for quantref.codebook._lut.
 *
 * Two implementations of each function give bit-identical results (they copy float values):
 *   - a portable C loop, and
 *   - an AVX2 loop (x86-64 with GCC or Clang), compiled with a target attribute and chosen at
 *     run time when the CPU has AVX2, so it exists even in a QUANTREF_PORTABLE=1 build.
 * The Cython module checks every argument; these functions trust it:
 *   - codes i0 <= i < i1 are read from `codes` (one per byte) or from `packed` (8/bits per byte,
 *     code i in byte i*bits/8 at bit offset bits*(i mod 8/bits), as quantref.codebook.packing);
 *   - `table` has 2^bits entries, so every code that fits in `bits` bits is a valid index:
 *     there is no out-of-bounds read whatever the code values;
 *   - `stream` selects non-temporal stores (for outputs much larger than the caches: they skip
 *     the read-for-ownership of the output lines, which would otherwise cost as much traffic
 *     as the writes themselves).
 */
#ifndef QUANTREF_LUT_HELPER_H
#define QUANTREF_LUT_HELPER_H

#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define QR_LUT_X86 1
#include <immintrin.h>
#else
#define QR_LUT_X86 0
#endif

/* ---------------------------------------------------------------- portable */

static void qr_lut8_portable(const uint8_t *codes, const float *table, float *out, int64_t i0, int64_t i1)
{
    for (int64_t i = i0; i < i1; i++)
        out[i] = table[codes[i]];
}

static void qr_lut_packed_portable(const uint8_t *packed, int bits, const float *table, float *out,
                                   int64_t i0, int64_t i1)
{
    /* one loop per width, so that the shifts and masks are constants */
    if (bits == 4) {
        for (int64_t i = i0; i < i1; i++)
            out[i] = table[(packed[i >> 1] >> (4 * (i & 1))) & 15u];
    } else if (bits == 2) {
        for (int64_t i = i0; i < i1; i++)
            out[i] = table[(packed[i >> 2] >> (2 * (i & 3))) & 3u];
    } else { /* bits == 1 */
        for (int64_t i = i0; i < i1; i++)
            out[i] = table[(packed[i >> 3] >> (i & 7)) & 1u];
    }
}

/* ---------------------------------------------------------------- AVX2 */
#if QR_LUT_X86
#define QR_AVX2 __attribute__((target("avx2")))

static QR_AVX2 inline void qr_store8(float *dst, __m256 v, int stream)
{
    if (stream)
        _mm256_stream_ps(dst, v);
    else
        _mm256_storeu_ps(dst, v);
}

/* first index >= i0 where out + i is 32-byte aligned (when streaming), at most i1 */
static inline int64_t qr_align_start(const float *out, int64_t i0, int64_t i1, int stream)
{
    if (!stream)
        return i0;
    int64_t i = i0;
    while (i < i1 && (((uintptr_t)(out + i)) & 31u) != 0)
        i++;
    return i;
}

static QR_AVX2 void qr_lut8_avx2(const uint8_t *codes, const float *table, float *out, int64_t i0, int64_t i1,
                                 int stream)
{
    int64_t i = qr_align_start(out, i0, i1, stream);
    qr_lut8_portable(codes, table, out, i0, i);
    for (; i + 8 <= i1; i += 8) {
        uint64_t w;
        memcpy(&w, codes + i, 8);
        /* eight scalar loads assembled into one vector: AVX2 has no byte-indexed float gather
           cheaper than this for a 256-entry table */
        __m256 v = _mm256_setr_ps(table[w & 255], table[(w >> 8) & 255], table[(w >> 16) & 255],
                                  table[(w >> 24) & 255], table[(w >> 32) & 255], table[(w >> 40) & 255],
                                  table[(w >> 48) & 255], table[w >> 56]);
        qr_store8(out + i, v, stream);
    }
    qr_lut8_portable(codes, table, out, i, i1);
}

/* 4-bit: vpermps looks up 8 floats at once in an 8-entry table held in a register; two tables
   (entries 0-7 and 8-15) and a blend on bit 3 of the code make the 16-entry lookup. */
static QR_AVX2 void qr_lut4_avx2(const uint8_t *packed, const float *table, float *out, int64_t i0, int64_t i1,
                                 int stream)
{
    const __m256 lo = _mm256_loadu_ps(table), hi = _mm256_loadu_ps(table + 8);
    const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i m15 = _mm256_set1_epi32(15);
    int64_t i = qr_align_start(out, i0, i1, stream);
    qr_lut_packed_portable(packed, 4, table, out, i0, i);
    /* i + 16 <= i1 keeps the 8-byte load inside the packed buffer (byte i/2 + 7 < i1/2) */
    for (; i + 16 <= i1; i += 8) {
        uint64_t w;
        memcpy(&w, packed + i / 2, 8);
        w >>= 4 * (i & 1);
        __m256i idx = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)(uint32_t)w), shifts), m15);
        __m256 a = _mm256_permutevar8x32_ps(lo, idx), b = _mm256_permutevar8x32_ps(hi, idx);
        __m256 v = _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
        qr_store8(out + i, v, stream);
    }
    qr_lut_packed_portable(packed, 4, table, out, i, i1);
}

static QR_AVX2 void qr_lut2_avx2(const uint8_t *packed, const float *table, float *out, int64_t i0, int64_t i1,
                                 int stream)
{
    float t8[8] = {table[0], table[1], table[2], table[3], 0.0f, 0.0f, 0.0f, 0.0f};
    const __m256 t = _mm256_loadu_ps(t8);
    const __m256i shifts = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256i m3 = _mm256_set1_epi32(3);
    int64_t i = qr_align_start(out, i0, i1, stream);
    qr_lut_packed_portable(packed, 2, table, out, i0, i);
    /* i + 32 <= i1 keeps the 8-byte load inside the packed buffer */
    for (; i + 32 <= i1; i += 8) {
        uint64_t w;
        memcpy(&w, packed + i / 4, 8);
        w >>= 2 * (i & 3);
        __m256i idx = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)(uint32_t)w), shifts), m3);
        qr_store8(out + i, _mm256_permutevar8x32_ps(t, idx), stream);
    }
    qr_lut_packed_portable(packed, 2, table, out, i, i1);
}
#endif /* QR_LUT_X86 */

/* ---------------------------------------------------------------- dispatch */

/* 1 when compiled with OpenMP (the Cython prange loops then run on several threads) */
static int qr_lut_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}


/* 1 when the AVX2 path can run on this CPU */
static int qr_lut_simd_available(void)
{
#if QR_LUT_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

/* bits: 8 (one code per byte), 4 or 2 (packed); simd: 1 for AVX2 (caller checked availability) */
static void qr_lut(const uint8_t *codes, int bits, const float *table, float *out, int64_t i0, int64_t i1,
                   int simd, int stream)
{
#if QR_LUT_X86
    if (simd) {
        if (bits == 8)
            qr_lut8_avx2(codes, table, out, i0, i1, stream);
        else if (bits == 4)
            qr_lut4_avx2(codes, table, out, i0, i1, stream);
        else if (bits == 2)
            qr_lut2_avx2(codes, table, out, i0, i1, stream);
        else
            qr_lut_packed_portable(codes, bits, table, out, i0, i1);
        if (stream)
            _mm_sfence();
        return;
    }
#else
    (void)simd;
    (void)stream;
#endif
    if (bits == 8)
        qr_lut8_portable(codes, table, out, i0, i1);
    else
        qr_lut_packed_portable(codes, bits, table, out, i0, i1);
}

#endif /* QUANTREF_LUT_HELPER_H */
