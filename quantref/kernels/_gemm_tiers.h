/* The int8 matmul on pre-packed weights, one micro-kernel per instruction-set tier.
 *
 * Included by _gemm.pyx.  Every tier computes, for a (M x K) of uint8 codes (or int8 codes seen
 * as uint8 through a ^ 0x80, i.e. a + 128) and B (K x N) of int8 codes packed by qr_pack:
 *
 *     C[i, j] = sum_k a_u[i, k] * b_s[k, j]  +  colterm[j]  -  rowsum(a_u)[i] * zb[j]
 *
 * in int32 arithmetic modulo 2^32 (vector adds wrap; scalar code uses uint32_t, so nothing is
 * undefined behaviour).  Modular arithmetic is exact whenever the true result fits in int32, which
 * the caller checks (max_safe_k) before calling: intermediate sums may wrap, the result cannot.
 * colterm and zb are optional (NULL: zero), and make the zero-point corrections part of the store.
 *
 * Packed layout of B (qr_pack): columns in panels of QR_NR = 64, k in quads of 4 bytes, K padded
 * with zeros to Kp (a multiple of QR_KALIGN = 64), N to a multiple of 64:
 *
 *     byte (k, n)  at  (n / 64) * (Kp * 64)  +  (k / 4) * 256  +  (n % 64) * 4  +  k % 4
 *
 * which is the operand layout of vpdpbusd (4 bytes of k per int32 lane) and of an AMX B tile
 * (16 quads x 16 columns, row stride 256 bytes), so one packing serves every tier.
 *
 * Tiers (each compiled with a function target attribute and chosen at run time, so the same
 * binary runs on any x86-64 CPU; the caller never runs a tier the CPU lacks: qr_gemm refuses it):
 *   0 scalar      plain C
 *   1 avx2        vpmaddwd on bytes widened to 16 bits (exact; vpmaddubsw would saturate)
 *   2 avxvnni     vpdpbusd on 256-bit registers (VEX encoding)
 *   3 avx512vnni  vpdpbusd on 512-bit registers
 *   4 amx         tdpbusd on 16 x 64-byte tiles (Linux: needs arch_prctl permission first);
 *                 below QR_AMX_MIN_ROWS rows of A it runs tier 3 (tiles would be mostly padding)
 *
 * Feeding AMX is the whole difficulty: one tdpbusd does 16 x 16 x 64 multiply-adds in ~16 cycles
 * but reads two 1 KiB tiles, more than L2 delivers in that time.  So A is copied into tile layout
 * (each tile 1 KiB contiguous), k runs in blocks of QR_AMX_KC whose 32-column slice of the panel
 * (32 KiB) stays in L1 while every 32-row block of the task passes it, and a task's row block
 * (QR_AMX_MB x Kp bytes) stays in L2 while the panels stream past.  At most 16 rows take
 * qr_task_amx16 instead, which reads each k-chunk of the weights once, front to back.
 */
#ifndef QUANTREF_GEMM_TIERS_H
#define QUANTREF_GEMM_TIERS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QR_X86 1
#include <immintrin.h>
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#else
#define QR_X86 0
#endif

enum { QR_SCALAR = 0, QR_TIER_AVX2 = 1, QR_TIER_AVXVNNI = 2, QR_TIER_AVX512VNNI = 3, QR_TIER_AMX = 4,
       QR_NTIERS = 5 };
#define QR_NR 64
#define QR_KALIGN 64
#define QR_KC 512           /* k per block: a 64-column sliver of B (32 KiB) stays in L1 */
#define QR_KC_AVX2 256      /* AVX2's k per block on widened B: the sliver at 16 bits (32 KiB) stays in L1 */
#define QR_WIDEN_MIN_ROWS 32   /* AVX2 widens B once per k-block for tasks of this many rows or more */
#define QR_MB 192           /* rows of A per task (a multiple of 6 and of 32) */
#define QR_AMX_MB 256      /* rows of A per AMX task (a multiple of 32): 256 x Kp bytes in L2 */
#define QR_AMX_KC 1024     /* k per AMX block: a 32-column slice of the panel (32 KiB) in L1 */
#define QR_AMX_MIN_ROWS 5    /* below this many rows of A the AMX tier hands over to AVX-512 VNNI (measured: equal at 4) */
#define QR_STREAM_BYTES 4194304.0  /* C at least this large is written around the caches (see qr_mk512) */
#define QR_PACK_MIN_PANELS 16  /* AVX-VNNI packs A from this many 64-column panels of B on (see qr_gemm) */
#define QR_MIN_MACS 2097152.0  /* multiply-adds per thread, at least (about 20 us of work) */

/* num_threads <= 0: OpenMP's default (OMP_NUM_THREADS, else every core); 1 without OpenMP */
static int qr_threads(int num_threads) {
#ifdef _OPENMP
    return num_threads > 0 ? num_threads : omp_get_max_threads();
#else
    (void)num_threads;
    return 1;
#endif
}

static int qr_thread_num(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Scratch memory of qr_gemm (row sums, the padded copy of A, AMX partial sums), kept for the
   calling thread's next call up to QR_WS_KEEP bytes: a fresh multi-megabyte malloc is a fresh
   mmap, and first-touching its pages costs as much as a 1024^3 product on AMX.  Freed when the
   thread exits (a pthread key's destructor). */
#define QR_WS_KEEP ((size_t)64 << 20)
typedef struct { uint8_t *ptr; size_t size; } qr_ws_t;
static pthread_key_t qr_ws_key;
static pthread_once_t qr_ws_once = PTHREAD_ONCE_INIT;
static void qr_ws_free(void *p) {
    qr_ws_t *w = (qr_ws_t *)p;
    if (w) { free(w->ptr); free(w); }
}
static void qr_ws_init(void) { (void)pthread_key_create(&qr_ws_key, qr_ws_free); }

/* 64-byte aligned scratch of `size` bytes, or NULL; *owned: the caller must free it */
static uint8_t *qr_workspace(size_t size, int *owned) {
    size = (size + 63) / 64 * 64;
    *owned = 0;
    if (size > QR_WS_KEEP) {
        *owned = 1;
        return (uint8_t *)aligned_alloc(64, size);
    }
    pthread_once(&qr_ws_once, qr_ws_init);
    qr_ws_t *w = (qr_ws_t *)pthread_getspecific(qr_ws_key);
    if (!w) {
        w = (qr_ws_t *)calloc(1, sizeof *w);
        if (!w) return NULL;
        if (pthread_setspecific(qr_ws_key, w) != 0) { free(w); return NULL; }
    }
    if (size > w->size) {
        free(w->ptr);
        w->size = 0;
        w->ptr = (uint8_t *)aligned_alloc(64, size);
        if (!w->ptr) return NULL;
        w->size = size;
    }
    return w->ptr;
}

/* ------------------------------------------------------------------------------------------ */
/* CPU features                                                                                */
/* ------------------------------------------------------------------------------------------ */
/* Bit t of qr_cpu_tiers(): the CPU and the OS support tier t (AMX: before the permission). */
static int qr_cpu_tiers(void) {
    int mask = 1 << QR_SCALAR;
#if QR_X86
    unsigned int a, b, c, d, a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    unsigned long long xcr0 = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return mask;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return mask;
    {
        unsigned int lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xcr0 = ((unsigned long long)hi << 32) | lo;
    }
    if ((xcr0 & 6) != 6) return mask;                       /* XMM and YMM state */
    if (__get_cpuid_max(0, 0) < 7) return mask;
    __cpuid_count(7, 0, a, b, c, d);
    __cpuid_count(7, 1, a1, b1, c1, d1);
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1;
    int avx512vnni = (c >> 11) & 1, avxvnni = (a1 >> 4) & 1;
    int amx_tile = (d >> 24) & 1, amx_int8 = (d >> 25) & 1;
    int zmm_os = (xcr0 & 0xe0) == 0xe0;                    /* opmask, ZMM_Hi256, Hi16_ZMM */
    int amx_os = (xcr0 & 0x60000) == 0x60000;              /* XTILECFG, XTILEDATA */
    if (avx2) mask |= 1 << QR_TIER_AVX2;
    if (avx2 && avxvnni) mask |= 1 << QR_TIER_AVXVNNI;
    if (avx512f && avx512bw && avx512vnni && zmm_os) mask |= 1 << QR_TIER_AVX512VNNI;
    if (amx_tile && amx_int8 && amx_os) mask |= 1 << QR_TIER_AMX;
#endif
    return mask;
}

/* Ask Linux for the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 18).
   0 when granted; otherwise the errno-style failure (-1) and AMX must not be used. */
static int qr_amx_request(void) {
#if QR_X86 && defined(__linux__) && defined(SYS_arch_prctl)
    long r = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */);
    return r == 0 ? 0 : -1;
#else
    return -1;
#endif
}

/* the tiers this process may run: set once by the module at import */
static int qr_allowed_tiers = 1 << QR_SCALAR;

/* ------------------------------------------------------------------------------------------ */
/* Packing                                                                                     */
/* ------------------------------------------------------------------------------------------ */
static void qr_pack(const int8_t *B, Py_ssize_t ldb, Py_ssize_t K, Py_ssize_t N, int8_t *out,
                    Py_ssize_t Kp) {
    Py_ssize_t Np = (N + QR_NR - 1) / QR_NR * QR_NR;
    memset(out, 0, (size_t)Np * (size_t)Kp);
    for (Py_ssize_t k = 0; k < K; k++) {
        const int8_t *row = B + k * ldb;
        for (Py_ssize_t n = 0; n < N; n++)
            out[(n / QR_NR) * (Kp * QR_NR) + (k / 4) * (4 * QR_NR) + (n % QR_NR) * 4 + (k % 4)] = row[n];
    }
}

/* ------------------------------------------------------------------------------------------ */
/* The shared epilogue (scalar): v + colterm[j] - rowsum[i] * zb[j], modulo 2^32                */
/* ------------------------------------------------------------------------------------------ */
static inline int32_t qr_fix(uint32_t v, Py_ssize_t i, Py_ssize_t j, const int32_t *colterm,
                             const int32_t *zb, const int32_t *rowsum) {
    if (colterm) v += (uint32_t)colterm[j];
    if (zb) v -= (uint32_t)rowsum[i] * (uint32_t)zb[j];
    return (int32_t)v;
}

/* rowsum[i] = sum_k (a[i, k] ^ ax) for rows [r0, r1), modulo 2^32 */
static void qr_rowsums(const uint8_t *A, Py_ssize_t lda, uint8_t ax, Py_ssize_t K, Py_ssize_t r0, Py_ssize_t r1,
                       int32_t *rowsum) {
    for (Py_ssize_t i = r0; i < r1; i++) {
        uint32_t s = 0;
        const uint8_t *a = A + i * lda;
        for (Py_ssize_t k = 0; k < K; k++) s += (uint8_t)(a[k] ^ ax);
        rowsum[i] = (int32_t)s;
    }
}

/* rows [r0, r1) of A with a ^ ax applied, k zero-padded to Kq (padded k meets zero rows of B),
   row stride Kq */
static void qr_pad_a(const uint8_t *A, Py_ssize_t lda, uint8_t ax, Py_ssize_t K, Py_ssize_t Kq, Py_ssize_t r0,
                     Py_ssize_t r1, uint8_t *out) {
    for (Py_ssize_t i = r0; i < r1; i++) {
        for (Py_ssize_t k = 0; k < K; k++) out[i * Kq + k] = A[i * lda + k] ^ ax;
        for (Py_ssize_t k = K; k < Kq; k++) out[i * Kq + k] = 0;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Tier 0: scalar                                                                              */
/* ------------------------------------------------------------------------------------------ */
static void qr_task_scalar(const uint8_t *A, Py_ssize_t lda, uint8_t ax, Py_ssize_t i0, Py_ssize_t i1,
                           Py_ssize_t K, const int8_t *panel, Py_ssize_t j0, Py_ssize_t ncols,
                           const int32_t *colterm, const int32_t *zb, const int32_t *rowsum,
                           int32_t *C, Py_ssize_t ldc) {
    for (Py_ssize_t i = i0; i < i1; i++) {
        const uint8_t *a = A + i * lda;
        for (Py_ssize_t c = 0; c < ncols; c++) {
            uint32_t acc = 0;
            for (Py_ssize_t k = 0; k < K; k++)
                acc += (uint32_t)((int32_t)(uint8_t)(a[k] ^ ax) * (int32_t)panel[(k / 4) * 256 + c * 4 + (k % 4)]);
            C[i * ldc + j0 + c] = qr_fix(acc, i, j0 + c, colterm, zb, rowsum);
        }
    }
}

#if QR_X86
/* the four 16-lane masks of a panel with `ncols` valid columns (lane t of mask s: column 16s+t) */
static inline void qr_panel_masks(Py_ssize_t ncols, __mmask16 m[4]) {
    for (int s = 0; s < 4; s++) {
        Py_ssize_t left = ncols - 16 * s;
        m[s] = left >= 16 ? (__mmask16)0xffff : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
    }
}

#define QR_INLINE static inline __attribute__((always_inline))

/* Ask for the lines of C that a micro-kernel's last k-block will store (`rows` rows of `nbytes`
   bytes from C, row stride ldc int32) before its steps run: a store that misses waits for the
   line's read for ownership, and a micro-kernel's stores come in one burst at its end.  Used by
   the AVX-512 kernel (PREFETCHW: its target names prfchw), where an output that is cold in the
   caches (a fresh array, or weights streamed past it) ran 1-3 % faster at M = 16 and 128 x
   4096^2 and a hot one the same (measured, twice).  The 256-bit kernels ran 1-4 % slower with it
   (measured) and do without.  Not for streamed stores, which need no ownership. */
QR_INLINE void qr_prefetch_c(const int32_t *C, Py_ssize_t ldc, int rows, Py_ssize_t nbytes) {
    for (int r = 0; r < rows; r++) {
        const char *p = (const char *)(C + r * ldc);
        for (const char *l = (const char *)((uintptr_t)p & ~(uintptr_t)63); l < p + nbytes; l += 64)
            __builtin_prefetch(l, 1, 3);
    }
}

/* One row group's share of the next slice of B to fetch into L2: lines [at, end), `step` bytes (a
   multiple of 64) per step of k, over at most the group's `nq` steps */
typedef struct { const char *at, *end; Py_ssize_t step; } qr_prefetch_t;

/* share g of `ngroups` of the bytes [pf, pf + bytes), for a micro-kernel of nq steps */
static inline qr_prefetch_t qr_prefetch_share(const int8_t *pf, Py_ssize_t bytes, Py_ssize_t g,
                                              Py_ssize_t ngroups, Py_ssize_t nq) {
    qr_prefetch_t s = {NULL, NULL, 64};
    if (!pf || bytes <= 0 || nq <= 0) return s;
    Py_ssize_t lines = (bytes + 63) / 64, per = (lines + ngroups - 1) / ngroups;
    Py_ssize_t l0 = g * per, l1 = l0 + per < lines ? l0 + per : lines;
    if (l0 >= l1) return s;
    s.step = 64 * ((l1 - l0 + nq - 1) / nq);
    s.at = (const char *)pf + 64 * l0;
    s.end = (const char *)pf + 64 * l1;
    return s;
}

/* The slice of B to fetch while k-block [q0, q0 + qn) of nq runs: this panel's next k-block, or,
   after the last, the first k-block of the panel this thread probably runs next (NULL: none);
   its size in *bytes.  Fetched into L2 a share per row group: the first row group would
   otherwise wait for all of it at memory speed.  Measured on AVX-VNNI (4096 x 4096 weights):
   without it the weights stream at half the rate at M = 1 and 16 and the kernel runs 7-23 %
   slower with them in L3; fetching two or three k-blocks ahead instead of one gained nothing;
   spreading a row group's share over all its steps (one line every few steps, not one per step
   from the first) gained 3 % streamed and lost 5 % with the weights in L3. */
static inline const int8_t *qr_next_slice(const int8_t *panel, const int8_t *next_panel, Py_ssize_t q0, Py_ssize_t kcq,
                                          Py_ssize_t qn, Py_ssize_t nq, Py_ssize_t *bytes) {
    int last = q0 + qn >= nq;
    const int8_t *pf = last ? next_panel : panel + (q0 + qn) * 256;
    Py_ssize_t pq = last ? nq : nq - q0 - qn;
    *bytes = pf ? (pq < kcq ? pq : kcq) * 256 : 0;
    return pf;
}

/* qr_pack_a of 8 quads (32 bytes) of 6 full rows: an 8 x 8 transpose of 32-bit words, the
   missing rows 6 and 7 never computed; quad j's 6 words go out as 16 + 8 bytes */
__attribute__((target("avx2"))) static inline void qr_pack_a6x8(const uint8_t *a, Py_ssize_t lda, uint8_t ax,
                                                                   uint8_t *o) {
    const __m256i x = _mm256_set1_epi8((char)ax);
    __m256i r0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a)), x);
    __m256i r1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + lda)), x);
    __m256i r2 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + 2 * lda)), x);
    __m256i r3 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + 3 * lda)), x);
    __m256i r4 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + 4 * lda)), x);
    __m256i r5 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + 5 * lda)), x);
    /* per 128-bit lane (quads 0-3, 4-7): t0 = r0 r1 of quads 0 1, t1 = of quads 2 3, ... */
    __m256i t0 = _mm256_unpacklo_epi32(r0, r1), t1 = _mm256_unpackhi_epi32(r0, r1);
    __m256i t2 = _mm256_unpacklo_epi32(r2, r3), t3 = _mm256_unpackhi_epi32(r2, r3);
    __m256i t4 = _mm256_unpacklo_epi32(r4, r5), t5 = _mm256_unpackhi_epi32(r4, r5);
    /* u_j: rows 0-3 of quad j (low lane) and of quad j + 4 (high lane) */
    __m256i u[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
                    _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
    /* rows 4 and 5: quads 0 1 | 4 5 in t4, 2 3 | 6 7 in t5, 8 bytes each */
    __m128d v[4] = {_mm_castsi128_pd(_mm256_castsi256_si128(t4)), _mm_castsi128_pd(_mm256_castsi256_si128(t5)),
                    _mm_castsi128_pd(_mm256_extracti128_si256(t4, 1)), _mm_castsi128_pd(_mm256_extracti128_si256(t5, 1))};
    for (int h = 0; h < 2; h++)
        for (int j = 0; j < 4; j++) {
            uint8_t *oq = o + 24 * (4 * h + j);
            _mm_storeu_si128((__m128i *)oq, h ? _mm256_extracti128_si256(u[j], 1) : _mm256_castsi256_si128(u[j]));
            if (j & 1) _mm_storeh_pd((double *)(oq + 16), v[2 * h + j / 2]);
            else _mm_storel_pd((double *)(oq + 16), v[2 * h + j / 2]);
        }
}

/* AVX-VNNI's copy of A in row groups: rows [r0, r1) of A (M x K) with a ^ ax applied, k
   zero-padded to Kq (a multiple of 4: padded k meets zero rows of B), in groups of MR rows (r0 a
   multiple of MR; the last group holds the rows left, n = min(MR, M - i)).  The group of n rows
   from row i fills bytes [i Kq, (i + n) Kq), and quad q of its row r sits at 4 (q n + r) from the
   start.  A micro-kernel then reads its rows as one sequential stream, n quads per step of k:
   rows lda apart are n streams whose lines all cross at the same step and, lda a multiple of
   4 KiB, fall in the same L1 set, while the 256-bit task reads each row group's A four times
   (once per 16 columns).  Measured on AVX-VNNI: +3-6 % at 1024^3, 2048^3 and 128 x 4096^2.
   The AVX-512 task reads A once per row group and k-block and gains nothing (measured), so it
   reads A in rows. */
static void qr_pack_a(const uint8_t *A, Py_ssize_t lda, uint8_t ax, Py_ssize_t M, Py_ssize_t K, Py_ssize_t Kq,
                      int MR, Py_ssize_t r0, Py_ssize_t r1, uint8_t *out) {
    uint32_t x = ax * 0x01010101u;
    for (Py_ssize_t i = r0; i < r1; i += MR) {
        Py_ssize_t n = M - i < MR ? M - i : MR;
        uint8_t *base = out + i * Kq;
        Py_ssize_t q0 = 0;
        if (n == 6 && MR == 6)     /* the VNNI tiers run only where AVX2 is */
            for (; 4 * q0 + 32 <= K; q0 += 8)
                qr_pack_a6x8(A + i * lda + 4 * q0, lda, ax, base + 24 * q0);
        for (Py_ssize_t r = 0; r < n; r++) {
            const uint8_t *a = A + (i + r) * lda;
            uint8_t *o = base + 4 * r;
            Py_ssize_t q = q0;
            for (; 4 * q + 4 <= K; q++) {
                uint32_t w;
                memcpy(&w, a + 4 * q, 4);
                w ^= x;
                memcpy(o + 4 * q * n, &w, 4);
            }
            for (; 4 * q < Kq; q++)
                for (int t = 0; t < 4; t++)
                    o[4 * q * n + t] = 4 * q + t < K ? (uint8_t)(a[4 * q + t] ^ ax) : 0;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Tier 3: AVX-512 VNNI, 6 rows x 64 columns (24 zmm accumulators)                             */
/* ------------------------------------------------------------------------------------------ */
#define QR_T512 __attribute__((target("avx2,avx512f,avx512bw,avx512vnni,prfchw")))
#define QR_UNROLL _Pragma("GCC unroll 32")

/* XOR (a compile-time constant after inlining): a holds int8 codes and each byte is XORed with
   ax = 0x80; for uint8 codes the kernel broadcasts straight from memory (no vector ALU op, which
   would compete with vpdpbusd for its two ports) */
QR_INLINE QR_T512 void qr_mk512(const int MR, const int XOR, const int NT, const uint8_t *A, Py_ssize_t lda, uint32_t ax,
                                const int8_t *Bq, Py_ssize_t nq, int32_t *P, int32_t *C, Py_ssize_t ldc,
                                __mmask16 m[4], int first, int last, const int32_t *colterm,
                                const int32_t *zb, const int32_t *rowsum, const qr_prefetch_t *pf) {
    __m512i acc[6][4];
    if (last && !NT)
        qr_prefetch_c(C, ldc, MR, 4 * (__builtin_popcount(m[0]) + __builtin_popcount(m[1]) +
                                       __builtin_popcount(m[2]) + __builtin_popcount(m[3])));
    QR_UNROLL for (int r = 0; r < MR; r++)
        QR_UNROLL for (int s = 0; s < 4; s++)
            acc[r][s] = first ? _mm512_setzero_si512() : _mm512_load_si512(P + r * 64 + 16 * s);
    const __m512i x = _mm512_set1_epi32((int)ax);
#define QR_STEP512(q)                                                                                 \
    do {                                                                                              \
        const int8_t *bq = Bq + (q) * 256;                                                            \
        __m512i b0 = _mm512_loadu_si512((const void *)(bq));                                          \
        __m512i b1 = _mm512_loadu_si512((const void *)(bq + 64));                                     \
        __m512i b2 = _mm512_loadu_si512((const void *)(bq + 128));                                    \
        __m512i b3 = _mm512_loadu_si512((const void *)(bq + 192));                                    \
        QR_UNROLL for (int r = 0; r < MR; r++) {                                                      \
            int32_t w;                                                                                \
            memcpy(&w, A + r * lda + 4 * (q), 4);                                                     \
            __m512i av = XOR ? _mm512_xor_si512(_mm512_set1_epi32(w), x) : _mm512_set1_epi32(w);     \
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);                                       \
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);                                       \
            acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], av, b2);                                       \
            acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], av, b3);                                       \
        }                                                                                             \
    } while (0)
    Py_ssize_t q = 0;
    /* the first steps also fetch this row group's share of the next slice of B, a few lines per
       step: a burst of prefetches would hold every fill buffer and stall the loads */
    for (const char *p = pf->at, *e = pf->end; p < e; q++, p += pf->step) {
        for (const char *l = p; l < p + pf->step; l += 64) _mm_prefetch(l, _MM_HINT_T1);
        QR_STEP512(q);
    }
    for (; q < nq; q++) QR_STEP512(q);
#undef QR_STEP512
    QR_UNROLL for (int s = 0; s < 4; s++) {
        __m512i ct = _mm512_setzero_si512(), z = _mm512_setzero_si512();
        if (last && colterm) ct = _mm512_maskz_loadu_epi32(m[s], colterm + 16 * s);
        if (last && zb) z = _mm512_maskz_loadu_epi32(m[s], zb + 16 * s);
        QR_UNROLL for (int r = 0; r < MR; r++) {
            __m512i v = _mm512_add_epi32(acc[r][s], ct);
            if (last && zb) v = _mm512_sub_epi32(v, _mm512_mullo_epi32(_mm512_set1_epi32(rowsum[r]), z));
            if (!last) _mm512_store_si512(P + r * 64 + 16 * s, v);
            else if (NT) _mm512_stream_si512((void *)(C + r * ldc + 16 * s), v);
            else _mm512_mask_storeu_epi32(C + r * ldc + 16 * s, m[s], v);
        }
    }
}

/* One task: rows i0..i1 of A against one 64-column panel.  k runs in blocks of QR_KC (the block's
   slice of the panel, 32 KiB, stays in L1 while every row group passes it); between blocks the
   partial sums wait in `part` (QR_MB x 64 int32, contiguous, 64-byte aligned: in L1/L2, where
   C's rows, ldc apart, would collide in the same cache sets).  stream: write C's full panels
   around the caches (see qr_gemm). */
static QR_T512 void qr_task_512(const uint8_t *A, Py_ssize_t lda, uint8_t ax8, Py_ssize_t i0, Py_ssize_t i1,
                                Py_ssize_t K, const int8_t *panel, Py_ssize_t j0, Py_ssize_t ncols,
                                const int32_t *colterm, const int32_t *zb, const int32_t *rowsum,
                                int32_t *C, Py_ssize_t ldc, int stream, int32_t *part,
                                const int8_t *next_panel) {
    uint32_t ax = ax8 * 0x01010101u;
    Py_ssize_t ngroups = (i1 - i0 + 5) / 6;
    __mmask16 m[4];
    stream = stream && ncols == QR_NR;
    qr_panel_masks(ncols, m);
    Py_ssize_t nq = K / 4;     /* A is padded by the caller when K % 4 != 0 */
    const int32_t *ct = colterm ? colterm + j0 : NULL, *z = zb ? zb + j0 : NULL;
    for (Py_ssize_t q0 = 0; q0 < nq; q0 += QR_KC / 4) {
        Py_ssize_t qn = nq - q0 < QR_KC / 4 ? nq - q0 : QR_KC / 4;
        int first = q0 == 0, last = q0 + qn >= nq;
        const int8_t *Bq = panel + q0 * 256;
        Py_ssize_t pf_bytes;
        const int8_t *pf = qr_next_slice(panel, next_panel, q0, QR_KC / 4, qn, nq, &pf_bytes);
#define QR_MK512_ROWS(X)                                                                              \
        for (Py_ssize_t i = i0; i < i1; i += 6) {                                                     \
            qr_prefetch_t ps = qr_prefetch_share(pf, pf_bytes, (i - i0) / 6, ngroups, qn);            \
            const uint8_t *Ai = A + i * lda + 4 * q0;                                                 \
            int32_t *Pi = part + (i - i0) * 64, *Ci = C + i * ldc + j0;                               \
            const int32_t *rs = rowsum ? rowsum + i : NULL;                                           \
            if (i1 - i >= 6) {                                                                        \
                if (stream && last)                                                                   \
                    qr_mk512(6, X, 1, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, m, first, last, ct, z, rs, &ps); \
                else                                                                                  \
                    qr_mk512(6, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, m, first, last, ct, z, rs, &ps); \
            } else switch (i1 - i) {                                                                  \
                case 5: qr_mk512(5, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, m, first, last, ct, z, rs, &ps); break; \
                case 4: qr_mk512(4, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, m, first, last, ct, z, rs, &ps); break; \
                case 3: qr_mk512(3, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, m, first, last, ct, z, rs, &ps); break; \
                case 2: qr_mk512(2, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, m, first, last, ct, z, rs, &ps); break; \
                case 1: qr_mk512(1, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, m, first, last, ct, z, rs, &ps); break; \
                default: break;                                                                       \
            }                                                                                         \
        }
        if (ax) { QR_MK512_ROWS(1) } else { QR_MK512_ROWS(0) }
#undef QR_MK512_ROWS
    }
    if (stream) _mm_sfence();       /* the streamed stores are visible before the task counts as done */
}

/* ------------------------------------------------------------------------------------------ */
/* Tiers 1 and 2: 256-bit registers, 16 columns at a time (4 groups per 64-column panel)       */
/* ------------------------------------------------------------------------------------------ */
#define QR_TAVX2 __attribute__((target("avx2")))
#define QR_TVNNI256 __attribute__((target("avx2,avxvnni")))

/* the last k-block's store of 8 columns: v + ct - rs * z, the first n lanes (n < 8: one by one);
   NT: a streaming store (a full, 32-byte aligned group; see qr_gemm) */
QR_INLINE QR_TAVX2 void qr_store256_avx2(const int NT, int32_t *c, __m256i v, int n, const int32_t *ct,
                                         const int32_t *z, int32_t rs) {
    if (n == 8) {
        if (ct) v = _mm256_add_epi32(v, _mm256_loadu_si256((const __m256i *)ct));
        if (z) v = _mm256_sub_epi32(v, _mm256_mullo_epi32(_mm256_set1_epi32(rs),
                                                            _mm256_loadu_si256((const __m256i *)z)));
        if (NT) _mm256_stream_si256((__m256i *)c, v);
        else _mm256_storeu_si256((__m256i *)c, v);
        return;
    }
    int32_t tmp[8];
    _mm256_storeu_si256((__m256i *)tmp, v);
    for (int t = 0; t < n; t++) {
        uint32_t w = (uint32_t)tmp[t];
        if (ct) w += (uint32_t)ct[t];
        if (z) w -= (uint32_t)rs * (uint32_t)z[t];
        c[t] = (int32_t)w;
    }
}

/* one step of k (4 bytes) of a 256-bit micro-kernel: MR rows x 16 columns (inside QR_MK256) */
#define QR_STEP256(DOT, q)                                                                              \
    do {                                                                                              \
        const int8_t *bq = Bq + (q) * (WIDE ? 512 : 256);                                             \
        DOT##_LOADB(bq, WIDE);                                                                        \
        QR_UNROLL for (int r = 0; r < MR; r++) DOT(acc[r][0], acc[r][1], A + (q) * aqs + r * ars);       \
    } while (0)

/* One 256-bit micro-kernel body: MR rows x 16 columns; DOT(acc0, acc1, a) adds row r's quad at a
   times the step's 16 columns of B.  A: the row group's quads, ABYTES per row and quad: PACKED,
   in the layout of qr_pack_a (a ^ ax applied), else rows lda apart (XOR: apply a ^ ax here, as
   qr_mk512 does).  Partial sums between k-blocks wait in P (row stride 64 int32, aligned), as in
   qr_mk512 */
#define QR_MK256(NAME, TARGET, DOT, MAXR, ABYTES)                                                     \
    QR_INLINE TARGET void NAME(const int MR, const int PACKED, const int XOR, const int WIDE, const int NT, const uint8_t *A, \
                               Py_ssize_t lda, uint32_t ax, const int8_t *Bq, Py_ssize_t nq, int32_t *P, \
                               int32_t *C, Py_ssize_t ldc, int ncols, int first, int last, const int32_t *ct, \
                               const int32_t *z, const int32_t *rs, const qr_prefetch_t *pf) {          \
        const Py_ssize_t ars = PACKED ? ABYTES : lda, aqs = PACKED ? ABYTES * MR : ABYTES;             \
        const __m256i x = _mm256_set1_epi32((int)ax); (void)x;                                          \
        __m256i acc[MAXR][2];                                                                            \
        QR_UNROLL for (int r = 0; r < MR; r++)                                                           \
            QR_UNROLL for (int s = 0; s < 2; s++)                                                        \
                acc[r][s] = first ? _mm256_setzero_si256() : _mm256_load_si256((const __m256i *)(P + r * 64 + 8 * s)); \
        Py_ssize_t q = 0;                                                                                \
        for (const char *p = pf->at, *e = pf->end; p < e; q++, p += pf->step) {   /* as qr_mk512 */    \
            for (const char *l = p; l < p + pf->step; l += 64) _mm_prefetch(l, _MM_HINT_T1);            \
            QR_STEP256(DOT, q);                                                                          \
        }                                                                                                \
        for (; q < nq; q++) QR_STEP256(DOT, q);                                                          \
        QR_UNROLL for (int r = 0; r < MR; r++)                                                           \
            QR_UNROLL for (int s = 0; s < 2; s++) {                                                      \
                int n = ncols - 8 * s;                                                                   \
                if (n <= 0) continue;                                                                    \
                if (!last) _mm256_store_si256((__m256i *)(P + r * 64 + 8 * s), acc[r][s]);               \
                else qr_store256_avx2(NT, C + r * ldc + 8 * s, acc[r][s], n > 8 ? 8 : n,                 \
                                      ct ? ct + 8 * s : NULL, z ? z + 8 * s : NULL, z ? rs[r] : 0);     \
            }                                                                                            \
    }

/* AVX2: B's bytes widened to 16 bits (even bytes k, k+2 and odd bytes k+1, k+3 of each quad),
   then vpmaddwd: a0*b0 + a2*b2 and a1*b1 + a3*b3, each exact in int32.  WIDE: B arrives widened
   by qr_widen_b (tasks of QR_WIDEN_MIN_ROWS rows or more: +5-9 % at 1024^3, 2048^3 and
   128 x 4096^2); else the step widens it, 6 of the step's 38 vector ALU ops (a few rows, where
   widening once per block cost as much as it saved: measured at 16 and 24 rows).  A arrives widened
   already (qr_split_a: 8 bytes per quad, a0 a2 then a1 a3 as int16), so a row costs two
   broadcasts and no vector ALU op: with three ALU ports for vpmaddwd, vpaddd and B's widening,
   the two ops per row and quad that widened A here cost 15-20 % (measured) */
/* b's bytes (quads of int8) sign-extended to 16 bits: *even gets bytes k and k+2 of each quad,
   *odd bytes k+1 and k+3 (the order of A's pairs from qr_split_a) */
QR_INLINE QR_TAVX2 void qr_widen16(__m256i b, __m256i *even, __m256i *odd) {
    *even = _mm256_srai_epi16(_mm256_slli_epi16(b, 8), 8);
    *odd = _mm256_srai_epi16(b, 8);
}
#define QR_DOT_AVX2_LOADB(bq, WIDE)                                                                  \
    __m256i be0, bo0, be1, bo1;                                                                      \
    if (WIDE) {                                                                                      \
        be0 = _mm256_load_si256((const __m256i *)(bq));                                              \
        bo0 = _mm256_load_si256((const __m256i *)((bq) + 32));                                       \
        be1 = _mm256_load_si256((const __m256i *)((bq) + 64));                                       \
        bo1 = _mm256_load_si256((const __m256i *)((bq) + 96));                                       \
    } else {                                                                                         \
        qr_widen16(_mm256_loadu_si256((const __m256i *)(bq)), &be0, &bo0);                          \
        qr_widen16(_mm256_loadu_si256((const __m256i *)((bq) + 32)), &be1, &bo1);                   \
    }
#define QR_DOT_AVX2(c0, c1, a)                                                                       \
    do {                                                                                             \
        int32_t we, wo;                                                                              \
        memcpy(&we, (a), 4);                                                                         \
        memcpy(&wo, (a) + 4, 4);                                                                     \
        __m256i ae = _mm256_set1_epi32(we), ao = _mm256_set1_epi32(wo);                              \
        c0 = _mm256_add_epi32(c0, _mm256_add_epi32(_mm256_madd_epi16(ae, be0), _mm256_madd_epi16(ao, bo0))); \
        c1 = _mm256_add_epi32(c1, _mm256_add_epi32(_mm256_madd_epi16(ae, be1), _mm256_madd_epi16(ao, bo1))); \
    } while (0)
#define QR_DOT_VNNI256_LOADB(bq, WIDE)                                                               \
    __m256i b0 = _mm256_loadu_si256((const __m256i *)(bq)), b1 = _mm256_loadu_si256((const __m256i *)((bq) + 32))
#define QR_DOT_VNNI256(c0, c1, a)                                                                    \
    do {                                                                                             \
        int32_t w;                                                                                   \
        memcpy(&w, (a), 4);                                                                          \
        __m256i av = XOR ? _mm256_xor_si256(_mm256_set1_epi32(w), x) : _mm256_set1_epi32(w);        \
        c0 = _mm256_dpbusd_avx_epi32(c0, av, b0);                                                    \
        c1 = _mm256_dpbusd_avx_epi32(c1, av, b1);                                                    \
    } while (0)

/* AVX2's copy of A (rows i0..i1): a ^ ax, each quad a0 a1 a2 a3 stored as the int16 pairs
   (a0, a2) and (a1, a3), k zero-padded to Kq; row stride 2 Kq bytes */
static QR_TAVX2 void qr_split_a(const uint8_t *A, Py_ssize_t lda, uint8_t ax, Py_ssize_t K, Py_ssize_t Kq,
                                Py_ssize_t i0, Py_ssize_t i1, uint8_t *out) {
    const __m256i x = _mm256_set1_epi8((char)ax);
    /* within each 128-bit lane: bytes 0 2 4 .. 14 (even), then 1 3 .. 15 (odd), per pair of quads */
    const __m256i order = _mm256_setr_epi8(0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15,
                                           0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15);
    for (Py_ssize_t i = i0; i < i1; i++) {
        const uint8_t *a = A + i * lda;
        uint8_t *o = out + i * 2 * Kq;
        Py_ssize_t k = 0;
        for (; k + 32 <= K; k += 32) {
            /* 32 bytes = 8 quads; reorder each quad to a0 a2 a1 a3, then zero-extend to 16 bits */
            __m256i v = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a + k)), x);
            v = _mm256_shuffle_epi8(v, order);
            __m256i lo = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(v));
            __m256i hi = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(v, 1));
            _mm256_storeu_si256((__m256i *)(o + 2 * k), lo);
            _mm256_storeu_si256((__m256i *)(o + 2 * k + 32), hi);
        }
        for (; k < Kq; k += 4)
            for (int t = 0; t < 4; t++) {
                static const int slot[4] = {0, 2, 1, 3};
                uint16_t v = k + t < K ? (uint16_t)(uint8_t)(a[k + t] ^ ax) : 0;
                memcpy(o + 2 * k + 2 * slot[t], &v, 2);
            }
    }
}

/* AVX2's copy of a k-block of the panel (qn quads x 64 columns), each byte sign-extended to 16
   bits: quad q, columns 16g..16g+15 at W + 512 q + 128 g (bytes, 32-byte aligned) as four
   registers: the even bytes (k, k+2) and the odd ones (k+1, k+3) of columns 16g..16g+7, then of
   16g+8..16g+15, for vpmaddwd against A's pairs (a0, a2) and (a1, a3).  Made once per k-block
   of a task and read by all its row groups: widened in the micro-kernel, B cost 6 of every 38
   vector ALU ops of a 4-row step (three ports shared with vpmaddwd and vpaddd). */
static QR_TAVX2 void qr_widen_b(const int8_t *Bq, Py_ssize_t qn, int8_t *W) {
    for (Py_ssize_t q = 0; q < qn; q++)
        for (int g = 0; g < 4; g++) {
            const int8_t *b = Bq + 256 * q + 64 * g;
            int8_t *w = W + 512 * q + 128 * g;
            __m256i v[4];
            qr_widen16(_mm256_loadu_si256((const __m256i *)b), &v[0], &v[1]);
            qr_widen16(_mm256_loadu_si256((const __m256i *)(b + 32)), &v[2], &v[3]);
            for (int t = 0; t < 4; t++) _mm256_store_si256((__m256i *)(w + 32 * t), v[t]);
        }
}

QR_MK256(qr_mk_avx2, QR_TAVX2, QR_DOT_AVX2, 4, 8)
QR_MK256(qr_mk_vnni256, QR_TVNNI256, QR_DOT_VNNI256, 6, 4)

/* a micro-kernel call, on widened B (AVX2's wide blocks) or not; `widen` is a constant 0 where
   the tier never widens, and the branch goes */
#define QR_MK256_CALL(MK, MR, PACKED, X, NT, ...)                                                     \
    do {                                                                                             \
        if (widen) MK(MR, PACKED, X, 1, NT, __VA_ARGS__);                                            \
        else MK(MR, PACKED, X, 0, NT, __VA_ARGS__);                                                  \
    } while (0)

/* One task of a 256-bit tier, as qr_task_512 (k-blocks, partial sums in `part`, the next slice
   of B prefetched, streamed stores), the panel taken 16 columns at a time.  A, ABYTES per row
   and quad: PACKED, in qr_pack_a's row groups of MAXR rows (K a multiple of 4); else rows lda
   apart, each byte XORed with ax when X */
#define QR_TASK256_BODY(NAME, MK, TARGET, MAXR, ABYTES, WIDEN, PACKED, X)                            \
    QR_INLINE TARGET void NAME(const uint8_t *A, Py_ssize_t lda, uint8_t ax8, Py_ssize_t i0, Py_ssize_t i1, \
                               Py_ssize_t K, const int8_t *panel, Py_ssize_t j0, Py_ssize_t ncols,       \
                               const int32_t *colterm, const int32_t *zb, const int32_t *rowsum,         \
                               int32_t *C, Py_ssize_t ldc, int stream, int32_t *part,                    \
                               const int8_t *next_panel, int8_t *wide) {                                 \
        uint32_t ax = ax8 * 0x01010101u;                                                                 \
        Py_ssize_t nq = K / 4;                                                                           \
        Py_ssize_t ngroups = (i1 - i0 + MAXR - 1) / MAXR;   /* row groups per 16 columns */            \
        stream = stream && ncols == QR_NR;                                                               \
        /* AVX2, from QR_WIDEN_MIN_ROWS rows on: B widened once per k-block (qr_widen_b) */            \
        const int widen = WIDEN && i1 - i0 >= QR_WIDEN_MIN_ROWS;                                         \
        const Py_ssize_t kcq = widen ? QR_KC_AVX2 / 4 : QR_KC / 4;                                       \
        for (Py_ssize_t q0 = 0; q0 < nq; q0 += kcq) {                                                    \
            Py_ssize_t qn = nq - q0 < kcq ? nq - q0 : kcq;                                               \
            int first = q0 == 0, last = q0 + qn >= nq;                                                   \
            Py_ssize_t pf_bytes;                                                                         \
            const int8_t *pf = qr_next_slice(panel, next_panel, q0, kcq, qn, nq, &pf_bytes);             \
            const int8_t *Bk = panel + q0 * 256;                                                         \
            if (widen) { qr_widen_b(Bk, qn, wide); Bk = wide; }                                          \
            /* row group by row group, its 16-column groups in turn: the group's rows of A (MAXR x
               512 bytes) stay in L1 across the four, beside the slice of B */                         \
            for (Py_ssize_t i = i0; i < i1; i += MAXR) {                                                 \
                Py_ssize_t rows = i1 - i < MAXR ? i1 - i : MAXR;                                         \
                const uint8_t *Ai = PACKED ? A + (i * K + q0 * 4 * rows) * (ABYTES / 4) : A + i * lda + ABYTES * q0; \
                const int32_t *rs = rowsum ? rowsum + i : NULL;                                          \
                for (int g = 0; g < 4 && 16 * g < ncols; g++) {                                          \
                    const int8_t *Bq = Bk + (widen ? 128 : 64) * g;                                      \
                    Py_ssize_t jg = j0 + 16 * g;                                                         \
                    int nc = (int)(ncols - 16 * g > 16 ? 16 : ncols - 16 * g);                           \
                    const int32_t *ct = colterm ? colterm + jg : NULL, *z = zb ? zb + jg : NULL;         \
                    int32_t *Pi = part + (i - i0) * 64 + 16 * g, *Ci = C + i * ldc + jg;                 \
                    qr_prefetch_t ps = qr_prefetch_share(pf, pf_bytes, 4 * ((i - i0) / MAXR) + g, 4 * ngroups, qn); \
                    if (rows == MAXR) {                                                                  \
                        if (stream && last)                                                              \
                            QR_MK256_CALL(MK, MAXR, PACKED, X, 1, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, nc, first, last, ct, z, rs, &ps); \
                        else                                                                             \
                            QR_MK256_CALL(MK, MAXR, PACKED, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, nc, first, last, ct, z, rs, &ps); \
                    } else switch (rows) {                                                               \
                        case 5: QR_MK256_CALL(MK, 5 < MAXR ? 5 : 1, PACKED, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, nc, first, last, ct, z, rs, &ps); break; \
                        case 4: QR_MK256_CALL(MK, 4 < MAXR ? 4 : 1, PACKED, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, nc, first, last, ct, z, rs, &ps); break; \
                        case 3: QR_MK256_CALL(MK, 3, PACKED, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, nc, first, last, ct, z, rs, &ps); break; \
                        case 2: QR_MK256_CALL(MK, 2, PACKED, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, nc, first, last, ct, z, rs, &ps); break; \
                        case 1: QR_MK256_CALL(MK, 1, PACKED, X, 0, Ai, lda, ax, Bq, qn, Pi, Ci, ldc, nc, first, last, ct, z, rs, &ps); break; \
                        default: break;                                                                  \
                    }                                                                                    \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
        if (stream) _mm_sfence();                                                                        \
    }

/* the task three times over: on packed A, and on A in rows with and without the XOR of int8
   codes (see qr_gemm for when A is packed); UNPACKED_X0_ONLY: the last alone (AVX2, whose A
   always arrives in rows from qr_split_a, XORed and widened) */
#define QR_TASK256(NAME, MK, TARGET, MAXR, ABYTES, WIDEN, UNPACKED_X0_ONLY)                          \
    QR_TASK256_BODY(NAME##_p, MK, TARGET, MAXR, ABYTES, WIDEN, 1, 0)                                 \
    QR_TASK256_BODY(NAME##_x0, MK, TARGET, MAXR, ABYTES, WIDEN, 0, 0)                                \
    QR_TASK256_BODY(NAME##_x1, MK, TARGET, MAXR, ABYTES, WIDEN, 0, 1)                                \
    static TARGET void NAME(const uint8_t *A, Py_ssize_t lda, uint8_t ax8, int packed, Py_ssize_t i0,     \
                            Py_ssize_t i1, Py_ssize_t K, const int8_t *panel, Py_ssize_t j0, Py_ssize_t ncols, \
                            const int32_t *colterm, const int32_t *zb, const int32_t *rowsum,            \
                            int32_t *C, Py_ssize_t ldc, int stream, int32_t *part,                       \
                            const int8_t *next_panel, int8_t *wide) {                                    \
        if (!UNPACKED_X0_ONLY && packed) NAME##_p(A, lda, 0, i0, i1, K, panel, j0, ncols, colterm, zb, rowsum, C, ldc, stream, part, next_panel, wide); \
        else if (!UNPACKED_X0_ONLY && ax8) NAME##_x1(A, lda, ax8, i0, i1, K, panel, j0, ncols, colterm, zb, rowsum, C, ldc, stream, part, next_panel, wide); \
        else NAME##_x0(A, lda, 0, i0, i1, K, panel, j0, ncols, colterm, zb, rowsum, C, ldc, stream, part, next_panel, wide); \
    }

QR_TASK256(qr_task_avx2, qr_mk_avx2, QR_TAVX2, 4, 8, 1, 1)
QR_TASK256(qr_task_vnni256, qr_mk_vnni256, QR_TVNNI256, 6, 4, 0, 0)

/* ------------------------------------------------------------------------------------------ */
/* Tier 4: AMX-INT8.  C tiles 0-3 (2 x 2 blocks of 16 x 16 int32), A tiles 4-5, B tiles 6-7.   */
/* A arrives padded: rows to a multiple of 32, K to Kp (a multiple of 64), row stride Kp.      */
/* ------------------------------------------------------------------------------------------ */
#define QR_TAMX __attribute__((target("amx-tile,amx-int8,avx2,avx512f,avx512bw")))

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} qr_tilecfg;

static QR_TAMX void qr_amx_config(void) {
    qr_tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) { cfg.colsb[t] = 64; cfg.rows[t] = 16; }
    /* not _tile_loadconfig: gcc 12 declares its operand as 8 bytes, so the stores above would be
       dropped as dead; the tile intrinsics are asm statements without memory operands, hence the
       "memory" barriers around tile loads and stores below */
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg) : "memory");
}

/* rows [i0, i1) of the partial sums `acc` (row stride 64) plus the zero-point terms into C */
static QR_TAMX void qr_amx_epilogue(const int32_t *acc, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t j0,
                                    Py_ssize_t ncols, const int32_t *colterm, const int32_t *zb,
                                    const int32_t *rowsum, int32_t *C, Py_ssize_t ldc, int stream) {
    __mmask16 m[4];
    qr_panel_masks(ncols, m);
    stream = stream && ncols == QR_NR;     /* streamed stores: full panels only (see qr_gemm) */
    for (Py_ssize_t r = 0; r < i1 - i0; r++) {
        const int32_t *src = acc + r * 64;
        int32_t *dst = C + (i0 + r) * ldc + j0;
        for (int s = 0; s < 4 && m[s]; s++) {
            __m512i v = _mm512_loadu_si512(src + 16 * s);
            if (colterm) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(m[s], colterm + j0 + 16 * s));
            if (zb)
                v = _mm512_sub_epi32(v, _mm512_mullo_epi32(_mm512_set1_epi32(rowsum[i0 + r]),
                                                         _mm512_maskz_loadu_epi32(m[s], zb + j0 + 16 * s)));
            if (stream) _mm512_stream_si512((void *)(dst + 16 * s), v);
            else _mm512_mask_storeu_epi32(dst + 16 * s, m[s], v);
        }
    }
    if (stream) _mm_sfence();
}

/* Rows [i0, i1) (i0 a multiple of 32) times one 64-column panel.  A arrives in tile layout: the
   16 x 64-byte tile of row block r (16 rows) and k-chunk c (64 bytes of k) is 1 KiB contiguous at
   Ap + (r * nkc + c) * 1024.  The k loop is blocked by QR_AMX_KC so that a 32-column slice of the
   panel's k-block (32 x QR_AMX_KC bytes) stays in L1 while every 32-row block of the task meets
   it; the row blocks' A stays in L2 across the panels (tasks go panel by panel over one row
   block).  Partial sums wait in `acc` (the task's rows x 64 int32, row stride 64) between
   k-blocks; the epilogue adds the zero-point terms and writes the valid rows and columns to C. */
static QR_TAMX void qr_task_amx(const uint8_t *Ap, Py_ssize_t Kp, Py_ssize_t i0, Py_ssize_t i1,
                                const int8_t *panel, Py_ssize_t j0, Py_ssize_t ncols,
                                const int32_t *colterm, const int32_t *zb, const int32_t *rowsum,
                                int32_t *C, Py_ssize_t ldc, int32_t *acc, int stream) {
    Py_ssize_t nkc = Kp / 64, rows = (i1 - i0 + 31) / 32 * 32;
    __asm__ volatile("" : : : "memory");
    for (Py_ssize_t kb = 0; kb < nkc; kb += QR_AMX_KC / 64) {
        Py_ssize_t ke = kb + QR_AMX_KC / 64 < nkc ? kb + QR_AMX_KC / 64 : nkc;
        for (int h = 0; h < 2 && 32 * h < ncols; h++) {
            const int8_t *b = panel + 128 * h;
            for (Py_ssize_t i = 0; i < rows; i += 32) {
                int32_t *c = acc + i * 64 + 32 * h;
                if (kb == 0) {
                    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
                } else {
                    _tile_loadd(0, c, 256); _tile_loadd(1, c + 16, 256);
                    _tile_loadd(2, c + 16 * 64, 256); _tile_loadd(3, c + 16 * 64 + 16, 256);
                }
                const uint8_t *a0 = Ap + ((i0 + i) / 16) * nkc * 1024, *a1 = a0 + nkc * 1024;
                for (Py_ssize_t kc = kb; kc < ke; kc++) {
                    _tile_loadd(4, a0 + kc * 1024, 64);
                    _tile_loadd(5, a1 + kc * 1024, 64);
                    _tile_loadd(6, b + kc * 4096, 256);
                    _tile_loadd(7, b + kc * 4096 + 64, 256);
                    _tile_dpbusd(0, 4, 6);
                    _tile_dpbusd(1, 4, 7);
                    _tile_dpbusd(2, 5, 6);
                    _tile_dpbusd(3, 5, 7);
                }
                _tile_stored(0, c, 256); _tile_stored(1, c + 16, 256);
                _tile_stored(2, c + 16 * 64, 256); _tile_stored(3, c + 16 * 64 + 16, 256);
            }
        }
    }
    __asm__ volatile("" : : : "memory");
    qr_amx_epilogue(acc, i0, i1, j0, ncols, colterm, zb, rowsum, C, ldc, stream);
}
/* A of at most 16 rows (one tile high) times one 64-column panel: four C tiles side by side, so
   each k-chunk reads the panel's 4 KiB once, front to back (weights streamed from memory at
   small batch); the 2 x 2 blocking of qr_task_amx would read it in two passes and pad A to 32
   rows. */
static QR_TAMX void qr_task_amx16(const uint8_t *Ap, Py_ssize_t Kp, Py_ssize_t M, const int8_t *panel,
                                  Py_ssize_t j0, Py_ssize_t ncols, const int32_t *colterm, const int32_t *zb,
                                  const int32_t *rowsum, int32_t *C, Py_ssize_t ldc, int32_t *acc, int stream) {
    Py_ssize_t nkc = Kp / 64;
    __asm__ volatile("" : : : "memory");
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    for (Py_ssize_t kc = 0; kc < nkc; kc++) {
        const int8_t *b = panel + kc * 4096;
        _tile_loadd(4, Ap + kc * 1024, 64);
        _tile_loadd(5, b, 256);
        _tile_loadd(6, b + 64, 256);
        _tile_dpbusd(0, 4, 5);
        _tile_loadd(7, b + 128, 256);
        _tile_dpbusd(1, 4, 6);
        _tile_loadd(5, b + 192, 256);
        _tile_dpbusd(2, 4, 7);
        _tile_dpbusd(3, 4, 5);
    }
    _tile_stored(0, acc, 256); _tile_stored(1, acc + 16, 256);
    _tile_stored(2, acc + 32, 256); _tile_stored(3, acc + 48, 256);
    __asm__ volatile("" : : : "memory");
    qr_amx_epilogue(acc, 0, M, j0, ncols, colterm, zb, rowsum, C, ldc, stream);
}

/* rows [r0, r1) of A (M x K, a ^ ax) into the tile layout of qr_task_amx; rows >= M and k >= K: 0 */
static QR_TAMX void qr_amx_pack_a(const uint8_t *A, Py_ssize_t lda, uint8_t ax, Py_ssize_t M, Py_ssize_t K,
                                  Py_ssize_t Kp, Py_ssize_t r0, Py_ssize_t r1, uint8_t *out) {
    Py_ssize_t nkc = Kp / 64;
    const __m512i x = _mm512_set1_epi8((char)ax);
    for (Py_ssize_t i = r0; i < r1; i++) {
        uint8_t *t = out + (i / 16) * nkc * 1024 + (i % 16) * 64;
        const uint8_t *a = A + i * lda;
        for (Py_ssize_t c = 0; c < nkc; c++) {
            Py_ssize_t left = i < M ? K - 64 * c : 0;
            __mmask64 m = left >= 64 ? ~(__mmask64)0 : left <= 0 ? 0 : (((__mmask64)1 << left) - 1);
            __m512i v = _mm512_maskz_loadu_epi8(m, a + 64 * c);
            /* padding stays zero whatever ax */
            _mm512_store_si512((void *)(t + c * 1024), _mm512_maskz_mov_epi8(m, _mm512_xor_si512(v, x)));
        }
    }
}
static QR_TAMX void qr_amx_release(void) { _tile_release(); }

/* ------------------------------------------------------------------------------------------ */
/* Peaks: register-only loops of each tier's inner instruction, enough independent chains to   */
/* hide its latency.  Written in assembly: compiled from intrinsics, the compiler moved the     */
/* accumulators between registers (and even to the stack) inside the loop, and hoisted the     */
/* product that every AVX2 chain shares, so the loops measured moves and adds instead.  iters   */
/* must be at least 1.  The register contents do not matter: only the instruction stream.      */
/* ------------------------------------------------------------------------------------------ */
static QR_T512 void qr_peak_512(long iters) {            /* 24 x vpdpbusd zmm: 24 x 128 ops */
    __asm__ volatile(
        "vpternlogd $0xff, %%zmm30, %%zmm30, %%zmm30\n\t" "vpabsb %%zmm30, %%zmm31\n\t"
        "vpxord %%zmm0, %%zmm0, %%zmm0\n\t" "vpxord %%zmm1, %%zmm1, %%zmm1\n\t" "vpxord %%zmm2, %%zmm2, %%zmm2\n\t" "vpxord %%zmm3, %%zmm3, %%zmm3\n\t"
        "vpxord %%zmm4, %%zmm4, %%zmm4\n\t" "vpxord %%zmm5, %%zmm5, %%zmm5\n\t" "vpxord %%zmm6, %%zmm6, %%zmm6\n\t" "vpxord %%zmm7, %%zmm7, %%zmm7\n\t"
        "vpxord %%zmm8, %%zmm8, %%zmm8\n\t" "vpxord %%zmm9, %%zmm9, %%zmm9\n\t" "vpxord %%zmm10, %%zmm10, %%zmm10\n\t" "vpxord %%zmm11, %%zmm11, %%zmm11\n\t"
        "vpxord %%zmm12, %%zmm12, %%zmm12\n\t" "vpxord %%zmm13, %%zmm13, %%zmm13\n\t" "vpxord %%zmm14, %%zmm14, %%zmm14\n\t" "vpxord %%zmm15, %%zmm15, %%zmm15\n\t"
        "vpxord %%zmm16, %%zmm16, %%zmm16\n\t" "vpxord %%zmm17, %%zmm17, %%zmm17\n\t" "vpxord %%zmm18, %%zmm18, %%zmm18\n\t" "vpxord %%zmm19, %%zmm19, %%zmm19\n\t"
        "vpxord %%zmm20, %%zmm20, %%zmm20\n\t" "vpxord %%zmm21, %%zmm21, %%zmm21\n\t" "vpxord %%zmm22, %%zmm22, %%zmm22\n\t" "vpxord %%zmm23, %%zmm23, %%zmm23\n\t"
        "1:\n\t"
        "vpdpbusd %%zmm31, %%zmm30, %%zmm0\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm1\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm2\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm3\n\t"
        "vpdpbusd %%zmm31, %%zmm30, %%zmm4\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm5\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm6\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm7\n\t"
        "vpdpbusd %%zmm31, %%zmm30, %%zmm8\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm9\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm10\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm11\n\t"
        "vpdpbusd %%zmm31, %%zmm30, %%zmm12\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm13\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm14\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm15\n\t"
        "vpdpbusd %%zmm31, %%zmm30, %%zmm16\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm17\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm18\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm19\n\t"
        "vpdpbusd %%zmm31, %%zmm30, %%zmm20\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm21\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm22\n\t" "vpdpbusd %%zmm31, %%zmm30, %%zmm23\n\t"
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iters)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm30", "xmm31", "cc");
}
static QR_TVNNI256 void qr_peak_vnni256(long iters) {    /* 12 x {vex} vpdpbusd ymm: 12 x 64 ops */
    __asm__ volatile(
        "vpcmpeqd %%ymm14, %%ymm14, %%ymm14\n\t" "vpabsb %%ymm14, %%ymm15\n\t"
        "vpxor %%ymm0, %%ymm0, %%ymm0\n\t" "vpxor %%ymm1, %%ymm1, %%ymm1\n\t" "vpxor %%ymm2, %%ymm2, %%ymm2\n\t" "vpxor %%ymm3, %%ymm3, %%ymm3\n\t"
        "vpxor %%ymm4, %%ymm4, %%ymm4\n\t" "vpxor %%ymm5, %%ymm5, %%ymm5\n\t" "vpxor %%ymm6, %%ymm6, %%ymm6\n\t" "vpxor %%ymm7, %%ymm7, %%ymm7\n\t"
        "vpxor %%ymm8, %%ymm8, %%ymm8\n\t" "vpxor %%ymm9, %%ymm9, %%ymm9\n\t" "vpxor %%ymm10, %%ymm10, %%ymm10\n\t" "vpxor %%ymm11, %%ymm11, %%ymm11\n\t"
        "1:\n\t"
        "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm0\n\t" "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm1\n\t" "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm2\n\t"
        "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm3\n\t" "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm4\n\t" "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm5\n\t"
        "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm6\n\t" "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm7\n\t" "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm8\n\t"
        "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm9\n\t" "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm10\n\t" "%{vex%} vpdpbusd %%ymm15, %%ymm14, %%ymm11\n\t"
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iters)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm14", "xmm15", "cc");
}
static QR_TAVX2 void qr_peak_avx2(long iters) {          /* 12 x (vpmaddwd + vpaddd): 12 x 32 ops */
    __asm__ volatile(
        "vpcmpeqd %%ymm14, %%ymm14, %%ymm14\n\t" "vpabsw %%ymm14, %%ymm15\n\t"
        "vpxor %%ymm0, %%ymm0, %%ymm0\n\t" "vpxor %%ymm1, %%ymm1, %%ymm1\n\t" "vpxor %%ymm2, %%ymm2, %%ymm2\n\t"
        "vpxor %%ymm3, %%ymm3, %%ymm3\n\t" "vpxor %%ymm4, %%ymm4, %%ymm4\n\t" "vpxor %%ymm5, %%ymm5, %%ymm5\n\t"
        "1:\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm6\n\t" "vpaddd %%ymm6, %%ymm0, %%ymm0\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm7\n\t" "vpaddd %%ymm7, %%ymm1, %%ymm1\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm8\n\t" "vpaddd %%ymm8, %%ymm2, %%ymm2\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm9\n\t" "vpaddd %%ymm9, %%ymm3, %%ymm3\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm10\n\t" "vpaddd %%ymm10, %%ymm4, %%ymm4\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm11\n\t" "vpaddd %%ymm11, %%ymm5, %%ymm5\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm6\n\t" "vpaddd %%ymm6, %%ymm0, %%ymm0\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm7\n\t" "vpaddd %%ymm7, %%ymm1, %%ymm1\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm8\n\t" "vpaddd %%ymm8, %%ymm2, %%ymm2\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm9\n\t" "vpaddd %%ymm9, %%ymm3, %%ymm3\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm10\n\t" "vpaddd %%ymm10, %%ymm4, %%ymm4\n\t"
        "vpmaddwd %%ymm15, %%ymm14, %%ymm11\n\t" "vpaddd %%ymm11, %%ymm5, %%ymm5\n\t"
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iters)
        :
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm14", "xmm15", "cc");
}
static QR_TAMX void qr_peak_amx(long iters) {          /* 4 x tdpbusd: 4 x 32768 ops */
    uint8_t a[16 * 64] __attribute__((aligned(64)));
    int32_t c[16 * 16] __attribute__((aligned(64)));
    memset(a, 1, sizeof a);
    qr_amx_config();
    __asm__ volatile("" : : : "memory");
    _tile_loadd(4, a, 64); _tile_loadd(5, a, 64); _tile_loadd(6, a, 64); _tile_loadd(7, a, 64);
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    for (long it = 0; it < iters; it++) {
        _tile_dpbusd(0, 4, 6); _tile_dpbusd(1, 4, 7); _tile_dpbusd(2, 5, 6); _tile_dpbusd(3, 5, 7);
    }
    _tile_stored(0, c, 64);
    __asm__ volatile("" : : : "memory");
    _tile_release();
    volatile int32_t sink = c[0];     /* so the loop is not optimised away */
    (void)sink;
}
#endif /* QR_X86 */

/* int8 operations (2 per multiply-add) of one iteration of tier t's peak loop; 0: none */
static double qr_peak_ops_per_iter(int tier) {
    switch (tier) {
        case QR_TIER_AVX512VNNI: return 24.0 * 64 * 2;
        case QR_TIER_AVXVNNI: return 12.0 * 32 * 2;
        case QR_TIER_AVX2: return 12.0 * 16 * 2;
        case QR_TIER_AMX: return 4.0 * 16 * 16 * 64 * 2;
        default: return 0.0;
    }
}

/* run the peak loop of `tier` for `iters` iterations on num_threads threads; -1: not allowed */
static int qr_peak(int tier, long iters, int num_threads) {
    if (tier < 0 || tier >= QR_NTIERS || !((qr_allowed_tiers >> tier) & 1)) return -1;
    if (qr_peak_ops_per_iter(tier) == 0.0) return -1;
    if (iters < 1) return -1;
    int nthreads = qr_threads(num_threads);
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
#endif
    {
#if QR_X86
        switch (tier) {
            case QR_TIER_AVX512VNNI: qr_peak_512(iters); break;
            case QR_TIER_AVXVNNI: qr_peak_vnni256(iters); break;
            case QR_TIER_AVX2: qr_peak_avx2(iters); break;
            case QR_TIER_AMX: qr_peak_amx(iters); break;
            default: break;
        }
#endif
    }
    return nthreads;
}

/* ------------------------------------------------------------------------------------------ */
/* The driver                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* C (M x N, row stride ldc) = the product described at the top of this file.
   a_signed: a holds int8 codes (each byte is XORed with 0x80, i.e. a + 128).
   Returns 0, or -1 when the tier may not run here (nothing is computed), -2 on out of memory. */
static int qr_gemm(int tier, const uint8_t *A, Py_ssize_t lda, int a_signed, Py_ssize_t M, Py_ssize_t K,
                   const int8_t *Bp, Py_ssize_t Kp, Py_ssize_t N, const int32_t *colterm,
                   const int32_t *zb, int32_t *C, Py_ssize_t ldc, int num_threads) {
    if (tier < 0 || tier >= QR_NTIERS || !((qr_allowed_tiers >> tier) & 1)) return -1;
    if (M <= 0 || N <= 0) return 0;
    /* a few rows would fill AMX tiles (16 rows) mostly with padding: AVX-512 VNNI, which every
       AMX CPU has, streams the weights faster there */
    if (tier == QR_TIER_AMX && M < QR_AMX_MIN_ROWS && ((qr_allowed_tiers >> QR_TIER_AVX512VNNI) & 1))
        tier = QR_TIER_AVX512VNNI;
    uint8_t ax = a_signed ? 0x80 : 0;
    Py_ssize_t Kq = (K + 3) / 4 * 4;           /* k the vector tiers run over */
    Py_ssize_t Mp = M;
    int nthreads = qr_threads(num_threads);
    /* one workspace: rowsum (M int32), the copy of A, the partial sums between k-blocks (per thread:
       AMX QR_AMX_MB x 64, the vector tiers QR_MB x 64 when K spans more than one block) */
    Py_ssize_t npanels = (N + QR_NR - 1) / QR_NR;
    Py_ssize_t kp = tier == QR_TIER_AMX ? Kp : tier == QR_TIER_AVX2 ? 2 * Kq : Kq;
    /* AVX-VNNI reads A in row groups (qr_pack_a) where the copy pays: from QR_PACK_MIN_PANELS
       panels on (at 4-8 panels it cost 2 threads as much as it saved, measured), or when k needs
       padding anyway */
    int pack_a = tier == QR_TIER_AVXVNNI && (npanels >= QR_PACK_MIN_PANELS || Kq != K);
    int copy_a = tier == QR_TIER_AMX || tier == QR_TIER_AVX2 || pack_a || (tier != QR_SCALAR && Kq != K);
    if (tier == QR_TIER_AMX) Mp = M <= 16 ? 16 : (M + 31) / 32 * 32;   /* see qr_task_amx16 */
    size_t rs_bytes = zb ? ((size_t)M * sizeof(int32_t) + 63) / 64 * 64 : 0;
    size_t a_bytes = copy_a ? ((size_t)Mp * (size_t)kp + 63) / 64 * 64 : 0;
    Py_ssize_t mb = tier == QR_TIER_AMX ? QR_AMX_MB : QR_MB;     /* rows of A per task */
    int partial = tier == QR_TIER_AMX || (tier != QR_SCALAR && Kq > (tier == QR_TIER_AVX2 ? QR_KC_AVX2 : QR_KC));
    size_t acc_bytes = partial ? sizeof(int32_t) * (size_t)mb * 64 * (size_t)nthreads : 0;
    /* AVX2: per thread, a k-block of a panel widened to 16 bits (qr_widen_b) */
    size_t wide_bytes = tier == QR_TIER_AVX2 ? (size_t)(QR_KC_AVX2 / 4) * 512 * (size_t)nthreads : 0;
    int ws_owned = 0;
    uint8_t *ws = NULL;
    if (rs_bytes + a_bytes + acc_bytes + wide_bytes) {
        ws = qr_workspace(rs_bytes + a_bytes + acc_bytes + wide_bytes, &ws_owned);
        if (!ws) return -2;
    }
    int32_t *rowsum = zb ? (int32_t *)ws : NULL;
    uint8_t *Apad = copy_a ? ws + rs_bytes : NULL;
    int32_t *part = acc_bytes ? (int32_t *)(ws + rs_bytes + a_bytes) : NULL;   /* partial sums, per thread */
    int8_t *wide = wide_bytes ? (int8_t *)(ws + rs_bytes + a_bytes + acc_bytes) : NULL;
    Py_ssize_t nmb = (M + mb - 1) / mb;
    Py_ssize_t ntasks = npanels * nmb;
    if (nthreads > ntasks) nthreads = (int)ntasks;
    /* waking a thread costs tens of microseconds: give each one at least QR_MIN_MACS of work */
    double macs = (double)M * (double)N * (double)K;
    if (nthreads > 1 && macs / QR_MIN_MACS < nthreads) nthreads = (int)(macs / QR_MIN_MACS);
    if (nthreads < 1) nthreads = 1;
    /* an output of 4 MiB or more (twice a core's L2) is written around the caches:
       a streaming store sends a whole line to memory without first reading it for ownership
       (measured +12-20 % on 2 threads at 1024^3 and 2048^3); it needs 64-byte aligned rows,
       which the public API's output has */
    int stream_c = (double)M * (double)N * 4.0 >= QR_STREAM_BYTES && ((uintptr_t)C & 63) == 0 && ldc % 16 == 0;
    /* the A the vector tasks read: the copy (a ^ ax applied, k padded to Kq), or A itself */
    const uint8_t *Ak = copy_a ? Apad : A;
    Py_ssize_t ldak = copy_a ? Kq : lda;
    uint8_t axk = copy_a ? 0 : ax;
    Py_ssize_t t;
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
#endif
    {
#if QR_X86
        if (tier == QR_TIER_AMX) qr_amx_config();
#endif
        /* the threads first make A's row sums and the tier's copy of A, if any (a ^ ax applied, k
           padded): AMX's tile layout (qr_amx_pack_a, Mp rows), AVX2's widened rows (qr_split_a),
           AVX-VNNI's row groups (qr_pack_a), else rows of Kq bytes (qr_pad_a).
           48 rows at a time: a multiple of each tier's row group.  The barrier at the loop's end:
           A is ready for every task. */
        Py_ssize_t r;
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (r = 0; r < Mp; r += 48) {
            Py_ssize_t r1 = r + 48 < M ? r + 48 : M;
            if (rowsum && r < M) qr_rowsums(A, lda, ax, K, r, r1, rowsum);
            switch (tier) {
#if QR_X86
                case QR_TIER_AMX: qr_amx_pack_a(A, lda, ax, M, K, Kp, r, r + 48 < Mp ? r + 48 : Mp, Apad); break;
                case QR_TIER_AVX2: qr_split_a(A, lda, ax, K, Kq, r, r1, Apad); break;
                case QR_TIER_AVXVNNI:
                    if (pack_a) { qr_pack_a(A, lda, ax, M, K, Kq, 6, r, r1, Apad); break; }
                    /* fall through: rows of Kq bytes, if any */
#endif
                default:
                    if (copy_a) qr_pad_a(A, lda, ax, K, Kq, r, r1, Apad);
                    break;
            }
        }
#ifdef _OPENMP
#pragma omp for schedule(dynamic)
#endif
        for (t = 0; t < ntasks; t++) {
            /* row block by row block: the block's A stays in L2 while the panels stream past it
               (each panel is one contiguous run, which the prefetchers follow; going panel by
               panel instead re-read all of A, six strided rows at a time, for every panel:
               4-10 % slower on AVX-512 VNNI at 1024^3 and 2048^3) */
            Py_ssize_t p = t % npanels;
            Py_ssize_t ib = t / npanels;
            Py_ssize_t i0 = ib * mb, i1 = i0 + mb < M ? i0 + mb : M;
            Py_ssize_t j0 = p * QR_NR, ncols = N - j0 < QR_NR ? N - j0 : QR_NR;
            const int8_t *panel = Bp + p * (Kp * QR_NR);
            /* this thread's partial sums (mb x 64), and the panel it probably runs next (the task
               nthreads on: a guess under dynamic scheduling, which costs nothing when wrong) */
            int32_t *my_part = part ? part + (size_t)qr_thread_num() * mb * 64 : NULL;
            int8_t *my_wide = wide ? wide + (size_t)qr_thread_num() * (QR_KC_AVX2 / 4) * 512 : NULL;
            const int8_t *next_panel = t + nthreads < ntasks ? Bp + ((t + nthreads) % npanels) * (Kp * QR_NR) : NULL;
            switch (tier) {
#if QR_X86
                case QR_TIER_AMX:
                    if (M <= 16)
                        qr_task_amx16(Apad, Kp, M, panel, j0, ncols, colterm, zb, rowsum, C, ldc, my_part,
                                      stream_c);
                    else
                        qr_task_amx(Apad, Kp, i0, i1, panel, j0, ncols, colterm, zb, rowsum, C, ldc, my_part,
                                    stream_c);
                    break;
                case QR_TIER_AVX512VNNI:
                    qr_task_512(Ak, ldak, axk, i0, i1, Kq, panel, j0, ncols, colterm, zb, rowsum, C, ldc, stream_c,
                                my_part, next_panel);
                    break;
                case QR_TIER_AVXVNNI:
                    qr_task_vnni256(Ak, ldak, axk, pack_a, i0, i1, Kq, panel, j0, ncols, colterm, zb, rowsum, C, ldc, stream_c,
                                    my_part, next_panel, NULL);
                    break;
                case QR_TIER_AVX2:
                    qr_task_avx2(Apad, 2 * Kq, 0, 0, i0, i1, Kq, panel, j0, ncols, colterm, zb, rowsum, C, ldc, stream_c,
                                 my_part, next_panel, my_wide);
                    break;
#endif
                default:
                    qr_task_scalar(A, lda, ax, i0, i1, K, panel, j0, ncols, colterm, zb, rowsum, C, ldc);
            }
        }
#if QR_X86
        if (tier == QR_TIER_AMX) qr_amx_release();
#endif
    }
    if (ws_owned) free(ws);
    return 0;
}
#endif /* QUANTREF_GEMM_TIERS_H */
