/*
 * shim.c: exports the functions of label_core.cuh (the CUDA kernels' math) with C linkage for the
 * host tests. A general Keccak-512 sponge is added here, test-only, to check pc_keccakf against an
 * independent implementation on messages of any length.
 */
#include <string.h>
#include "label_core.cuh"

void pc_host_keccakf(pc_u64 s[25]) { pc_keccakf(s); }

/* Original Keccak-512 (rate 72, pad 0x01 .. 0x80) of any message, built on pc_keccakf. */
void pc_host_keccak512(const pc_u8 *msg, size_t len, pc_u8 out[64]) {
    pc_u64 s[25];
    pc_u8 block[72];
    memset(s, 0, sizeof s);
    for (;;) {
        size_t take = len < 72 ? len : 72;
        memset(block, 0, sizeof block);
        memcpy(block, msg, take);
        if (take < 72) {
            block[take] ^= 0x01;
            block[71] ^= 0x80;
        }
        for (int i = 0; i < 9; i++) {
            pc_u64 lane = 0;
            for (int b = 7; b >= 0; b--) lane = (lane << 8) | block[8 * i + b];
            s[i] ^= lane;
        }
        pc_keccakf(s);
        if (take < 72) break;
        msg += 72;
        len -= 72;
    }
    for (int i = 0; i < 8; i++)
        for (int b = 0; b < 8; b++) out[8 * i + b] = (pc_u8)(s[i] >> (8 * b));
}

void pc_host_chacha8(pc_u32 b[16]) { pc_chacha8(b); }

void pc_host_blockmix(pc_u32 x[32]) { pc_blockmix(x); }

void pc_host_pbkdf2_in(const pc_u64 pw[9], pc_u32 x[32]) { pc_pbkdf2_in(pw, x); }

void pc_host_pbkdf2_out(const pc_u64 pw[9], const pc_u32 x[32], pc_u64 out[4]) { pc_pbkdf2_out(pw, x, out); }

void pc_host_romix(pc_u32 x[32], pc_u32 *v, pc_u32 n, pc_u32 gap, pc_u64 cap, pc_u64 label) {
    pc_romix(x, v, n, gap, cap, label);
}

void pc_host_label_full(const pc_u64 commitment[4], pc_u64 index, pc_u32 n, pc_u32 gap, pc_u32 *v, pc_u64 cap,
                        pc_u64 label, pc_u64 out[4]) {
    pc_label_full(commitment, index, n, gap, v, cap, label, out);
}

int pc_host_cand_less(const pc_u64 a[PC_CAND_WORDS], const pc_u64 b[PC_CAND_WORDS]) { return pc_cand_less(a, b); }

int pc_host_below(const pc_u64 label[4], const pc_u64 threshold_be[4]) { return pc_below(label, threshold_be); }
