/* The 16550A UART (devices/serial/uart16550.c) as the guest drives it:
 * byte-wide register reads and writes at any offset of its 8-byte window,
 * with host input arriving in between.
 *
 * Input: a sequence of operations, each one opcode byte then its operands:
 *   op % 4 == 0  read:    u8 offset (low 3 bits, bit 3: a 2- or 4-byte access)
 *   op % 4 == 1  write:   u8 offset (as above), u8 value
 *   op % 4 == 2  receive: u8 count (0..31), then that many bytes from the host
 *   op % 4 == 3  write the register (op >> 2) & 7 with u8 value (a denser
 *                encoding of the register writes a driver makes)
 *
 * Checked besides memory safety: the interrupt line is driven on changes
 * only and matches the UART's own record of it; received bytes (host input
 * and loopback) come out of RBR in order, none invented, none duplicated;
 * transmitted bytes reach the sink in order; the FIFO never holds more than
 * 16 bytes; rx_space is called only once the FIFO is empty. */
#include "fuzz_common.h"

#include "serial/uart16550.h"

#define FIFO 16

struct model {
	struct uart16550 u;
	int level, nr_sets;
	/* bytes the guest can still read, in order */
	uint8_t q[FIFO];
	unsigned qh, qn;
	uint8_t fcr;
	unsigned tx_expected, tx_seen;
	uint8_t tx_last_expected, tx_last_seen;
};

static void irq_set(void *opaque, int level)
{
	struct model *m = opaque;

	/* Only changes reach the line. */
	FZ_CHECK(m->nr_sets == 0 ? level == 1 : level != m->level);
	m->level = level;
	m->nr_sets++;
}

static void sink_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct model *m = opaque;

	FZ_CHECK(len == 1);
	m->tx_seen++;
	m->tx_last_seen = buf[0];
}

static void rx_space(void *opaque)
{
	struct model *m = opaque;

	FZ_CHECK(m->u.rx_count == 0);
}

static void q_push(struct model *m, uint8_t b)
{
	if (m->qn == FIFO)
		return;       /* overrun: the new byte is lost */
	m->q[(m->qh + m->qn) % FIFO] = b;
	m->qn++;
}

static void q_clear(struct model *m)
{
	m->qh = m->qn = 0;
}

static void model_write(struct model *m, unsigned reg, uint8_t v)
{
	bool dlab = m->u.lcr & 0x80;

	switch (reg) {
	case 0:
		if (dlab)
			break;
		if (m->u.mcr & 0x10) {
			q_push(m, v);
		} else {
			m->tx_expected++;
			m->tx_last_expected = v;
		}
		break;
	case 2:
		if ((m->fcr ^ v) & 1)
			q_clear(m);
		if (!(v & 1)) {
			m->fcr = 0;
			break;
		}
		if (v & 2)
			q_clear(m);
		m->fcr = v & ~6;
		break;
	}
}

static void check(struct model *m)
{
	FZ_CHECK(m->u.rx_count <= FIFO && m->u.rx_head < FIFO);
	FZ_CHECK(m->u.rx_count == m->qn);
	FZ_CHECK(m->u.irq_level == (m->nr_sets ? m->level : 0));
	FZ_CHECK(m->tx_seen == m->tx_expected);
	FZ_CHECK(m->tx_last_seen == m->tx_last_expected);
}

static const uint32_t lens[4] = { 1, 1, 2, 4 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct fz f;

	memset(&m, 0, sizeof(m));
	fz_init(&f, data, size);
	uart_init(&m.u, (struct irq_line){ irq_set, &m },
		  (struct uart_sink){ sink_tx, rx_space, &m });
	for (int ops = 0; fz_more(&f) && ops < 4096; ops++) {
		uint8_t op = fz_u8(&f), a, v;
		uint8_t buf[8];
		uint32_t len;

		switch (op % 4) {
		case 0: {
			a = fz_u8(&f);
			len = lens[(a >> 3) & 3];
			bool dlab = m.u.lcr & 0x80;
			bool was_full = m.u.rx_count == FIFO;
			memset(buf, 0xa5, sizeof(buf));
			uart_io_ops.read(&m.u, a & 7, buf, len);
			for (uint32_t i = 1; i < len; i++)
				FZ_CHECK(buf[i] == 0);
			if ((a & 7) == 0 && !dlab) {
				/* RBR: the oldest byte, or 0 when empty */
				if (m.qn) {
					FZ_CHECK(buf[0] == m.q[m.qh]);
					m.qh = (m.qh + 1) % FIFO;
					m.qn--;
				} else {
					FZ_CHECK(buf[0] == 0);
				}
			} else if ((a & 7) == 5) {
				/* LSR: data ready iff the FIFO holds a byte; THRE, TEMT */
				FZ_CHECK(!!(buf[0] & 1) == (m.qn != 0));
				FZ_CHECK((buf[0] & 0x60) == 0x60);
			} else if ((a & 7) == 2) {
				FZ_CHECK(!!(buf[0] & 0xc0) == !!(m.fcr & 1));
			}
			(void)was_full;
			break;
		}
		case 1:
			a = fz_u8(&f);
			v = fz_u8(&f);
			len = lens[(a >> 3) & 3];
			memset(buf, v, sizeof(buf));
			model_write(&m, a & 7, v);
			uart_io_ops.write(&m.u, a & 7, buf, len);
			break;
		case 2: {
			uint8_t in[32];
			unsigned n = fz_u8(&f) % 32;
			unsigned room = FIFO - m.qn;
			fz_bytes(&f, in, n);
			size_t got = uart_receive(&m.u, in, n);
			FZ_CHECK(got == (n < room ? n : room));
			for (size_t i = 0; i < got; i++)
				q_push(&m, in[i]);
			break;
		}
		case 3:
			v = fz_u8(&f);
			model_write(&m, (op >> 2) & 7, v);
			uart_io_ops.write(&m.u, (op >> 2) & 7, &v, 1);
			break;
		}
		check(&m);
	}
	uart_destroy(&m.u);
	return 0;
}
