/*
 * A minimal Multiboot kernel for the loader tests: a header, an entry point,
 * a data pattern the tests look for and a bss the loader must zero.
 */
#define MB_MAGIC 0x1BADB002
#ifdef ADDRESS_FIELDS
#define MB_FLAGS 0x00010003 /* page-align, memory info, address fields */
#else
#define MB_FLAGS 0x00000003 /* page-align, memory info */
#endif

    .section .multiboot, "a"
    .align 4
mb_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
#ifdef ADDRESS_FIELDS
    .long mb_header     /* header_addr */
    .long mb_header     /* load_addr: the image starts with the header */
    .long _edata        /* load_end_addr */
    .long _end          /* bss_end_addr */
    .long _start        /* entry_addr */
#endif

    .text
    .globl _start
_start:
    cli
1:  hlt
    jmp 1b

    .data
    .globl loader_test_pattern
loader_test_pattern:
    .asciz "LilyVM loader test pattern"

    .bss
    .globl loader_test_bss
loader_test_bss:
    .skip 8192

    .section .note.GNU-stack, "", @progbits
