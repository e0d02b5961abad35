# Test input for lily-cc: a hand-written .s file.
	.text
	.globl p_sidt
p_sidt:
	sidt 4(%esp)   /* store the IDT register */
	ret
	.globl p_fs
p_fs:	push %fs ; pop %eax ; ret
