/* A 16550A UART: the eight byte-wide registers of a PC COM port, with 16-byte
 * FIFOs, interrupt enable/identification and the modem status lines that
 * Linux's 8250 driver probes. Transmit is instantaneous (bytes go straight to
 * the sink), receive is fed by the host through uart_receive(). */
#ifndef KVMINI_DEVICES_UART16550_H
#define KVMINI_DEVICES_UART16550_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"

#define UART_FIFO_SIZE 16
#define UART_NR_REGS 8

struct uart_sink {
	/* Bytes the guest transmitted. Called with the UART lock held (so
	 * output stays in order across vCPUs): it must not call back into
	 * this UART, and should not block for long, as a vCPU waits on it. */
	void (*tx)(void *opaque, const uint8_t *buf, size_t len);
	/* The receive FIFO has drained (become empty) after having been full:
	 * the host may call uart_receive() with more input. Called without the
	 * lock, so it may call uart_receive() directly. May be NULL. */
	void (*rx_space)(void *opaque);
	void *opaque;
};

struct uart16550 {
	pthread_mutex_t lock;
	struct irq_line irq; /* set() is called with the lock held, on changes only */
	struct uart_sink sink;
	uint8_t ier, fcr, lcr, mcr, scr;
	uint8_t lsr;         /* sticky error bits only (OE); DR/THRE/TEMT are derived */
	uint8_t msr;         /* modem input status and the delta bits since last read */
	uint8_t dll, dlm;
	int thri_pending;    /* THR-empty interrupt latched, cleared by IIR read / THR write */
	int irq_level;       /* level last driven on the irq line */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
	int rx_was_full;     /* FIFO filled up since it was last empty: owe rx_space */
};

void uart_init(struct uart16550 *u, struct irq_line irq, struct uart_sink sink);
void uart_destroy(struct uart16550 *u);

/* Host input; returns how many bytes were accepted, up to the free FIFO
 * space (0 when the FIFO is full). After a short count, wait for rx_space. */
size_t uart_receive(struct uart16550 *u, const uint8_t *buf, size_t len);

/* Register window of UART_NR_REGS bytes; accesses wider than a byte touch
 * only the first byte (reads fill the rest with 0). */
extern const struct io_ops uart_io_ops;

/* Snapshots: registers and the receive FIFO. Loading drives the interrupt
 * line from them. 0, or -EINVAL with a message in the reader's state_err. */
struct state_w;
struct state_r;
void uart_save_state(struct uart16550 *u, struct state_w *w);
int uart_load_state(struct uart16550 *u, struct state_r *r);

#endif
