/* Ports of the PIC/PIT test plugins (tests/pcpit/plugins), shared with the tests. */
#ifndef LILYVM_TESTS_PCPIT_H
#define LILYVM_TESTS_PCPIT_H

/* pcpit-cpu: 4-byte registers. */
#define PCPIT_CPU_PORT 0x7f0
#define PCPIT_CPU_LEN 0x20
#define PCPIT_CPU_INTR 0x00        /* read: INTR level (0/1) */
#define PCPIT_CPU_RISES 0x04       /* read: times INTR went high */
#define PCPIT_CPU_ACK 0x08         /* read: host->irq_ack() now (-1: nothing) */
#define PCPIT_CPU_DELIVERED 0x0c   /* read: interrupts taken; write 1/0: take them or not */
#define PCPIT_CPU_LAST_VECTOR 0x10 /* read: vector of the last one taken */

/* pcpit-lines: port + n drives line n. */
#define PCPIT_LINES_PORT 0x7e0

/* Vector bases the tests program, as the guest test kernel does. */
#define PCPIT_MASTER_BASE 0x20
#define PCPIT_SLAVE_BASE 0x28

#endif
