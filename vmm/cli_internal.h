/* Between cli.c (the command line) and cli_console.c (the virtio-console
 * device's options); not for anything else. */
#ifndef KVMINI_VMM_CLI_INTERNAL_H
#define KVMINI_VMM_CLI_INTERNAL_H

#include "vmm/cli.h"

/* transport=pci|mmio, version=1|2 (mmio), legacy=on|off (pci), packed=on|off:
 * 0 if taken, 1 if k is not a transport key, -EINVAL for a bad value. */
int cli_transport_key(struct transport_config *t, const char *k, const char *v);
/* --console virtio[,stdio|none|file:PATH][,TRANSPORT] (v starts "virtio"). */
int cli_parse_console_virtio(struct vm_config *cfg, const char *v, char *err, int errlen);
/* --port NAME[,out=FILE][,in=FILE][,TRANSPORT] */
int cli_parse_port(struct vm_config *cfg, const char *v, char *err, int errlen);

#endif
