/* A PVH test guest: entered in 32-bit protected mode with %ebx pointing at
 * hvm_start_info. Prints "PVH-OK", the command line, and the first bytes of
 * the initrd module, then acts on the first letter of the command line. */
	.code32
	.section .text
	.globl _start
_start:
	mov $0x80000, %esp
	mov %ebx, %esi
	cmpl $0x336ec578, (%esi)
	jne bad_magic
	mov $msg_ok, %edi
	call puts
	mov 24(%esi), %edi            /* cmdline_paddr */
	call puts
	mov $msg_nl, %edi
	call puts
	cmpl $0, 12(%esi)             /* nr_modules */
	je 2f
	mov 16(%esi), %ebx            /* modlist_paddr */
	mov (%ebx), %edi              /* module paddr */
	mov 8(%ebx), %ecx             /* module size */
	cmp $32, %ecx
	jbe 1f
	mov $32, %ecx
1:	movb (%edi), %al
	call putc
	inc %edi
	loop 1b
	mov $msg_nl, %edi
	call puts
2:	mov 24(%esi), %edi
	movb (%edi), %al
	jmp act
bad_magic:
	mov $msg_bad, %edi
	call puts
	mov $'p', %al
	jmp act

/* puts: NUL-terminated string at %edi. */
puts:
	push %edi
1:	movb (%edi), %al
	test %al, %al
	jz 2f
	call putc
	inc %edi
	jmp 1b
2:	pop %edi
	ret

#include "common.S"

	.section .rodata
msg_ok:	.asciz "PVH-OK cmdline="
msg_bad: .asciz "PVH-BAD-MAGIC\n"
msg_nl: .asciz "\n"

	.section .note.Xen, "a", @note
	.align 4
	.long 4, 4, 18                /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long _start
