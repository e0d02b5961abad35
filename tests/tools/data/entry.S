/* Test input for lily-cc: a preprocessed assembly file with sensitive
 * instructions behind macros and on labelled, ';'-separated lines. */
#define SAVE_FLAGS pushfl
#define RESTORE_FLAGS popfl

	.text
	.globl s_flags
s_flags:	SAVE_FLAGS; RESTORE_FLAGS
	ret

	.globl s_es
s_es:	movl %es, %eax
	ret
