/* The 16550A model as Linux's 8250 driver sees it: the probe, the divisor
 * latch, transmit, and the interrupt line whose edges an edge-triggered ISA
 * IRQ depends on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "serial/uart16550.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2,
       LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define IER_ERBFI 0x01
#define IER_ETBEI 0x02
#define IER_ELSI 0x04
#define IER_EDSSI 0x08

struct fixture {
	struct uart16550 u;
	uint8_t tx[256];
	size_t tx_len;
	int levels[64]; /* every irq_line_set() call, in order */
	int nr_levels;
	int rx_space_calls;
	/* Host data for an rx_space that feeds the UART from inside the callback. */
	const uint8_t *pending;
	size_t pending_len;
};

static void fake_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct fixture *f = opaque;

	assert_true(f->tx_len + len <= sizeof(f->tx));
	memcpy(f->tx + f->tx_len, buf, len);
	f->tx_len += len;
}

static void fake_rx_space(void *opaque)
{
	struct fixture *f = opaque;
	size_t n;

	f->rx_space_calls++;
	/* Would deadlock if the UART still held its lock. */
	n = uart_receive(&f->u, f->pending, f->pending_len);
	f->pending += n;
	f->pending_len -= n;
}

static void fake_irq(void *opaque, int level)
{
	struct fixture *f = opaque;

	assert_true(f->nr_levels < (int)(sizeof(f->levels) / sizeof(f->levels[0])));
	/* Only changes reach the host, and the line starts low. */
	assert_int_not_equal(level, f->nr_levels ? f->levels[f->nr_levels - 1] : 0);
	f->levels[f->nr_levels++] = level;
}

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));

	uart_init(&f->u, (struct irq_line){ .set = fake_irq, .opaque = f },
		  (struct uart_sink){ .tx = fake_tx, .rx_space = fake_rx_space, .opaque = f });
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	uart_destroy(&f->u);
	test_free(f);
	return 0;
}

static uint8_t rd(struct fixture *f, uint64_t off)
{
	uint8_t b;

	uart_io_ops.read(&f->u, off, &b, 1);
	return b;
}

static void wr(struct fixture *f, uint64_t off, uint8_t val)
{
	uart_io_ops.write(&f->u, off, &val, 1);
}

static int line(const struct fixture *f)
{
	return f->nr_levels ? f->levels[f->nr_levels - 1] : 0;
}

/* The checks of autoconfig() in drivers/tty/serial/8250/8250_port.c, in order. */
static void test_probe_detects_16550a(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, 0);
	assert_int_equal(rd(f, IER) & 0x0f, 0);
	wr(f, IER, 0x0f);
	assert_int_equal(rd(f, IER) & 0x0f, 0x0f);
	wr(f, IER, 0);

	/* Loopback with RTS|OUT2: CTS and DCD, nothing else. */
	wr(f, MCR, MCR_LOOP | MCR_RTS | MCR_OUT2);
	assert_int_equal(rd(f, MSR) & 0xf0, 0x90);
	wr(f, MCR, MCR_LOOP | MCR_DTR | MCR_OUT1);
	assert_int_equal(rd(f, MSR) & 0xf0, 0x60); /* DSR | RI */
	wr(f, MCR, MCR_LOOP);
	assert_int_equal(rd(f, MSR) & 0xf0, 0x00);
	wr(f, MCR, 0);

	/* LCR 0xBF then FCR write, as the probe does for EFR chips. */
	wr(f, LCR, 0xbf);
	wr(f, FCR, 0);
	wr(f, LCR, 0);
	wr(f, FCR, 0x01);
	assert_int_equal(rd(f, IIR) >> 6, 3);
	assert_int_equal(rd(f, IIR), 0xc1);

	/* autoconfig_16550a: no EFR behind LCR 0x80 or 0xBF (reads not 0),
	 * and IER bit 6 (XScale UUE) does not stick. */
	wr(f, LCR, 0x80);
	assert_int_not_equal(rd(f, IIR), 0);
	wr(f, LCR, 0xbf);
	assert_int_not_equal(rd(f, IIR), 0);
	wr(f, LCR, 0);
	wr(f, IER, 0x40);
	assert_int_equal(rd(f, IER), 0);

	/* Scratch register keeps whatever is written. */
	wr(f, SCR, 0xa5);
	assert_int_equal(rd(f, SCR), 0xa5);
	wr(f, SCR, 0x5a);
	assert_int_equal(rd(f, SCR), 0x5a);

	/* FIFOs off again: a 16450 as far as IIR is concerned. */
	wr(f, FCR, 0);
	assert_int_equal(rd(f, IIR), 0x01);
	assert_int_equal(f->nr_levels, 0);
}

static void test_msr_outside_loopback_and_deltas(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, MSR), 0xb0); /* DCD|DSR|CTS, no deltas at reset */
	wr(f, MCR, MCR_LOOP);
	/* CTS, DSR and DCD all dropped: DCTS|DDSR|DDCD, cleared by the read. */
	assert_int_equal(rd(f, MSR), 0x0b);
	assert_int_equal(rd(f, MSR), 0x00);
	wr(f, MCR, MCR_LOOP | MCR_OUT1);
	assert_int_equal(rd(f, MSR), 0x40); /* RI rising: no TERI */
	wr(f, MCR, MCR_LOOP);
	assert_int_equal(rd(f, MSR), 0x04); /* RI trailing edge: TERI */
	wr(f, MCR, 0);
	assert_int_equal(rd(f, MSR), 0xbb);
	assert_int_equal(rd(f, MSR), 0xb0);
	wr(f, MCR, 0xff);
	assert_int_equal(rd(f, MCR), 0x1f);
}

static void test_dlab_divisor_latch(void **state)
{
	struct fixture *f = *state;

	wr(f, IER, IER_ERBFI);
	wr(f, LCR, 0x83); /* DLAB | 8 data bits */
	wr(f, DLL, 0x01);
	wr(f, DLM, 0x02);
	assert_int_equal(rd(f, DLL), 0x01);
	assert_int_equal(rd(f, DLM), 0x02);
	assert_int_equal(rd(f, LCR), 0x83);
	assert_int_equal(f->tx_len, 0); /* the DLL write did not transmit */

	wr(f, LCR, 0x03);
	assert_int_equal(rd(f, IER), IER_ERBFI); /* untouched by the DLM write */
	wr(f, THR, 'x');
	assert_int_equal(f->tx_len, 1);
	wr(f, LCR, 0x83);
	assert_int_equal(rd(f, DLL), 0x01);
	assert_int_equal(rd(f, DLM), 0x02);
}

static void test_tx_reaches_sink(void **state)
{
	struct fixture *f = *state;
	const char *msg = "hello\n";

	for (const char *p = msg; *p; p++) {
		wr(f, THR, (uint8_t)*p);
		assert_int_equal(rd(f, LSR) & 0x60, 0x60); /* THRE|TEMT stay set */
	}
	assert_int_equal(f->tx_len, strlen(msg));
	assert_memory_equal(f->tx, msg, strlen(msg));

	/* In loopback the byte comes back on RX and never leaves the chip. */
	wr(f, MCR, MCR_LOOP);
	wr(f, THR, 'L');
	assert_int_equal(f->tx_len, strlen(msg));
	assert_int_equal(rd(f, LSR) & 0x01, 0x01);
	assert_int_equal(rd(f, RBR), 'L');
	assert_int_equal(rd(f, LSR), 0x60);
}

static void test_thri_edges(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, 0x01);
	wr(f, MCR, MCR_OUT2);
	assert_int_equal(f->nr_levels, 0);

	wr(f, IER, IER_ETBEI); /* newly enabled with THRE set: raise */
	assert_int_equal(line(f), 1);
	assert_int_equal(rd(f, IIR), 0xc2);
	assert_int_equal(line(f), 0); /* IIR read acknowledged it */
	assert_int_equal(rd(f, IIR), 0xc1);

	wr(f, THR, 'a'); /* sent at once, THRE back: raise again */
	assert_int_equal(line(f), 1);
	assert_int_equal(f->nr_levels, 3);
	wr(f, THR, 'b'); /* still pending: no extra pulse or redundant set */
	assert_int_equal(f->nr_levels, 3);
	assert_int_equal(rd(f, IIR), 0xc2);
	assert_int_equal(line(f), 0);

	/* Linux's stop_tx/start_tx toggle ETBEI; the re-enable raises again. */
	wr(f, IER, 0);
	wr(f, IER, IER_ETBEI);
	assert_int_equal(line(f), 1);
	wr(f, IER, 0); /* masked: drops */
	assert_int_equal(line(f), 0);

	const int want[] = { 1, 0, 1, 0, 1, 0 };
	assert_int_equal(f->nr_levels, 6);
	assert_memory_equal(f->levels, want, sizeof(want));
	assert_memory_equal(f->tx, "ab", 2);
}

static void test_rx_data_interrupt(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, 0x01);
	wr(f, MCR, MCR_OUT2);
	wr(f, IER, IER_ERBFI);
	assert_int_equal(rd(f, LSR) & 0x01, 0);

	assert_int_equal(uart_receive(&f->u, (const uint8_t *)"ab", 2), 2);
	assert_int_equal(line(f), 1);
	assert_int_equal(rd(f, IIR), 0xc4);
	assert_int_equal(line(f), 1); /* IIR read does not acknowledge RDA */
	assert_int_equal(rd(f, LSR), 0x61);
	assert_int_equal(rd(f, RBR), 'a');
	assert_int_equal(line(f), 1);
	assert_int_equal(rd(f, RBR), 'b');
	assert_int_equal(line(f), 0);
	assert_int_equal(rd(f, LSR), 0x60);
	assert_int_equal(rd(f, IIR), 0xc1);

	/* RDA outranks THRI; once the data is read THRI shows through. */
	assert_int_equal(uart_receive(&f->u, (const uint8_t *)"c", 1), 1);
	wr(f, IER, IER_ERBFI | IER_ETBEI);
	assert_int_equal(rd(f, IIR), 0xc4);
	assert_int_equal(rd(f, RBR), 'c');
	assert_int_equal(line(f), 1);
	assert_int_equal(rd(f, IIR), 0xc2);
	assert_int_equal(line(f), 0);
	assert_int_equal(f->rx_space_calls, 0);
}

static void test_fifo_full_partial_accept_rx_space(void **state)
{
	struct fixture *f = *state;
	uint8_t in[20];

	for (unsigned i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)('A' + i);
	wr(f, FCR, 0x01);

	assert_int_equal(uart_receive(&f->u, in, sizeof(in)), UART_FIFO_SIZE);
	assert_int_equal(uart_receive(&f->u, in + 16, 4), 0);
	f->pending = in + 16;
	f->pending_len = 4;

	for (int i = 0; i < UART_FIFO_SIZE - 1; i++)
		assert_int_equal(rd(f, RBR), 'A' + i);
	assert_int_equal(f->rx_space_calls, 0); /* not until drained */
	assert_int_equal(rd(f, RBR), 'A' + 15);
	/* The callback refilled from inside itself (no lock held). */
	assert_int_equal(f->rx_space_calls, 1);
	assert_int_equal(f->pending_len, 0);
	for (int i = 16; i < 20; i++)
		assert_int_equal(rd(f, RBR), 'A' + i);
	assert_int_equal(f->rx_space_calls, 1); /* never full again */
	assert_int_equal(rd(f, LSR) & 0x03, 0); /* no data, no overrun */
	assert_int_equal(rd(f, RBR), 0);        /* empty read is harmless */

	/* Clearing a full FIFO through FCR also owes the host a callback. */
	f->pending_len = 0;
	assert_int_equal(uart_receive(&f->u, in, sizeof(in)), UART_FIFO_SIZE);
	wr(f, FCR, 0x03);
	assert_int_equal(f->rx_space_calls, 2);
	assert_int_equal(rd(f, LSR) & 0x01, 0);
	/* Toggling the FIFO enable bit resets the FIFO too. */
	assert_int_equal(uart_receive(&f->u, in, 3), 3);
	wr(f, FCR, 0x00);
	assert_int_equal(rd(f, LSR) & 0x01, 0);
	assert_int_equal(f->rx_space_calls, 2);
}

static void test_overrun_sets_oe(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, 0x01);
	wr(f, IER, IER_ELSI | IER_ERBFI);
	wr(f, MCR, MCR_LOOP | MCR_OUT2);
	for (int i = 0; i < UART_FIFO_SIZE + 1; i++)
		wr(f, THR, (uint8_t)i);
	/* Loopback disconnects OUT2 from the line (PC wiring). */
	assert_int_equal(line(f), 0);
	assert_int_equal(rd(f, IIR), 0xc6); /* RLS outranks RDA */

	wr(f, MCR, MCR_OUT2);
	assert_int_equal(line(f), 1);
	assert_int_equal(rd(f, LSR), 0x63); /* THRE|TEMT|OE|DR */
	assert_int_equal(rd(f, LSR), 0x61); /* OE cleared by the read */
	assert_int_equal(rd(f, IIR), 0xc4);
	/* The FIFO kept the first 16 bytes; the 17th was lost. */
	for (int i = 0; i < UART_FIFO_SIZE; i++)
		assert_int_equal(rd(f, RBR), i);
	assert_int_equal(rd(f, LSR), 0x60);
	assert_int_equal(line(f), 0);
}

static void test_modem_status_interrupt(void **state)
{
	struct fixture *f = *state;

	wr(f, MCR, MCR_OUT2);
	wr(f, IER, IER_EDSSI);
	assert_int_equal(f->nr_levels, 0);
	wr(f, MCR, MCR_LOOP | MCR_OUT2); /* deltas latched, line gated */
	assert_int_equal(line(f), 0);
	wr(f, MCR, MCR_OUT2);
	assert_int_equal(line(f), 1);
	assert_int_equal(rd(f, IIR), 0x00); /* MSI, FIFOs off */
	assert_int_equal(line(f), 1);
	/* DCD followed OUT2 through loopback; CTS and DSR changed. */
	assert_int_equal(rd(f, MSR), 0xb3);
	assert_int_equal(line(f), 0);
	assert_int_equal(rd(f, IIR), 0x01);
}

static void test_ier_zero_keeps_line_low(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, 0x01);
	wr(f, MCR, MCR_OUT2);
	wr(f, IER, 0);
	assert_int_equal(uart_receive(&f->u, (const uint8_t *)"xyz", 3), 3);
	wr(f, THR, 'q');
	wr(f, MCR, MCR_LOOP | MCR_OUT2);
	for (int i = 0; i < UART_FIFO_SIZE + 2; i++)
		wr(f, THR, 'o'); /* overrun */
	wr(f, MCR, MCR_OUT2); /* modem deltas */
	assert_int_equal(rd(f, IIR), 0xc1);
	assert_int_equal(f->nr_levels, 0);
}

static void test_out2_clear_keeps_line_low(void **state)
{
	struct fixture *f = *state;

	wr(f, FCR, 0x01);
	wr(f, MCR, MCR_DTR | MCR_RTS);
	wr(f, IER, 0x0f);
	assert_int_equal(uart_receive(&f->u, (const uint8_t *)"xyz", 3), 3);
	wr(f, THR, 'q');
	assert_int_equal(rd(f, IIR), 0xc4); /* pending, just not signalled */
	assert_int_equal(f->nr_levels, 0);

	wr(f, MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
	assert_int_equal(line(f), 1);
	wr(f, MCR, MCR_DTR | MCR_RTS);
	assert_int_equal(line(f), 0);
	assert_int_equal(f->nr_levels, 2);
}

static void test_multi_byte_access(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[8];

	memset(buf, 0xee, sizeof(buf));
	uart_io_ops.read(&f->u, LSR, buf, 4);
	const uint8_t lsr4[8] = { 0x60, 0, 0, 0, 0xee, 0xee, 0xee, 0xee };
	assert_memory_equal(buf, lsr4, sizeof(buf));

	const uint8_t w[4] = { 0x5a, 0x11, 0x22, 0x33 };
	uart_io_ops.write(&f->u, SCR, w, 2);
	memset(buf, 0xee, sizeof(buf));
	uart_io_ops.read(&f->u, SCR, buf, 8);
	const uint8_t scr8[8] = { 0x5a, 0, 0, 0, 0, 0, 0, 0 };
	assert_memory_equal(buf, scr8, sizeof(buf));

	uart_io_ops.write(&f->u, THR, w, 4); /* one byte on the wire */
	assert_int_equal(f->tx_len, 1);
	assert_int_equal(f->tx[0], 0x5a);

	uart_io_ops.write(&f->u, LCR, w + 1, 2);
	assert_int_equal(rd(f, LCR), 0x11); /* DLAB stays clear: 0x22 ignored */

	/* Outside the eight registers: reads 0, writes are dropped. */
	memset(buf, 0xee, sizeof(buf));
	uart_io_ops.read(&f->u, UART_NR_REGS, buf, 2);
	assert_int_equal(buf[0], 0);
	assert_int_equal(buf[1], 0);
	uart_io_ops.write(&f->u, UART_NR_REGS, w, 1);
	assert_int_equal(f->tx_len, 1);
}

/* A console thread pushing input against a vCPU thread draining it, with
 * rx_space as the only wake-up: every byte arrives once, in order. */
struct feeder {
	struct fixture *f;
	pthread_mutex_t m;
	pthread_cond_t c;
	int space;
};

static void feeder_rx_space(void *opaque)
{
	struct feeder *fd = opaque;

	pthread_mutex_lock(&fd->m);
	fd->space = 1;
	pthread_cond_signal(&fd->c);
	pthread_mutex_unlock(&fd->m);
}

#define STREAM_LEN 5000

static void *feeder_main(void *arg)
{
	struct feeder *fd = arg;
	uint8_t chunk[37];
	unsigned sent = 0;

	while (sent < STREAM_LEN) {
		unsigned n = STREAM_LEN - sent < sizeof(chunk) ? STREAM_LEN - sent : sizeof(chunk);
		size_t took;

		for (unsigned i = 0; i < n; i++)
			chunk[i] = (uint8_t)(sent + i);
		pthread_mutex_lock(&fd->m);
		fd->space = 0;
		pthread_mutex_unlock(&fd->m);
		took = uart_receive(&fd->f->u, chunk, n);
		sent += took;
		if (took < n) {
			pthread_mutex_lock(&fd->m);
			while (!fd->space)
				pthread_cond_wait(&fd->c, &fd->m);
			pthread_mutex_unlock(&fd->m);
		}
	}
	return NULL;
}

static void test_concurrent_rx(void **state)
{
	struct fixture *f = *state;
	struct feeder fd = { .f = f };
	pthread_t t;
	unsigned got = 0;

	pthread_mutex_init(&fd.m, NULL);
	pthread_cond_init(&fd.c, NULL);
	f->u.sink.rx_space = feeder_rx_space; /* before the second thread starts */
	f->u.sink.opaque = &fd;
	wr(f, FCR, 0x01);
	assert_int_equal(pthread_create(&t, NULL, feeder_main, &fd), 0);
	while (got < STREAM_LEN) {
		if (!(rd(f, LSR) & 0x01))
			continue;
		assert_int_equal(rd(f, RBR), (uint8_t)got);
		got++;
	}
	pthread_join(t, NULL);
	pthread_cond_destroy(&fd.c);
	pthread_mutex_destroy(&fd.m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_probe_detects_16550a, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msr_outside_loopback_and_deltas, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlab_divisor_latch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_reaches_sink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thri_edges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_data_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_full_partial_accept_rx_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overrun_sets_oe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modem_status_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ier_zero_keeps_line_low, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out2_clear_keeps_line_low, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_byte_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_rx, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
