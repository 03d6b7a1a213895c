/*
 * label_kernels.cu: the CUDA kernels of post-cuda, compiled by NVRTC at run time after label_core.cuh
 * (the host prepends it; NVRTC sees one translation unit).
 *
 * One batch of labels runs as four launches on one stream:
 *   1. post_pbkdf2_in        one thread per label: B = PBKDF2(password) into xbuf (128 bytes a label)
 *   2. post_romix_t{1,4}_g{1,2,4}
 *                            ROMix of every label in place in xbuf, with the scratch table v;
 *                            t1 = one thread per label, t4 = four threads per label (one ChaCha column
 *                            each, full-warp shuffles for the diagonal rounds); g = lookup gap
 *   3. post_pbkdf2_out       one thread per label: the full label; the 16 stored bytes go to out, and
 *                            each block writes its best VRF candidate below the threshold
 *   4. post_vrf_reduce       one block: the best of the blocks' candidates (only when a threshold is set)
 * Splitting the hashing from ROMix keeps the Keccak state out of the ROMix kernel's registers.
 */

#define PC_BLOCK 256

/* 1. PBKDF2 on the way in. */
extern "C" __global__ void __launch_bounds__(PC_BLOCK)
post_pbkdf2_in(pc_u64 c0, pc_u64 c1, pc_u64 c2, pc_u64 c3, pc_u64 start, pc_u32 count, pc_u32 *xbuf) {
    pc_u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    pc_u64 commitment[4] = {c0, c1, c2, c3};
    pc_u64 pw[9];
    pc_u32 x[32];
    pc_password(commitment, start + i, pw);
    pc_pbkdf2_in(pw, x);
    pc_line_store((pc_line_t *)xbuf, i, x);
}

/* 2a. ROMix, one thread per label: X lives in 32 registers, each table entry is one line. */
template <int GAP>
__device__ __forceinline__ void romix_t1(pc_u32 *xbuf, pc_line_t *v, pc_u32 count, pc_u32 n, pc_u32 cap) {
    pc_u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    pc_u32 x[32];
    pc_line_load((const pc_line_t *)xbuf, i, x);
    pc_romix(x, v, n, GAP, cap, i);
    pc_line_store((pc_line_t *)xbuf, i, x);
}

/* 2b. ROMix, four threads per label. Lane q of a group holds column q of both 64-byte blocks
 * (words q, q+4, q+8, q+12 of each) in s[0..4] and s[4..8]; column rounds are local, diagonal rounds
 * rotate rows 1..3 across the group with shuffles and back. In the table, lane q's eight words are
 * bytes 32q..32q+32 of the line, so a group reads one whole line with two 16-byte loads per lane. */
__device__ __forceinline__ void chacha8_t4(pc_u32 s[4], pc_u32 mask, pc_u32 q) {
    pc_u32 a = s[0], b = s[1], c = s[2], d = s[3];
    const int up1 = (q + 1) & 3, up2 = (q + 2) & 3, up3 = (q + 3) & 3;
#pragma unroll
    for (int r = 0; r < 4; r++) {
        PC_QR(a, b, c, d)
        b = __shfl_sync(mask, b, up1, 4);
        c = __shfl_sync(mask, c, up2, 4);
        d = __shfl_sync(mask, d, up3, 4);
        PC_QR(a, b, c, d)
        b = __shfl_sync(mask, b, up3, 4);
        c = __shfl_sync(mask, c, up2, 4);
        d = __shfl_sync(mask, d, up1, 4);
    }
    s[0] += a; s[1] += b; s[2] += c; s[3] += d;
}

__device__ __forceinline__ void blockmix_t4(pc_u32 s[8], pc_u32 mask, pc_u32 q) {
#pragma unroll
    for (int r = 0; r < 4; r++) s[r] ^= s[4 + r];
    chacha8_t4(s, mask, q);
#pragma unroll
    for (int r = 0; r < 4; r++) s[4 + r] ^= s[r];
    chacha8_t4(s + 4, mask, q);
}

template <int GAP>
__device__ __forceinline__ void romix_t4(pc_u32 *xbuf, pc_line_t *v, pc_u32 count, pc_u32 n, pc_u32 cap) {
    const pc_u32 tid = blockIdx.x * blockDim.x + threadIdx.x;
    const pc_u32 label = tid >> 2, q = tid & 3;
    /* The full warp takes part in every shuffle: a partial mask (the group's four lanes) makes the
     * compiler keep a slow collective path. Groups past the end run along without touching memory,
     * and nothing returns early, so every lane of the warp reaches every shuffle. */
    const pc_u32 mask = 0xffffffffu;
    const bool valid = label < count;
    pc_u32 s[8], t[8];
    const pc_u32 *xp = xbuf + (size_t)label * 32;
#pragma unroll
    for (int r = 0; r < 4; r++) {
        s[r] = valid ? xp[q + 4 * r] : 0;
        s[4 + r] = valid ? xp[16 + q + 4 * r] : 0;
    }
    for (pc_u32 i = 0; i < n; i += GAP) {
        if (valid) {
            pc_line_t *p = v + ((size_t)(i / GAP) * cap + label) * 8 + 2 * q;
            p[0] = make_uint4(s[0], s[1], s[2], s[3]);
            p[1] = make_uint4(s[4], s[5], s[6], s[7]);
        }
#pragma unroll
        for (int m = 0; m < GAP; m++) blockmix_t4(s, mask, q);
    }
    for (pc_u32 i = 0; i < n; i++) {
        /* Integerify: word 16 = row 0 of column 0 of the second block, held by lane 0. */
        const pc_u32 j = __shfl_sync(mask, s[4], 0, 4) & (n - 1);
        if (valid) {
            const pc_line_t *p = v + ((size_t)(j / GAP) * cap + label) * 8 + 2 * q;
            pc_line_t a = p[0], b = p[1];
            t[0] = a.x; t[1] = a.y; t[2] = a.z; t[3] = a.w;
            t[4] = b.x; t[5] = b.y; t[6] = b.z; t[7] = b.w;
        } else {
#pragma unroll
            for (int r = 0; r < 8; r++) t[r] = 0;
        }
        if (GAP > 1) {
            /* Advance the entry by j % GAP BlockMix steps. Every lane of the warp runs the same number
             * of steps, the warp's largest (it pays its slowest lane anyway), so that the shuffles
             * inside BlockMix always have the full warp; a group keeps the result of its own step. */
            const pc_u32 steps = j % GAP;
            pc_u32 most = steps;
#pragma unroll
            for (int lanes = 16; lanes >= 4; lanes >>= 1) {
                const pc_u32 other = __shfl_xor_sync(mask, most, lanes);
                most = other > most ? other : most;
            }
            for (pc_u32 m = 0; m < most; m++) {
                pc_u32 u[8];
#pragma unroll
                for (int r = 0; r < 8; r++) u[r] = t[r];
                blockmix_t4(u, mask, q);
                if (m < steps) {
#pragma unroll
                    for (int r = 0; r < 8; r++) t[r] = u[r];
                }
            }
        }
#pragma unroll
        for (int r = 0; r < 8; r++) s[r] ^= t[r];
        blockmix_t4(s, mask, q);
    }
    if (valid) {
        pc_u32 *xo = xbuf + (size_t)label * 32;
#pragma unroll
        for (int r = 0; r < 4; r++) {
            xo[q + 4 * r] = s[r];
            xo[16 + q + 4 * r] = s[4 + r];
        }
    }
}

#define PC_ROMIX_KERNEL(NAME, BODY, GAP)                                                               \
    extern "C" __global__ void __launch_bounds__(PC_BLOCK)                                           \
    NAME(pc_u32 *xbuf, pc_line_t *v, pc_u32 count, pc_u32 n, pc_u32 cap) {                           \
        BODY<GAP>(xbuf, v, count, n, cap);                                                           \
    }

PC_ROMIX_KERNEL(post_romix_t1_g1, romix_t1, 1)
PC_ROMIX_KERNEL(post_romix_t1_g2, romix_t1, 2)
PC_ROMIX_KERNEL(post_romix_t1_g4, romix_t1, 4)
PC_ROMIX_KERNEL(post_romix_t4_g1, romix_t4, 1)
PC_ROMIX_KERNEL(post_romix_t4_g2, romix_t4, 2)
PC_ROMIX_KERNEL(post_romix_t4_g4, romix_t4, 4)

/* Reduces the candidates of a block in shared memory; thread 0 ends with the best in cand. */
__device__ __forceinline__ void block_best(pc_u64 cand[PC_CAND_WORDS], pc_u64 (*shared)[PC_BLOCK]) {
    const pc_u32 tx = threadIdx.x;
#pragma unroll
    for (int k = 0; k < PC_CAND_WORDS; k++) shared[k][tx] = cand[k];
    __syncthreads();
    for (pc_u32 stride = PC_BLOCK / 2; stride > 0; stride >>= 1) {
        if (tx < stride) {
            pc_u64 other[PC_CAND_WORDS];
#pragma unroll
            for (int k = 0; k < PC_CAND_WORDS; k++) other[k] = shared[k][tx + stride];
            if (pc_cand_less(other, cand)) {
#pragma unroll
                for (int k = 0; k < PC_CAND_WORDS; k++) {
                    cand[k] = other[k];
                    shared[k][tx] = other[k];
                }
            }
        }
        __syncthreads();
    }
}

/* 3. PBKDF2 on the way out, the stored 16 bytes, and the block's best VRF candidate. */
extern "C" __global__ void __launch_bounds__(PC_BLOCK)
post_pbkdf2_out(pc_u64 c0, pc_u64 c1, pc_u64 c2, pc_u64 c3, pc_u64 start, pc_u32 count, const pc_u32 *xbuf,
                pc_u64 *out, pc_u64 t0, pc_u64 t1, pc_u64 t2, pc_u64 t3, pc_u32 use_vrf, pc_u64 *block_cands) {
    __shared__ pc_u64 shared[PC_CAND_WORDS][PC_BLOCK];
    const pc_u32 i = blockIdx.x * blockDim.x + threadIdx.x;
    pc_u64 cand[PC_CAND_WORDS] = {0, 0, 0, 0, 0, 0};
    if (i < count) {
        pc_u64 commitment[4] = {c0, c1, c2, c3};
        pc_u64 pw[9], label[4];
        pc_u32 x[32];
        pc_password(commitment, start + i, pw);
        pc_line_load((const pc_line_t *)xbuf, i, x);
        pc_pbkdf2_out(pw, x, label);
        out[2 * (size_t)i] = label[0];
        out[2 * (size_t)i + 1] = label[1];
        const pc_u64 threshold[4] = {t0, t1, t2, t3};
        if (use_vrf && pc_below(label, threshold)) {
            cand[0] = 1;
            cand[1] = start + i;
#pragma unroll
            for (int k = 0; k < 4; k++) cand[2 + k] = pc_bswap64(label[k]);
        }
    }
    if (!use_vrf) return; /* uniform across the grid */
    block_best(cand, shared);
    if (threadIdx.x == 0) {
#pragma unroll
        for (int k = 0; k < PC_CAND_WORDS; k++) block_cands[(size_t)blockIdx.x * PC_CAND_WORDS + k] = cand[k];
    }
}

/* 4. The best of nblocks candidates, by one block of PC_BLOCK threads. */
extern "C" __global__ void __launch_bounds__(PC_BLOCK)
post_vrf_reduce(const pc_u64 *block_cands, pc_u32 nblocks, pc_u64 *result) {
    __shared__ pc_u64 shared[PC_CAND_WORDS][PC_BLOCK];
    pc_u64 cand[PC_CAND_WORDS] = {0, 0, 0, 0, 0, 0};
    for (pc_u32 b = threadIdx.x; b < nblocks; b += PC_BLOCK) {
        pc_u64 other[PC_CAND_WORDS];
#pragma unroll
        for (int k = 0; k < PC_CAND_WORDS; k++) other[k] = block_cands[(size_t)b * PC_CAND_WORDS + k];
        if (pc_cand_less(other, cand)) {
#pragma unroll
            for (int k = 0; k < PC_CAND_WORDS; k++) cand[k] = other[k];
        }
    }
    block_best(cand, shared);
    if (threadIdx.x == 0) {
#pragma unroll
        for (int k = 0; k < PC_CAND_WORDS; k++) result[k] = cand[k];
    }
}
