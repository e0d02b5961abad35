/*
 * LilyVM rewritten-instruction encoding: the contract between the rewriting
 * toolchain (lily-as, lily-check) and the CPU plugin that emulates the sites.
 *
 * A rewrite site is two things laid back to back:
 *
 *     CD vv            int $vv, vv one of the LILY_REWRITE_VEC_* below
 *     <original>       the original sensitive instruction, byte for byte,
 *                      exactly as the assembler encoded it (prefixes,
 *                      ModRM, SIB, displacement, relocations and all)
 *
 * In the guest process `int $vv` raises #GP (the host IDT gate has DPL 0), so
 * the guest traps with EIP at the CD byte and the original instruction never
 * runs natively.  The VM reads the vector at EIP+1, decodes the instruction
 * at EIP+2 in 32-bit legacy mode (Zydis), checks that it belongs to the
 * vector's class (LILY_REWRITE_VECTORS, column 4), emulates it against the
 * guest's virtual state (flags, descriptor tables, selectors, CR0) and
 * resumes at EIP + LILY_REWRITE_TRAP_LEN + length of the original.
 *
 * Only code built with lily-cc contains sites, and that is guest kernel code:
 * the VM treats CD vv as a site when the guest runs at virtual CPL 0, and as
 * an ordinary software interrupt otherwise.  lily-as escapes an explicit
 * `int $n` with n in the reserved range as a LILY_REWRITE_VEC_INT site, so
 * no kernel instruction is ever ambiguous.
 *
 * See docs/rewriting.md for the table of forms.
 */
#ifndef LILYVM_REWRITE_H
#define LILYVM_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The trap instruction that opens every site: `int imm8` (opcode, vector). */
#define LILY_REWRITE_TRAP_OPCODE 0xCDu
#define LILY_REWRITE_TRAP_LEN 2u

/*
 * X(vector, NAME, "name", "original instructions (AT&T, any size suffix)")
 * One row per rewritten operation; the vectors are contiguous.
 */
#define LILY_REWRITE_VECTORS(X)                                                  \
    X(0xE0, PUSHF, "pushf", "pushf pushfw pushfl")                               \
    X(0xE1, POPF, "popf", "popf popfw popfl")                                    \
    X(0xE2, MOV_SREG, "mov-sreg", "mov %sreg, r/m16|r32 (opcode 8C)")            \
    X(0xE3, PUSH_SREG, "push-sreg", "push %cs|%ss|%ds|%es|%fs|%gs")              \
    X(0xE4, SGDT, "sgdt", "sgdt m")                                              \
    X(0xE5, SIDT, "sidt", "sidt m")                                              \
    X(0xE6, SLDT, "sldt", "sldt r/m")                                            \
    X(0xE7, STR, "str", "str r/m")                                               \
    X(0xE8, SMSW, "smsw", "smsw r/m")                                            \
    X(0xE9, LAR, "lar", "lar r/m, r")                                            \
    X(0xEA, LSL, "lsl", "lsl r/m, r")                                            \
    X(0xEB, VERR, "verr", "verr r/m16")                                          \
    X(0xEC, VERW, "verw", "verw r/m16")                                          \
    X(0xED, INT, "int", "int $n with n in the reserved range (escape)")

enum {
#define LILY_REWRITE_ENUM_(vec, NAME, name, orig) LILY_REWRITE_VEC_##NAME = (vec),
    LILY_REWRITE_VECTORS(LILY_REWRITE_ENUM_)
#undef LILY_REWRITE_ENUM_
};

/* The reserved vector range, inclusive. */
#define LILY_REWRITE_VEC_FIRST LILY_REWRITE_VEC_PUSHF
#define LILY_REWRITE_VEC_LAST LILY_REWRITE_VEC_INT

/** lily_rewrite_is_vector() - Whether @vec is one of the reserved vectors. */
static inline bool lily_rewrite_is_vector(unsigned vec)
{
    return vec >= LILY_REWRITE_VEC_FIRST && vec <= LILY_REWRITE_VEC_LAST;
}

/**
 * lily_rewrite_site_vector() - Recognise the trap that opens a site.
 * @code: the bytes at the trapping EIP
 * @avail: how many bytes of @code are readable
 *
 * Return: the vector (LILY_REWRITE_VEC_*) when @code starts with `int $vv`
 * and vv is reserved and at least one byte of the original follows; -1
 * otherwise.  The caller still decodes the original at
 * @code + LILY_REWRITE_TRAP_LEN and checks it matches the vector.
 */
static inline int lily_rewrite_site_vector(const uint8_t *code, size_t avail)
{
    if (avail <= LILY_REWRITE_TRAP_LEN || code[0] != LILY_REWRITE_TRAP_OPCODE)
        return -1;
    return lily_rewrite_is_vector(code[1]) ? (int)code[1] : -1;
}

/** lily_rewrite_vector_name() - Short name of a reserved vector, or NULL. */
static inline const char *lily_rewrite_vector_name(unsigned vec)
{
    switch (vec) {
#define LILY_REWRITE_NAME_(v, NAME, name, orig) \
    case (v):                                   \
        return (name);
        LILY_REWRITE_VECTORS(LILY_REWRITE_NAME_)
#undef LILY_REWRITE_NAME_
    default:
        return NULL;
    }
}

#ifdef __cplusplus
}
#endif

#endif /* LILYVM_REWRITE_H */
