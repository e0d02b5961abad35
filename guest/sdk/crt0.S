/*
 * Entry point of SDK kernels: the Multiboot v1 header, then boot code that
 * runs at physical addresses, maps the kernel high with 4 MiB pages, enables
 * paging and calls kmain(magic, multiboot_info_physical) on the boot stack.
 */
#define KERNEL_VMA 0xC0000000
#define MB_MAGIC   0x1BADB002
#define MB_FLAGS   0x00000003 /* page-aligned modules, memory information */
#define PDE_BIG    0x83       /* present, writable, 4 MiB */
#define HIGH_PDES  16         /* 64 MiB at KERNEL_VMA */
#define BOOT_STACK_SIZE 16384

    .section .multiboot, "a"
    .p2align 2
multiboot_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .boot.text, "ax"
    .code32
    .globl _start
_start:
    cli
    cld
    movl %eax, %esi                 /* keep the loader's magic and info pointer */
    movl %ebx, %edi

    /* Clear the boot page directory (it lives in .bss, linked high). */
    movl $(boot_pd - KERNEL_VMA), %ebx
    pushl %edi
    movl %ebx, %edi
    xorl %eax, %eax
    movl $1024, %ecx
    rep stosl
    popl %edi

    /* Identity-map the first 4 MiB (the code below still runs there) and map
     * the first 64 MiB at KERNEL_VMA. */
    movl $PDE_BIG, (%ebx)
    leal (KERNEL_VMA >> 22) * 4(%ebx), %edx
    movl $PDE_BIG, %eax
    movl $HIGH_PDES, %ecx
1:  movl %eax, (%edx)
    addl $0x400000, %eax
    addl $4, %edx
    loop 1b

    movl %cr4, %eax
    orl $0x10, %eax                 /* CR4.PSE */
    movl %eax, %cr4
    movl %ebx, %cr3
    movl %cr0, %eax
    orl $0x80010000, %eax           /* CR0.PG | CR0.WP */
    movl %eax, %cr0

    movl $boot_high, %eax
    jmp *%eax

    .text
boot_high:
    movl $boot_stack_top, %esp
    xorl %ebp, %ebp
    pushl %edi                      /* multiboot info (physical) */
    pushl %esi                      /* loader magic */
    call kmain
    cli
2:  hlt
    jmp 2b

    .bss
    .p2align 12
    .globl boot_pd
boot_pd:
    .skip 4096
    .p2align 4
    .globl boot_stack, boot_stack_top
boot_stack:
    .skip BOOT_STACK_SIZE
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
