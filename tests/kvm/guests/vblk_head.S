/* The Linux boot-protocol header for vblk.c, a freestanding C test guest:
 * the same fake bzImage as bzimage.S (one setup sector, 64-bit entry at
 * protected-mode offset 0x200), whose entry calls vblk_main(boot_params). */
	.code64
	.section .head, "ax"
	.globl _head
_head:
	.org 0x1f1
	.byte 1                       /* setup_sects */
	.word 0
	.long 0
	.word 0, 0, 0
	.word 0xAA55                  /* boot_flag */
	.byte 0xeb, 0x66              /* header ends at 0x268 */
	.ascii "HdrS"
	.word 0x020f                  /* boot protocol 2.15 */
	.long 0
	.word 0, 0
	.byte 0, 0x01
	.word 0
	.long 0x100000
	.long 0, 0, 0
	.word 0
	.byte 0, 0
	.long 0
	.long 0x7fffffff              /* initrd_addr_max */
	.long 0x1000                  /* kernel_alignment */
	.byte 1, 0
	.word 0x03                    /* xloadflags: KERNEL_64 */
	.long 2047                    /* cmdline_size */
	.long 0
	.quad 0
	.long 0, 0
	.quad 0, 0x100000             /* setup_data, pref_address */
	.long 0x100000                /* init_size */
	.long 0, 0
	.org 0x400
pm_start:                             /* loaded at 1 MiB */
	.org pm_start + 0x200
	mov $0x80000, %rsp
	mov %rsi, %rdi                /* boot_params */
	call vblk_main
1:	hlt
	jmp 1b
