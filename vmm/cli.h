/* The command line: parsed into a vm_config, or rejected with one message
 * naming the bad argument (the caller prints it and exits 2). No file is
 * opened here: parsing is pure so it can be unit-tested. */
#ifndef KVMINI_VMM_CLI_H
#define KVMINI_VMM_CLI_H

#include <stddef.h>
#include <stdint.h>

enum console_kind { CONSOLE_STDIO, CONSOLE_FILE, CONSOLE_NONE };
enum disk_transport { TRANSPORT_MMIO, TRANSPORT_PCI };
enum disk_cache { DISK_CACHE_WRITEBACK, DISK_CACHE_NONE };
/* The block engine (devices/virtio/blk_aio.h): auto = io_uring where the
 * kernel allows it, else threads. */
enum disk_aio { DISK_AIO_AUTO, DISK_AIO_IO_URING, DISK_AIO_THREADS, DISK_AIO_SYNC };

/* Where a virtio device sits: shared by --disk and --net. */
struct transport_config {
	enum disk_transport transport;   /* default PCI */
	int version;               /* virtio-mmio register layout: 1 legacy, 2 modern */
	int legacy;                /* PCI: 1 transitional (legacy I/O BAR too), 0 modern only */
	int packed;                /* offer VIRTIO_F_RING_PACKED (modern drivers only) */
};

struct disk_config {
	char path[4096];
	int readonly;
	enum disk_cache cache;
	enum disk_aio aio;
	int queues;                /* request queues; 0: one per vCPU (at most 16) */
	int iothread;              /* serve all queues on this I/O thread; -1: spread */
	int nolock;                /* lock=off: do not lock the image */
	int poll_us;               /* poll=USECS: most a queue is polled before sleeping; 0 off */
	struct transport_config t;
};

#define CLI_MAX_DISK_QUEUES 16
#define CLI_MAX_IOTHREADS 16
/* poll=: polling longer than 10 ms is a spinning thread, not a saved kick */
#define CLI_MAX_DISK_POLL_US 10000

struct net_config {
	char tap[16];              /* IFNAMSIZ */
	uint8_t mac[6];
	int has_mac;
	struct transport_config t;
};

/* A named port of the virtio-console device (--port). */
struct port_config {
	char name[64];             /* 1..63 of [A-Za-z0-9._-] */
	char out[4096];            /* out=FILE: the guest's bytes appended ("": dropped) */
	char in[4096];             /* in=FILE: offered to the guest when it opens the port */
};

#define CLI_MAX_PORTS 8
/* The port --guest-status adds: the guest writes its status there. hvc0's
 * port is named too, so a guest can tell when every port has its name.
 * Names starting "kvmini." are kvmini's. */
#define CLI_EXIT_PORT "kvmini.exit"
#define CLI_HVC_PORT "kvmini.console"

/* The one virtio-console device: hvc0 (--console virtio), the named ports
 * (--port) and kvmini.exit (--guest-status) are its ports. */
struct vcon_config {
	int hvc;                   /* --console virtio: the guest's console is hvc0 */
	struct port_config ports[CLI_MAX_PORTS];
	int nports;
	struct transport_config t; /* from --console virtio,... and --port ...,: they add up */
};

#define CLI_MAX_FAIL_ON 8
#define CLI_MAX_DISKS 8
#define CLI_MAX_NETS 4
enum reboot_action { REBOOT_EXIT, REBOOT_RESTART };

struct vm_config {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t mem_size;
	int ncpus;
	enum console_kind console;
	const char *console_path;
	double timeout_s;          /* 0: none */
	enum reboot_action on_reboot;
	struct disk_config disks[CLI_MAX_DISKS];
	int ndisks;
	struct net_config nets[CLI_MAX_NETS];
	int nnets;
	struct vcon_config vcon;   /* the virtio-console device (cli_vcon_wanted) */
	int no_ioeventfd;          /* serve queue notifications on the vCPU thread */
	int hugepages;             /* guest RAM from 2 MiB hugetlbfs pages (MAP_HUGETLB) */
	int iothreads;             /* I/O threads for disks (network cards get their own) */
	/* CI verdicts (vmm/verdict.c) */
	const char *expect;        /* --expect REGEX: success when the console shows it */
	const char *fail_on[CLI_MAX_FAIL_ON];   /* --fail-on REGEX, repeatable */
	int nfail_on;
	double idle_timeout_s;     /* --idle-timeout: 0 none */
	const char *boot_marker;   /* --boot-marker REGEX (default: the guest image's) */
	const char *console_log;   /* --console-log FILE */
	const char *result;        /* --result FILE (JSON) */
	int guest_status;          /* --guest-status: the guest's status is ours */
	int seccomp;               /* --seccomp: 0 on, 1 log, 2 off (enum seccomp_mode); -1 unset */
	const char *api_socket;    /* --api-socket PATH: JSON commands (vmm/api.h) */
};

/* Does the run have a virtio-console device (hvc0, a --port or
 * --guest-status)? */
int cli_vcon_wanted(const struct vm_config *cfg);

/* The queue count a disk gets: queues=, or one per vCPU up to 16. */
int cli_disk_queues(const struct vm_config *cfg, const struct disk_config *d);

enum cli_action { CLI_RUN, CLI_HELP, CLI_VERSION };

#define CLI_DEFAULT_MEM   (512ULL << 20)
#define CLI_MIN_MEM       (16ULL << 20)
#define CLI_MAX_MEM       (1ULL << 40)
#define CLI_MAX_CPUS      64
#define CLI_ERR_MAX       256

/* Returns the action, or -EINVAL with a message in err. argv[0] is the
 * program name. The strings in cfg point into argv. */
int cli_parse(int argc, char **argv, struct vm_config *cfg, char *err, int errlen);

extern const char cli_usage[];

/* One line into err (errlen bytes, printf-style); returns -EINVAL. The
 * refusal helper of every parser in kvmini_cli and of restore.c. */
int cli_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
