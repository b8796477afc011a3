/* W4A16 matrix-vector and small-M matmul, y[m, n] = sum_k x[m, k] * w_hat[n, k], for
 * quantref.lowbit._w4a16.
 *
 * The weight w_hat[n, k] = s[n, g] * (q[n, k] - z[n, g]) (g = k / G) is never stored: the kernel
 * reads the packed 4-bit codes (two per byte, code k in byte k/2, the even index in the low
 * nibble) and, once per group, builds the group's 16-entry table
 *
 *     T_g[c] = fl32(s[n, g] * (c - z[n, g])),   c = 0, ..., 15,
 *
 * (c - z is an exact small integer, so T_g[c] is the float32 rounding of the float64 product
 * rounded once more from the float32 scale), then looks every code up in that table: the scale
 * and the zero point are applied on the fly, by the lookup, for free.
 *
 * Three implementations, with the same tables and (up to the order of the float32 sums) the same
 * results:
 *   - portable C: one code at a time, table in memory;
 *   - AVX2 + FMA: 8 lanes; the 16-entry table is two registers, vpermps looks up 8 codes in each
 *     and a blend on bit 3 of the code picks the half (as in quantref.codebook._lut);
 *   - AVX-512F: 16 lanes; vpermps on a zmm register is a 16-entry lookup on the low 4 bits of
 *     each index, so one instruction turns 16 codes into 16 dequantized weights.
 * The SIMD functions are compiled with target attributes and chosen at run time, so a portable
 * build (no -march) runs on any x86-64 and still uses AVX2 / AVX-512 where the CPU has them.
 *
 * The SIMD loops decode a chunk of 2L codes (L = lanes) from L bytes: the low nibbles are the
 * even codes k0, k0+2, ..., the high nibbles the odd ones.  Rather than re-interleave the
 * weights, x is permuted once per call (qr_w4_permute_x): inside each group, every full chunk of
 * 2L entries is stored as its L even entries followed by its L odd ones; a group's last partial
 * chunk (when 2L does not divide G) stays in natural order and is done one code at a time.
 *
 * The functions trust their caller (the Cython module, behind quantref.lowbit.w4a16): K = number
 * of codes per row is even, G is even and divides K, every zero point lies in [0, 15], pointers
 * are valid for the sizes given.
 */
#ifndef QUANTREF_W4A16_HELPER_H
#define QUANTREF_W4A16_HELPER_H

#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define QR_W4_X86 1
#include <immintrin.h>
#else
#define QR_W4_X86 0
#endif

/* implementations, as chosen by the caller */
#define QR_W4_PORTABLE 0
#define QR_W4_AVX2 1
#define QR_W4_AVX512 2

/* lanes per vector of each implementation (0: no permutation of x) */
static int qr_w4_lanes(int impl)
{
    return impl == QR_W4_AVX512 ? 16 : impl == QR_W4_AVX2 ? 8 : 0;
}

/* xp = x with every full chunk of 2L entries of every group split into evens then odds
   (see the header comment); M rows of K, row-major.  lanes == 0 copies x unchanged. */
static void qr_w4_permute_x(const float *x, float *xp, int64_t M, int64_t K, int64_t G, int lanes)
{
    if (lanes == 0) {
        memcpy(xp, x, (size_t)(M * K) * sizeof(float));
        return;
    }
    const int64_t chunk = 2 * (int64_t)lanes, full = (G / chunk) * chunk;
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * K;
        float *pr = xp + m * K;
        for (int64_t g0 = 0; g0 < K; g0 += G) {
            for (int64_t c0 = g0; c0 < g0 + full; c0 += chunk)
                for (int64_t i = 0; i < lanes; i++) {
                    pr[c0 + i] = xr[c0 + 2 * i];
                    pr[c0 + lanes + i] = xr[c0 + 2 * i + 1];
                }
            for (int64_t k = g0 + full; k < g0 + G; k++)
                pr[k] = xr[k];
        }
    }
}

/* the 16-entry table of one group: T[c] = s * (c - z), float32 */
static inline void qr_w4_table(float s, int z, float *table)
{
    for (int c = 0; c < 16; c++)
        table[c] = s * (float)(c - z);
}

static inline unsigned qr_w4_code(const uint8_t *row, int64_t k)
{
    return (row[k >> 1] >> (4 * (k & 1))) & 15u;
}

/* ---------------------------------------------------------------- portable */

/* rows n0 <= n < n1 of y (M x N); x is not permuted */
static void qr_w4_rows_portable(const float *x, int64_t M, int64_t K, const uint8_t *packed,
                                const float *scales, const uint8_t *zeros, int64_t G, float *y, int64_t N,
                                int64_t n0, int64_t n1)
{
    const int64_t ng = K / G;
    float table[16];
    for (int64_t n = n0; n < n1; n++) {
        const uint8_t *row = packed + n * (K / 2);
        for (int64_t m = 0; m < M; m++) {
            const float *xr = x + m * K;
            float acc = 0.0f;
            for (int64_t g = 0; g < ng; g++) {
                qr_w4_table(scales[n * ng + g], zeros[n * ng + g], table);
                for (int64_t k = g * G; k < (g + 1) * G; k++)
                    acc += table[qr_w4_code(row, k)] * xr[k];
            }
            y[m * N + n] = acc;
        }
    }
}

#if QR_W4_X86
/* ---------------------------------------------------------------- AVX2 + FMA */
#define QR_W4_AVX2_T __attribute__((target("avx2,fma")))

static QR_W4_AVX2_T inline float qr_w4_hsum256(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* MB rows of x (MB <= 4) against NR weight rows n, n+1 (NR <= 2; NR <= 4 in the AVX-512 tile): MB*NR*2 independent
   accumulators, so that the FMA latency is hidden; MB and NR are constants after inlining */
static QR_W4_AVX2_T inline __attribute__((always_inline)) void
qr_w4_tile_avx2(const float *xp, int64_t K, const uint8_t *packed, const float *scales, const uint8_t *zeros,
                int64_t G, float *y, int64_t N, int64_t n, const int MB, const int NR)
{
    const int64_t ng = K / G, full = (G / 16) * 16;
    const __m256 iota_lo = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 iota_hi = _mm256_setr_ps(8, 9, 10, 11, 12, 13, 14, 15);
    float table[16];
    __m256 acc0[2][4], acc1[2][4];
    float tail[2][4];
    for (int r = 0; r < NR; r++)
        for (int j = 0; j < MB; j++) {
            acc0[r][j] = _mm256_setzero_ps();
            acc1[r][j] = _mm256_setzero_ps();
            tail[r][j] = 0.0f;
        }
    for (int64_t g = 0; g < ng; g++) {
        __m256 tlo[2], thi[2];
        for (int r = 0; r < NR; r++) {
            const __m256 s = _mm256_set1_ps(scales[(n + r) * ng + g]);
            const __m256 z = _mm256_set1_ps((float)zeros[(n + r) * ng + g]);
            tlo[r] = _mm256_mul_ps(s, _mm256_sub_ps(iota_lo, z));
            thi[r] = _mm256_mul_ps(s, _mm256_sub_ps(iota_hi, z));
        }
        const int64_t g0 = g * G;
        for (int64_t k = g0; k < g0 + full; k += 16) {
            __m256 we[2], wo[2];
            for (int r = 0; r < NR; r++) {
                const uint8_t *row = packed + (n + r) * (K / 2);
                __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + k / 2)));
                /* even codes: low nibble; vpermps reads bits 0-2, the blend bit 3 */
                we[r] = _mm256_blendv_ps(_mm256_permutevar8x32_ps(tlo[r], b), _mm256_permutevar8x32_ps(thi[r], b),
                                         _mm256_castsi256_ps(_mm256_slli_epi32(b, 28)));
                /* odd codes: high nibble (bits 4-6 after the shift, bit 7 for the blend) */
                __m256i h = _mm256_srli_epi32(b, 4);
                wo[r] = _mm256_blendv_ps(_mm256_permutevar8x32_ps(tlo[r], h), _mm256_permutevar8x32_ps(thi[r], h),
                                         _mm256_castsi256_ps(_mm256_slli_epi32(b, 24)));
            }
            for (int j = 0; j < MB; j++) {
                const __m256 xe = _mm256_loadu_ps(xp + j * K + k), xo = _mm256_loadu_ps(xp + j * K + k + 8);
                for (int r = 0; r < NR; r++) {
                    acc0[r][j] = _mm256_fmadd_ps(we[r], xe, acc0[r][j]);
                    acc1[r][j] = _mm256_fmadd_ps(wo[r], xo, acc1[r][j]);
                }
            }
        }
        for (int r = 0; r < NR && full < G; r++) {
            const uint8_t *row = packed + (n + r) * (K / 2);
            qr_w4_table(scales[(n + r) * ng + g], zeros[(n + r) * ng + g], table);
            for (int64_t k = g0 + full; k < g0 + G; k++) {
                float w = table[qr_w4_code(row, k)];
                for (int j = 0; j < MB; j++)
                    tail[r][j] += w * xp[j * K + k];
            }
        }
    }
    for (int r = 0; r < NR; r++)
        for (int j = 0; j < MB; j++)
            y[j * N + n + r] = qr_w4_hsum256(_mm256_add_ps(acc0[r][j], acc1[r][j])) + tail[r][j];
}

static QR_W4_AVX2_T inline __attribute__((always_inline)) void
qr_w4_block_avx2(const float *xp, int64_t K, const uint8_t *packed, const float *scales, const uint8_t *zeros,
                 int64_t G, float *y, int64_t N, int64_t n0, int64_t n1, const int MB)
{
    int64_t n = n0;
    for (; n + 2 <= n1; n += 2)
        qr_w4_tile_avx2(xp, K, packed, scales, zeros, G, y, N, n, MB, 2);
    if (n < n1)
        qr_w4_tile_avx2(xp, K, packed, scales, zeros, G, y, N, n, MB, 1);
}

static QR_W4_AVX2_T void qr_w4_rows_avx2(const float *xp, int64_t M, int64_t K, const uint8_t *packed,
                                         const float *scales, const uint8_t *zeros, int64_t G, float *y, int64_t N,
                                         int64_t n0, int64_t n1)
{
    int64_t m = 0;
    for (; m + 4 <= M; m += 4)
        qr_w4_block_avx2(xp + m * K, K, packed, scales, zeros, G, y + m * N, N, n0, n1, 4);
    switch (M - m) {
    case 3: qr_w4_block_avx2(xp + m * K, K, packed, scales, zeros, G, y + m * N, N, n0, n1, 3); break;
    case 2: qr_w4_block_avx2(xp + m * K, K, packed, scales, zeros, G, y + m * N, N, n0, n1, 2); break;
    case 1: qr_w4_block_avx2(xp + m * K, K, packed, scales, zeros, G, y + m * N, N, n0, n1, 1); break;
    default: break;
    }
}

/* ---------------------------------------------------------------- AVX-512F */
#define QR_W4_AVX512_T __attribute__((target("avx512f,avx2,fma")))

static QR_W4_AVX512_T inline __attribute__((always_inline)) void
qr_w4_tile_avx512(const float *xp, int64_t K, const uint8_t *packed, const float *scales, const uint8_t *zeros,
                  int64_t G, float *y, int64_t N, int64_t n, const int MB, const int NR)
{
    const int64_t ng = K / G, full = (G / 32) * 32;
    const __m512 iota = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    float table[16];
    __m512 acc0[4][4], acc1[4][4];
    float tail[4][4];
    for (int r = 0; r < NR; r++)
        for (int j = 0; j < MB; j++) {
            acc0[r][j] = _mm512_setzero_ps();
            acc1[r][j] = _mm512_setzero_ps();
            tail[r][j] = 0.0f;
        }
    for (int64_t g = 0; g < ng; g++) {
        __m512 t[4];
        for (int r = 0; r < NR; r++)
            t[r] = _mm512_mul_ps(_mm512_set1_ps(scales[(n + r) * ng + g]),
                                 _mm512_sub_ps(iota, _mm512_set1_ps((float)zeros[(n + r) * ng + g])));
        const int64_t g0 = g * G;
        for (int64_t k = g0; k < g0 + full; k += 32) {
            __m512 we[4], wo[4];
            for (int r = 0; r < NR; r++) {
                const uint8_t *row = packed + (n + r) * (K / 2);
                __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(row + k / 2)));
                we[r] = _mm512_permutexvar_ps(b, t[r]);                          /* low nibbles: evens */
                wo[r] = _mm512_permutexvar_ps(_mm512_srli_epi32(b, 4), t[r]);    /* high nibbles: odds */
            }
            for (int j = 0; j < MB; j++) {
                const __m512 xe = _mm512_loadu_ps(xp + j * K + k), xo = _mm512_loadu_ps(xp + j * K + k + 16);
                for (int r = 0; r < NR; r++) {
                    acc0[r][j] = _mm512_fmadd_ps(we[r], xe, acc0[r][j]);
                    acc1[r][j] = _mm512_fmadd_ps(wo[r], xo, acc1[r][j]);
                }
            }
        }
        for (int r = 0; r < NR && full < G; r++) {
            const uint8_t *row = packed + (n + r) * (K / 2);
            qr_w4_table(scales[(n + r) * ng + g], zeros[(n + r) * ng + g], table);
            for (int64_t k = g0 + full; k < g0 + G; k++) {
                float w = table[qr_w4_code(row, k)];
                for (int j = 0; j < MB; j++)
                    tail[r][j] += w * xp[j * K + k];
            }
        }
    }
    for (int r = 0; r < NR; r++)
        for (int j = 0; j < MB; j++)
            y[j * N + n + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r][j], acc1[r][j])) + tail[r][j];
}

static QR_W4_AVX512_T inline __attribute__((always_inline)) void
qr_w4_block_avx512(const float *xp, int64_t K, const uint8_t *packed, const float *scales, const uint8_t *zeros,
                   int64_t G, float *y, int64_t N, int64_t n0, int64_t n1, const int MB)
{
    int64_t n = n0;
    if (MB <= 2)            /* four rows at a time: more independent streams from memory */
        for (; n + 4 <= n1; n += 4)
            qr_w4_tile_avx512(xp, K, packed, scales, zeros, G, y, N, n, MB, 4);
    for (; n + 2 <= n1; n += 2)
        qr_w4_tile_avx512(xp, K, packed, scales, zeros, G, y, N, n, MB, 2);
    if (n < n1)
        qr_w4_tile_avx512(xp, K, packed, scales, zeros, G, y, N, n, MB, 1);
}

static QR_W4_AVX512_T void qr_w4_rows_avx512(const float *xp, int64_t M, int64_t K, const uint8_t *packed,
                                             const float *scales, const uint8_t *zeros, int64_t G, float *y,
                                             int64_t N, int64_t n0, int64_t n1)
{
    int64_t m = 0;
    for (; m + 4 <= M; m += 4)
        qr_w4_block_avx512(xp + m * K, K, packed, scales, zeros, G, y + m * N, N, n0, n1, 4);
    switch (M - m) {
    case 3: qr_w4_block_avx512(xp + m * K, K, packed, scales, zeros, G, y + m * N, N, n0, n1, 3); break;
    case 2: qr_w4_block_avx512(xp + m * K, K, packed, scales, zeros, G, y + m * N, N, n0, n1, 2); break;
    case 1: qr_w4_block_avx512(xp + m * K, K, packed, scales, zeros, G, y + m * N, N, n0, n1, 1); break;
    default: break;
    }
}
#endif /* QR_W4_X86 */

/* ---------------------------------------------------------------- dispatch */

static int qr_w4_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

static int qr_w4_avx2_available(void)
{
#if QR_W4_X86
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
#else
    return 0;
#endif
}

static int qr_w4_avx512_available(void)
{
#if QR_W4_X86
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx512f") && qr_w4_avx2_available()) ? 1 : 0;
#else
    return 0;
#endif
}

/* rows n0 <= n < n1 of y; xp permuted for `impl` (qr_w4_permute_x with qr_w4_lanes(impl));
   the caller checked that the CPU supports `impl` */
static void qr_w4a16_rows(const float *xp, int64_t M, int64_t K, const uint8_t *packed, const float *scales,
                          const uint8_t *zeros, int64_t G, float *y, int64_t N, int64_t n0, int64_t n1, int impl)
{
#if QR_W4_X86
    if (impl == QR_W4_AVX512) {
        qr_w4_rows_avx512(xp, M, K, packed, scales, zeros, G, y, N, n0, n1);
        return;
    }
    if (impl == QR_W4_AVX2) {
        qr_w4_rows_avx2(xp, M, K, packed, scales, zeros, G, y, N, n0, n1);
        return;
    }
#endif
    (void)impl;
    qr_w4_rows_portable(xp, M, K, packed, scales, zeros, G, y, N, n0, n1);
}

#endif /* QUANTREF_W4A16_HELPER_H */
