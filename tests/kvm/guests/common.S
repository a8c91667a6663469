/* Shared by the test guests: console output through the 16550 at 0x3F8 and
 * the actions a test can ask for with the first letter of the command line:
 *   p  power off (ACPI sleep control, S5)     r  reset (ACPI reset register)
 *   k  reset (i8042 0xFE)                     c  reset (port 0xCF9)
 *   t  triple fault                           h  hang (for --timeout)
 *   n  report a panic (pvpanic)               e  echo console input until 'q', then power off
 * Assembled as 32-bit or 64-bit code: only instructions valid in both. */
#define PORT_COM1 0x3f8
#define PORT_SLEEP_CTL 0x600
#define PORT_RESET 0x602

/* putc: %al -> COM1, waiting for THRE. Clobbers %ah, %edx. */
putc:
	mov %al, %ah
	mov $PORT_COM1 + 5, %dx
1:	inb %dx, %al
	test $0x20, %al
	jz 1b
	mov %ah, %al
	mov $PORT_COM1, %dx
	outb %al, %dx
	ret

/* getc: waits for a byte from COM1 into %al. Clobbers %edx. */
getc:
	mov $PORT_COM1 + 5, %dx
1:	inb %dx, %al
	test $0x01, %al
	jz 1b
	mov $PORT_COM1, %dx
	inb %dx, %al
	ret

/* act: %al is the action letter. Does not return. */
act:
	cmp $'p', %al
	je do_poweroff
	cmp $'r', %al
	je do_reset
	cmp $'k', %al
	je do_kbd
	cmp $'c', %al
	je do_cf9
	cmp $'t', %al
	je do_triple
	cmp $'n', %al
	je do_panic
	cmp $'e', %al
	je do_echo
do_hang:
	jmp do_hang
do_poweroff:
	mov $PORT_SLEEP_CTL, %dx
	mov $(5 << 2 | 1 << 5), %al
	outb %al, %dx
	jmp do_hang
do_reset:
	mov $PORT_RESET, %dx
	mov $1, %al
	outb %al, %dx
	jmp do_hang
do_kbd:
	mov $0x64, %dx
	mov $0xfe, %al
	outb %al, %dx
	jmp do_hang
do_cf9:
	mov $0xcf9, %dx
	mov $0x02, %al
	outb %al, %dx
	mov $0x06, %al
	outb %al, %dx
	jmp do_hang
do_panic:
	mov $0x505, %dx
	mov $1, %al
	outb %al, %dx
	jmp do_hang
do_triple:
	lidt zero_idt
	int3
	jmp do_hang
do_echo:
	call getc
	cmp $'q', %al
	je do_poweroff
	call putc
	jmp do_echo
	.align 8
zero_idt:
	.word 0
	.quad 0
