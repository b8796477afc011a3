/* Fast scans of product-quantization codes with uint8 lookup tables, for quantref.pq._pq.
 *
 * The scan computes, for every query q and database row i, the exact integer sum
 *     out[q, i] = sum_m T[q, m, code[i, m]]           (T uint8, so out < 2^16 when M <= 257)
 * Two kernels, each in two implementations that give bit-identical results:
 *   - an AVX2 loop, compiled with a target attribute and chosen at run time (so it exists even
 *     in a QUANTREF_PORTABLE=1 build), and
 *   - a portable C loop over the same data layout, used on other CPUs and to test the AVX2 one.
 * The Cython module (_pq.pyx) checks every argument; these functions trust it.  Every index
 * they form is in range by construction: 4-bit codes are nibbles (< 16, the table length) and
 * 8-bit codes index tables of `ksub` entries after the caller has checked code < ksub.
 *
 * ---- Kernel 1: 4-bit fast scan (16 entries per table), qr_fastscan4 -------------------------
 * Byte shuffles as lookups (Jegou et al. 2011's tables, looked up the way Blalock & Guttag 2017
 * (Bolt) and Faiss' fast scan do): `vpshufb` looks up 32 bytes at once in a 16-byte table held in
 * a register (the same table in both 128-bit lanes).
 * Layout of the codes ("packed", built by quantref.pq.scan.pack_codes_4bit):
 *   rows in blocks of 32, subspaces in pairs p = (2p, 2p+1); for block b and pair p, 32 bytes:
 *     byte 2j   = code[32b + j,      2p] | code[32b + j,      2p+1] << 4      (j = 0..15)
 *     byte 2j+1 = code[32b + 16 + j, 2p] | code[32b + 16 + j, 2p+1] << 4
 *   i.e. packed[b, p, s] for s = 0..31, shape (nblocks, npairs, 32).
 * Accumulation, exact in 16 bits: a 16-bit lane j holds two rows (byte 2j: row j, byte 2j+1:
 * row 16+j).  Adding the looked-up bytes as 16-bit words gives acc = E + 256*O (mod 2^16) where
 * E, O are the two rows' sums; a second accumulator sums the high bytes alone (>> 8), which is O
 * exactly (O < 2^16).  Then E = acc - (O << 8) (mod 2^16), exact because E < 2^16.  Row j's sum
 * lands in lane j of E and row 16+j's in lane j of O: both store contiguously, no shuffle.
 *
 * ---- Kernel 2: scan with queries innermost, any table length, qr_scan_qmajor ---------------
 * For many queries, an 8-bit code cannot be looked up with shuffles (256 entries), but the same
 * entry of every query's table can be stored contiguously: tt[m, k, :] holds T[q, m, k] for all
 * queries q, so one code c = code[i, m] selects a vector of nq table entries, added into nq
 * accumulators with vector adds.  Layout of tt, shape (M, ksub, nqp), nqp = nq padded to 16:
 *   queries in units of 32; within unit u (queries 32u .. 32u+31): byte 2j = query 32u + j,
 *   byte 2j+1 = query 32u + 16 + j (the same even/odd trick as kernel 1); a last unit of 16
 *   queries (when nqp % 32 == 16) is in plain order and widened with vpmovzxbw.
 * Output: out[i * ldo + q] (queries innermost, the natural order of this kernel).
 *
 * Kernel 1 can also write floats, outf[q, i] = sum * mul[q] + add[q] (dequantized tables: MADDNESS'
 * approximate product), computed as a float32 multiply then a float32 add in both implementations.
 */
#ifndef QUANTREF_FASTSCAN_HELPER_H
#define QUANTREF_FASTSCAN_HELPER_H

#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define QR_PQ_X86 1
#include <immintrin.h>
#else
#define QR_PQ_X86 0
#endif

/* position of query q inside a row of tt (see kernel 2) */
static inline int64_t qr_qpos(int64_t q, int64_t nqp)
{
    int64_t unit = q / 32, j = q % 32;
    if (32 * unit + 32 > nqp) /* last unit of 16, plain order */
        return q;
    return 32 * unit + (j < 16 ? 2 * j : 2 * (j - 16) + 1);
}

/* ================================================================ kernel 1, portable */

static void qr_fastscan4_portable(const uint8_t *packed, int64_t P, const uint8_t *tables, int64_t nq,
                                  uint16_t *out, int64_t ldo, int64_t N, int64_t b0, int64_t b1,
                                  const float *mul, const float *add, float *outf)
{
    for (int64_t b = b0; b < b1; b++) {
        const uint8_t *blk = packed + b * P * 32;
        for (int64_t q = 0; q < nq; q++) {
            const uint8_t *tq = tables + q * (2 * P) * 16;
            for (int s = 0; s < 32; s++) {
                int64_t row = 32 * b + ((s & 1) ? 16 + s / 2 : s / 2);
                if (row >= N)
                    continue;
                unsigned sum = 0;
                for (int64_t p = 0; p < P; p++) {
                    unsigned byte = blk[p * 32 + s];
                    sum += tq[(2 * p) * 16 + (byte & 15u)] + tq[(2 * p + 1) * 16 + (byte >> 4)];
                }
                if (outf)
                    outf[q * ldo + row] = (float)sum * mul[q] + add[q];
                else
                    out[q * ldo + row] = (uint16_t)sum;
            }
        }
    }
}

/* ================================================================ kernel 2, portable */

static void qr_scan_qmajor_portable(const uint8_t *codes, int64_t M, int64_t ksub, const uint8_t *tt, int64_t nqp,
                                    int64_t nq, uint16_t *out, int64_t ldo, int64_t i0, int64_t i1)
{
    for (int64_t i = i0; i < i1; i++) {
        const uint8_t *c = codes + i * M;
        for (int64_t q = 0; q < nq; q++) {
            int64_t pos = qr_qpos(q, nqp);
            unsigned sum = 0;
            for (int64_t m = 0; m < M; m++)
                sum += tt[(m * ksub + c[m]) * nqp + pos];
            out[i * ldo + q] = (uint16_t)sum;
        }
    }
}

#if QR_PQ_X86
#define QR_AVX2 __attribute__((target("avx2")))

/* Store 16 uint16 at dst.  `stream` asks for non-temporal stores, which the callers request only
   for 64-byte-aligned destinations whose whole cache line they write at once (streaming part of
   a line would make the memory controller read it back: much slower than a normal store). */
static QR_AVX2 inline void qr_store16(uint16_t *dst, __m256i v, int stream)
{
    if (stream)
        _mm256_stream_si256((__m256i *)dst, v);
    else
        _mm256_storeu_si256((__m256i *)dst, v);
}

/* the float epilogue of kernel 1: 16 uint16 sums -> sum * mul + add (float32, no fused
   multiply-add, so that it matches the portable loop's two roundings) */
static QR_AVX2 inline void qr_store_f16(float *dst, __m256i v, __m256 mul, __m256 add, int stream, int64_t count)
{
    __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(v)));
    __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(v, 1)));
    lo = _mm256_add_ps(_mm256_mul_ps(lo, mul), add);
    hi = _mm256_add_ps(_mm256_mul_ps(hi, mul), add);
    if (count >= 16) {
        if (stream) {
            _mm256_stream_ps(dst, lo);
            _mm256_stream_ps(dst + 8, hi);
        } else {
            _mm256_storeu_ps(dst, lo);
            _mm256_storeu_ps(dst + 8, hi);
        }
    } else {
        float tmp[16];
        _mm256_storeu_ps(tmp, lo);
        _mm256_storeu_ps(tmp + 8, hi);
        for (int64_t r = 0; r < count; r++)
            dst[r] = tmp[r];
    }
}

/* ================================================================ kernel 1, AVX2 */

/* Four queries at a time share each load and nibble split of the codes; each query keeps its two
   accumulators in registers (8 + 3 + temporaries <= 16 ymm registers, no spills). */
#define QR_FS_LOADC                                                                                   \
    const __m256i c = _mm256_loadu_si256((const __m256i *)(blk + p * 32));                            \
    const __m256i lo = _mm256_and_si256(c, m0f);                                                      \
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), m0f);
#define QR_FS_STEP(k)                                                                                 \
    {                                                                                                 \
        const uint8_t *tk = t + (k) * tstride + p * 32; /* tables of subspaces 2p, 2p + 1 */          \
        __m256i r0 = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)tk)), lo); \
        __m256i r1 = _mm256_shuffle_epi8(                                                             \
            _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(tk + 16))), hi);            \
        e##k = _mm256_add_epi16(e##k, _mm256_add_epi16(r0, r1));                                      \
        o##k = _mm256_add_epi16(o##k, _mm256_add_epi16(_mm256_srli_epi16(r0, 8), _mm256_srli_epi16(r1, 8))); \
    }

/* E = acc - (O << 8), then rows 0..15 from E and rows 16..31 from O (see the layout above) */
static QR_AVX2 inline void qr_fs_store(__m256i acc, __m256i odd, int64_t q, int64_t b, uint16_t *out, int64_t ldo,
                                       int64_t N, int stream, const float *mul, const float *add, float *outf)
{
    const __m256i e = _mm256_sub_epi16(acc, _mm256_slli_epi16(odd, 8));
    const int64_t left = N - 32 * b; /* valid rows in this block */
    if (outf) {
        const __m256 vm = _mm256_set1_ps(mul[q]), va = _mm256_set1_ps(add[q]);
        float *dstf = outf + q * ldo + 32 * b;
        const int nt = stream && left >= 32 && (((uintptr_t)dstf) & 63u) == 0; /* two whole lines */
        qr_store_f16(dstf, e, vm, va, nt, left < 16 ? left : 16);
        if (left > 16)
            qr_store_f16(dstf + 16, odd, vm, va, nt, left - 16 < 16 ? left - 16 : 16);
        return;
    }
    uint16_t *dst = out + q * ldo + 32 * b;
    if (left >= 32) {
        const int nt = stream && (((uintptr_t)dst) & 63u) == 0; /* 64 bytes: one whole cache line */
        qr_store16(dst, e, nt);
        qr_store16(dst + 16, odd, nt);
    } else {
        uint16_t tmp[32];
        _mm256_storeu_si256((__m256i *)tmp, e);
        _mm256_storeu_si256((__m256i *)(tmp + 16), odd);
        for (int64_t r = 0; r < left; r++)
            dst[r] = tmp[r];
    }
}

static QR_AVX2 void qr_fastscan4_avx2(const uint8_t *packed, int64_t P, const uint8_t *tables, int64_t nq,
                                      uint16_t *out, int64_t ldo, int64_t N, int64_t b0, int64_t b1, int stream,
                                      const float *mul, const float *add, float *outf)
{
    const __m256i m0f = _mm256_set1_epi8(0x0f);
    const int64_t tstride = 2 * P * 16; /* bytes of one query's tables */
    for (int64_t b = b0; b < b1; b++) {
        const uint8_t *blk = packed + b * P * 32;
        int64_t q = 0;
        for (; q + 4 <= nq; q += 4) {
            const uint8_t *t = tables + q * tstride;
            __m256i e0 = _mm256_setzero_si256(), o0 = e0, e1 = e0, o1 = e0, e2 = e0, o2 = e0, e3 = e0, o3 = e0;
            for (int64_t p = 0; p < P; p++) {
                QR_FS_LOADC
                QR_FS_STEP(0)
                QR_FS_STEP(1)
                QR_FS_STEP(2)
                QR_FS_STEP(3)
            }
            qr_fs_store(e0, o0, q, b, out, ldo, N, stream, mul, add, outf);
            qr_fs_store(e1, o1, q + 1, b, out, ldo, N, stream, mul, add, outf);
            qr_fs_store(e2, o2, q + 2, b, out, ldo, N, stream, mul, add, outf);
            qr_fs_store(e3, o3, q + 3, b, out, ldo, N, stream, mul, add, outf);
        }
        for (; q < nq; q++) {
            const uint8_t *t = tables + q * tstride;
            __m256i e0 = _mm256_setzero_si256(), o0 = e0;
            for (int64_t p = 0; p < P; p++) {
                QR_FS_LOADC
                QR_FS_STEP(0)
            }
            qr_fs_store(e0, o0, q, b, out, ldo, N, stream, mul, add, outf);
        }
    }
}

/* ================================================================ kernel 2, AVX2 */

/* Queries are processed in groups of 4 units (128 queries: 8 accumulators in registers), so each
   code's table rows are read once per 128 queries.  (Smaller groups, to keep a group's slice of the
   tables in L2, measured slower: the codes and addresses are then recomputed per group.) */
#define QR_QM_GROUP 4

#define QR_QM_UNIT(k)                                                                                 \
    {                                                                                                 \
        const __m256i v = _mm256_loadu_si256((const __m256i *)(t + 32 * (k)));                        \
        e##k = _mm256_add_epi16(e##k, v);                                                             \
        o##k = _mm256_add_epi16(o##k, _mm256_srli_epi16(v, 8));                                       \
    }

/* one row's sums for units [u, u + 1) * 32 queries: E = acc - (O << 8) holds queries 0..15 of the
   unit, O queries 16..31 (see the layout above) */
static QR_AVX2 inline void qr_qm_store(__m256i acc, __m256i odd, uint16_t *dst, int64_t valid, int stream)
{
    const __m256i lo = _mm256_sub_epi16(acc, _mm256_slli_epi16(odd, 8));
    if (valid >= 32) {
        const int nt = stream && (((uintptr_t)dst) & 63u) == 0; /* one whole cache line */
        qr_store16(dst, lo, nt);
        qr_store16(dst + 16, odd, nt);
    } else {
        uint16_t tmp[32];
        _mm256_storeu_si256((__m256i *)tmp, lo);
        _mm256_storeu_si256((__m256i *)(tmp + 16), odd);
        for (int64_t j = 0; j < valid; j++)
            dst[j] = tmp[j];
    }
}

static QR_AVX2 void qr_scan_qmajor_avx2(const uint8_t *codes, int64_t M, int64_t ksub, const uint8_t *tt,
                                        int64_t nqp, int64_t nq, uint16_t *out, int64_t ldo, int64_t i0,
                                        int64_t i1, int stream)
{
    const int64_t nunits32 = nqp / 32;        /* full units of 32 queries */
    const int has16 = (nqp % 32) == 16;       /* and maybe a last unit of 16 */
    const int64_t group = QR_QM_GROUP;
    for (int64_t u0 = 0; u0 < nunits32; u0 += group) {
        const int64_t nu = nunits32 - u0 < group ? nunits32 - u0 : group;
        const int64_t qoff = 32 * u0;
        for (int64_t i = i0; i < i1; i++) {
            const uint8_t *c = codes + i * M;
            uint16_t *dst = out + i * ldo + qoff;
            __m256i e0 = _mm256_setzero_si256(), o0 = e0, e1 = e0, o1 = e0, e2 = e0, o2 = e0, e3 = e0, o3 = e0;
            if (nu == 4) {
                for (int64_t m = 0; m < M; m++) {
                    const uint8_t *t = tt + (m * ksub + c[m]) * nqp + qoff;
                    QR_QM_UNIT(0) QR_QM_UNIT(1) QR_QM_UNIT(2) QR_QM_UNIT(3)
                }
                qr_qm_store(e2, o2, dst + 64, nq - qoff - 64, stream);
                qr_qm_store(e3, o3, dst + 96, nq - qoff - 96, stream);
            } else if (nu >= 2) {
                for (int64_t m = 0; m < M; m++) {
                    const uint8_t *t = tt + (m * ksub + c[m]) * nqp + qoff;
                    QR_QM_UNIT(0) QR_QM_UNIT(1)
                }
                if (nu == 3) { /* the last group, short: its third unit alone */
                    for (int64_t m = 0; m < M; m++) {
                        const uint8_t *t = tt + (m * ksub + c[m]) * nqp + qoff;
                        QR_QM_UNIT(2)
                    }
                    qr_qm_store(e2, o2, dst + 64, nq - qoff - 64, stream);
                }
            } else {
                for (int64_t m = 0; m < M; m++) {
                    const uint8_t *t = tt + (m * ksub + c[m]) * nqp + qoff;
                    QR_QM_UNIT(0)
                }
            }
            qr_qm_store(e0, o0, dst, nq - qoff, stream);
            if (nu >= 2)
                qr_qm_store(e1, o1, dst + 32, nq - qoff - 32, stream);
        }
    }
    if (has16) {
        const int64_t q = 32 * nunits32;
        for (int64_t i = i0; i < i1; i++) {
            const uint8_t *c = codes + i * M;
            __m256i acc = _mm256_setzero_si256();
            for (int64_t m = 0; m < M; m++) {
                const uint8_t *t = tt + (m * ksub + c[m]) * nqp + q;
                acc = _mm256_add_epi16(acc, _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)t)));
            }
            uint16_t *dst = out + i * ldo + q;
            if (q + 16 <= nq) {
                _mm256_storeu_si256((__m256i *)dst, acc); /* half a line: a normal store */
            } else {
                uint16_t tmp[16];
                _mm256_storeu_si256((__m256i *)tmp, acc);
                for (int64_t j = 0; q + j < nq; j++)
                    dst[j] = tmp[j];
            }
        }
    }
}
#endif /* QR_PQ_X86 */

/* ================================================================ dispatch */

/* 1 when compiled with OpenMP (the Cython prange loops then run on several threads) */
static int qr_pq_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}


/* 1 when the AVX2 kernels can run on this CPU */
static int qr_pq_simd_available(void)
{
#if QR_PQ_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    return 0;
#endif
}

/* blocks [b0, b1) of 32 rows; simd only if qr_pq_simd_available() */
/* out (uint16) or, when outf is not NULL, outf[q, i] = sum * mul[q] + add[q] (float32) */
static void qr_fastscan4(const uint8_t *packed, int64_t P, const uint8_t *tables, int64_t nq, uint16_t *out,
                         int64_t ldo, int64_t N, int64_t b0, int64_t b1, int simd, int stream,
                         const float *mul, const float *add, float *outf)
{
#if QR_PQ_X86
    if (simd) {
        qr_fastscan4_avx2(packed, P, tables, nq, out, ldo, N, b0, b1, stream, mul, add, outf);
        if (stream)
            _mm_sfence();
        return;
    }
#else
    (void)simd;
    (void)stream;
#endif
    qr_fastscan4_portable(packed, P, tables, nq, out, ldo, N, b0, b1, mul, add, outf);
}

/* rows [i0, i1) */
static void qr_scan_qmajor(const uint8_t *codes, int64_t M, int64_t ksub, const uint8_t *tt, int64_t nqp,
                           int64_t nq, uint16_t *out, int64_t ldo, int64_t i0, int64_t i1, int simd, int stream)
{
#if QR_PQ_X86
    if (simd) {
        qr_scan_qmajor_avx2(codes, M, ksub, tt, nqp, nq, out, ldo, i0, i1, stream);
        if (stream)
            _mm_sfence();
        return;
    }
#else
    (void)simd;
    (void)stream;
#endif
    qr_scan_qmajor_portable(codes, M, ksub, tt, nqp, nq, out, ldo, i0, i1);
}

#endif /* QUANTREF_FASTSCAN_HELPER_H */
