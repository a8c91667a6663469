/* 16550A UART model. Register semantics follow the National PC16550D data
 * sheet as far as Linux's 8250 driver can observe them; anything the driver
 * cannot observe (baud rate, character timing, line errors) is not modelled. */
#include "uart16550.h"

#include <errno.h>
#include <string.h>

#include "state.h"

/* Register offsets. With LCR.DLAB set, offsets 0 and 1 are the divisor latch. */
enum {
	REG_RBR_THR = 0,
	REG_IER = 1,
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f  /* bits 7:4 read as 0; Linux relies on it to rule out XScale/16750 */

#define IIR_MSI 0x00
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define IIR_FIFOS_ON 0xc0 /* "FIFOs enabled and working": what makes a 16550A */

#define FCR_FIFO_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

/* The modem inputs. Outside loopback a terminal is always attached and ready
 * (the 8250 driver waits for CTS/DSR/DCD in some modes, never for RI). In
 * loopback the data sheet wires the MCR outputs back to the inputs, which is
 * exactly what the driver's probe checks. */
static uint8_t modem_inputs(const struct uart16550 *u)
{
	uint8_t in = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	if (u->mcr & MCR_DTR)
		in |= MSR_DSR;
	if (u->mcr & MCR_RTS)
		in |= MSR_CTS;
	if (u->mcr & MCR_OUT1)
		in |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		in |= MSR_DCD;
	return in;
}

/* Recompute the MSR status bits and accumulate the delta bits, which stay set
 * until the guest reads MSR. RI reports only its trailing edge (TERI). */
static void msr_update(struct uart16550 *u)
{
	uint8_t old = u->msr, now = modem_inputs(u);
	uint8_t changed = old ^ now, delta = 0;

	if (changed & MSR_CTS)
		delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(now & MSR_RI))
		delta |= MSR_TERI;
	if (changed & MSR_DCD)
		delta |= MSR_DDCD;
	u->msr = now | (old & MSR_DELTAS) | delta;
}

/* Highest-priority enabled interrupt, as IIR bits 3:0 (data sheet table 4).
 * RX interrupts fire as soon as one byte is in the FIFO, ignoring the FCR
 * trigger level: without a character-timeout timer a byte below the trigger
 * level would otherwise never be reported, and Linux drains the FIFO in its
 * handler whatever the level. */
static uint8_t pending_irq(const struct uart16550 *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr & LSR_OE))
		return IIR_RLS;
	if ((u->ier & IER_ERBFI) && u->rx_count)
		return IIR_RDA;
	if ((u->ier & IER_ETBEI) && u->thri_pending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

/* Drive the line only on a change: the host turns levels into KVM_IRQ_LINE on
 * an edge-triggered ISA IRQ, so a redundant set would cost a syscall and a
 * pulse could inject a spurious interrupt. On a PC the INTR pin reaches the
 * PIC through a buffer enabled by the OUT2 pin, and the data sheet forces
 * OUT2 inactive in loopback, so loopback also keeps the line low. The caller
 * holds the lock, so levels reach the host in the order they were computed. */
static void irq_update(struct uart16550 *u)
{
	int level = pending_irq(u) != IIR_NO_INT && (u->mcr & MCR_OUT2) &&
		    !(u->mcr & MCR_LOOP);

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
}

static void rx_push(struct uart16550 *u, uint8_t byte)
{
	if (u->rx_count == UART_FIFO_SIZE) {
		/* The data sheet keeps the FIFO and loses the new character. */
		u->lsr |= LSR_OE;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
	if (++u->rx_count == UART_FIFO_SIZE)
		u->rx_was_full = 1;
}

/* Returns 1 when the host must be told there is room again: the FIFO has just
 * emptied after having been full. Waiting for empty rather than for one free
 * slot lets the host refill in batches instead of once per guest read. */
static int rx_drained(struct uart16550 *u)
{
	if (u->rx_count || !u->rx_was_full)
		return 0;
	u->rx_was_full = 0;
	return 1;
}

static uint8_t rx_pop(struct uart16550 *u, int *notify)
{
	uint8_t byte;

	if (!u->rx_count)
		return 0;
	byte = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	*notify = rx_drained(u);
	return byte;
}

static void rx_clear(struct uart16550 *u, int *notify)
{
	u->rx_head = 0;
	u->rx_count = 0;
	*notify = rx_drained(u);
}

/* Transmission completes at once, so THRE never drops and the THR-empty
 * interrupt, cleared by this write, is latched again straight away. */
static void thr_write(struct uart16550 *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP)
		rx_push(u, byte);
	else if (u->sink.tx)
		u->sink.tx(u->sink.opaque, &byte, 1);
	u->thri_pending = !!(u->ier & IER_ETBEI);
}

static void ier_write(struct uart16550 *u, uint8_t val)
{
	uint8_t was = u->ier;

	u->ier = val & IER_MASK;
	/* Enabling ETBEI while THRE is set raises THRI (data sheet); Linux's
	 * start_tx depends on it, as THRE is always set here. */
	if (!(was & IER_ETBEI) && (u->ier & IER_ETBEI))
		u->thri_pending = 1;
}

static void fcr_write(struct uart16550 *u, uint8_t val, int *notify)
{
	uint8_t was = u->fcr;

	/* Changing the FIFO enable bit resets both FIFOs; the other bits only
	 * take effect together with it (data sheet, FCR bit 0). */
	if ((was ^ val) & FCR_FIFO_ENABLE)
		rx_clear(u, notify);
	if (!(val & FCR_FIFO_ENABLE)) {
		u->fcr = 0;
		return;
	}
	if (val & FCR_CLEAR_RX)
		rx_clear(u, notify);
	/* TX clear has nothing to do: the transmitter is always empty. */
	u->fcr = val & ~(FCR_CLEAR_RX | FCR_CLEAR_TX);
}

static uint8_t iir_read(struct uart16550 *u)
{
	uint8_t id = pending_irq(u);

	/* Reading IIR is how the guest acknowledges THRI, and only THRI. */
	if (id == IIR_THRI)
		u->thri_pending = 0;
	return id | ((u->fcr & FCR_FIFO_ENABLE) ? IIR_FIFOS_ON : 0);
}

static uint8_t lsr_read(struct uart16550 *u)
{
	uint8_t val = u->lsr | LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0);

	u->lsr &= ~LSR_OE; /* error bits clear on read */
	return val;
}

static uint8_t msr_read(struct uart16550 *u)
{
	uint8_t val = u->msr;

	u->msr &= ~MSR_DELTAS;
	return val;
}

static uint8_t reg_read(struct uart16550 *u, uint64_t offset, int *notify)
{
	int dlab = u->lcr & LCR_DLAB;

	switch (offset) {
	case REG_RBR_THR:
		return dlab ? u->dll : rx_pop(u, notify);
	case REG_IER:
		return dlab ? u->dlm : u->ier;
	case REG_IIR_FCR:
		return iir_read(u);
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		return lsr_read(u);
	case REG_MSR:
		return msr_read(u);
	case REG_SCR:
		return u->scr;
	}
	return 0;
}

static void reg_write(struct uart16550 *u, uint64_t offset, uint8_t val, int *notify)
{
	int dlab = u->lcr & LCR_DLAB;

	switch (offset) {
	case REG_RBR_THR:
		if (dlab)
			u->dll = val;
		else
			thr_write(u, val);
		break;
	case REG_IER:
		if (dlab)
			u->dlm = val;
		else
			ier_write(u, val);
		break;
	case REG_IIR_FCR:
		fcr_write(u, val, notify);
		break;
	case REG_LCR:
		u->lcr = val;
		break;
	case REG_MCR:
		u->mcr = val & MCR_MASK;
		msr_update(u);
		break;
	case REG_SCR:
		u->scr = val;
		break;
	/* LSR and MSR writes are factory-test features; ignored. */
	}
}

/* rx_space is called after the lock is dropped so that the host may call
 * uart_receive() from it. */
static void notify_rx_space(struct uart16550 *u, int notify)
{
	if (notify && u->sink.rx_space)
		u->sink.rx_space(u->sink.opaque);
}

static void uart_io_read(void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct uart16550 *u = dev;
	int notify = 0;

	if (!len)
		return;
	memset(data, 0, len);
	pthread_mutex_lock(&u->lock);
	data[0] = reg_read(u, offset, &notify);
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
	notify_rx_space(u, notify);
}

static void uart_io_write(void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct uart16550 *u = dev;
	int notify = 0;

	if (!len)
		return;
	pthread_mutex_lock(&u->lock);
	reg_write(u, offset, data[0], &notify);
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
	notify_rx_space(u, notify);
}

const struct io_ops uart_io_ops = {
	.read = uart_io_read,
	.write = uart_io_write,
};

size_t uart_receive(struct uart16550 *u, const uint8_t *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&u->lock);
	n = UART_FIFO_SIZE - u->rx_count;
	if (n > len)
		n = len;
	/* When n < len the FIFO ends up full, so rx_push has armed rx_space
	 * for the bytes the host still holds. */
	for (size_t i = 0; i < n; i++)
		rx_push(u, buf[i]);
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

void uart_init(struct uart16550 *u, struct irq_line irq, struct uart_sink sink)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->irq = irq;
	u->sink = sink;
	/* Power-on state: line low (irq_level 0, matching a host that starts it
	 * low), MCR 0 so OUT2 gates interrupts off until the driver opens the
	 * port, and the modem inputs of an attached terminal without deltas. */
	u->msr = modem_inputs(u);
	u->dll = 12; /* 9600 baud from 1.8432 MHz; any value would do */
}

void uart_destroy(struct uart16550 *u)
{
	pthread_mutex_destroy(&u->lock);
}

/* ---- snapshots ---- */

#define UART_STATE_VERSION 1

void uart_save_state(struct uart16550 *u, struct state_w *w)
{
	size_t at = sw_begin(w, STATE_TAG('U', 'A', 'R', 'T'), UART_STATE_VERSION);

	pthread_mutex_lock(&u->lock);
	sw_u8(w, u->ier);
	sw_u8(w, u->fcr);
	sw_u8(w, u->lcr);
	sw_u8(w, u->mcr);
	sw_u8(w, u->scr);
	sw_u8(w, u->lsr);
	sw_u8(w, u->msr);
	sw_u8(w, u->dll);
	sw_u8(w, u->dlm);
	sw_bool(w, u->thri_pending);
	sw_bytes(w, u->rx, UART_FIFO_SIZE);
	sw_u8(w, (uint8_t)u->rx_head);
	sw_u8(w, (uint8_t)u->rx_count);
	sw_bool(w, u->rx_was_full);
	pthread_mutex_unlock(&u->lock);
	sw_end(w, at);
}

/* The interrupt line of the new VM starts low: it is driven again from the
 * loaded registers (a pending interrupt the saved controller already holds
 * arrives once more, which the 8250 driver shrugs off). */
int uart_load_state(struct uart16550 *u, struct state_r *r)
{
	struct state_r s;

	if (sr_section(r, STATE_TAG('U', 'A', 'R', 'T'), UART_STATE_VERSION, NULL, &s, "16550 UART"))
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	u->ier = sr_u8(&s) & IER_MASK;
	u->fcr = sr_u8(&s);
	u->lcr = sr_u8(&s);
	u->mcr = sr_u8(&s) & MCR_MASK;
	u->scr = sr_u8(&s);
	u->lsr = sr_u8(&s) & LSR_OE;
	u->msr = sr_u8(&s);
	u->dll = sr_u8(&s);
	u->dlm = sr_u8(&s);
	u->thri_pending = sr_bool(&s);
	sr_bytes(&s, u->rx, UART_FIFO_SIZE);
	u->rx_head = sr_u8(&s);
	u->rx_count = sr_u8(&s);
	u->rx_was_full = sr_bool(&s);
	if (sr_ok(&s) && (u->rx_head >= UART_FIFO_SIZE || u->rx_count > UART_FIFO_SIZE))
		sr_fail(&s, "16550 UART: receive FIFO at %u with %u bytes", u->rx_head, u->rx_count);
	if (!sr_ok(&s)) {
		u->rx_head = u->rx_count = 0;
		pthread_mutex_unlock(&u->lock);
		return -EINVAL;
	}
	u->irq_level = 0;
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
	return sr_end(&s, "16550 UART");
}
