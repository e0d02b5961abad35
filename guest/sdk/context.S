/*
 * Kernel context switch: save the callee-saved registers on the current
 * stack, store its pointer, load the other stack and return on it.
 *   void ctx_switch(uint32_t *save_esp, uint32_t load_esp);
 */
    .text
    .globl ctx_switch
ctx_switch:
    movl 4(%esp), %eax
    movl 8(%esp), %edx
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, (%eax)
    movl %edx, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

    .section .note.GNU-stack, "", @progbits
