/* A fake bzImage: a Linux boot-protocol 2.15 setup header (one setup sector)
 * followed by "protected-mode code" whose 64-bit entry at offset 0x200 prints
 * "BZ64-OK", the command line from boot_params, the initrd's first bytes and
 * the E820 entry count, then acts on the command line's first letter. */
	.code64
	.section .text
	.globl _start
_start:
	/* ---- sector 0: boot sector with the setup header at 0x1f1 ---- */
	.org 0x1f1
	.byte 1                       /* setup_sects */
	.word 0                       /* root_flags */
	.long 0                       /* syssize */
	.word 0, 0, 0                 /* ram_size, vid_mode, root_dev */
	.word 0xAA55                  /* boot_flag */
	.byte 0xeb, 0x66              /* jump: header ends at 0x202 + 0x66 = 0x268 */
	.ascii "HdrS"
	.word 0x020f                  /* version 2.15 */
	.long 0
	.word 0, 0
	.byte 0, 0x01                 /* type_of_loader, loadflags LOADED_HIGH */
	.word 0
	.long 0x100000                /* code32_start */
	.long 0, 0, 0                 /* ramdisk_image, ramdisk_size, bootsect_kludge */
	.word 0                       /* heap_end_ptr */
	.byte 0, 0
	.long 0                       /* cmd_line_ptr */
	.long 0x7fffffff              /* initrd_addr_max */
	.long 0x200000                /* kernel_alignment */
	.byte 1, 0                    /* relocatable, min_alignment */
	.word 0x03                    /* xloadflags: KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	.long 2047                    /* cmdline_size */
	.long 0
	.quad 0
	.long 0, 0                    /* payload_offset, payload_length */
	.quad 0, 0x1000000            /* setup_data, pref_address */
	.long 0x100000                /* init_size */
	.long 0, 0
	.org 0x400
	/* ---- protected-mode code, loaded at 1 MiB; 64-bit entry at +0x200 ---- */
pm_start:
	.org pm_start + 0x200
entry64:
	mov $0x80000, %rsp
	mov %rsi, %rbp                /* boot_params */
	lea msg_ok(%rip), %rdi
	call puts
	mov 0x228(%rbp), %edi         /* cmd_line_ptr */
	call puts
	lea msg_nl(%rip), %rdi
	call puts
	mov 0x21c(%rbp), %ecx         /* ramdisk_size */
	test %ecx, %ecx
	jz 2f
	mov 0x218(%rbp), %edi         /* ramdisk_image */
	cmp $32, %ecx
	jbe 1f
	mov $32, %ecx
1:	movb (%rdi), %al
	call putc
	inc %rdi
	loop 1b
	lea msg_nl(%rip), %rdi
	call puts
2:	lea msg_e820(%rip), %rdi
	call puts
	movb 0x1e8(%rbp), %al         /* e820_entries */
	add $'0', %al
	call putc
	lea msg_nl(%rip), %rdi
	call puts
	mov 0x228(%rbp), %edi
	movb (%rdi), %al
	jmp act

puts:
	push %rdi
1:	movb (%rdi), %al
	test %al, %al
	jz 2f
	call putc
	inc %rdi
	jmp 1b
2:	pop %rdi
	ret

#include "common.S"

msg_ok:	.asciz "BZ64-OK cmdline="
msg_nl: .asciz "\n"
msg_e820: .asciz "E820="
	.org pm_start + 0x1000
