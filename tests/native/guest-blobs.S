/*
 * Hand-assembled guest code for the native-execution tests and benchmark.
 * Every blob exists twice, assembled from guest-blobs.inc: blob32_* for
 * compatibility mode (CS 0x23) and blob64_* for 64-bit mode at low addresses
 * (CS 0x33, for hosts without a 32-bit code segment).  MARK labels name the
 * addresses where the tests expect traps.
 */
#include "tests/native/guest-layout.h"

#define BLOB(name) .globl SYM(name); .type SYM(name),@object; SYM(name):
#define END(name) .globl SYM(name##_end); SYM(name##_end):
#define MARK(name) .globl SYM(name); SYM(name):
/* Guest address of a label inside the blob that starts at base. */
#define GADDR(label, base) (BLOB_BASE + ((label) - (base)))

    .section .rodata

#define SYM(n) blob32_##n
#define FLAVOR_CODE .code32
#define FLAVOR_BITS 32
#include "tests/native/guest-blobs.inc"
#undef SYM
#undef FLAVOR_CODE
#undef FLAVOR_BITS

#define SYM(n) blob64_##n
#define FLAVOR_CODE .code64
#define FLAVOR_BITS 64
#include "tests/native/guest-blobs.inc"

    .code64
    .text
/* A host `syscall; ret` above 4 GiB, as any stub code would offer. */
    .globl test_syscall_gadget
    .type test_syscall_gadget,@function
test_syscall_gadget:
    syscall
    ret
    .size test_syscall_gadget, .-test_syscall_gadget

    .section .note.GNU-stack,"",@progbits
