/*
 * Guest for the install test: writes the hello-dev example's COUNT port five
 * times, reads the count back and ends the VM with it through debug-exit.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003

    .text
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .globl _start
_start:
    cli
    mov $0x520, %dx     /* hello-dev COUNT */
    mov $5, %ecx
1:  outb %al, %dx
    loop 1b
    inl %dx, %eax       /* 5 */
    mov $0xf4, %dx      /* debug-exit: lilyvm exits with this value */
    outb %al, %dx
2:  hlt
    jmp 2b

    .section .note.GNU-stack, "", @progbits
