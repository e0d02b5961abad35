/*
 * Code that must run at its physical address: it turns paging off for a
 * moment.  Linked into .boot (physical = virtual) by the SDK linker script.
 *
 *   uint32_t paging_off_swap(uint32_t pa, uint32_t value);
 *
 * With paging off, reads the word at physical address pa, writes value
 * there, then turns paging back on and returns the word read.  Call it
 * through an identity mapping of this code, with interrupts disabled; the
 * stack is not touched while paging is off.
 */
    .section .boot.text, "ax"
    .globl paging_off_swap
paging_off_swap:
    movl 4(%esp), %ecx
    movl 8(%esp), %edx
    pushl %ebx
    movl %cr0, %ebx
    andl $0x7fffffff, %ebx
    movl %ebx, %cr0                 /* paging off */
    jmp 1f
1:  movl (%ecx), %eax
    movl %edx, (%ecx)
    orl $0x80000000, %ebx
    movl %ebx, %cr0                 /* paging on */
    jmp 2f
2:  popl %ebx
    ret

    .section .note.GNU-stack, "", @progbits
