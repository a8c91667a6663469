/* The parts of the Linux x86 boot protocol (Documentation/arch/x86/boot.rst)
 * and the PVH start info (Xen's hvm_start_info) that kvmini fills in. */
#ifndef KVMINI_BOOT_X86_BOOTPROTO_H
#define KVMINI_BOOT_X86_BOOTPROTO_H

#include <stdint.h>

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3

/* boot_params (zero page) offsets */
#define BP_SIZE              4096
#define BP_ACPI_RSDP_ADDR    0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_HDR               0x1f1
#define BP_E820_TABLE        0x2d0
#define BP_E820_MAX          128

/* setup header offsets, valid both in the bzImage file and the zero page */
#define HDR_SETUP_SECTS      0x1f1
#define HDR_VID_MODE         0x1fa
#define HDR_BOOT_FLAG        0x1fe
#define HDR_JUMP             0x200
#define HDR_MAGIC            0x202
#define HDR_VERSION          0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS        0x211
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_HEAP_END_PTR     0x224
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE      0x234
#define HDR_XLOADFLAGS       0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_PAYLOAD_OFFSET   0x248
#define HDR_PAYLOAD_LENGTH   0x24c
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE        0x260

#define LOADFLAGS_LOADED_HIGH   0x01
#define LOADFLAGS_CAN_USE_HEAP  0x80
#define XLF_KERNEL_64           0x01
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x02

/* PVH: struct hvm_start_info, version 1 */
#define PVH_MAGIC            0x336ec578u
#define PVH_INFO_SIZE        56
#define PVH_MODLIST_ENTRY    32
#define PVH_MEMMAP_ENTRY     24

#endif
