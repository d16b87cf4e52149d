/* SPDX-License-Identifier: MIT */
/*
 * The kernel's classic-BPF semantics for a seccomp program, in user space: what verdict it
 * gives one system call. The tests compare the build-time programs with libseccomp's verdict
 * for verdict, and bench/spawn-bench.c turns keel's filter into an OCI profile for crun and
 * runc and checks it the same way; neither may trust a program it cannot evaluate.
 */
#include <linux/seccomp.h>
#include <stdbool.h>
#include <string.h>

#include "macros.h"
#include "seccomp-program.h"

static int alu(uint32_t *a, uint16_t op, uint32_t src) {
        switch (op) {
        case BPF_ADD:
                *a += src;
                return 0;
        case BPF_SUB:
                *a -= src;
                return 0;
        case BPF_MUL:
                *a *= src;
                return 0;
        case BPF_DIV:
        case BPF_MOD:
                if (src == 0) /* the kernel's checker refuses a constant 0; at run time it returns 0 */
                        return -EINVAL;
                *a = op == BPF_DIV ? *a / src : *a % src;
                return 0;
        case BPF_OR:
                *a |= src;
                return 0;
        case BPF_AND:
                *a &= src;
                return 0;
        case BPF_XOR:
                *a ^= src;
                return 0;
        case BPF_LSH:
                *a = src < 32 ? *a << src : 0;
                return 0;
        case BPF_RSH:
                *a = src < 32 ? *a >> src : 0;
                return 0;
        case BPF_NEG:
                *a = -*a;
                return 0;
        default:
                return -EINVAL;
        }
}

int seccomp_program_eval(const SeccompProgram *p, const struct seccomp_data *d, uint32_t *ret) {
        uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = { 0 };
        for (size_t pc = 0; pc < p->len; pc++) {
                const struct sock_filter *f = &p->insns[pc];
                uint32_t k = f->k, src = BPF_SRC(f->code) == BPF_X ? x : k, v;
                switch (BPF_CLASS(f->code)) {
                case BPF_LD:
                case BPF_LDX:
                        if (BPF_MODE(f->code) == BPF_ABS && k % 4 == 0 && k + 4 <= sizeof *d)
                                memcpy(&v, (const char *) d + k, 4);
                        else if (BPF_MODE(f->code) == BPF_IMM)
                                v = k;
                        else if (BPF_MODE(f->code) == BPF_MEM && k < BPF_MEMWORDS)
                                v = mem[k];
                        else if (BPF_MODE(f->code) == BPF_LEN)
                                v = sizeof *d;
                        else
                                return -EINVAL;
                        *(BPF_CLASS(f->code) == BPF_LD ? &a : &x) = v;
                        break;
                case BPF_ST:
                case BPF_STX:
                        if (k >= BPF_MEMWORDS)
                                return -EINVAL;
                        mem[k] = BPF_CLASS(f->code) == BPF_ST ? a : x;
                        break;
                case BPF_ALU:
                        if (alu(&a, BPF_OP(f->code), src) < 0)
                                return -EINVAL;
                        break;
                case BPF_JMP:
                        if (BPF_OP(f->code) == BPF_JA)
                                pc += k;
                        else {
                                bool c = BPF_OP(f->code) == BPF_JEQ   ? a == src
                                         : BPF_OP(f->code) == BPF_JGT ? a > src
                                         : BPF_OP(f->code) == BPF_JGE ? a >= src
                                                                      : (a & src) != 0;
                                pc += c ? f->jt : f->jf;
                        }
                        break;
                case BPF_RET:
                        *ret = BPF_RVAL(f->code) == BPF_A ? a : k;
                        return 0;
                case BPF_MISC:
                        if (BPF_MISCOP(f->code) == BPF_TAX)
                                x = a;
                        else
                                a = x;
                        break;
                default:
                        return -EINVAL;
                }
        }
        return -EINVAL; /* fell off the end: the kernel would have refused the program */
}
