/*
 * label_core.cuh: the Spacemesh PoST label function (spec §2) written once, for two compilers.
 *
 * The same text is compiled as CUDA C++ by NVRTC at run time (inside the GPU kernels, see
 * label_kernels.cu) and as plain C on the host by a test-only build (post-cuda/hostc), where it is
 * checked against the reference labeller and the shared vectors in every CI run. The GPU-only parts
 * (the four-threads-per-label ChaCha with warp shuffles, launch code) live in label_kernels.cu.
 *
 * The label function, for r = p = 1:
 *   1. password = commitment[32] || u64le(index) || 0^32            (72 bytes = 9 Keccak lanes)
 *   2. B = PBKDF2-HMAC-Keccak512(password, salt = "", 128 bytes)    (original Keccak padding)
 *   3. X = ROMix_N(B) with BlockMix over the ChaCha20/8 core
 *   4. label_full = PBKDF2-HMAC-Keccak512(password, salt = X, 32 bytes); the stored label is bytes 0..16
 *
 * ROMix keeps every `gap`-th entry of the scratch table V and recomputes the others (lookup gap).
 * Entry k of label `label` is the 128-byte line number k * cap + label: the table is interleaved so
 * that one random read is one whole line and a warp's sequential writes are neighbours.
 */
#ifndef POST_LABEL_CORE_CUH
#define POST_LABEL_CORE_CUH

typedef unsigned char pc_u8;
typedef unsigned int pc_u32;
typedef unsigned long long pc_u64;

#ifdef __CUDACC__
#define PC_FN __device__ __forceinline__
#define PC_CONSTANT __constant__ const
#define PC_ROTL32(x, n) __funnelshift_l((x), (x), (n))
#define PC_UNROLL _Pragma("unroll")
#else
#define PC_FN static inline
#define PC_CONSTANT static const
#define PC_ROTL32(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define PC_UNROLL
#endif

#define PC_ROTL64(x, n) (((x) << (n)) | ((x) >> (64 - (n))))

/* Keccak-f[1600] round constants. */
PC_CONSTANT pc_u64 PC_KECCAK_RC[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808AULL, 0x8000000080008000ULL,
    0x000000000000808BULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008AULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000AULL,
    0x000000008000808BULL, 0x800000000000008BULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800AULL, 0x800000008000000AULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};

/* Keccak-f[1600] on 25 lanes, lane i = (x, y) with i = x + 5 y. The rho-pi step is written out so
 * that every index is a constant and the state stays in registers on the GPU. */
PC_FN void pc_keccakf(pc_u64 s[25]) {
    for (int round = 0; round < 24; round++) {
        pc_u64 c[5], d[5], t, u;
        /* 1. theta */
        PC_UNROLL
        for (int x = 0; x < 5; x++) c[x] = s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20];
        PC_UNROLL
        for (int x = 0; x < 5; x++) d[x] = c[(x + 4) % 5] ^ PC_ROTL64(c[(x + 1) % 5], 1);
        PC_UNROLL
        for (int i = 0; i < 25; i++) s[i] ^= d[i % 5];
        /* 2. rho and pi */
        t = s[1];
        u = s[10]; s[10] = PC_ROTL64(t, 1); t = u;
        u = s[7]; s[7] = PC_ROTL64(t, 3); t = u;
        u = s[11]; s[11] = PC_ROTL64(t, 6); t = u;
        u = s[17]; s[17] = PC_ROTL64(t, 10); t = u;
        u = s[18]; s[18] = PC_ROTL64(t, 15); t = u;
        u = s[3]; s[3] = PC_ROTL64(t, 21); t = u;
        u = s[5]; s[5] = PC_ROTL64(t, 28); t = u;
        u = s[16]; s[16] = PC_ROTL64(t, 36); t = u;
        u = s[8]; s[8] = PC_ROTL64(t, 45); t = u;
        u = s[21]; s[21] = PC_ROTL64(t, 55); t = u;
        u = s[24]; s[24] = PC_ROTL64(t, 2); t = u;
        u = s[4]; s[4] = PC_ROTL64(t, 14); t = u;
        u = s[15]; s[15] = PC_ROTL64(t, 27); t = u;
        u = s[23]; s[23] = PC_ROTL64(t, 41); t = u;
        u = s[19]; s[19] = PC_ROTL64(t, 56); t = u;
        u = s[13]; s[13] = PC_ROTL64(t, 8); t = u;
        u = s[12]; s[12] = PC_ROTL64(t, 25); t = u;
        u = s[2]; s[2] = PC_ROTL64(t, 43); t = u;
        u = s[20]; s[20] = PC_ROTL64(t, 62); t = u;
        u = s[14]; s[14] = PC_ROTL64(t, 18); t = u;
        u = s[22]; s[22] = PC_ROTL64(t, 39); t = u;
        u = s[9]; s[9] = PC_ROTL64(t, 61); t = u;
        u = s[6]; s[6] = PC_ROTL64(t, 20); t = u;
        u = s[1]; s[1] = PC_ROTL64(t, 44); t = u;
        (void)u;
        /* 3. chi */
        PC_UNROLL
        for (int y = 0; y < 25; y += 5) {
            PC_UNROLL
            for (int x = 0; x < 5; x++) c[x] = s[y + x];
            PC_UNROLL
            for (int x = 0; x < 5; x++) s[y + x] = c[x] ^ (~c[(x + 1) % 5] & c[(x + 2) % 5]);
        }
        /* 4. iota */
        s[0] ^= PC_KECCAK_RC[round];
    }
}

/* The 72-byte password as 9 little-endian lanes: commitment, index, then zeros. */
PC_FN void pc_password(const pc_u64 commitment[4], pc_u64 index, pc_u64 pw[9]) {
    PC_UNROLL
    for (int i = 0; i < 4; i++) pw[i] = commitment[i];
    pw[4] = index;
    PC_UNROLL
    for (int i = 5; i < 9; i++) pw[i] = 0;
}

/* The Keccak state after absorbing one 72-byte block: the key XOR the HMAC pad byte. The password is
 * exactly one block long, so HMAC uses it as the key block with no hashing or padding. */
PC_FN void pc_hmac_keyed(const pc_u64 pw[9], pc_u64 pad, pc_u64 s[25]) {
    PC_UNROLL
    for (int i = 0; i < 9; i++) s[i] = pw[i] ^ pad;
    PC_UNROLL
    for (int i = 9; i < 25; i++) s[i] = 0;
    pc_keccakf(s);
}

#define PC_IPAD 0x3636363636363636ULL
#define PC_OPAD 0x5c5c5c5c5c5c5c5cULL
/* Original Keccak padding of a message that ends inside a block: 0x01 after it, 0x80 in byte 71. */
#define PC_PAD_LAST 0x8000000000000000ULL

/* Byte-swaps a 32-bit word: PBKDF2's block counter is big-endian. */
PC_FN pc_u32 pc_bswap32(pc_u32 v) {
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

/* Byte-swaps a 64-bit word: labels compare as big-endian numbers. */
PC_FN pc_u64 pc_bswap64(pc_u64 v) {
    return ((pc_u64)pc_bswap32((pc_u32)v) << 32) | (pc_u64)pc_bswap32((pc_u32)(v >> 32));
}

/* The outer HMAC hash: H((K ^ opad) || inner[64]). The 64-byte inner digest plus padding is one block. */
PC_FN void pc_hmac_outer(const pc_u64 pw[9], const pc_u64 inner[8], pc_u64 out[8]) {
    pc_u64 s[25];
    pc_hmac_keyed(pw, PC_OPAD, s);
    PC_UNROLL
    for (int i = 0; i < 8; i++) s[i] ^= inner[i];
    s[8] ^= 0x01ULL | PC_PAD_LAST;
    pc_keccakf(s);
    PC_UNROLL
    for (int i = 0; i < 8; i++) out[i] = s[i];
}

/* PBKDF2 with the empty salt, one iteration, 128 bytes: T_i = HMAC(pw, u32be(i)) for i = 1, 2.
 * The output is 32 little-endian words. */
PC_FN void pc_pbkdf2_in(const pc_u64 pw[9], pc_u32 x[32]) {
    for (int blk = 0; blk < 2; blk++) {
        pc_u64 s[25], t[8];
        pc_hmac_keyed(pw, PC_IPAD, s);
        /* u32be(i) in bytes 0..4, the 0x01 pad byte at byte 4, 0x80 at byte 71 */
        s[0] ^= (pc_u64)pc_bswap32((pc_u32)(blk + 1)) | (0x01ULL << 32);
        s[8] ^= PC_PAD_LAST;
        pc_keccakf(s);
        pc_hmac_outer(pw, s, t);
        PC_UNROLL
        for (int i = 0; i < 8; i++) {
            x[16 * blk + 2 * i] = (pc_u32)t[i];
            x[16 * blk + 2 * i + 1] = (pc_u32)(t[i] >> 32);
        }
    }
}

/* PBKDF2 with salt = X (128 bytes), one iteration, 32 bytes: the first four lanes of
 * HMAC(pw, X || u32be(1)). */
PC_FN void pc_pbkdf2_out(const pc_u64 pw[9], const pc_u32 x[32], pc_u64 out[4]) {
    pc_u64 s[25], t[8];
    pc_hmac_keyed(pw, PC_IPAD, s);
    /* 1. bytes 0..72 of the salt */
    PC_UNROLL
    for (int i = 0; i < 9; i++) s[i] ^= (pc_u64)x[2 * i] | ((pc_u64)x[2 * i + 1] << 32);
    pc_keccakf(s);
    /* 2. bytes 72..128 of the salt, u32be(1) in bytes 56..60 of the block, then the padding */
    PC_UNROLL
    for (int i = 0; i < 7; i++) s[i] ^= (pc_u64)x[18 + 2 * i] | ((pc_u64)x[19 + 2 * i] << 32);
    s[7] ^= (0x01ULL << 24) | (0x01ULL << 32);
    s[8] ^= PC_PAD_LAST;
    pc_keccakf(s);
    pc_hmac_outer(pw, s, t);
    PC_UNROLL
    for (int i = 0; i < 4; i++) out[i] = t[i];
}

#define PC_QR(a, b, c, d)                                                                            \
    a += b; d ^= a; d = PC_ROTL32(d, 16);                                                            \
    c += d; b ^= c; b = PC_ROTL32(b, 12);                                                            \
    a += b; d ^= a; d = PC_ROTL32(d, 8);                                                             \
    c += d; b ^= c; b = PC_ROTL32(b, 7);

/* The ChaCha20/8 core on a 64-byte block in place: four double rounds, then the input is added. The
 * block is the state as it is (no constants, key or nonce layout). */
PC_FN void pc_chacha8(pc_u32 b[16]) {
    pc_u32 x0 = b[0], x1 = b[1], x2 = b[2], x3 = b[3], x4 = b[4], x5 = b[5], x6 = b[6], x7 = b[7];
    pc_u32 x8 = b[8], x9 = b[9], x10 = b[10], x11 = b[11], x12 = b[12], x13 = b[13], x14 = b[14],
           x15 = b[15];
    PC_UNROLL
    for (int i = 0; i < 4; i++) {
        PC_QR(x0, x4, x8, x12) PC_QR(x1, x5, x9, x13) PC_QR(x2, x6, x10, x14) PC_QR(x3, x7, x11, x15)
        PC_QR(x0, x5, x10, x15) PC_QR(x1, x6, x11, x12) PC_QR(x2, x7, x8, x13) PC_QR(x3, x4, x9, x14)
    }
    b[0] += x0; b[1] += x1; b[2] += x2; b[3] += x3; b[4] += x4; b[5] += x5; b[6] += x6; b[7] += x7;
    b[8] += x8; b[9] += x9; b[10] += x10; b[11] += x11; b[12] += x12; b[13] += x13; b[14] += x14;
    b[15] += x15;
}

/* BlockMix for r = 1 in place: Y0 = ChaCha(B1 ^ B0), Y1 = ChaCha(Y0 ^ B1), result (Y0, Y1). */
PC_FN void pc_blockmix(pc_u32 x[32]) {
    PC_UNROLL
    for (int i = 0; i < 16; i++) x[i] ^= x[16 + i];
    pc_chacha8(x);
    PC_UNROLL
    for (int i = 0; i < 16; i++) x[16 + i] ^= x[i];
    pc_chacha8(x + 16);
}

/* The scratch table: lines of 128 bytes. The GPU reads and writes them as 16-byte vectors; the host
 * build uses plain words. */
#ifdef __CUDACC__
typedef uint4 pc_line_t;
PC_FN void pc_line_store(pc_line_t *v, pc_u64 line, const pc_u32 x[32]) {
    pc_line_t *p = v + line * 8;
    PC_UNROLL
    for (int k = 0; k < 8; k++) p[k] = make_uint4(x[4 * k], x[4 * k + 1], x[4 * k + 2], x[4 * k + 3]);
}
PC_FN void pc_line_load(const pc_line_t *v, pc_u64 line, pc_u32 t[32]) {
    const pc_line_t *p = v + line * 8;
    PC_UNROLL
    for (int k = 0; k < 8; k++) {
        pc_line_t q = p[k];
        t[4 * k] = q.x; t[4 * k + 1] = q.y; t[4 * k + 2] = q.z; t[4 * k + 3] = q.w;
    }
}
#else
typedef pc_u32 pc_line_t;
PC_FN void pc_line_store(pc_line_t *v, pc_u64 line, const pc_u32 x[32]) {
    for (int k = 0; k < 32; k++) v[line * 32 + k] = x[k];
}
PC_FN void pc_line_load(const pc_line_t *v, pc_u64 line, pc_u32 t[32]) {
    for (int k = 0; k < 32; k++) t[k] = v[line * 32 + k];
}
#endif

/* ROMix with lookup gap `gap` (a power of two, at most n) for label slot `label` of a table whose
 * entries are `cap` lines apart:
 *   1. for i in 0..n: if i % gap == 0 store X as entry i / gap; X = BlockMix(X)
 *   2. n times: j = X.word[16] & (n - 1); T = entry j / gap advanced by j % gap BlockMix steps;
 *      X = BlockMix(X ^ T)
 */
PC_FN void pc_romix(pc_u32 x[32], pc_line_t *v, pc_u32 n, pc_u32 gap, pc_u64 cap, pc_u64 label) {
    pc_u32 t[32];
    for (pc_u32 i = 0; i < n; i += gap) {
        pc_line_store(v, (pc_u64)(i / gap) * cap + label, x);
        for (pc_u32 m = 0; m < gap; m++) pc_blockmix(x);
    }
    for (pc_u32 i = 0; i < n; i++) {
        pc_u32 j = x[16] & (n - 1);
        pc_line_load(v, (pc_u64)(j / gap) * cap + label, t);
        for (pc_u32 m = 0; m < j % gap; m++) pc_blockmix(t);
        PC_UNROLL
        for (int k = 0; k < 32; k++) x[k] ^= t[k];
        pc_blockmix(x);
    }
}

/* The full 32-byte label as four little-endian lanes (byte 0 of the label is the low byte of lane 0). */
PC_FN void pc_label_full(const pc_u64 commitment[4], pc_u64 index, pc_u32 n, pc_u32 gap, pc_line_t *v, pc_u64 cap,
                         pc_u64 label, pc_u64 out[4]) {
    pc_u64 pw[9];
    pc_u32 x[32];
    pc_password(commitment, index, pw);
    pc_pbkdf2_in(pw, x);
    pc_romix(x, v, n, gap, cap, label);
    pc_pbkdf2_out(pw, x, out);
}

/* A VRF candidate: found flag, label index, then the full label as four big-endian words so that
 * comparing the words in order compares the labels as byte strings. */
#define PC_CAND_WORDS 6

/* Whether candidate a is better than b: found beats not found, then the smaller label, then the lower
 * index (what a sequential search in index order keeps). */
PC_FN int pc_cand_less(const pc_u64 a[PC_CAND_WORDS], const pc_u64 b[PC_CAND_WORDS]) {
    if (a[0] != b[0]) return a[0] > b[0];
    if (a[0] == 0) return 0;
    for (int k = 2; k < PC_CAND_WORDS; k++) {
        if (a[k] != b[k]) return a[k] < b[k];
    }
    return a[1] < b[1];
}

/* Whether the label (lanes, little-endian) is strictly below the threshold (big-endian words). */
PC_FN int pc_below(const pc_u64 label[4], const pc_u64 threshold_be[4]) {
    for (int k = 0; k < 4; k++) {
        pc_u64 w = pc_bswap64(label[k]);
        if (w != threshold_be[k]) return w < threshold_be[k];
    }
    return 0;
}

#endif /* POST_LABEL_CORE_CUH */
