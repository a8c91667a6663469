/* The kernel and initrd, mapped only while they are checked or loaded: see
 * struct boot_files in vm.h. */
#include <errno.h>
#include <stdio.h>

#include "boot.h"
#include "vmm/vm.h"

static int map_one(const char *path, const char *what, const uint8_t **data, size_t *size,
		   char *err, size_t errlen)
{
	uint8_t *p;
	size_t n;
	int r = boot_read_file(path, what, &p, &n, err, errlen);

	if (r) {
		if (*size && r == -ENOENT)
			snprintf(err, errlen, "%s: '%s' is gone since kvmini started (needed to boot "
				 "again)", what, path);
		return r;
	}
	if (*size && n != *size) {
		boot_unmap_file(p, n);
		snprintf(err, errlen, "%s: '%s' changed size since kvmini started (%zu bytes, now "
			 "%zu): not booting a different kernel or initrd", what, path, *size, n);
		return -ESTALE;
	}
	*data = p;
	*size = n;
	return 0;
}

int boot_files_map(struct boot_files *f, char *err, size_t errlen)
{
	int r = map_one(f->kernel_path, "--kernel", &f->kernel, &f->kernel_size, err, errlen);

	if (!r && f->initrd_path)
		r = map_one(f->initrd_path, "--initrd", &f->initrd, &f->initrd_size, err, errlen);
	if (r)
		boot_files_unmap(f);
	return r;
}

void boot_files_unmap(struct boot_files *f)
{
	boot_unmap_file(f->kernel, f->kernel ? f->kernel_size : 0);
	boot_unmap_file(f->initrd, f->initrd ? f->initrd_size : 0);
	f->kernel = f->initrd = NULL;
}
